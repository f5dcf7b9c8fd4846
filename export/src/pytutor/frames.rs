//! The frames of each thread's stack as the export goes step by step: a
//! frame id for each (a new one at every `call` step, as Python Tutor
//! numbers frames), and its locals as its own last step saw them. A state
//! holds the names of the frame that ran the step only; a caller's names
//! are those of its last step, the names it had when it made the call.

use std::collections::HashMap;
use std::sync::Arc;

use store::{EventKind, ObjAddr, State};

/// One frame of a thread's stack.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// Its number: 1, 2, 3, ... in the order frames were entered.
    pub id: u64,
    /// The function (qualname) it runs.
    pub function: Arc<str>,
    /// The file of that code.
    pub file: Arc<str>,
    /// Its names at its own last step; `None` before it took one (a frame
    /// of code that is not recorded, or one entered before the export's
    /// first step).
    pub locals: Option<Vec<(Arc<str>, ObjAddr)>>,
}

/// The tracked stacks of every thread.
#[derive(Debug, Default)]
pub struct Frames {
    threads: HashMap<u32, Vec<Tracked>>,
    next_id: u64,
}

impl Frames {
    /// Follow the stack of the step `state` is at; returns that thread's
    /// frames, outermost first.
    pub fn step(&mut self, state: &State) -> &[Tracked] {
        let Some(meta) = &state.meta else {
            return &[];
        };
        let stack = &state.stack;
        let tracked = self.threads.entry(meta.thread).or_default();
        // A call step enters a new frame, even where the same function was
        // innermost before (a generator resumed).
        let limit = match meta.event {
            EventKind::Call => stack.len().saturating_sub(1),
            _ => stack.len(),
        };
        let keep = tracked
            .iter()
            .zip(stack)
            .take(limit)
            .take_while(|(t, f)| t.function == f.function && t.file == f.file)
            .count();
        tracked.truncate(keep);
        for f in &stack[keep..] {
            self.next_id += 1;
            tracked.push(Tracked {
                id: self.next_id,
                function: f.function.clone(),
                file: f.file.clone(),
                locals: None,
            });
        }
        if let Some(top) = tracked.last_mut() {
            top.locals = Some(state.locals.clone());
        }
        tracked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{FrameRec, Step, StepMeta};

    fn state(event: EventKind, stack: &[&str], local: u64) -> State {
        State {
            meta: Some(StepMeta {
                step: Step(0),
                event,
                thread: 1,
                file: Arc::from("a.py"),
                function: Arc::from(*stack.last().unwrap()),
                line: 1,
                position: None,
                value: None,
                instruction: None,
            }),
            stack: stack
                .iter()
                .map(|f| FrameRec {
                    function: Arc::from(*f),
                    file: Arc::from("a.py"),
                    line: 1,
                })
                .collect(),
            locals: vec![(Arc::from("x"), ObjAddr(local))],
            ..State::default()
        }
    }

    #[test]
    fn callers_keep_their_last_locals_and_calls_get_new_ids() {
        let mut f = Frames::default();
        let ids = |f: &[Tracked]| f.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(f.step(&state(EventKind::Call, &["<module>"], 1))), [1]);
        assert_eq!(ids(f.step(&state(EventKind::Line, &["<module>"], 2))), [1]);
        let s = f
            .step(&state(EventKind::Call, &["<module>", "g"], 3))
            .to_vec();
        assert_eq!(ids(&s), [1, 2]);
        assert_eq!(s[0].locals.as_ref().unwrap()[0].1, ObjAddr(2));
        assert_eq!(
            ids(f.step(&state(EventKind::Return, &["<module>", "g"], 3))),
            [1, 2]
        );
        // The same function called again at the same depth: a new frame.
        assert_eq!(
            ids(f.step(&state(EventKind::Call, &["<module>", "g"], 4))),
            [1, 3]
        );
        assert_eq!(ids(f.step(&state(EventKind::Line, &["<module>"], 5))), [1]);
    }
}
