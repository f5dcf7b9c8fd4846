//! Python Tutor's execution trace (the JSON its `pg_logger.py` writes and
//! its visualizer reads): `{"code": SOURCE, "trace": [ENTRY, ...]}`, an
//! entry per step with `event` (`step_line`, `call`, `return`,
//! `exception` with its `exception_msg`), `line`, `func_name`,
//! `globals` and `ordered_globals`, `stack_to_render` (the function frames,
//! outermost first, each with `func_name`, `frame_id`, `encoded_locals`,
//! `ordered_varnames`, `is_highlighted`, `is_parent`, `is_zombie`,
//! `parent_frame_id_list`, `unique_hash`), `heap` (every object the entry
//! refers to, by id: [`encode`]) and `stdout` (empty: a recording does not
//! hold the program's output).
//!
//! Python Tutor shows one source file: the trace holds the steps of the
//! recording's main file (the file of its first step); frames of other
//! recorded files still appear in the stack of those steps. Its
//! `uncaught_exception` entry is written by pg_logger only when no
//! `exception` entry shows the exception, which a recording always has:
//! this export has none.

pub mod encode;
pub mod frames;
pub mod pyrepr;

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use store::{EventKind, ObjAddr, Reader, State, Step};
use values::{kinds, render};

use crate::{ExportError, Summary};
use encode::{short_name, Encoder};
use frames::{Frames, Tracked};

/// What the writer keeps from step to step.
struct Trace {
    encoder: Encoder,
    frames: Frames,
    /// Global names in the order the export first met them.
    globals_order: Vec<Arc<str>>,
    globals_seen: HashSet<Arc<str>>,
    entries: u64,
}

/// Write steps `from..=to` as Python Tutor's trace.
pub fn write(
    reader: &Reader,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    let first = reader.first_step();
    let main_file = reader.metas(Step(first), Step(first))?.remove(0).file;
    let code = source(reader, &main_file);
    out.write_all(b"{\"code\":")?;
    serde_json::to_writer(&mut *out, &code)?;
    out.write_all(b",\"trace\":[\n")?;
    let mut t = Trace {
        encoder: Encoder::default(),
        frames: Frames::default(),
        globals_order: Vec::new(),
        globals_seen: HashSet::new(),
        entries: 0,
    };
    let mut steps_read = 0;
    let mut failed = None;
    reader.for_each_state(Step(from), Step(to), |state| {
        steps_read += 1;
        match t.step(state, &main_file, out) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    out.write_all(b"\n]}\n")?;
    Ok(Summary {
        steps_read,
        entries: t.entries,
    })
}

impl Trace {
    fn emit(&mut self, out: &mut dyn Write, entry: &Value) -> Result<(), ExportError> {
        if self.entries > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut *out, entry)?;
        self.entries += 1;
        Ok(())
    }

    /// Follow one step; write its entry when it ran in the main file.
    fn step(
        &mut self,
        state: &State,
        main_file: &str,
        out: &mut dyn Write,
    ) -> Result<(), ExportError> {
        let Some(meta) = &state.meta else {
            return Ok(());
        };
        let tracked = self.frames.step(state).to_vec();
        for (name, _) in &state.globals {
            if !render::is_dunder(name) && self.globals_seen.insert(name.clone()) {
                self.globals_order.push(name.clone());
            }
        }
        let exception_msg = match (meta.event, meta.value) {
            (EventKind::Exception, Some(a)) => Some(exception_msg(state, a)),
            _ => None,
        };
        if &*meta.file != main_file {
            return Ok(());
        }
        let mut heap = Map::new();
        let stack = self.stack_to_render(state, &tracked, &mut heap);
        let mut globals = Map::new();
        for (name, addr) in &state.globals {
            if !render::is_dunder(name) {
                globals.insert(
                    name.to_string(),
                    self.encoder.encode(state, *addr, &mut heap),
                );
            }
        }
        let ordered: Vec<&str> = self
            .globals_order
            .iter()
            .filter(|n| globals.contains_key(&***n))
            .map(|n| &**n)
            .collect();
        let event = match meta.event {
            // Python Tutor has no instruction steps: one is shown as a line.
            EventKind::Line | EventKind::Opcode => "step_line",
            EventKind::Call => "call",
            EventKind::Return => "return",
            EventKind::Exception => "exception",
        };
        let mut entry = json!({
            "line": meta.line,
            "event": event,
            "func_name": short_name(&meta.function),
            "globals": globals,
            "ordered_globals": ordered,
            "stack_to_render": stack,
            "heap": heap,
            "stdout": "",
        });
        if let Some(msg) = exception_msg {
            entry["exception_msg"] = json!(msg);
        }
        self.emit(out, &entry)
    }

    /// The function frames above the innermost module frame, outermost
    /// first, whose names are known; the innermost is highlighted, and on
    /// a return step holds `__return__`.
    fn stack_to_render(
        &mut self,
        state: &State,
        tracked: &[Tracked],
        heap: &mut Map<String, Value>,
    ) -> Vec<Value> {
        let Some(meta) = &state.meta else {
            return Vec::new();
        };
        let first = tracked
            .iter()
            .rposition(|t| &*t.function == "<module>")
            .map_or(0, |i| i + 1);
        let mut out = Vec::new();
        for (i, t) in tracked.iter().enumerate().skip(first) {
            let Some(locals) = &t.locals else { continue };
            let innermost = i + 1 == tracked.len();
            let mut encoded = Map::new();
            let mut order = Vec::new();
            for (name, addr) in locals {
                encoded.insert(name.to_string(), self.encoder.encode(state, *addr, heap));
                order.push(name.to_string());
            }
            if let (true, EventKind::Return, Some(a)) = (innermost, meta.event, meta.value) {
                encoded.insert("__return__".into(), self.encoder.encode(state, a, heap));
                order.push("__return__".into());
            }
            let name = short_name(&t.function);
            out.push(json!({
                "func_name": name,
                "is_parent": false,
                "frame_id": t.id,
                "parent_frame_id_list": [],
                "encoded_locals": encoded,
                "ordered_varnames": order,
                "is_zombie": false,
                "is_highlighted": innermost,
                "unique_hash": format!("{name}_f{}", t.id),
            }));
        }
        out
    }
}

/// `Type: message`, as pg_logger writes an exception: the message is
/// `str(exc)`, the one argument's text, or the repr of several.
fn exception_msg(state: &State, addr: ObjAddr) -> String {
    let Some(node) = state.heap.get(&addr) else {
        return "exception: (not recorded)".into();
    };
    let name = short_name(&node.type_name);
    let args = node
        .items
        .first()
        .and_then(|a| state.heap.get(a).map(|n| (*a, n)));
    let text = match args {
        Some((_, t)) if t.kind == kinds::TUPLE && t.items.is_empty() => String::new(),
        Some((_, t)) if t.kind == kinds::TUPLE && t.items.len() == 1 => {
            let arg = t.items[0];
            match state.heap.get(&arg) {
                // KeyError's str is its key's repr.
                Some(n)
                    if &*n.type_name == "str" && n.kind == kinds::ATOM && name != "KeyError" =>
                {
                    pyrepr::unrepr_str(&n.text).unwrap_or_else(|| n.text.clone())
                }
                _ => render::repr(state, arg),
            }
        }
        Some((a, _)) => render::repr(state, a),
        None => String::new(),
    };
    format!("{name}: {text}")
}

/// The source Python Tutor shows: the main file's text as the recording
/// keeps it (never read from the program's files again), the code of
/// `python -c CODE`, or empty when the recording has none.
fn source(reader: &Reader, file: &str) -> String {
    let header = reader.header();
    if file == "<string>" {
        let argv = &header.program;
        if let Some(i) = argv.iter().position(|a| a == "-c") {
            return argv.get(i + 1).cloned().unwrap_or_default();
        }
        return String::new();
    }
    match reader.source(file) {
        Some(s) if s.text.is_some() => s.text.clone().unwrap_or_default(),
        Some(s) => {
            log::warn!(target: "export", "{file}: its text is not in the recording ({}); `code` is empty", s.missing);
            String::new()
        }
        None => {
            log::warn!(target: "export", "{file}: the recording keeps no text of it (made by an older hindsight); `code` is empty");
            String::new()
        }
    }
}
