//! The state of a recording kept step by step from its ops, read once in
//! order through `store::Reader::scan_steps` (no state is rebuilt from a
//! checkpoint per step): the stack, the step's bindings, the heap, the
//! frames by place ([`Frames`]) and the watched values ([`Watch`]). What it
//! holds is counted as the reader counts a state, so a hostile file ends
//! in an error, not in memory exhaustion.

use store::{Budget, Op, OpView, State, Step, StepView};

use crate::error::QueryError;
use crate::frames::Frames;
use crate::watch::Watch;

/// A state kept from the ops.
pub struct Replay {
    /// The state after the last step applied.
    pub state: State,
    /// The values watched for changes.
    pub watch: Watch,
    /// The stack by place.
    pub frames: Frames,
    budget: Budget,
}

impl Default for Replay {
    fn default() -> Self {
        Replay::new(State::default())
    }
}

impl Replay {
    /// A replay starting from `state` (the state at the step before the
    /// first one it will apply; `State::default()` before step 0).
    pub fn new(state: State) -> Replay {
        let mut frames = Frames::default();
        for f in &state.stack {
            frames.push(&f.function, &f.file);
        }
        Replay {
            budget: Budget::of(&state),
            state,
            watch: Watch::default(),
            frames,
        }
    }

    /// The replay at the state before step `from` of `reader` (the empty
    /// state at a flight recording's first step, whose ops build it whole).
    pub fn before(reader: &store::Reader, from: u64) -> Result<Replay, QueryError> {
        let from = from.max(reader.first_step());
        Ok(
            match from.checked_sub(1).filter(|_| from > reader.first_step()) {
                None => Replay::default(),
                Some(prev) => Replay::new(reader.state(Step(prev))?),
            },
        )
    }

    /// Go to `state`, the state after steps that were not applied (the
    /// step index said they change nothing the query follows); `touched`
    /// are the objects their heap ops changed (their cached hashes are
    /// dropped, and the values that reach them walked again).
    pub fn jump(&mut self, state: State, touched: impl IntoIterator<Item = store::ObjAddr>) {
        for a in touched {
            self.watch.touch(a);
        }
        self.frames.reset(&state.stack);
        self.budget = Budget::of(&state);
        self.state = state;
    }

    /// Apply one step, calling `seen` on each of its ops first.
    pub fn apply(
        &mut self,
        s: &StepView<'_>,
        seen: impl FnMut(&OpView<'_>),
    ) -> Result<(), QueryError> {
        self.apply_inspect(s, seen, |_| {})
    }

    /// [`Replay::apply`], calling `before` with the state before the step
    /// once every op was seen (what a step's ops will replace, read before
    /// they do).
    pub fn apply_inspect(
        &mut self,
        s: &StepView<'_>,
        mut seen: impl FnMut(&OpView<'_>),
        before: impl FnOnce(&State),
    ) -> Result<(), QueryError> {
        let n = s.meta.step.0;
        let mut ops = Vec::with_capacity(s.op_count() as usize + 1);
        ops.push(Op::Step(s.meta.to_meta()));
        for op in s.ops() {
            let op = op?;
            seen(&op);
            match &op {
                OpView::StackTruncate(k) => self.frames.truncate(*k),
                OpView::StackPush(f) => self.frames.push(f.function, f.file),
                OpView::HeapItems {
                    addr,
                    start,
                    new,
                    len,
                } if new.is_empty() && start == len => {
                    self.watch.items_unchanged(&self.state, *addr, *len)
                }
                OpView::HeapItems { addr, .. } | OpView::HeapDel(addr) => self.watch.touch(*addr),
                _ => {}
            }
            let op = op.to_op().map_err(|e| QueryError::Damaged {
                step: n,
                what: format!("a node does not decode ({e})"),
            })?;
            if let Op::HeapSet(a, node) = &op {
                self.watch.set(&self.state, *a, node);
            }
            ops.push(op);
        }
        before(&self.state);
        store::apply_counted(&mut self.state, ops, &mut self.budget).map_err(|e| {
            QueryError::Damaged {
                step: n,
                what: e.to_string(),
            }
        })
    }
}

/// Call `f` with the replayed state after each step from `from` to `to`
/// inclusive (and the step's view, for its ops and meta). `f` returns
/// `Ok(false)` to stop.
pub fn replay_steps(
    reader: &store::Reader,
    from: u64,
    to: u64,
    mut f: impl FnMut(&mut Replay, &StepView<'_>) -> Result<bool, QueryError>,
) -> Result<(), QueryError> {
    let mut r = Replay::before(reader, from)?;
    reader.scan_steps(Step(from), Step(to), |s| {
        r.apply(s, |_| {})?;
        f(&mut r, s)
    })
}
