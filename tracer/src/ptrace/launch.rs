//! Starting and ending a [`Tracee`]: launch a program stopped at its exec,
//! adopt a process a tracee forked, detach leaving it running, kill it;
//! dropping a live tracee kills it.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::marker::PhantomData;
use std::process::{Command, Stdio};

use crate::addr::Tid;
use crate::memory::procmem::ProcMem;
use crate::ptrace::{Ended, Thread, TraceError, Tracee, OPTIONS};
use crate::sys;

/// Where a launched program's standard streams go, when they are not
/// hindsight's own.
#[derive(Debug)]
pub struct ProgramStdio {
    /// The program's standard input.
    pub stdin: Stdio,
    /// The program's standard output.
    pub stdout: Stdio,
    /// The program's standard error.
    pub stderr: Stdio,
}

/// io::Error's text without the " (os error N)" tail, for user messages.
fn plain_reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl Tracee {
    /// A tracee of process `pid`, whose threads the caller lists.
    pub(crate) fn new(pid: i32, threads: Vec<Thread>, seized: bool) -> Tracee {
        Tracee {
            pid,
            mem: ProcMem::new(pid),
            threads,
            early: Vec::new(),
            breakpoints: HashMap::new(),
            cleared: Vec::new(),
            adopted: Vec::new(),
            signal_traps: Vec::new(),
            watch: None,
            safe_watch: None,
            pending: Vec::new(),
            deferred: Vec::new(),
            finished: false,
            seized,
            delivered: Vec::new(),
            outside: None,
            _not_send: PhantomData,
        }
    }

    /// Fork; in the child pin to `cpu` (if Some), request PTRACE_TRACEME
    /// and execvp(program, args). stdin/stdout/stderr/env/cwd are inherited.
    /// Returns once the child has stopped at its exec (SIGTRAP), with the
    /// options TRACECLONE, TRACEEXEC, EXITKILL and TRACESYSGOOD set. An exec
    /// failure comes back as [`TraceError::Spawn`].
    pub fn launch(
        program: &OsStr,
        args: &[OsString],
        cpu: Option<usize>,
    ) -> Result<Tracee, TraceError> {
        Tracee::launch_with(program, args, cpu, None)
    }

    /// [`Tracee::launch`], the program's standard streams given by `stdio`
    /// instead of inherited (a debug adapter speaks its protocol on its own
    /// stdin and stdout: the program must not read or write them).
    pub fn launch_with(
        program: &OsStr,
        args: &[OsString],
        cpu: Option<usize>,
        stdio: Option<ProgramStdio>,
    ) -> Result<Tracee, TraceError> {
        let name = program.to_string_lossy().into_owned();
        let mut cmd = Command::new(program);
        cmd.args(args);
        if let Some(io) = stdio {
            cmd.stdin(io.stdin).stdout(io.stdout).stderr(io.stderr);
        }
        sys::traceme_on_exec(&mut cmd, cpu);
        // std reports the child's exec errno through a CLOEXEC pipe.
        let child = cmd.spawn().map_err(|e| TraceError::Spawn {
            program: name.clone(),
            reason: plain_reason(&e),
        })?;
        let pid = child.id() as i32;
        // The std Child handle is not used again: we reap the process.
        drop(child);
        let mut tracee = Tracee::new(
            pid,
            vec![Thread {
                tid: Tid(pid),
                running: false,
            }],
            false,
        );
        let (_, status) = sys::wait_any(pid, 0).map_err(TraceError::Wait)?;
        if !(libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP) {
            if !libc::WIFSTOPPED(status) {
                tracee.finished = true;
            }
            return Err(TraceError::BadStart { status });
        }
        sys::ptrace_setoptions(pid, OPTIONS)
            .map_err(|e| TraceError::ptrace("SETOPTIONS", Tid(pid), e))?;
        log::debug!(target: "tracer::ptrace", "launched {name} as pid {pid}");
        Ok(tracee)
    }

    /// The tracee of `child`, a process a traced process forked (or
    /// vforked) and ptrace attached to with the parent's options: stopped
    /// at its first stop, taken by the parent's event.
    pub(crate) fn adopt_fork(child: Tid) -> Tracee {
        Tracee::new(
            child.0,
            vec![Thread {
                tid: child,
                running: false,
            }],
            false,
        )
    }

    /// Set the ptrace options of every stopped thread (a running one keeps
    /// its own; new threads inherit their creator's).
    pub(crate) fn set_options(&mut self, options: i32) -> Result<(), TraceError> {
        for t in self.threads.iter().filter(|t| !t.running) {
            sys::ptrace_setoptions(t.tid.0, options)
                .map_err(|e| TraceError::ptrace("SETOPTIONS", t.tid, e))?;
        }
        Ok(())
    }

    /// Keep the end of `pid`, an untraced child of this thread, when a wait
    /// of this tracee reaps it (it is then in `end`).
    pub(crate) fn watch_outside(
        &mut self,
        pid: i32,
        end: std::rc::Rc<std::cell::Cell<Option<Ended>>>,
    ) {
        self.outside = Some((pid, end));
    }

    /// A wait reaped `pid`, not a thread of the target: keep its end if it
    /// is the watched child.
    pub(crate) fn note_outside_exit(&mut self, pid: i32, status: i32) {
        if let Some((watched, end)) = &self.outside {
            if *watched == pid {
                if let Some(e) = Ended::from_status(status) {
                    end.set(Some(e));
                }
            }
        }
    }

    /// Stop every thread, remove all breakpoints, and detach from every
    /// thread, leaving the process running. Threads must not be stopped at
    /// a breakpoint the caller has not handled (their rip is past the int3).
    pub fn detach(self) -> Result<(), TraceError> {
        self.detach_with(|_| {})
    }

    /// [`Tracee::detach`], calling `cleanup` once every thread is stopped and
    /// before the breakpoints are removed: the moment to undo changes made
    /// to the target's data (the trace hook) with no thread running.
    pub fn detach_with(mut self, cleanup: impl FnOnce(&mut Tracee)) -> Result<(), TraceError> {
        self.detach_in_place(cleanup)
    }

    fn detach_in_place(&mut self, cleanup: impl FnOnce(&mut Tracee)) -> Result<(), TraceError> {
        self.stop_all()?;
        cleanup(self);
        self.clear_all_breakpoints()?;
        self.clear_watch();
        self.clear_safe_watch();
        let mut first_err = None;
        for t in std::mem::take(&mut self.threads) {
            let sig = self.take_pending(t.tid).unwrap_or(0);
            if let Err(e) = sys::ptrace_detach(t.tid.0, sig) {
                // A thread that exited meanwhile is no loss.
                if e.raw_os_error() != Some(libc::ESRCH) && first_err.is_none() {
                    first_err = Some(TraceError::ptrace("DETACH", t.tid, e));
                }
            }
        }
        self.finished = true;
        first_err.map_or(Ok(()), Err)
    }

    /// Kill the process (SIGKILL) and reap it.
    pub fn kill(mut self) -> Result<(), TraceError> {
        self.kill_and_reap()
    }

    fn kill_and_reap(&mut self) -> Result<(), TraceError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        if let Err(e) = sys::kill(self.pid, libc::SIGKILL) {
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(TraceError::ptrace("kill", Tid(self.pid), e));
            }
        }
        // Reap every thread, then the process. Bounded: each thread reports
        // its end once.
        let limit = self.threads.len() + 4096;
        for _ in 0..limit {
            match sys::wait_any(-1, 0) {
                Ok((p, status))
                    if p == self.pid && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) =>
                {
                    break;
                }
                Ok((p, status)) => self.note_outside_exit(p, status),
                Err(_) => break,
            }
        }
        self.threads.clear();
        Ok(())
    }
}

impl Drop for Tracee {
    /// A tracee still alive when dropped (an error path) is killed, not left
    /// stopped forever.
    fn drop(&mut self) {
        if self.seized {
            // Not ours to kill: let it go (the owner undoes its hooks first).
            if !self.finished {
                if let Err(e) = self.detach_in_place(|_| {}) {
                    log::warn!(target: "tracer::ptrace", "could not detach from the target: {e}");
                }
            }
            return;
        }
        if let Err(e) = self.kill_and_reap() {
            log::warn!(target: "tracer::ptrace", "could not kill the target: {e}");
        }
    }
}
