//! Frames (3.11): the `PyFrameObject` passed to the trace function, its
//! `_PyInterpreterFrame`, the thread's stack, and the locals and globals of
//! the frame, assembled into a [`Snapshot`].

use std::sync::Arc;

use store::{EventKind, FrameRec, ObjAddr, Position};

use super::code::{code_info, CodeInfo};
use super::linewatch::{self, LineForm, LineWatch};
use super::objects::{self, Limits, Walker};
use super::read::{ptr_at, read_upto, u32_at, u8_at};
use super::v311;
use super::{dicts, Caches, DecodeError, Python, Snapshot};
use crate::addr::RemoteAddr;
use crate::memory::Memory;

/// Bound on the frames of one thread's stack.
const MAX_FRAMES: usize = 100_000;

/// The fields of a `PyFrameObject` the decoder uses.
pub(crate) struct FrameObj {
    pub iframe: RemoteAddr,
    pub lineno: i32,
}

impl FrameObj {
    pub fn read(mem: &dyn Memory, py: &Python, frame: RemoteAddr) -> Result<FrameObj, DecodeError> {
        let fl = &py.layout.frame;
        let end = fl.f_frame.max(fl.f_lineno).max(py.layout.object.ob_type) as usize + 8;
        let buf = mem.read_vec(frame, end)?;
        let ty = ptr_at(&buf, py.layout.object.ob_type).unwrap_or_default();
        if ty != py.types.frame {
            return Err(DecodeError::inconsistent(format!(
                "{frame} is not a frame object (type {ty})"
            )));
        }
        let iframe = ptr_at(&buf, fl.f_frame).unwrap_or_default();
        if iframe.is_null() {
            return Err(DecodeError::inconsistent(format!(
                "frame object {frame} has no frame"
            )));
        }
        Ok(FrameObj {
            iframe,
            lineno: u32_at(&buf, fl.f_lineno).unwrap_or(0) as i32,
        })
    }
}

/// The fields of a `_PyInterpreterFrame` the decoder uses.
pub(crate) struct IFrame {
    pub func: RemoteAddr,
    pub globals: RemoteAddr,
    pub locals: RemoteAddr,
    pub code: RemoteAddr,
    pub previous: RemoteAddr,
    pub prev_instr: RemoteAddr,
    pub stacktop: i32,
    pub owner: u8,
    pub localsplus: RemoteAddr,
}

impl IFrame {
    pub fn read(mem: &dyn Memory, py: &Python, at: RemoteAddr) -> Result<IFrame, DecodeError> {
        let l = &py.layout.iframe;
        let len = l.localsplus as usize;
        let buf = read_upto(mem, at, len, len)?;
        let p = |off| ptr_at(&buf, off).unwrap_or_default();
        Ok(IFrame {
            func: p(l.f_func),
            globals: p(l.f_globals),
            locals: p(l.f_locals),
            code: p(l.f_code),
            previous: p(l.previous),
            prev_instr: p(l.prev_instr),
            stacktop: u32_at(&buf, l.stacktop).unwrap_or(0) as i32,
            owner: u8_at(&buf, l.owner).unwrap_or(0),
            localsplus: at.at(l.localsplus),
        })
    }

    /// `_PyFrame_IsIncomplete`: the frame has not reached its first
    /// traceable instruction yet (CPython's `PyFrame_GetBack` skips these).
    fn is_incomplete(&self, code: &CodeInfo) -> bool {
        self.owner != v311::FRAME_OWNED_BY_GENERATOR
            && code.lasti(self.prev_instr) < code.first_traceable as i64
    }
}

pub(super) fn event_kind(what: i32) -> Result<EventKind, DecodeError> {
    Ok(match what {
        0 => EventKind::Call,
        1 => EventKind::Exception,
        2 => EventKind::Line,
        3 => EventKind::Return,
        _ => {
            return Err(DecodeError::inconsistent(format!(
                "trace event code {what}"
            )))
        }
    })
}

/// The state at a trace-function call.
pub(crate) fn snapshot(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    frame: RemoteAddr,
    what: i32,
    arg: RemoteAddr,
) -> Result<Snapshot, DecodeError> {
    let event = event_kind(what)?;
    let fo = FrameObj::read(mem, py, frame)?;
    let top = IFrame::read(mem, py, fo.iframe)?;
    let code = code_info(mem, py, caches, top.code, true)?;
    let lasti = code.lasti(top.prev_instr);
    let (line, position) = linewatch::instr_position(&code, fo.lineno, lasti);
    // Line steps of this frame may go without a trap once it runs (before
    // its first instruction, the locals are read another way).
    caches.line_watch = (matches!(event, EventKind::Line | EventKind::Call)
        && lasti >= 0
        && py.layout.iframe.prev_instr.is_multiple_of(8))
    .then(|| {
        let lineno = py.layout.frame.f_lineno;
        LineWatch::new(
            [
                fo.iframe.at(py.layout.iframe.prev_instr),
                frame.at(lineno & !7),
            ],
            code.clone(),
            LineForm::Instr { lineno },
        )
    });

    // The stack: this frame, then every complete frame before it.
    let mut stack = vec![FrameRec {
        function: code.function.clone(),
        file: code.file.clone(),
        line,
    }];
    let mut at = top.previous;
    while !at.is_null() {
        if stack.len() >= MAX_FRAMES {
            return Err(DecodeError::inconsistent(
                "frame chain longer than 100000 frames",
            ));
        }
        let f = IFrame::read(mem, py, at)?;
        if f.owner == super::v312::FRAME_OWNED_BY_CSTACK {
            // 3.12+: a shim frame of the C stack, no Python frame.
            at = f.previous;
            continue;
        }
        let c = code_info(mem, py, caches, f.code, false)?;
        if !f.is_incomplete(&c) {
            stack.push(FrameRec {
                function: c.function.clone(),
                file: c.file.clone(),
                line: c.line_at(c.lasti(f.prev_instr)),
            });
        }
        at = f.previous;
    }
    stack.reverse();

    let locals = frame_locals(mem, py, caches, limits, &top, &code)?;
    let globals = module_globals(mem, py, caches, limits, top.globals)?;
    finish_snapshot(
        mem, py, caches, limits, event, arg, &code, line, position, stack, locals, globals,
    )
}

/// The version-independent end of a snapshot: the event's value (the return
/// value, None for a frame left by an exception, or the exception instance),
/// every object reachable from the bindings and that value, and the assembly.
#[allow(clippy::too_many_arguments)]
pub(super) fn finish_snapshot(
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

pub(super) fn cell_contents(
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

/// What `frame.f_locals` holds (mirrors `_PyFrame_FastToLocalsWithError`).
fn frame_locals(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    f: &IFrame,
    code: &CodeInfo,
) -> Result<Vec<(Arc<str>, RemoteAddr)>, DecodeError> {
    let optimized = code.flags & v311::CO_OPTIMIZED != 0;
    let n = code.localsplus_names.len();
    let mut out: Vec<(Arc<str>, RemoteAddr)> = Vec::new();
    // 3.13 (PEP 667): while an inlined comprehension's hidden locals are
    // bound, a class body's f_locals is a proxy of its fast locals only.
    let proxy = !optimized
        && py.version.minor >= 13
        && !(f.locals.is_null() || f.locals == f.globals)
        && super::v313::hidden_locals_bound(mem, f.localsplus, &code.localsplus_kinds)?;
    if !optimized && !proxy {
        if f.locals.is_null() || f.locals == f.globals {
            return Ok(out);
        }
        // A class body (or exec with separate locals): the namespace dict.
        let items = dicts::dict_items(mem, py, f.locals, limits.max_items)
            .map_err(|e| DecodeError::inconsistent(format!("frame locals dict: {e}")))?;
        for (k, v) in items.items {
            if let Ok(name) = objects::read_name(mem, py, caches, k) {
                out.push((name, v));
            }
        }
    }
    if n == 0 {
        return Ok(out);
    }
    let raw = mem.read_vec(f.localsplus, n * 8)?;
    let mut slots: Vec<RemoteAddr> = raw
        .chunks_exact(8)
        .map(|c| RemoteAddr(u64::from_ne_bytes(c.try_into().unwrap_or_default())))
        .collect();
    let lasti = code.lasti(f.prev_instr);
    // Free variables not copied yet: CPython's f_locals copies them from the
    // closure itself.
    if lasti < 0
        && code.first_opcode == v311::OP_COPY_FREE_VARS
        && code.nfreevars > 0
        && !f.func.is_null()
    {
        let closure = mem.read_ptr(f.func.at(v311::FUNC_CLOSURE))?;
        if let Ok(cells) = objects::tuple_items(mem, py, closure, code.nfreevars) {
            let first = n - code.nfreevars;
            for (i, c) in cells.into_iter().enumerate() {
                slots[first + i] = c;
            }
        }
    }
    for (i, &slot) in slots.iter().enumerate() {
        let kind = code.localsplus_kinds[i];
        if kind & v311::CO_FAST_FREE != 0 && !optimized && !proxy {
            continue;
        }
        let mut value = if f.stacktop != 0 {
            slot
        } else {
            RemoteAddr::NULL
        };
        if !value.is_null() {
            if kind & v311::CO_FAST_FREE != 0 {
                value = cell_contents(mem, py, value)?.unwrap_or(RemoteAddr::NULL);
            } else if kind & v311::CO_FAST_CELL != 0 && lasti >= 0 {
                // MAKE_CELL runs first thing; before it an argument slot
                // holds the plain value.
                if let Some(c) = cell_contents(mem, py, value)? {
                    value = c;
                }
            }
        }
        let name = &code.localsplus_names[i];
        let existing = out.iter().position(|(k, _)| k == name);
        match (value.is_null(), existing) {
            (true, Some(p)) => {
                out.remove(p);
            }
            (true, None) => {}
            (false, Some(p)) => out[p].1 = value,
            (false, None) => out.push((name.clone(), value)),
        }
    }
    Ok(out)
}

/// The module's globals, str keys only, without `__dunder__` names.
///
/// The bindings are kept per dict and version tag (CPython gives a dict a
/// new, never reused version at every change): while the tag stays the same,
/// the dict is not read again, and `caches.globals_held` says so.
pub(super) fn module_globals(
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
    let names = super::window::read_names(mem, py, caches, &keys);
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
