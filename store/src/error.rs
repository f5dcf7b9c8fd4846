//! The store's error type: every failure says what went wrong and what the
//! user can do about it.

use crate::model::Step;
use std::path::PathBuf;

/// The advice of a damaged preamble or header.
pub const HEADER_ADVICE: &str =
    "without its header nothing in the file can be read; record the program again";

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

    /// What is at the path a recording was to be created at may not be
    /// replaced (a file that is not a recording, a symbolic link, a directory).
    #[error("{path}: {why}")]
    Refused {
        /// The path asked for.
        path: PathBuf,
        /// What is there, and what to do.
        why: String,
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

    /// A structure in the file is damaged (bad checksum, impossible length,
    /// undecodable payload, contents beyond the format's bounds). `advice`
    /// says which steps are still readable where the reader knows them;
    /// the caller adds what depends on where it met the damage.
    #[error("the recording is corrupt: {what} at byte offset {offset}; {advice}")]
    Corrupt {
        /// What was found damaged.
        what: String,
        /// Byte offset in the file where the damage was found.
        offset: u64,
        /// What can still be done: which steps can be read, with a command
        /// that reads them, or to record again.
        advice: String,
    },

    /// A step beyond the steps held by the recording was asked for.
    #[error("step {} is out of range: the recording holds {count} steps (0..={})", step.0, count.saturating_sub(1))]
    StepOutOfRange {
        /// The step asked for.
        step: Step,
        /// How many steps the recording holds.
        count: u64,
    },

    /// A step a flight recording (`--ring`) does not hold: one before its
    /// first step (let go while the program ran), or past its last.
    #[error("step {} is not in this flight recording: it holds the last steps of the run, steps {first} to {last} (the steps before {first} were let go while the program ran); ask for a step from {first} to {last}", step.0)]
    NotInRing {
        /// The step asked for.
        step: Step,
        /// The first step the ring holds.
        first: u64,
        /// The last step it holds.
        last: u64,
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

    /// A step would make the state hold more than the format allows
    /// ([`crate::bounds::MAX_STATE_BYTES`]): the writer stops there, and a
    /// reader refuses such a step.
    #[error("step {step} would make the recorded state hold {bytes} bytes, more than the format's bound of {} bytes", crate::bounds::MAX_STATE_BYTES)]
    StateTooLarge {
        /// The step refused.
        step: u64,
        /// What the state would hold, as counted by [`crate::bounds::Budget`].
        bytes: u64,
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

    /// A corruption found at `offset`, past the header: `hindsight info`
    /// still opens the file and says which steps are readable (the reader
    /// replaces this advice with the steps themselves where it knows them).
    pub fn corrupt(what: impl Into<String>, offset: u64) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            offset,
            advice: "`hindsight info` on the file says which steps can still be read".into(),
        }
    }

    /// A corruption of the preamble or header, without which nothing in the
    /// file can be read.
    pub fn corrupt_header(what: impl Into<String>, offset: u64) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            offset,
            advice: HEADER_ADVICE.into(),
        }
    }

    /// This error with `advice` in place of its own, when it is a corruption.
    pub fn with_advice(self, advice: impl Into<String>) -> StoreError {
        match self {
            StoreError::Corrupt { what, offset, .. } => StoreError::Corrupt {
                what,
                offset,
                advice: advice.into(),
            },
            other => other,
        }
    }
}
