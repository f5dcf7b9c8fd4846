//! Following a recording as it is written: an observer the writer calls
//! with each step's ops as they are handed to it, in order, on the sending
//! thread, which can ask the recording to stop (`hindsight record
//! --stream`, the Python package's callbacks).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::model::Op;

/// Called with each step's ops (the first is `Op::Step`) and its time
/// (`CLOCK_MONOTONIC` nanoseconds, when recorded) as the step is
/// handed to the writer; returns `false` to ask the recording to stop, after
/// which it is not called again. It runs on the recorder's thread, between
/// the step and the program's next instruction: a slow observer slows the
/// recorded program, never loses a step.
pub type StepObserver = Box<dyn FnMut(&[Op], Option<u64>) -> bool + Send>;

/// The writer's observer, if any, and whether it asked to stop.
#[derive(Default)]
pub(crate) struct Watch {
    observer: Mutex<Option<StepObserver>>,
    set: AtomicBool,
    stop: AtomicBool,
}

impl Watch {
    /// Call `observer` on every step from now on.
    pub(crate) fn set(&mut self, observer: StepObserver) {
        *self.observer.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(observer);
        *self.set.get_mut() = true;
        *self.stop.get_mut() = false;
    }

    /// Show one step to the observer (nothing to do without one).
    pub(crate) fn see(&self, ops: &[Op], time: Option<u64>) {
        if !self.set.load(Ordering::Relaxed) {
            return;
        }
        let mut slot = self.observer.lock().unwrap_or_else(|p| p.into_inner());
        let Some(observer) = slot.as_mut() else {
            return;
        };
        if !observer(ops, time) {
            *slot = None;
            self.set.store(false, Ordering::Relaxed);
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    /// Whether the observer asked the recording to stop.
    pub(crate) fn stop_asked(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Step, StepMeta};
    use std::sync::Arc;

    fn step(n: u64) -> Vec<Op> {
        vec![Op::Step(StepMeta {
            step: Step(n),
            event: EventKind::Line,
            thread: 1,
            file: Arc::from("a.py"),
            function: Arc::from("f"),
            line: 1,
            position: None,
            value: None,
            instruction: None,
        })]
    }

    #[test]
    fn the_observer_sees_steps_until_it_asks_to_stop() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut w = Watch::default();
        w.see(&step(0), None);
        let s = seen.clone();
        w.set(Box::new(move |ops, _| {
            let Some(Op::Step(m)) = ops.first() else {
                return true;
            };
            s.lock().unwrap().push(m.step.0);
            m.step.0 < 2
        }));
        for n in 1..5 {
            w.see(&step(n), Some(n));
        }
        assert_eq!(*seen.lock().unwrap(), vec![1, 2]);
        assert!(w.stop_asked());
    }
}
