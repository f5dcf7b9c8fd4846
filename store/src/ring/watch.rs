//! What asks a flight recording to be written while recording goes on: a
//! request or a signal's flag ([`Snapshots`]), and an exception leaving
//! the outermost frame of its thread ([`ExitWatch`]).

use crate::model::{EventKind, StepMeta};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Snapshots that an exception leaving a thread's outermost frame asks
/// for are written at most this often (a server whose handlers raise, each
/// caught by the standard library, would otherwise rewrite the file at
/// every request); the end of the recording writes the file anyway.
pub const EXIT_SNAPSHOT_GAP: Duration = Duration::from_secs(1);

/// Threads followed by [`ExitWatch`] at most; past it the watch starts over.
const MAX_WATCHED_THREADS: usize = 4096;

/// Who asks the writer thread to write a flight recording now.
#[derive(Default)]
pub(crate) struct Snapshots {
    asked: AtomicBool,
    signal: OnceLock<Arc<AtomicBool>>,
}

impl Snapshots {
    /// Ask for a snapshot.
    pub(crate) fn ask(&self) {
        self.asked.store(true, Ordering::SeqCst);
    }

    /// Also take a snapshot whenever `flag` is set (a signal handler's).
    pub(crate) fn watch(&self, flag: Arc<AtomicBool>) {
        let _ = self.signal.set(flag);
    }

    /// Whether a snapshot was asked for since the last call.
    pub(crate) fn take(&self) -> bool {
        let signal = self
            .signal
            .get()
            .is_some_and(|f| f.swap(false, Ordering::SeqCst));
        self.asked.swap(false, Ordering::SeqCst) | signal
    }
}

/// Finds the steps at which an exception leaves the outermost frame its
/// thread has run (an `exception` step, then the same frame's `return`:
/// the interpreter's report of a frame ended by an exception): the
/// program's death by an exception nothing caught, or a thread's.
#[derive(Default)]
pub(crate) struct ExitWatch {
    /// Per thread: the smallest stack depth of its steps, and its last
    /// step's event and depth.
    threads: HashMap<u32, (usize, EventKind, usize)>,
    pending: bool,
    last_written: Option<Instant>,
}

impl ExitWatch {
    /// Look at a step: its meta and the depth of its stack.
    pub(crate) fn see(&mut self, meta: &StepMeta, depth: usize) {
        if self.threads.len() >= MAX_WATCHED_THREADS && !self.threads.contains_key(&meta.thread) {
            self.threads.clear();
        }
        let t = self
            .threads
            .entry(meta.thread)
            .or_insert((depth, meta.event, usize::MAX));
        let left = meta.event == EventKind::Return
            && t.1 == EventKind::Exception
            && t.2 == depth
            && depth <= t.0;
        t.0 = t.0.min(depth);
        (t.1, t.2) = (meta.event, depth);
        if left {
            log::debug!(target: "store", "an exception left the outermost frame of thread {} at step {}", meta.thread, meta.step.0);
            self.pending = true;
        }
    }

    /// Whether a snapshot is due for an exception seen (at most one per
    /// [`EXIT_SNAPSHOT_GAP`]; one not yet due stays pending).
    pub(crate) fn due(&mut self) -> bool {
        if !self.pending
            || self
                .last_written
                .is_some_and(|t| t.elapsed() < EXIT_SNAPSHOT_GAP)
        {
            return false;
        }
        self.pending = false;
        true
    }

    /// A snapshot was written now.
    pub(crate) fn written(&mut self) {
        self.last_written = Some(Instant::now());
    }

    /// The threads that ran steps, in order.
    pub(crate) fn threads(&self) -> Vec<u32> {
        let mut t: Vec<u32> = self.threads.keys().copied().collect();
        t.sort_unstable();
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Step;

    fn meta(thread: u32, event: EventKind) -> StepMeta {
        StepMeta {
            step: Step(0),
            event,
            thread,
            file: "a.py".into(),
            function: "f".into(),
            line: 1,
            position: None,
            value: None,
            instruction: None,
        }
    }

    #[test]
    fn an_exception_leaving_the_outermost_frame_asks_once() {
        use EventKind::*;
        let mut w = ExitWatch::default();
        // Caught one level down, and an exception in the outermost frame
        // that a line of it follows (caught there): nothing.
        for (t, e, d) in [
            (1, Line, 1),
            (1, Call, 2),
            (1, Exception, 2),
            (1, Return, 2),
            (1, Exception, 1),
            (1, Line, 1),
            (2, Call, 4),
            (2, Exception, 4),
            (1, Line, 1),
        ] {
            w.see(&meta(t, e), d);
        }
        assert!(!w.due());
        // Thread 2's outermost frame ends by an exception.
        w.see(&meta(2, Return), 4);
        assert!(w.due());
        w.written();
        assert!(!w.due());
        assert_eq!(w.threads(), vec![1, 2]);
        // Another soon after waits for the gap.
        w.see(&meta(1, Exception), 1);
        w.see(&meta(1, Return), 1);
        assert!(!w.due());
    }

    #[test]
    fn a_flag_asks_once() {
        let s = Snapshots::default();
        assert!(!s.take());
        let flag = Arc::new(AtomicBool::new(true));
        s.watch(flag.clone());
        assert!(s.take());
        assert!(!s.take());
        s.ask();
        assert!(s.take());
        assert!(!flag.load(Ordering::SeqCst));
    }
}
