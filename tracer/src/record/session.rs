//! What the stop loop works with and how it ends: the hooked program
//! ([`Session`], [`Hooked`], [`Origin`]), the bounds that end a recording,
//! and why it ended ([`Exit`]), which the loop (`stops`) decides and
//! letting go (`letgo`) carries out.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use store::{ProgramEnd, Writer};

use super::command::Command;
use super::config::{AtBound, ProgressFn};
use super::recorder::Recorder;
use super::safe_hook::MonitoringHook;
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::Python;
use crate::interp::hook;
use crate::interp::own_trace::SetTraceWatch;
use crate::ptrace::Tracee;

/// How long a program sent SIGTERM at a bound (`--at-bound stop`) has to
/// end before it is killed (docs/spec/cli.md).
pub(crate) const GRACE: Duration = Duration::from_secs(2);

/// How the recorder took hold of the program, which decides how it lets go.
pub(crate) enum Origin {
    /// Launched by `record`: `tstate` is the main thread's state, hooked at
    /// start-up; on 3.12+ (`set_trace`: the functions and the return trap of
    /// the inferior call) tracing is switched off by a call in the target.
    Launched {
        tstate: RemoteAddr,
        set_trace: Option<(hook::SetTraceFns, RemoteAddr)>,
        at_bound: AtBound,
    },
    /// Seized by `attach`: every thread state was hooked; it always detaches.
    /// On 3.12+ (`monitoring`) tracing is switched off by calls in the
    /// target at a safe point.
    Seized { monitoring: Option<MonitoringHook> },
}

/// A hooked program and everything the loop records it with.
pub(crate) struct Session {
    pub(crate) tracee: Tracee,
    pub(crate) hooked: Hooked,
    pub(crate) writer: Writer,
    pub(crate) rec: Recorder,
    /// The command `record` launched: signals passed on to it, its end.
    /// `None` for `attach`.
    pub(crate) command: Option<Command>,
}

/// Where the hook is and how it was put there: what letting go undoes.
pub(crate) struct Hooked {
    pub(crate) python: Arc<Python>,
    /// `_PyRuntime`.
    pub(crate) runtime: RemoteAddr,
    /// Where a thread calling the trace function stops.
    pub(crate) trap: RemoteAddr,
    /// What the thread states' trace function points at: the probe's entry,
    /// or the trap itself.
    pub(crate) hook_fn: RemoteAddr,
    pub(crate) origin: Origin,
    /// Where the program changes a thread's trace function, watched while
    /// recording with the probe.
    pub(crate) set_trace_watch: Option<SetTraceWatch>,
}

/// What ends a recording besides the program's own end.
pub(crate) struct Bounds {
    pub(crate) max_steps: Option<u64>,
    pub(crate) max_time: Option<Duration>,
    /// Set from outside (hindsight's signal handler) to end and detach.
    pub(crate) stop: Option<Arc<AtomicBool>>,
    pub(crate) progress: Option<ProgressFn>,
}

/// Why the loop ended, and what is left to do about the program.
pub(crate) enum Exit {
    /// The program ended by itself.
    Ended(ProgramEnd),
    /// Kill the program: it did not end within [`GRACE`] of the SIGTERM
    /// sent at `bound`.
    Kill { bound: String },
    /// Let the program run on untraced: from a trap of thread `at`, or
    /// while it runs (`None`).
    LetGo {
        at: Option<Tid>,
        reason: String,
        bound: Option<String>,
    },
    /// It exec'd another program: the hooked image is gone.
    Exec,
}

/// Why a recording of a program that exec'd ended.
pub(crate) const EXECED: &str = "the program exec'd another program; it runs on untraced";
