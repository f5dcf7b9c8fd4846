//! Frames of CPython 3.11+: the `PyFrameObject` passed to the trace
//! function points at its `_PyInterpreterFrame`, which holds the code,
//! globals, locals and `localsplus`; the stack is the chain of interpreter
//! frames (without the incomplete ones and 3.12's C-stack shims).

use std::sync::Arc;

use store::{EventKind, FrameRec};

use super::{cell_contents, event_kind, finish_snapshot, module_globals, plain_slots, MAX_FRAMES};
use crate::addr::RemoteAddr;
use crate::cpython::code::linewatch::{self, LineForm, LineWatch};
use crate::cpython::code::{code_info, CodeInfo};
use crate::cpython::dicts;
use crate::cpython::objects::read::{ptr_at, read_upto, u32_at, u8_at};
use crate::cpython::objects::{read_name, tuple_items, Limits};
use crate::cpython::{Caches, DecodeError, Python, Snapshot};
use crate::memory::{MemError, Memory, Words};

/// The fields of a `PyFrameObject` the decoder uses.
struct FrameObj {
    pub iframe: RemoteAddr,
    pub lineno: i32,
}

impl FrameObj {
    fn read(mem: &dyn Memory, py: &Python, frame: RemoteAddr) -> Result<FrameObj, DecodeError> {
        let fl = &py.layout.frame;
        let Some(f_frame) = fl.f_frame else {
            return Err(DecodeError::inconsistent(
                "the layout table lacks PyFrameObject.f_frame of CPython 3.11+",
            ));
        };
        let end = f_frame.max(fl.f_lineno).max(py.layout.object.ob_type) as usize + 8;
        let buf = mem.read_vec(frame, end)?;
        let ty = ptr_at(&buf, py.layout.object.ob_type).unwrap_or_default();
        if ty != py.types.frame {
            return Err(DecodeError::inconsistent(format!(
                "{frame} is not a frame object (type {ty})"
            )));
        }
        let iframe = ptr_at(&buf, f_frame).unwrap_or_default();
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
struct IFrame {
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
    fn read(mem: &dyn Memory, py: &Python, at: RemoteAddr) -> Result<IFrame, DecodeError> {
        let l = &py.layout.iframe;
        let Some(localsplus) = l.localsplus else {
            return Err(DecodeError::inconsistent(
                "the layout table lacks _PyInterpreterFrame of CPython 3.11+",
            ));
        };
        let len = localsplus as usize;
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
            localsplus: at.at(localsplus),
        })
    }

    /// `_PyFrame_IsIncomplete`: the frame has not reached its first
    /// traceable instruction yet (CPython's `PyFrame_GetBack` skips these).
    fn is_incomplete(&self, py: &Python, code: &CodeInfo) -> bool {
        py.facts.frames.owned_by_generator != Some(self.owner)
            && code.lasti(self.prev_instr) < code.first_traceable as i64
    }
}

/// The code object of the frame passed to the trace function.
pub(super) fn frame_code(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    frame: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    let f = FrameObj::read(mem, py, frame)?;
    let iframe = IFrame::read(mem, py, f.iframe)?;
    code_info(mem, py, caches, iframe.code, true)
}

/// The instruction the frame is at (`prev_instr`): its offset in bytes
/// and its opcode and argument. 3.12+: an instrumented instruction's own
/// opcode is the one the code's monitoring data kept (behind
/// `INSTRUMENTED_LINE`, then `INSTRUMENTED_INSTRUCTION`). A specialized
/// form (3.11) is told by the version's table, not here.
pub(super) fn instruction_at(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    frame: RemoteAddr,
) -> Result<Option<(u32, u8, u8)>, DecodeError> {
    let fo = FrameObj::read(mem, py, frame)?;
    let top = IFrame::read(mem, py, fo.iframe)?;
    let code = code_info(mem, py, caches, top.code, true)?;
    let lasti = code.lasti(top.prev_instr);
    let Ok(index) = u32::try_from(lasti) else {
        return Ok(None);
    };
    let unit = mem.read_vec(top.prev_instr, 2)?;
    let (mut op, arg) = (unit[0], unit[1]);
    let ops = py.facts.code.opcodes;
    let c = &py.layout.code;
    let hidden = Some(op) == ops.instrumented_line || Some(op) == ops.instrumented_instruction;
    if hidden {
        let (Some(mon), Some(lines), Some(per), Some(orig), Some(size)) = (
            c.co_monitoring,
            c.mon_lines,
            c.mon_per_instruction_opcodes,
            c.line_data_original_opcode,
            c.line_data_size,
        ) else {
            return Err(DecodeError::inconsistent(
                "the layout table lacks the monitoring data of CPython 3.12+",
            ));
        };
        let data = mem.read_ptr(top.code.at(mon))?;
        if data.is_null() {
            return Ok(None);
        }
        let i = u64::from(index);
        if Some(op) == ops.instrumented_line {
            let table = mem.read_ptr(data.at(lines))?;
            let at = i * u64::from(size) + u64::from(orig);
            op = mem.read_vec(RemoteAddr(table.0.wrapping_add(at)), 1)?[0];
        }
        if Some(op) == ops.instrumented_instruction {
            let table = mem.read_ptr(data.at(per))?;
            op = mem.read_vec(RemoteAddr(table.0.wrapping_add(i)), 1)?[0];
        }
    }
    Ok(Some((index * 2, op, arg)))
}

/// The state at a trace-function call.
pub(super) fn snapshot(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    frame: RemoteAddr,
    what: i32,
    arg: RemoteAddr,
) -> Result<Snapshot, DecodeError> {
    let event = event_kind(py, what)?;
    let fo = FrameObj::read(mem, py, frame)?;
    let top = IFrame::read(mem, py, fo.iframe)?;
    let code = code_info(mem, py, caches, top.code, true)?;
    let lasti = code.lasti(top.prev_instr);
    let (line, position) = linewatch::instr_position(&code, fo.lineno, lasti);
    // Line steps of this frame may go without a trap once it runs (before
    // its first instruction, the locals are read another way).
    caches.line_watch = match py.layout.iframe.prev_instr {
        Some(instr)
            if matches!(event, EventKind::Line | EventKind::Call)
                && lasti >= 0
                && instr.is_multiple_of(8) =>
        {
            let lineno = py.layout.frame.f_lineno;
            Some(LineWatch::new(
                [fo.iframe.at(instr), frame.at(lineno & !7)],
                code.clone(),
                LineForm::Instr { lineno },
            ))
        }
        _ => None,
    };

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
        if py.facts.frames.owned_by_cstack == Some(f.owner) {
            // 3.12+: a shim frame of the C stack, no Python frame.
            at = f.previous;
            continue;
        }
        let c = code_info(mem, py, caches, f.code, false)?;
        if !f.is_incomplete(py, &c) {
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
    if top.stacktop != 0 && lasti >= 0 {
        caches.top_slots = plain_slots(py, &code, frame, top.localsplus);
    }
    let globals = module_globals(mem, py, caches, limits, top.globals)?;
    finish_snapshot(
        mem, py, caches, limits, event, arg, &code, line, position, stack, locals, globals,
    )
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
    let optimized = code.flags & py.facts.code.optimized != 0;
    let kinds = &py.facts.code.kinds;
    let n = code.localsplus_names.len();
    let mut out: Vec<(Arc<str>, RemoteAddr)> = Vec::new();
    // 3.13 (PEP 667): while an inlined comprehension's hidden locals are
    // bound, a class body's f_locals is a proxy of its fast locals only.
    let proxy = !optimized
        && py.facts.frames.hidden_locals_proxy
        && !(f.locals.is_null() || f.locals == f.globals)
        && hidden_locals_bound(mem, py, f.localsplus, &code.localsplus_kinds)?;
    // A module's names are its globals, but while a comprehension inlined
    // into it runs (3.12+, PEP 709) its bound hidden locals are the frame's
    // locals (docs/spec/values.md).
    let module_level = !optimized && (f.locals.is_null() || f.locals == f.globals);
    let hidden = kinds.hidden.unwrap_or(0);
    if module_level && hidden == 0 {
        return Ok(out);
    }
    if !optimized && !proxy && !module_level {
        // A class body (or exec with separate locals): the namespace dict.
        let items = dicts::dict_items(mem, py, f.locals, limits.max_items)
            .map_err(|e| DecodeError::inconsistent(format!("frame locals dict: {e}")))?;
        for (k, v) in items.items {
            if let Ok(name) = read_name(mem, py, caches, k) {
                out.push((name, v));
            }
        }
    }
    if n == 0 {
        return Ok(out);
    }
    let raw = mem.read_vec(f.localsplus, n * 8)?;
    mem.note(f.localsplus, n * 8, Words::Slots);
    let mut slots: Vec<RemoteAddr> = raw
        .chunks_exact(8)
        .map(|c| RemoteAddr(u64::from_ne_bytes(c.try_into().unwrap_or_default())))
        .collect();
    let lasti = code.lasti(f.prev_instr);
    // Free variables not copied yet: CPython's f_locals copies them from the
    // closure itself.
    if lasti < 0
        && py.facts.code.copy_free_vars == Some(code.first_opcode)
        && code.nfreevars > 0
        && !f.func.is_null()
    {
        let closure = mem.read_ptr(f.func.at(py.layout.objects.func_closure))?;
        if let Ok(cells) = tuple_items(mem, py, closure, code.nfreevars) {
            let first = n - code.nfreevars;
            for (i, c) in cells.into_iter().enumerate() {
                slots[first + i] = c;
            }
        }
    }
    for (i, &slot) in slots.iter().enumerate() {
        let kind = code.localsplus_kinds[i];
        if kind & kinds.free != 0 && !optimized && !proxy {
            continue;
        }
        if module_level && kind & hidden == 0 {
            continue;
        }
        let mut value = if f.stacktop != 0 {
            slot
        } else {
            RemoteAddr::NULL
        };
        if !value.is_null() {
            if kind & kinds.free != 0 {
                value = cell_contents(mem, py, value)?.unwrap_or(RemoteAddr::NULL);
            } else if kind & kinds.cell != 0 && lasti >= 0 {
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

/// `_PyFrame_HasHiddenLocals`: whether any hidden slot (`CO_FAST_HIDDEN`,
/// 3.12+) of the `localsplus` array at `localsplus` (kinds `kinds`) is bound.
fn hidden_locals_bound(
    mem: &dyn Memory,
    py: &Python,
    localsplus: RemoteAddr,
    kinds: &[u8],
) -> Result<bool, MemError> {
    let Some(hidden) = py.facts.code.kinds.hidden else {
        return Ok(false);
    };
    if !kinds.iter().any(|k| k & hidden != 0) {
        return Ok(false);
    }
    let raw = mem.read_vec(localsplus, kinds.len() * 8)?;
    Ok(raw
        .chunks_exact(8)
        .zip(kinds)
        .any(|(w, k)| k & hidden != 0 && w.iter().any(|&b| b != 0)))
}
