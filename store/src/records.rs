//! The records a recording carries besides its steps: the header written at
//! the start (what was recorded, how) and the end record written by
//! [`crate::Writer::finish`] (how it ended).

use serde::{Deserialize, Serialize};

/// What was recorded and by whom; written once at the start of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// The store format version; the writer fills it in (any value passed is replaced).
    pub format_version: u32,
    /// argv of the recorded program (or of the attached process).
    pub program: Vec<String>,
    /// The program's working directory.
    pub cwd: String,
    /// The traced process id.
    pub pid: u32,
    /// For instance "CPython 3.11.7".
    pub interpreter: String,
    /// The libpython or executable path.
    pub interpreter_path: String,
    /// "record" or "attach".
    pub mode: String,
    /// When recording started, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// For instance "hindsight 0.1.0".
    pub recorder: String,
}

/// How the recorded program's recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProgramEnd {
    /// The program exited with this status.
    Exited(i32),
    /// The program was ended by this signal.
    Signaled(i32),
    /// hindsight detached; the program ran on.
    Detached,
    /// The recording stopped (a bound) with the program still running under hindsight.
    StillRunning,
}

/// The end record: written once, by [`crate::Writer::finish`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingEnd {
    /// How the program ended.
    pub end: ProgramEnd,
    /// Why recording stopped, in words ("program exited", "--max-steps reached", ...).
    pub reason: String,
    /// Steps recorded; the writer replaces it with the number of steps it wrote.
    pub steps: u64,
    /// OS thread ids that ran recorded steps.
    #[serde(deserialize_with = "crate::bounds::de_charged")]
    pub threads: Vec<u32>,
    /// Wall-clock length of the recording.
    pub duration_ms: u64,
}

/// What [`crate::Writer::finish`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    /// Steps written.
    pub steps: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Why the recording was cut short (a write failed: a full disk, a
    /// file size limit), when it was; the steps before are in the file.
    pub cut: Option<String>,
}

/// How the reason of an end record written after the writer stopped
/// writing begins ("the recording was cut after step N: CAUSE; ...").
pub const CUT: &str = "the recording was cut";
