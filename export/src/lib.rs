//! Exports of a recording to formats other tools read: Python Tutor's
//! execution trace ([`pytutor`]), Chrome's trace event JSON of calls and
//! returns ([`chrome`]), and JSON lines of whole states ([`jsonl`]). Each
//! writes a range of steps to any `Write`, one step at a time, so an
//! export of millions of steps needs the memory of one state.

pub mod chrome;
pub mod jsonl;
pub mod pytutor;

use std::io::{self, Write};

use store::{Reader, StoreError};
use thiserror::Error;

/// The formats `hindsight export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Python Tutor's trace: `{"code": ..., "trace": [...]}`.
    PythonTutor,
    /// Chrome trace event JSON: `{"traceEvents": [...]}`.
    Chrome,
    /// One state JSON (docs/spec/values.md) per line.
    Jsonl,
}

/// What went wrong in an export.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The recording could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The output could not be written.
    #[error("writing the export: {0}")]
    Io(#[from] io::Error),
    /// A JSON value could not be written.
    #[error("writing the export's JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A step's ops do not decode.
    #[error("step {step}: {what}")]
    Step {
        /// The step.
        step: u64,
        /// What failed.
        what: String,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Steps of the recording read.
    pub steps_read: u64,
    /// Entries written: trace entries, trace events or lines.
    pub entries: u64,
}

/// Export steps `from..=to` (both held by the recording) of `reader` in
/// `format` to `out`.
pub fn export(
    reader: &Reader,
    format: Format,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    log::debug!(target: "export", "{format:?} of steps {from} to {to}");
    match format {
        Format::PythonTutor => pytutor::write(reader, from, to, out),
        Format::Chrome => chrome::write(reader, from, to, out),
        Format::Jsonl => jsonl::write(reader, from, to, out),
    }
}
