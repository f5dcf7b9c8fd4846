//! Finding the step a motion goes to, forward or backward from the
//! current one, reading steps without rebuilding states: each step's meta
//! and the depth of its thread's stack after it, followed from the stack
//! ops. Backward, the steps are read in windows before the current step,
//! each window from the state at its first step, the nearest window first.

use store::{EventKind, OpView, Reader, Step, StoreError};

/// The first window read backward; each next one is twice as long.
const FIRST_WINDOW: u64 = 4096;
/// The longest window read backward.
const MAX_WINDOW: u64 = 1 << 20;

/// What a motion sees of one step.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The step.
    pub step: u64,
    /// The thread that ran it.
    pub thread: u32,
    /// Its event.
    pub event: EventKind,
    /// Its file, as recorded.
    pub file: &'a str,
    /// Its line.
    pub line: u32,
    /// The number of frames on its thread's stack after it.
    pub depth: usize,
}

/// The first step after `pos` (whose stack is `depth` deep) that `pred`
/// picks and `confirm` then accepts (a breakpoint's condition, read from
/// the step's state), or `None` when no later step does.
pub fn forward(
    reader: &Reader,
    pos: u64,
    depth: usize,
    mut pred: impl FnMut(&Seen<'_>) -> bool,
    mut confirm: impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<Option<u64>, StoreError> {
    let count = reader.step_count();
    if pos + 1 >= count {
        return Ok(None);
    }
    let mut depth = depth;
    let mut found = None;
    reader.scan_steps(Step(pos + 1), Step(count - 1), |s| {
        for op in s.ops() {
            match op? {
                OpView::StackTruncate(n) => depth = depth.min(n as usize),
                OpView::StackPush(_) => depth += 1,
                _ => {}
            }
        }
        let m = &s.meta;
        let seen = Seen {
            step: m.step.0,
            thread: m.thread,
            event: m.event,
            file: m.file,
            line: m.line,
            depth,
        };
        if pred(&seen) && confirm(m.step.0)? {
            found = Some(m.step.0);
            return Ok(false);
        }
        Ok::<_, StoreError>(true)
    })?;
    Ok(found)
}

/// The last step before `pos` that `pred` picks and `confirm` accepts,
/// or `None` when no earlier step does.
pub fn backward(
    reader: &Reader,
    pos: u64,
    mut pred: impl FnMut(&Seen<'_>) -> bool,
    mut confirm: impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<Option<u64>, StoreError> {
    let mut end = pos; // exclusive
    let mut window = FIRST_WINDOW;
    while end > 0 {
        let start = end.saturating_sub(window);
        let mut picked = Vec::new();
        window_steps(reader, start, end - 1, |seen| {
            if pred(seen) {
                picked.push(seen.step);
            }
        })?;
        for step in picked.into_iter().rev() {
            if confirm(step)? {
                return Ok(Some(step));
            }
        }
        end = start;
        window = (window * 2).min(MAX_WINDOW);
    }
    Ok(None)
}

/// The last step before `pos` of the frame at `depth` on `thread`'s stack
/// (the frame's own step: its thread's stack was `depth` deep), or `None`
/// when the frame took none (the stack was shallower since).
pub fn frame_step(
    reader: &Reader,
    pos: u64,
    thread: u32,
    depth: usize,
) -> Result<Option<u64>, StoreError> {
    let mut end = pos;
    let mut window = FIRST_WINDOW;
    while end > 0 {
        let start = end.saturating_sub(window);
        // The last step at the depth and the last one shallower, in this window.
        let (mut at, mut above) = (None, None);
        window_steps(reader, start, end - 1, |seen| {
            if seen.thread == thread {
                if seen.depth == depth {
                    at = Some(seen.step);
                } else if seen.depth < depth {
                    above = Some(seen.step);
                }
            }
        })?;
        match (at, above) {
            (Some(a), Some(b)) if b > a => return Ok(None),
            (Some(a), _) => return Ok(Some(a)),
            (None, Some(_)) => return Ok(None),
            (None, None) => {}
        }
        end = start;
        window = (window * 2).min(MAX_WINDOW);
    }
    Ok(None)
}

/// Call `f` on every step of `first..=last`, in order.
fn window_steps(
    reader: &Reader,
    first: u64,
    last: u64,
    mut f: impl FnMut(&Seen<'_>),
) -> Result<(), StoreError> {
    let state = reader.state(Step(first))?;
    let mut depth = state.stack.len();
    if let Some(m) = &state.meta {
        f(&Seen {
            step: first,
            thread: m.thread,
            event: m.event,
            file: &m.file,
            line: m.line,
            depth,
        });
    }
    if first == last {
        return Ok(());
    }
    reader.scan_steps(Step(first + 1), Step(last), |s| {
        for op in s.ops() {
            match op? {
                OpView::StackTruncate(n) => depth = depth.min(n as usize),
                OpView::StackPush(_) => depth += 1,
                _ => {}
            }
        }
        let m = &s.meta;
        f(&Seen {
            step: m.step.0,
            thread: m.thread,
            event: m.event,
            file: m.file,
            line: m.line,
            depth,
        });
        Ok::<_, StoreError>(true)
    })
}
