//! The processes a launched command starts, followed until one of them is
//! the one to trace. A shell, `env` or a launcher may exec the program or
//! start it as a child (fork, vfork), through any number of steps: every
//! process of the command's family is traced, forks and vforks included,
//! and after each exec it is run to its entry point (its libraries are
//! mapped there), where the caller says whether it is the one
//! ([`follow`]). Once one is, every other process runs on untraced.

use crate::addr::{RemoteAddr, Tid};
use crate::ptrace::{Ended, Stop, TraceError, Tracee, Wrapper, OPTIONS};
use crate::sys;

/// What the caller makes of a process at the entry point of a program it
/// exec'd.
pub enum AtEntry<T> {
    /// Not the one: it runs on, followed (it may start the one).
    Pass,
    /// The one, once it reaches `at` (say, where a program starts running
    /// its work); if it ends or execs first, it was not.
    RunTo {
        /// Where it must get to.
        at: RemoteAddr,
        /// What the caller found, handed back with it.
        value: T,
    },
}

/// Where following the family got to.
// Made once per recording: boxing the tracee would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Followed<T> {
    /// The one: stopped where [`AtEntry::RunTo`] said (its main thread, the
    /// breakpoint removed), every other process of the family let go.
    Found {
        /// The process.
        tracee: Tracee,
        /// What the caller found at its entry point.
        value: T,
        /// The launched command, when it is another process (which then
        /// runs on untraced).
        wrapper: Option<Wrapper>,
    },
    /// Every process of the family ended without one; how the command
    /// (the first process) ended.
    Ended(Ended),
}

/// One process of the family.
struct Member<T> {
    tracee: Tracee,
    /// The breakpoint at the entry point of the program it last exec'd,
    /// until it is reached.
    entry: Option<RemoteAddr>,
    /// Where it must get to to be the one, and the caller's value.
    target: Option<(RemoteAddr, T)>,
}

impl<T> Member<T> {
    fn new(tracee: Tracee) -> Member<T> {
        Member {
            tracee,
            entry: None,
            target: None,
        }
    }
}

/// The traced processes of a launched command.
struct Family<T> {
    members: Vec<Member<T>>,
    /// First stops of new processes and threads that came before their
    /// parent's event (the parent's tracee takes them from here).
    early: Vec<Tid>,
    /// The launched command's pid, and its end once it ended.
    root: i32,
    root_end: Option<Ended>,
}

/// Follow the family of `root`, a command launched and stopped right
/// after its exec, until `at_entry` finds the one (or every process ends).
/// On an error every process of the family is killed.
pub fn follow<T, E: From<TraceError>>(
    root: Tracee,
    mut at_entry: impl FnMut(&Tracee) -> Result<AtEntry<T>, E>,
) -> Result<Followed<T>, E> {
    let mut fam = Family {
        root: root.pid(),
        members: vec![Member::new(root)],
        early: Vec::new(),
        root_end: None,
    };
    // Vforks too: a launcher may start the program with posix_spawn.
    // Children inherit the options.
    fam.members[0]
        .tracee
        .set_options(OPTIONS | libc::PTRACE_O_TRACEVFORK)?;
    fam.after_exec(0)?;
    loop {
        if fam.members.is_empty() {
            // The root is a member until it ends, so its end is known.
            return Ok(Followed::Ended(fam.root_end.unwrap_or(Ended::Exited(0))));
        }
        let (tid, status) = sys::wait_any(-1, 0).map_err(TraceError::Wait)?;
        let tid = Tid(tid);
        let Some(i) = fam.members.iter().position(|m| m.tracee.is_known(tid)) else {
            // A new process or thread whose parent's event is still to
            // come; an exit of one no longer known (gone with an exec).
            if libc::WIFSTOPPED(status) && !fam.early.contains(&tid) {
                fam.early.push(tid);
            }
            continue;
        };
        let Some(stop) = fam.classify(i, tid, status)? else {
            continue;
        };
        if fam.on_stop(i, stop, &mut at_entry)? {
            return Ok(fam.keep_only(i)?);
        }
    }
}

impl<T> Family<T> {
    /// Classify a status of member `i`, lending it the family's early stops.
    fn classify(&mut self, i: usize, tid: Tid, status: i32) -> Result<Option<Stop>, TraceError> {
        let t = &mut self.members[i].tracee;
        std::mem::swap(&mut t.early, &mut self.early);
        let stop = t.classify(tid, status);
        std::mem::swap(&mut t.early, &mut self.early);
        stop
    }

    /// Member `i` is stopped right after an exec: run it to the entry point
    /// of its new program.
    fn after_exec(&mut self, i: usize) -> Result<(), TraceError> {
        let m = &mut self.members[i];
        let entry = m.tracee.entry_point()?;
        m.tracee.set_breakpoint(entry)?;
        m.entry = Some(entry);
        m.target = None;
        let main = Tid(m.tracee.pid());
        m.tracee.resume(main, None)
    }

    /// Answer one stop of member `i`; true when it is the one (stopped).
    fn on_stop<E: From<TraceError>>(
        &mut self,
        i: usize,
        stop: Stop,
        at_entry: &mut impl FnMut(&Tracee) -> Result<AtEntry<T>, E>,
    ) -> Result<bool, E> {
        let m = &mut self.members[i];
        let t = &mut m.tracee;
        match stop {
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } => {
                t.step_back_over(tid, &mut regs, addr)?;
                if m.target.as_ref().is_some_and(|(at, _)| *at == addr) {
                    return Ok(true);
                }
                if m.entry == Some(addr) {
                    m.entry = None;
                    if let AtEntry::RunTo { at, value } = at_entry(t)? {
                        t.set_breakpoint(at)?;
                        m.target = Some((at, value));
                    }
                }
                t.resume(tid, None)?;
            }
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig))?,
            // Nothing is watched while the command starts.
            Stop::Watch { tid, .. } => t.resume(tid, None)?,
            Stop::NewThread { parent, tid } => {
                t.resume(tid, None)?;
                t.resume(parent, None)?;
            }
            Stop::Forked { parent, child } => {
                t.resume(parent, None)?;
                let mut m = Member::new(Tracee::adopt_fork(child));
                m.tracee.resume(child, None)?;
                self.members.push(m);
            }
            Stop::ThreadExit { .. } => {}
            Stop::Exec { .. } => self.after_exec(i)?,
            Stop::Exited { code } => self.ended(i, Ended::Exited(code)),
            Stop::Killed { sig } => self.ended(i, Ended::Killed(sig)),
        }
        Ok(false)
    }

    /// Member `i` ended.
    fn ended(&mut self, i: usize, end: Ended) {
        let m = self.members.remove(i);
        log::debug!(target: "tracer::ptrace", "process {} of the command {end}", m.tracee.pid());
        if m.tracee.pid() == self.root {
            self.root_end = Some(end);
        }
    }

    /// Member `i` is the one: let every other process go, untraced.
    fn keep_only(mut self, i: usize) -> Result<Followed<T>, TraceError> {
        let mut one = self.members.swap_remove(i);
        // New processes stopped at their first stop go first: a vfork
        // parent waits for its child, and could not be stopped to detach.
        for tid in std::mem::take(&mut self.early) {
            let _ = sys::ptrace_detach(tid.0, 0);
        }
        // A signal another process of the command got during start-up (a
        // Ctrl-C the shell took) counts as the command's: not passed on
        // again.
        for m in &self.members {
            for &(sig, at) in &m.tracee.delivered {
                one.tracee.note_delivered(sig, at);
            }
        }
        // Children before parents, for the same reason.
        while let Some(mut m) = self.members.pop() {
            let pid = m.tracee.pid();
            std::mem::swap(&mut m.tracee.early, &mut self.early);
            if let Err(e) = m.tracee.detach() {
                log::warn!(target: "tracer::ptrace", "process {pid} of the command not let go cleanly: {e}");
            }
            for tid in std::mem::take(&mut self.early) {
                let _ = sys::ptrace_detach(tid.0, 0);
            }
        }
        // Recorded from here, its vforks are not followed: a vfork child
        // shares its memory, hooks included.
        one.tracee.set_options(OPTIONS)?;
        let wrapper = if one.tracee.pid() == self.root {
            None
        } else {
            let w = Wrapper::new(self.root, self.root_end);
            one.tracee.watch_outside(self.root, w.end_cell());
            Some(w)
        };
        let value = match one.target.take() {
            Some((_, value)) => value,
            None => {
                return Err(TraceError::NotStopped {
                    what: "take the process found",
                })
            }
        };
        log::debug!(target: "tracer::ptrace", "process {} is the one; the rest of the command runs on untraced", one.tracee.pid());
        Ok(Followed::Found {
            tracee: one.tracee,
            value,
            wrapper,
        })
    }
}

impl<T> Drop for Family<T> {
    /// Left with members (an error): kill them all, then reap them. Each
    /// tracee's own kill would wait for its end among the others' events.
    fn drop(&mut self) {
        let mut left: Vec<i32> = Vec::new();
        for m in &mut self.members {
            m.tracee.finished = true;
            if sys::kill(m.tracee.pid(), libc::SIGKILL).is_ok() {
                left.push(m.tracee.pid());
            }
        }
        for tid in &self.early {
            let _ = sys::kill(tid.0, libc::SIGKILL);
        }
        // Bounded: every thread of every member reports its end once.
        let threads: usize = self.members.iter().map(|m| m.tracee.threads.len()).sum();
        for _ in 0..threads + self.early.len() + 4096 {
            if left.is_empty() {
                break;
            }
            match sys::wait_any(-1, 0) {
                Ok((p, status)) if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) => {
                    left.retain(|&x| x != p)
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}
