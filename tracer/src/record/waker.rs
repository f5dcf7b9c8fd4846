//! Ending a blocking wait on the target from outside: a helper child
//! process whose death wakes the tracer's `waitpid` ([`Waker`]), and a
//! thread that kills it when the [`Alarm`] is due: the user asks to stop,
//! a signal is caught for the program, or a time comes (the time bound,
//! the end of a grace period) ([`Watcher`]). Nothing in the target is
//! touched.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::passon::PassOn;

/// How often the watcher thread looks at the stop flag and the clock.
const WATCH_PERIOD: Duration = Duration::from_millis(10);

/// A child process of the tracer thread whose only job is to end when the
/// watcher kills it: that ends the tracer's blocking wait (see
/// [`crate::ptrace::Tracee::wait_or_woken`]) without touching the target.
pub(crate) struct Waker {
    child: Child,
    /// Shared with the watcher, which kills whatever process it names.
    pub(crate) pid: Arc<AtomicI32>,
}

impl Waker {
    pub(crate) fn spawn() -> std::io::Result<Waker> {
        let child = Self::start()?;
        let pid = Arc::new(AtomicI32::new(child.id() as i32));
        Ok(Waker { child, pid })
    }

    fn start() -> std::io::Result<Child> {
        let mut cmd = Command::new("sleep");
        cmd.arg("1000000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Hindsight killed (SIGKILL, the OOM killer) must not leave it.
        crate::sys::die_with_parent(&mut cmd);
        cmd.spawn()
    }

    pub(crate) fn current(&self) -> i32 {
        self.child.id() as i32
    }

    /// The previous helper ended (and was reaped by the wait): start another.
    pub(crate) fn respawn(&mut self) -> std::io::Result<()> {
        self.child = Self::start()?;
        self.pid.store(self.child.id() as i32, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        // Already reaped if it was the one that woke us: then kill fails
        // harmlessly (ESRCH), and wait returns ECHILD.
        let _ = crate::sys::kill(self.current(), libc::SIGKILL);
        let _ = crate::sys::wait_any(self.current(), 0);
    }
}

/// What wakes the stop loop from a blocking wait: the user's stop (attach),
/// signals caught for the program (record), and times (the time bound,
/// the end of a grace period, when a caught signal is to be passed on).
pub(crate) struct Alarm {
    /// Set from outside to end and detach (attach's SIGINT and SIGTERM).
    stop: Option<Arc<AtomicBool>>,
    /// Signals hindsight caught that the loop passes on (record's).
    pass_on: Option<Arc<PassOn>>,
    /// Times to wake at; the loop forgets those that passed once it woke.
    times: Mutex<Vec<Instant>>,
}

impl Alarm {
    pub(crate) fn new(stop: Option<Arc<AtomicBool>>, pass_on: Option<Arc<PassOn>>) -> Alarm {
        Alarm {
            stop,
            pass_on,
            times: Mutex::new(Vec::new()),
        }
    }

    /// Wake the loop at `t` too.
    pub(crate) fn wake_at(&self, t: Instant) {
        self.times.lock().unwrap_or_else(|p| p.into_inner()).push(t);
    }

    /// The loop woke at `now` and dealt with every time up to it.
    pub(crate) fn forget_passed(&self, now: Instant) {
        self.times
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&t| t > now);
    }

    /// Whether the loop must wake now.
    fn due(&self, now: Instant) -> bool {
        self.stop.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
            || self.pass_on.as_ref().is_some_and(|p| p.any())
            || self
                .times
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|&t| t <= now)
    }
}

/// A thread that kills the waker whenever the alarm is due: once per
/// waker (the loop starts a new one when it goes on waiting).
pub(crate) struct Watcher {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub(crate) fn start(alarm: Arc<Alarm>, waker: Arc<AtomicI32>) -> Watcher {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = std::thread::Builder::new()
            .name("hindsight-watch".into())
            .spawn(move || {
                let mut killed = 0;
                while !d.load(Ordering::SeqCst) {
                    let current = waker.load(Ordering::SeqCst);
                    if current != killed && alarm.due(Instant::now()) {
                        // If the tracer is busy with traps, it sees the
                        // waker's end at its next wait.
                        let _ = crate::sys::kill(current, libc::SIGKILL);
                        killed = current;
                    }
                    std::thread::sleep(WATCH_PERIOD);
                }
            })
            .ok();
        Watcher { done, handle }
    }

    pub(crate) fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
