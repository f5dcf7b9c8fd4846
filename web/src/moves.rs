//! Where the page's moves go, found from the step metas and stack ops
//! alone (no state is rebuilt): the next or previous visit of a step's
//! line, and the first step after the current frame returns.

use store::{EventKind, FrameRec, OpView, Reader, Step, StoreError};

/// Steps read at a time when going backwards.
const BACK_CHUNK: u64 = 4096;

/// The first line step after `n` that runs the file and line step `n` is at.
pub fn next_visit(reader: &Reader, n: u64) -> Result<Option<u64>, StoreError> {
    let count = reader.step_count();
    let here = reader.metas(Step(n), Step(n))?.remove(0);
    if n + 1 >= count {
        return Ok(None);
    }
    let mut found = None;
    reader.scan_steps(Step(n + 1), Step(count - 1), |s| {
        let m = &s.meta;
        if m.event == EventKind::Line && m.line == here.line && m.file == &*here.file {
            found = Some(m.step.0);
            return Ok::<_, StoreError>(false);
        }
        Ok(true)
    })?;
    Ok(found)
}

/// The last line step before `n` that runs the file and line step `n` is at.
pub fn previous_visit(reader: &Reader, n: u64) -> Result<Option<u64>, StoreError> {
    let here = reader.metas(Step(n), Step(n))?.remove(0);
    let mut hi = n;
    while hi > 0 {
        let lo = hi.saturating_sub(BACK_CHUNK);
        let mut found = None;
        reader.scan_steps(Step(lo), Step(hi - 1), |s| {
            let m = &s.meta;
            if m.event == EventKind::Line && m.line == here.line && m.file == &*here.file {
                found = Some(m.step.0);
            }
            Ok::<_, StoreError>(true)
        })?;
        if found.is_some() {
            return Ok(found);
        }
        hi = lo;
    }
    Ok(None)
}

/// The first step after `n`, on the thread of step `n`, whose stack is
/// shallower than `depth` (the stack's length at `n`): the caller going on
/// after the current frame returned (or, when the caller is not recorded,
/// the next recorded step further out).
pub fn step_out(reader: &Reader, n: u64, depth: usize) -> Result<Option<u64>, StoreError> {
    let count = reader.step_count();
    if n + 1 >= count {
        return Ok(None);
    }
    let thread = reader.metas(Step(n), Step(n))?.remove(0).thread;
    let mut len = depth;
    let mut found = None;
    reader.scan_steps(Step(n + 1), Step(count - 1), |s| {
        for op in s.ops() {
            match op? {
                OpView::StackTruncate(k) => len = len.min(k as usize),
                OpView::StackPush(_) => len += 1,
                _ => {}
            }
        }
        if s.meta.thread == thread && len < depth {
            found = Some(s.meta.step.0);
            return Ok::<_, StoreError>(false);
        }
        Ok(true)
    })?;
    Ok(found)
}

/// Outer frames looked up at most (the innermost ones), so a deep
/// recursion costs a bounded number of states.
pub const MAX_OUTER_FRAMES: usize = 20;

/// For the outer frames of step `n`'s stack (`stack`, outermost first;
/// the last one is `n`'s own), the last step before `n` at which each was
/// the innermost frame of `n`'s thread: its locals are what it holds while
/// it waits for its callee. `None` where no recorded step ran in it (code
/// that is not recorded) or past [`MAX_OUTER_FRAMES`]. Read backwards in
/// chunks, each from the stack at its first step and its ops.
pub fn outer_steps(
    reader: &Reader,
    n: u64,
    stack: &[FrameRec],
) -> Result<Vec<Option<u64>>, StoreError> {
    let d = stack.len();
    let mut found: Vec<Option<u64>> = vec![None; d.saturating_sub(1)];
    let lowest = d.saturating_sub(1).saturating_sub(MAX_OUTER_FRAMES);
    let thread = reader.metas(Step(n), Step(n))?.remove(0).thread;
    let mut missing = found.len() - lowest;
    let mut hi = n;
    while hi > 0 && missing > 0 {
        let lo = hi.saturating_sub(BACK_CHUNK);
        let start = reader.state(Step(lo))?;
        let mut frames: Vec<(String, String)> = start
            .stack
            .iter()
            .map(|f| (f.function.to_string(), f.file.to_string()))
            .collect();
        // (step, thread, depth) of each step of the chunk whose innermost
        // frame is the outer frame at that depth.
        let mut hits: Vec<(u64, usize)> = Vec::new();
        let mut see = |s: u64, t: u32, frames: &[(String, String)]| {
            let k = frames.len();
            if t == thread && k >= 1 && k < d && k > lowest {
                let (f, file) = &frames[k - 1];
                if *f == *stack[k - 1].function && *file == *stack[k - 1].file {
                    hits.push((s, k));
                }
            }
        };
        if let Some(m) = &start.meta {
            see(lo, m.thread, &frames);
        }
        if lo + 1 < hi {
            reader.scan_steps(Step(lo + 1), Step(hi - 1), |s| {
                for op in s.ops() {
                    match op? {
                        OpView::StackTruncate(k) => frames.truncate(k as usize),
                        OpView::StackPush(f) => frames.push((f.function.into(), f.file.into())),
                        _ => {}
                    }
                }
                see(s.meta.step.0, s.meta.thread, &frames);
                Ok::<_, StoreError>(true)
            })?;
        }
        for (s, k) in hits.into_iter().rev() {
            if found[k - 1].is_none() {
                found[k - 1] = Some(s);
                missing -= 1;
            }
        }
        hi = lo;
    }
    Ok(found)
}

/// Whether no step from `a` to `b` (inclusive, `b - a` at most a chunk)
/// left `thread`'s stack shorter than `depth`: the outer frames of both
/// ends are then the same frames, not run since. `false` when too far apart.
pub fn stays_deep(
    reader: &Reader,
    a: u64,
    b: u64,
    thread: u32,
    depth: usize,
) -> Result<bool, StoreError> {
    if b < a || b - a > BACK_CHUNK {
        return Ok(false);
    }
    let start = reader.state(Step(a))?;
    let mut len = start.stack.len();
    let mut deep = !(start.meta.as_ref().is_some_and(|m| m.thread == thread) && len < depth);
    if deep && b > a {
        reader.scan_steps(Step(a + 1), Step(b), |s| {
            for op in s.ops() {
                match op? {
                    OpView::StackTruncate(k) => len = len.min(k as usize),
                    OpView::StackPush(_) => len += 1,
                    _ => {}
                }
            }
            deep = !(s.meta.thread == thread && len < depth);
            Ok::<_, StoreError>(deep)
        })?;
    }
    Ok(deep)
}
