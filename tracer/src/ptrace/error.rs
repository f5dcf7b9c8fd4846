//! [`TraceError`]: what failed when controlling a process, said so that
//! the user can act on it.

use std::io;

use crate::addr::Tid;
use crate::memory::MemError;

/// A ptrace operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The program could not be started.
    #[error("cannot run {program}: {reason}")]
    Spawn {
        /// The program asked for.
        program: String,
        /// Why it could not start.
        reason: String,
    },
    /// The kernel refused to let hindsight trace the process.
    #[error(
        "ptrace {op} on thread {tid} was refused (EPERM): tracing needs CAP_SYS_PTRACE or a \
         kernel.yama.ptrace_scope that allows it (check /proc/sys/kernel/yama/ptrace_scope; in a \
         container, run it with --cap-add=SYS_PTRACE)"
    )]
    Permission {
        /// The ptrace request.
        op: &'static str,
        /// The thread it was for.
        tid: Tid,
    },
    /// The thread ended while it was being traced.
    #[error("thread {tid} of the target is gone (it exited or was killed) during ptrace {op}")]
    Gone {
        /// The ptrace request.
        op: &'static str,
        /// The thread it was for.
        tid: Tid,
    },
    /// Any other failed ptrace request.
    #[error("ptrace {op} on thread {tid} failed: {source}")]
    Ptrace {
        /// The ptrace request.
        op: &'static str,
        /// The thread it was for.
        tid: Tid,
        /// What the kernel said.
        source: io::Error,
    },
    /// `waitpid` failed.
    #[error("waiting for the target failed: {0}")]
    Wait(io::Error),
    /// The program stopped in an unexpected way as it started.
    #[error("the target stopped unexpectedly right after it started (wait status {status:#x}); it may not be executable")]
    BadStart {
        /// The wait status.
        status: i32,
    },
    /// The program's entry point could not be found.
    #[error("cannot read /proc/{pid}/auxv to find the program's entry point: {reason}")]
    Auxv {
        /// The process.
        pid: i32,
        /// Why.
        reason: String,
    },
    /// An operation that needs a stopped thread found none.
    #[error("cannot {what}: no thread of the target is stopped")]
    NotStopped {
        /// What was attempted.
        what: &'static str,
    },
    /// A thread id that the tracee does not know.
    #[error("thread {0} is not a thread of the target")]
    UnknownThread(Tid),
    /// Reading or writing the target's memory failed.
    #[error(transparent)]
    Mem(#[from] MemError),
}

impl TraceError {
    /// Classify a failed ptrace call.
    pub(crate) fn ptrace(op: &'static str, tid: Tid, source: io::Error) -> TraceError {
        match source.raw_os_error() {
            Some(libc::EPERM) => TraceError::Permission { op, tid },
            Some(libc::ESRCH) => TraceError::Gone { op, tid },
            _ => TraceError::Ptrace { op, tid, source },
        }
    }
}
