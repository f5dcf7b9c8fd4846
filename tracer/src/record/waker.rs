//! Ending a blocking wait on the target from outside: a helper child
//! process whose death wakes the tracer's `waitpid` ([`Waker`]), and a
//! thread that kills it once the user asks to stop or the time bound
//! passes ([`Watcher`]). Nothing in the target is touched.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        Command::new("sleep")
            .arg("1000000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
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

/// A thread that kills the waker once the stop flag is set or the deadline
/// passes.
pub(crate) struct Watcher {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub(crate) fn start(
        stop: Arc<AtomicBool>,
        deadline: Option<Instant>,
        waker: Arc<AtomicI32>,
    ) -> Watcher {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = std::thread::Builder::new()
            .name("hindsight-watch".into())
            .spawn(move || loop {
                if d.load(Ordering::SeqCst) {
                    return;
                }
                let expired = deadline.is_some_and(|t| Instant::now() >= t);
                if stop.load(Ordering::SeqCst) || expired {
                    let _ = crate::sys::kill(waker.load(Ordering::SeqCst), libc::SIGKILL);
                    // Keep watching: if the tracer was busy with traps, it
                    // checks the flag itself; one kill is enough.
                    while !d.load(Ordering::SeqCst) {
                        std::thread::sleep(WATCH_PERIOD);
                    }
                    return;
                }
                std::thread::sleep(WATCH_PERIOD);
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
