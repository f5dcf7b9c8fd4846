//! Where the page's moves go, found from the step metas and stack ops
//! alone (no state is rebuilt): the next or previous visit of a step's
//! line, and the first step after the current frame returns.

use store::{EventKind, OpView, Reader, Step, StoreError};

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
