//! The store's error type: every failure says what went wrong and what the
//! user can do about it.

use crate::model::Step;
use std::path::PathBuf;

/// Everything that can go wrong writing or reading a recording.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An operating-system call on the recording file failed.
    #[error("{what}: {source} (check the path, its permissions and free disk space)")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the recording magic.
    #[error("{path} is not a hindsight recording (it does not start with the .hsr magic); pass a file written by `hindsight record` or `hindsight attach`")]
    NotARecording {
        /// The file that was opened.
        path: PathBuf,
    },

    /// The file was written by a newer hindsight.
    #[error("this recording uses store format version {found}, but this hindsight reads only versions up to {supported}; read it with a newer hindsight")]
    NewerFormat {
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },

    /// A structure in the file is damaged (bad checksum, impossible length, undecodable payload).
    /// What the reader of the file can still do depends on where it met
    /// the damage (opening it, or reading a step): the caller says it.
    #[error("the recording is corrupt: {what} at byte offset {offset}")]
    Corrupt {
        /// What was found damaged.
        what: String,
        /// Byte offset in the file where the damage was found.
        offset: u64,
    },

    /// A step beyond the steps held by the recording was asked for.
    #[error("step {} is out of range: the recording holds {count} steps (0..={})", step.0, count.saturating_sub(1))]
    StepOutOfRange {
        /// The step asked for.
        step: Step,
        /// How many steps the recording holds.
        count: u64,
    },

    /// The writer thread stopped (write failure, invalid ops); nothing more can be recorded.
    #[error("the recording writer stopped: {cause}")]
    WriterGone {
        /// Why the writer stopped.
        cause: String,
    },

    /// A step's ops break the op contract (store/src/model.rs); this is a recorder bug.
    #[error(
        "invalid ops for step {step}: {what} (this is a bug in the recorder; please report it)"
    )]
    BadOps {
        /// The step whose ops were rejected.
        step: u64,
        /// What was wrong.
        what: String,
    },

    /// Encoding a value for the file failed.
    #[error("could not encode {what}: {cause}")]
    Encode {
        /// What was being encoded.
        what: String,
        /// The encoder's message.
        cause: String,
    },
}

impl StoreError {
    /// Wrap an I/O error with a description of what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            what: what.into(),
            source,
        }
    }

    /// A corruption found at `offset`.
    pub fn corrupt(what: impl Into<String>, offset: u64) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            offset,
        }
    }
}
