//! Why a recording failed, with what the user can do about it.

use crate::addr::RemoteAddr;
use crate::cpython::{DecodeError, Python};
use crate::interp::startup::StartupError;
use crate::ptrace::{SeizeError, TraceError};

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Controlling the process failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// Finding or reading the interpreter failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Writing the recording failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// No process of the launched command ran a CPython program.
    #[error(
        "no CPython program ran: `{command}` ran {ran} and {end}; hindsight records a command that \
         runs CPython {}, such as `hindsight record -- python3 script.py`",
        crate::cpython::supported_list()
    )]
    NoPython {
        /// The command launched.
        command: String,
        /// The programs it ran (a CPython among them ended before running
        /// a program).
        ran: String,
        /// How it ended.
        end: crate::ptrace::Ended,
    },
    /// The interpreter's version is not one hindsight records.
    #[error(
        "CPython {version} is not supported yet (supported: {}); run the program with one of those",
        crate::cpython::supported_list()
    )]
    Unsupported {
        /// The interpreter's version.
        version: String,
    },
    /// Writing the trace hook into the interpreter failed.
    #[error("cannot switch tracing on in the interpreter: {0}")]
    Hook(#[from] crate::memory::MemError),
    /// Anything else, said in full.
    #[error("{0}")]
    Other(String),
}

impl From<StartupError> for RecordError {
    fn from(e: StartupError) -> RecordError {
        match e {
            StartupError::Trace(t) => RecordError::Trace(t),
            StartupError::Decode(d) => RecordError::Decode(d),
        }
    }
}

impl From<SeizeError> for RecordError {
    fn from(e: SeizeError) -> RecordError {
        match e {
            SeizeError::Trace(t) => RecordError::Trace(t),
            other => RecordError::Other(other.to_string()),
        }
    }
}

/// The address of `name` in the interpreter, or an error naming it.
pub(crate) fn need_symbol(python: &Python, name: &str) -> Result<RemoteAddr, RecordError> {
    python.symbol_addr(name).ok_or_else(|| {
        RecordError::Other(format!(
            "the interpreter {} has no symbol {name}; is its debug info complete?",
            python.image_path.display()
        ))
    })
}
