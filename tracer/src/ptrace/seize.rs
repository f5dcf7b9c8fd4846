//! Taking hold of a process that is already running: PTRACE_SEIZE every one
//! of its threads (threads born meanwhile included), stop them all with
//! PTRACE_INTERRUPT, and hand back a [`Tracee`] whose threads are all
//! stopped. Seizing sends no signal: a thread blocked in a system call is
//! interrupted and restarts that call transparently when resumed.

use nix::sys::ptrace;
use nix::unistd::Pid;

use crate::addr::Tid;
use crate::ptrace::{Thread, TraceError, Tracee};
use crate::sys;

/// Options of a seized process: like a launched one, but without
/// PTRACE_O_EXITKILL: a process hindsight did not start is not killed with it.
const SEIZE_OPTIONS: i32 = libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACESYSGOOD;

/// Rounds of "list the threads, seize the new ones" before giving up on a
/// process that creates threads faster than they can be seized.
const SEIZE_ROUNDS: usize = 100;

/// Bound on wait statuses handled while bringing one thread to a stop.
const STOP_WAIT_LIMIT: usize = 1000;

/// Why a process could not be seized, before any ptrace call.
#[derive(Debug, thiserror::Error)]
pub enum SeizeError {
    #[error("there is no process {pid}; check the id (ps -e)")]
    NoProcess { pid: i32 },
    #[error(
        "process {pid} is already traced by process {tracer} ({name}); a process has one tracer \
         at a time: detach that debugger first"
    )]
    AlreadyTraced { pid: i32, tracer: i32, name: String },
    #[error(
        "process {pid} belongs to another user: {owner}, and hindsight runs as {me}; only that \
         user or root (a process with CAP_SYS_PTRACE) may trace it: run hindsight as that user \
         (`sudo -u {owner_name} hindsight attach {pid} ...`) or as root"
    )]
    OtherUser {
        pid: i32,
        /// The target's owner, "user NAME (uid N)".
        owner: String,
        /// Its user name alone (or uid, when it has none), for the command.
        owner_name: String,
        /// hindsight's own user, as `owner`.
        me: String,
    },
    #[error(transparent)]
    Trace(#[from] TraceError),
}

/// The thread ids of process `pid`, from /proc/PID/task.
pub fn list_threads(pid: i32) -> Vec<Tid> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<Tid> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .map(Tid)
        .collect();
    tids.sort();
    tids
}

/// The process tracing `pid` (TracerPid in /proc/PID/status), if any.
pub fn tracer_of(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&t| t != 0)
}

/// The real, effective and saved user ids of process `pid` ("self" for
/// this one), from /proc/PID/status.
fn uids(pid: &str) -> Option<[u32; 3]> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace().map(|v| v.parse::<u32>().ok());
    Some([ids.next()??, ids.next()??, ids.next()??])
}

/// The name of user `uid` in /etc/passwd, if it has one.
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id = f.nth(1)?.parse::<u32>().ok()?;
        (id == uid).then(|| name.to_string())
    })
}

/// "user NAME (uid N)", or "uid N" for a user without a name.
fn describe_user(uid: u32) -> String {
    match user_name(uid) {
        Some(n) => format!("user {n} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// Why the kernel refused to let this process trace `pid`, when the target
/// runs as another user than hindsight's real user (the kernel then asks
/// for CAP_SYS_PTRACE, whatever Yama says): `None` when its ids are ours.
pub fn other_user(pid: i32) -> Option<SeizeError> {
    let [mine, ..] = uids("self")?;
    let theirs = uids(&pid.to_string())?;
    if theirs.iter().all(|&u| u == mine) {
        return None;
    }
    // The effective id is whose the process is; a real id that differs
    // (a setuid program) is named when the effective one is ours.
    let owner = if theirs[1] != mine {
        theirs[1]
    } else {
        theirs[0]
    };
    Some(SeizeError::OtherUser {
        pid,
        owner: describe_user(owner),
        owner_name: user_name(owner).unwrap_or_else(|| format!("#{owner}")),
        me: describe_user(mine),
    })
}

impl Tracee {
    /// Seize every thread of running process `pid` and stop them all.
    /// Signals that arrive meanwhile are delivered unchanged. On error every
    /// thread already seized is released.
    pub fn seize(pid: i32) -> Result<Tracee, SeizeError> {
        if pid <= 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return Err(SeizeError::NoProcess { pid });
        }
        if let Some(tracer) = tracer_of(pid) {
            let name = std::fs::read_to_string(format!("/proc/{tracer}/comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into());
            return Err(SeizeError::AlreadyTraced { pid, tracer, name });
        }
        let mut tracee = Tracee::new(pid, Vec::new(), true);
        match tracee.seize_all() {
            Ok(()) => {
                log::debug!(target: "tracer::ptrace", "seized pid {pid}: {} threads", tracee.threads.len());
                Ok(tracee)
            }
            Err(e) => {
                // Nothing was changed in the target yet: just let go.
                for t in std::mem::take(&mut tracee.threads) {
                    let _ = sys::ptrace_detach(t.tid.0, 0);
                }
                tracee.finished = true;
                Err(match e {
                    TraceError::Gone { tid, .. } if tid.0 == pid => SeizeError::NoProcess { pid },
                    // Refused: a process of another user is the usual cause,
                    // and says more than Yama or a capability would.
                    TraceError::Permission { .. } => other_user(pid).unwrap_or_else(|| e.into()),
                    e => e.into(),
                })
            }
        }
    }

    /// Seize and stop threads until every thread listed in /proc is ours
    /// and stopped.
    fn seize_all(&mut self) -> Result<(), TraceError> {
        for _ in 0..SEIZE_ROUNDS {
            let fresh: Vec<Tid> = list_threads(self.pid)
                .into_iter()
                .filter(|&t| !self.is_known(t))
                .collect();
            if fresh.is_empty() {
                if self.threads.is_empty() {
                    return Err(TraceError::Gone {
                        op: "SEIZE",
                        tid: Tid(self.pid),
                    });
                }
                return Ok(());
            }
            for tid in fresh {
                let opts = ptrace::Options::from_bits_truncate(SEIZE_OPTIONS);
                match ptrace::seize(Pid::from_raw(tid.0), opts) {
                    Ok(()) => {}
                    // It exited since the listing.
                    Err(nix::errno::Errno::ESRCH) => continue,
                    Err(e) => {
                        return Err(TraceError::ptrace(
                            "SEIZE",
                            tid,
                            std::io::Error::from_raw_os_error(e as i32),
                        ))
                    }
                }
                self.threads.push(Thread { tid, running: true });
                let _ = ptrace::interrupt(Pid::from_raw(tid.0));
            }
            self.stop_running_threads()?;
        }
        Err(TraceError::NotStopped {
            what: "seize a process that keeps creating threads",
        })
    }

    /// Wait until every thread marked running is stopped (PTRACE_EVENT_STOP),
    /// adopting threads they create meanwhile.
    fn stop_running_threads(&mut self) -> Result<(), TraceError> {
        let mut i = 0;
        while i < self.threads.len() {
            let t = self.threads[i];
            if t.running && !self.await_interrupt_stop(t.tid)? {
                self.threads.retain(|x| x.tid != t.tid);
                continue;
            }
            i += 1;
        }
        Ok(())
    }

    /// Wait for interrupted thread `tid` to report its PTRACE_EVENT_STOP.
    /// Returns false if the thread exited instead.
    fn await_interrupt_stop(&mut self, tid: Tid) -> Result<bool, TraceError> {
        for _ in 0..STOP_WAIT_LIMIT {
            let (_, status) = match sys::wait_any(tid.0, 0) {
                Ok(s) => s,
                Err(_) => return Ok(false),
            };
            if !libc::WIFSTOPPED(status) {
                return Ok(false);
            }
            let sig = libc::WSTOPSIG(status);
            let event = status >> 16;
            let resume_with = match event {
                libc::PTRACE_EVENT_STOP => {
                    self.set_running(tid, false);
                    return Ok(true);
                }
                libc::PTRACE_EVENT_CLONE => {
                    // Auto-attached by TRACECLONE: its first stop is a
                    // PTRACE_EVENT_STOP, awaited in its turn.
                    if let Ok(msg) = sys::ptrace_geteventmsg(tid.0) {
                        let new = Tid(msg as i32);
                        if !self.is_known(new) {
                            self.threads.push(Thread {
                                tid: new,
                                running: true,
                            });
                        }
                    }
                    0
                }
                0 if sig == (libc::SIGTRAP | 0x80) => 0,
                // A signal meant for the target: deliver it unchanged.
                0 => sig,
                _ => 0,
            };
            sys::ptrace_cont(tid.0, resume_with).map_err(|e| TraceError::ptrace("CONT", tid, e))?;
            // The interrupt may have been used up by the stop just seen.
            let _ = ptrace::interrupt(Pid::from_raw(tid.0));
        }
        Err(TraceError::NotStopped { what: "seize" })
    }
}
