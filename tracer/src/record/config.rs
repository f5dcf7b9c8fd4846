//! What a recording is asked to do: the configurations of `record` and
//! `attach`, the knobs they share, and what a finished recording reports.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use store::{CreateOptions, ProgramEnd, StepObserver};

use super::filter::FilterSpec;
use super::passon::PassOn;
use crate::probe::ProbeMode;
use crate::ptrace::ProgramStdio;

/// Which events become steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// call, line, return and exception steps.
    Line,
    /// call and return steps only.
    Call,
    /// as `Line`, plus an opcode step before each instruction that binds
    /// a name or mutates an object in place.
    Opcode,
}

/// What happens to the program when a bound is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtBound {
    /// End the program: SIGTERM, recorded while its handlers run; SIGKILL
    /// if it has not ended 2 s later.
    Stop,
    /// Let it run on, untraced.
    Detach,
}

/// Handed to the progress callback a few times a second.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Steps written so far.
    pub steps: u64,
    /// Bytes of the recording so far.
    pub bytes: u64,
    /// Time since recording began.
    pub elapsed: Duration,
}

/// Called with the recording's progress a few times a second.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// Everything `record` needs.
pub struct RecordConfig {
    /// The command: `PYTHON ARGS...`, or a command that runs CPython (a
    /// shell, `env`, a launcher), exec'd or as a child.
    pub program: Vec<OsString>,
    /// The recording file to write.
    pub output: PathBuf,
    /// How it is created (mode, whether what is there may be replaced).
    pub create: CreateOptions,
    /// Which source files are recorded.
    pub filter: FilterSpec,
    /// Which events become steps.
    pub granularity: Granularity,
    /// End after this many steps (`--max-steps`).
    pub max_steps: Option<u64>,
    /// End after this long (`--max-time`).
    pub max_time: Option<Duration>,
    /// What happens to the program when a bound is reached.
    pub at_bound: AtBound,
    /// The interpreter's separate debug file, when it is stripped.
    pub debug_file: Option<PathBuf>,
    /// Called with the progress a few times a second.
    pub progress: Option<ProgressFn>,
    /// Place the probe in the target ([`crate::probe`]): each stop's reads
    /// refreshed in shared memory before the trap. Without it (or when it
    /// cannot be set up) the stop reads with `process_vm_readv`.
    pub probe: ProbeMode,
    /// Let the probe take line steps that change nothing but the line
    /// without a trap (`docs/probe.md`); off, every step traps.
    pub trapless: bool,
    /// Let those steps change slots (to ints, floats, bools, None) and
    /// immutable objects, the recorder decoding them from the probe's log
    /// (`docs/probe.md`); off, only steps that change nothing but the line
    /// go without a trap.
    pub delta: bool,
    /// Let the probe answer the events of code from files that are not
    /// recorded without a trap (`docs/probe.md`); off, they trap and the
    /// recorder answers them.
    pub probe_filter: bool,
    /// The signals hindsight catches for the program (SIGINT, SIGTERM),
    /// passed on to it. Without it, `record` ignores SIGINT (the terminal
    /// sends it to the program too) and SIGTERM ends hindsight.
    pub pass_on: Option<Arc<PassOn>>,
    /// The command's standard streams; `None`: hindsight's own (the
    /// program's stdin, stdout and stderr are those `record` was given).
    pub stdio: Option<ProgramStdio>,
    /// Called with each step's ops as it is recorded, in order, on the
    /// recording thread ([`StepObserver`]); when it returns `false` the
    /// recording ends there as at a bound (`at_bound` applies), and
    /// `RecordOutcome::bound` says so ([`STOPPED_BY_OBSERVER`]).
    pub on_step: Option<StepObserver>,
    /// A flight recording (`--ring N`): keep only the last steps.
    pub ring: Option<FlightRing>,
    /// `--profile NAME`: record only the calls and returns of the function
    /// NAME and of the calls made directly inside it (with
    /// `Granularity::Call`).
    pub profile: Option<String>,
}

/// A flight recording (`--ring N`): only the last steps are kept, in
/// memory, and the file is written whole at the end, when `snapshot` is
/// found set, and when an exception leaves a thread's outermost frame
/// (docs/store-format.md, "Ring files").
#[derive(Debug, Clone, Default)]
pub struct FlightRing {
    /// Keep at least the last this many steps (N).
    pub steps: u64,
    /// Set from outside (hindsight's SIGUSR1 handler) to write the file now
    /// and record on; the writer clears it.
    pub snapshot: Option<Arc<AtomicBool>>,
}

/// The reason a recording ended when its step observer asked it to.
pub const STOPPED_BY_OBSERVER: &str = "the step observer asked to stop";

/// Everything `attach` needs.
pub struct AttachConfig {
    /// The process to attach to.
    pub pid: i32,
    /// The recording file to write.
    pub output: PathBuf,
    /// How it is created (mode, whether what is there may be replaced).
    pub create: CreateOptions,
    /// Which source files are recorded.
    pub filter: FilterSpec,
    /// Which events become steps.
    pub granularity: Granularity,
    /// End after this many steps (`--max-steps`).
    pub max_steps: Option<u64>,
    /// End after this long (`--max-time`).
    pub max_time: Option<Duration>,
    /// The interpreter's separate debug file, when it is stripped.
    pub debug_file: Option<PathBuf>,
    /// Called with the progress a few times a second.
    pub progress: Option<ProgressFn>,
    /// Set (by hindsight's SIGINT/SIGTERM handler) to end the recording and
    /// detach.
    pub stop: Arc<AtomicBool>,
    /// Called once every thread is hooked and the target runs again.
    pub on_attached: Option<OnAttached>,
    /// Place the probe, as [`RecordConfig::probe`].
    pub probe: ProbeMode,
    /// As [`RecordConfig::trapless`].
    pub trapless: bool,
    /// As [`RecordConfig::delta`].
    pub delta: bool,
    /// As [`RecordConfig::probe_filter`].
    pub probe_filter: bool,
    /// As [`RecordConfig::on_step`] (the program is let go, as at a bound).
    pub on_step: Option<StepObserver>,
    /// As [`RecordConfig::ring`].
    pub ring: Option<FlightRing>,
    /// As [`RecordConfig::profile`].
    pub profile: Option<String>,
}

/// Called once with what was found on attaching.
pub type OnAttached = Box<dyn FnOnce(&Attached)>;

/// What was found on attaching, for the caller's message.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The process.
    pub pid: i32,
    /// "CPython 3.11.7".
    pub interpreter: String,
    /// Thread states hooked.
    pub threads: usize,
}

/// How a recording ended.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    /// How the recorded program ended, or that it was left running.
    pub end: ProgramEnd,
    /// How the command `record` launched ended: `end`, or, when the
    /// recorded CPython was started by a wrapper (a shell, a launcher), the
    /// wrapper's end. `record`'s exit status. Always `end` for `attach`.
    pub command_end: ProgramEnd,
    /// Steps recorded.
    pub steps: u64,
    /// Bytes of the recording file.
    pub bytes: u64,
    /// Set when a bound (`--max-steps`, `--max-time`) ended the recording.
    pub bound: Option<String>,
    /// When no step was recorded: why, and which option records the code
    /// that ran.
    pub note: Option<String>,
    /// Set when writing the recording failed (a full disk, a file size
    /// limit): why. Recording stopped there and the program was let go,
    /// running on untraced (`record` still waits for its end); the steps
    /// written before are in the file.
    pub cut: Option<String>,
}
