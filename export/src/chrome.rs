//! Chrome's trace event format (what Perfetto and chrome://tracing open):
//! each frame a slice, a `B` event when it is first on its thread's stack
//! and an `E` event when it leaves it, per thread, always balanced (the
//! frames open at the end of the range are closed there).
//!
//! A recording holds no time of day per step, so `ts` is the step number
//! read as microseconds: one step is 1 µs, and a slice's length is the
//! number of steps it spans. The stack is followed from each step's ops
//! (no state is rebuilt but the first), so frames outside the recorded
//! files, which take no steps, get their slices too.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Value};
use store::{EventKind, OpView, Reader, Step};

use crate::{ExportError, Summary};

/// One frame on a thread's stack: function and file.
type Frame = (String, String);

/// The events written so far and the stack each thread has open.
struct Events<'a> {
    out: &'a mut dyn Write,
    pid: u32,
    written: u64,
    open: BTreeMap<u32, Vec<Frame>>,
}

impl Events<'_> {
    fn emit(&mut self, v: &Value) -> Result<(), ExportError> {
        if self.written > 0 {
            self.out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *self.out, v)?;
        self.written += 1;
        Ok(())
    }

    /// Step `step` ran on `thread` with `stack` (outermost first, after
    /// the step): close the frames that left, open the new ones.
    fn step(
        &mut self,
        step: u64,
        thread: u32,
        event: EventKind,
        line: u32,
        stack: &[Frame],
    ) -> Result<(), ExportError> {
        if !self.open.contains_key(&thread) {
            let meta = json!({"name": "thread_name", "ph": "M", "pid": self.pid, "tid": thread,
                "args": {"name": format!("thread {thread}")}});
            self.emit(&meta)?;
        }
        let open = self.open.remove(&thread).unwrap_or_default();
        // A call step is a new frame even where the same function was
        // innermost before (a generator resumed, a call from code that
        // takes no steps).
        let limit = match event {
            EventKind::Call => stack.len().saturating_sub(1),
            _ => stack.len(),
        };
        let keep = open
            .iter()
            .zip(stack)
            .take(limit)
            .take_while(|(a, b)| a == b)
            .count();
        let mut open = open;
        self.close_above(&mut open, keep, step, thread)?;
        for (i, (function, file)) in stack.iter().enumerate().skip(keep) {
            let line = if i + 1 == stack.len() { line } else { 0 };
            let b = json!({"name": function, "cat": "python", "ph": "B", "ts": step,
                "pid": self.pid, "tid": thread,
                "args": {"file": file, "line": line, "step": step}});
            self.emit(&b)?;
            open.push((function.clone(), file.clone()));
        }
        if event == EventKind::Return {
            // The frame leaves the stack with this step.
            let n = open.len().saturating_sub(1);
            self.close_above(&mut open, n, step, thread)?;
        }
        self.open.insert(thread, open);
        Ok(())
    }

    /// `E` events for the frames of `open` above the first `keep`, innermost first.
    fn close_above(
        &mut self,
        open: &mut Vec<Frame>,
        keep: usize,
        ts: u64,
        thread: u32,
    ) -> Result<(), ExportError> {
        while open.len() > keep {
            let (function, _) = open.pop().unwrap_or_default();
            let e = json!({"name": function, "cat": "python", "ph": "E", "ts": ts,
                "pid": self.pid, "tid": thread});
            self.emit(&e)?;
        }
        Ok(())
    }
}

/// Write the calls and returns of steps `from..=to` as Chrome trace events.
pub fn write(
    reader: &Reader,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    let first = reader.state(Step(from))?;
    let header = reader.header();
    out.write_all(b"{\"traceEvents\":[\n")?;
    let mut ev = Events {
        out,
        pid: header.pid,
        written: 0,
        open: BTreeMap::new(),
    };
    let program = header.program.join(" ");
    ev.emit(
        &json!({"name": "process_name", "ph": "M", "pid": header.pid, "tid": 0,
        "args": {"name": program}}),
    )?;
    let mut stack: Vec<Frame> = first
        .stack
        .iter()
        .map(|f| (f.function.to_string(), f.file.to_string()))
        .collect();
    let mut summary = Summary {
        steps_read: 1,
        entries: 0,
    };
    if let Some(m) = &first.meta {
        ev.step(from, m.thread, m.event, m.line, &stack)?;
    }
    if from < to {
        reader.scan_steps(Step(from + 1), Step(to), |s| {
            for op in s.ops() {
                match op? {
                    OpView::StackTruncate(n) => stack.truncate(n as usize),
                    OpView::StackPush(f) => stack.push((f.function.into(), f.file.into())),
                    _ => {}
                }
            }
            summary.steps_read += 1;
            let m = &s.meta;
            ev.step(m.step.0, m.thread, m.event, m.line, &stack)?;
            Ok::<_, ExportError>(true)
        })?;
    }
    // Balanced: whatever is still open closes at the end of the range.
    let end = to + 1;
    let threads: Vec<u32> = ev.open.keys().copied().collect();
    for t in threads {
        let mut open = ev.open.remove(&t).unwrap_or_default();
        ev.close_above(&mut open, 0, end, t)?;
    }
    summary.entries = ev.written;
    let other = json!({
        "clock": "ts is the step number: one step is 1 us (a recording holds no time per step)",
        "from_step": from,
        "to_step": to,
        "interpreter": header.interpreter,
    });
    write!(ev.out, "\n],\"otherData\":{other}}}\n")?;
    Ok(summary)
}
