//! Frames: from the frame object passed to the trace function to a
//! [`Snapshot`] (stack, locals, globals, the event's value and the objects
//! reachable from them). The frame model is the version's: `frame_object`
//! (3.8-3.10, the `PyFrameObject` is the frame) or `interp_frame` (3.11+,
//! `_PyInterpreterFrame`s behind the frame objects). What does not depend on
//! it (the event, the value, the globals, the walk) is here.

mod frame_object;
mod interp_frame;

use std::sync::Arc;

use store::{EventKind, FrameRec, Instruction, ObjAddr, Position};

use super::code::CodeInfo;
use super::objects::{self, Limits, Walker};
use super::version::FrameModel;
use super::{Caches, DecodeError, Python, Snapshot};
use crate::addr::RemoteAddr;
use crate::cpython::dicts;
use crate::cpython::objects::window;
use crate::memory::Memory;

/// Bound on the frames of one thread's stack.
const MAX_FRAMES: usize = 100_000;

/// The code object of the frame passed to the trace function (a
/// `PyFrameObject*`).
pub(crate) fn frame_code(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    frame: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    match py.facts.frames.model {
        FrameModel::FrameObject => frame_object::frame_code(mem, py, caches, frame),
        FrameModel::InterpreterFrame => interp_frame::frame_code(mem, py, caches, frame),
    }
}

/// The instruction the frame passed to the trace function is at, when it
/// is one of the steps of `--granularity opcode` (the version's
/// [`Opcodes`](super::version::Opcodes)): its name and offset in bytes.
pub(crate) fn step_instruction(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    frame: RemoteAddr,
) -> Result<Option<Instruction>, DecodeError> {
    let at = match py.facts.frames.model {
        FrameModel::FrameObject => frame_object::instruction_at(mem, py, frame)?,
        FrameModel::InterpreterFrame => interp_frame::instruction_at(mem, py, caches, frame)?,
    };
    Ok(at.and_then(|(offset, op, arg)| {
        let name = py.facts.code.opcodes.step_name(op, arg)?;
        Some(Instruction {
            name: Arc::from(name),
            offset,
        })
    }))
}

/// The state at a trace-function call: `frame` is the `PyFrameObject*`,
/// `what` the `PyTrace_*` code, `arg` its argument.
pub(crate) fn snapshot(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    frame: RemoteAddr,
    what: i32,
    arg: RemoteAddr,
) -> Result<Snapshot, DecodeError> {
    caches.top_slots = None;
    match py.facts.frames.model {
        FrameModel::FrameObject => {
            frame_object::snapshot(mem, py, caches, limits, frame, what, arg)
        }
        FrameModel::InterpreterFrame => {
            interp_frame::snapshot(mem, py, caches, limits, frame, what, arg)
        }
    }
}

/// The top frame's local slots, when each is a plain local of a function
/// (no cell, free or hidden slot, every name once): a step that changes
/// only some of them changes only those bindings (`record/quick/`).
#[derive(Debug, Clone)]
pub(crate) struct TopSlots {
    /// The frame object the trace function got.
    pub frame: RemoteAddr,
    /// The first slot.
    pub base: RemoteAddr,
    /// The frame's code: slot `i` is `code.localsplus_names[i]`.
    pub code: Arc<CodeInfo>,
}

/// [`TopSlots`] of a frame running `code` (its frame object `frame`, its
/// slots from `base`), or `None` when a slot is not a plain local.
fn plain_slots(
    py: &Python,
    code: &Arc<CodeInfo>,
    frame: RemoteAddr,
    base: RemoteAddr,
) -> Option<TopSlots> {
    let kinds = &py.facts.code.kinds;
    let other = kinds.cell | kinds.free | kinds.hidden.unwrap_or(0);
    if code.flags & py.facts.code.optimized == 0
        || code.localsplus_kinds.len() != code.localsplus_names.len()
        || code.localsplus_kinds.iter().any(|k| k & other != 0)
    {
        return None;
    }
    let names = &code.localsplus_names;
    if names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n))
    {
        return None;
    }
    Some(TopSlots {
        frame,
        base,
        code: code.clone(),
    })
}

/// The event of the `PyTrace_*` code `what`.
fn event_kind(py: &Python, what: i32) -> Result<EventKind, DecodeError> {
    let t = &py.facts.tracing;
    Ok(match what {
        _ if what == t.call => EventKind::Call,
        _ if what == t.exception => EventKind::Exception,
        _ if what == t.line => EventKind::Line,
        _ if what == t.return_ => EventKind::Return,
        _ if what == t.opcode => EventKind::Opcode,
        _ => {
            return Err(DecodeError::inconsistent(format!(
                "trace event code {what}"
            )))
        }
    })
}

/// The version-independent end of a snapshot: the event's value (the return
/// value, None for a frame left by an exception, or the exception instance),
/// every object reachable from the bindings and that value, and the assembly.
#[allow(clippy::too_many_arguments)]
fn finish_snapshot(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    event: EventKind,
    arg: RemoteAddr,
    code: &CodeInfo,
    line: u32,
    position: Option<Position>,
    stack: Vec<FrameRec>,
    locals: Vec<(Arc<str>, RemoteAddr)>,
    globals: Vec<(Arc<str>, RemoteAddr)>,
) -> Result<Snapshot, DecodeError> {
    let value = match event {
        EventKind::Return if arg.is_null() => Some(py.none),
        EventKind::Return => Some(arg),
        EventKind::Exception if !arg.is_null() => {
            let items = objects::tuple_items(mem, py, arg, 3).map_err(DecodeError::inconsistent)?;
            items.get(1).copied().filter(|a| !a.is_null())
        }
        _ => None,
    };

    let mut w = Walker::new(mem, py, caches, limits);
    for (_, v) in locals.iter().chain(globals.iter()) {
        w.add_root(*v);
    }
    if let Some(v) = value {
        w.add_root(v);
    }
    w.run();
    let heap = w.into_heap();
    let conv =
        |v: Vec<(Arc<str>, RemoteAddr)>| v.into_iter().map(|(k, a)| (k, ObjAddr(a.0))).collect();
    Ok(Snapshot {
        event,
        file: code.file.clone(),
        function: code.function.clone(),
        line,
        position,
        stack,
        locals: conv(locals),
        globals: conv(globals),
        value: value.map(|a| ObjAddr(a.0)),
        heap,
    })
}

/// The object the cell at `v` holds; `None` when `v` is not a cell.
fn cell_contents(
    mem: &dyn Memory,
    py: &Python,
    v: RemoteAddr,
) -> Result<Option<RemoteAddr>, DecodeError> {
    let ty = mem.read_ptr(v.at(py.layout.object.ob_type))?;
    if ty != py.types.cell {
        return Ok(None);
    }
    Ok(Some(mem.read_ptr(v.at(py.layout.objects.cell_ob_ref))?))
}

/// The module's globals, str keys only, without `__dunder__` names.
///
/// The bindings are kept per dict and version tag (CPython gives a dict a
/// new, never reused version at every change): while the tag stays the same,
/// the dict is not read again, and `caches.globals_held` says so.
fn module_globals(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    globals: RemoteAddr,
) -> Result<Vec<(Arc<str>, RemoteAddr)>, DecodeError> {
    caches.globals_held = false;
    if globals.is_null() {
        return Ok(Vec::new());
    }
    let vt = py.layout.objects.dict_ma_version_tag;
    let version = mem.read_u64(globals.at(vt))?;
    if let Some((v, bindings)) = caches.globals.get(&globals) {
        if *v == version && version != 0 {
            caches.globals_held = true;
            return Ok(bindings.clone());
        }
    }
    let items = dicts::dict_items(mem, py, globals, limits.max_items)
        .map_err(|e| DecodeError::inconsistent(format!("frame globals dict: {e}")))?;
    let mut out = Vec::with_capacity(items.items.len());
    // The key strs in one batched read.
    let keys: Vec<RemoteAddr> = items.items.iter().map(|&(k, _)| k).collect();
    let names = window::read_names(mem, py, caches, &keys);
    for ((_, v), name) in items.items.into_iter().zip(names) {
        let Ok(name) = name else {
            continue;
        };
        if name.starts_with("__") && name.ends_with("__") {
            continue;
        }
        out.push((name, v));
    }
    // A version read after the items (the target is stopped: the same).
    if caches.globals.len() >= MAX_GLOBALS_KEPT {
        caches.globals.clear();
    }
    caches.globals.insert(globals, (version, out.clone()));
    Ok(out)
}

/// Module dicts whose bindings are kept at once.
const MAX_GLOBALS_KEPT: usize = 64;
