//! Frames of CPython 3.8-3.10, where the `PyFrameObject` passed to the trace
//! function IS the frame: code, globals, locals dict and `f_localsplus` sit in
//! it, the stack is its `f_back` chain, and `f_lasti` counts bytes (3.8-3.9)
//! or code units (3.10). Assembles the same [`Snapshot`] as the 3.11+ reader (`interp_frame`).

use std::sync::Arc;

use store::{EventKind, FrameRec};

use super::{cell_contents, event_kind, finish_snapshot, module_globals, plain_slots, MAX_FRAMES};
use crate::addr::RemoteAddr;
use crate::cpython::code::linewatch::{self, LineForm, LineWatch};
use crate::cpython::code::{code_info, CodeInfo};
use crate::cpython::dicts;
use crate::cpython::objects::read::{ptr_at, read_upto, u32_at};
use crate::cpython::objects::{read_name, Limits};
use crate::cpython::{Caches, DecodeError, Python, Snapshot};
use crate::memory::{Memory, Words};

/// The fields of a 3.8-3.10 `PyFrameObject` the decoder uses.
struct Frame {
    back: RemoteAddr,
    code: RemoteAddr,
    globals: RemoteAddr,
    locals: RemoteAddr,
    /// `f_lasti` in code units (negative before the first instruction).
    lasti: i64,
    lineno: i32,
    localsplus: RemoteAddr,
}

impl Frame {
    fn read(mem: &dyn Memory, py: &Python, at: RemoteAddr) -> Result<Frame, DecodeError> {
        let fl = &py.layout.frame;
        let (Some(f_code), Some(f_globals), Some(f_locals), Some(f_lasti), Some(f_localsplus)) = (
            fl.f_code,
            fl.f_globals,
            fl.f_locals,
            fl.f_lasti,
            fl.f_localsplus,
        ) else {
            return Err(DecodeError::inconsistent(
                "the layout table lacks a frame field of CPython 3.8-3.10",
            ));
        };
        let fields = [
            py.layout.object.ob_type,
            fl.f_back,
            f_code,
            f_globals,
            f_locals,
            f_lasti,
            fl.f_lineno,
            f_localsplus,
        ];
        let len = fields.iter().copied().max().unwrap_or(0) as usize + 8;
        let buf = read_upto(mem, at, len, len)?;
        let ty = ptr_at(&buf, py.layout.object.ob_type).unwrap_or_default();
        if ty != py.types.frame {
            return Err(DecodeError::inconsistent(format!(
                "{at} is not a frame object (type {ty})"
            )));
        }
        let p = |off| ptr_at(&buf, off).unwrap_or_default();
        let raw_lasti = u32_at(&buf, f_lasti).unwrap_or(0) as i32 as i64;
        let lasti = linewatch::code_units(raw_lasti, py.facts.frames.lasti_in_bytes);
        Ok(Frame {
            back: p(fl.f_back),
            code: p(f_code),
            globals: p(f_globals),
            locals: p(f_locals),
            lasti,
            lineno: u32_at(&buf, fl.f_lineno).unwrap_or(0) as i32,
            localsplus: at.at(f_localsplus),
        })
    }

    /// `PyFrame_GetLineNumber`.
    fn line(&self, code: &CodeInfo) -> u32 {
        linewatch::lasti_line(code, self.lineno, self.lasti)
    }
}

/// The code object of the frame passed to the trace function.
pub(super) fn frame_code(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    frame: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    let f = Frame::read(mem, py, frame)?;
    code_info(mem, py, caches, f.code, true)
}

/// The instruction the frame is at (`f_lasti`): its offset in bytes and
/// its opcode and argument, read from the code's `co_code` (3.8-3.10 never
/// rewrite instructions).
pub(super) fn instruction_at(
    mem: &dyn Memory,
    py: &Python,
    frame: RemoteAddr,
) -> Result<Option<(u32, u8, u8)>, DecodeError> {
    let f = Frame::read(mem, py, frame)?;
    let Ok(offset) = u32::try_from(f.lasti * 2) else {
        return Ok(None);
    };
    let Some(co_code) = py.layout.code.co_code else {
        return Err(DecodeError::inconsistent(
            "the layout table lacks PyCodeObject.co_code of CPython 3.8-3.10",
        ));
    };
    let bytes = mem.read_ptr(f.code.at(co_code))?;
    if bytes.is_null() {
        return Ok(None);
    }
    let size = mem.read_vec(bytes.at(py.layout.object.ob_size), 8)?;
    let size = ptr_at(&size, 0).unwrap_or_default().0;
    if u64::from(offset) + 2 > size {
        return Ok(None);
    }
    let op = mem.read_vec(
        bytes.at(py.layout.objects.bytes_ob_sval.wrapping_add(offset)),
        2,
    )?;
    Ok(Some((offset, op[0], op[1])))
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
    let top = Frame::read(mem, py, frame)?;
    let code = code_info(mem, py, caches, top.code, true)?;
    let line = top.line(&code);
    let fl = &py.layout.frame;
    caches.line_watch = match fl.f_lasti {
        Some(lasti) if matches!(event, EventKind::Line | EventKind::Call) => Some(LineWatch::new(
            [frame.at(lasti & !7), frame.at(fl.f_lineno & !7)],
            code.clone(),
            LineForm::Lasti {
                lasti,
                lineno: fl.f_lineno,
                bytes: py.facts.frames.lasti_in_bytes,
            },
        )),
        _ => None,
    };

    let mut stack = vec![FrameRec {
        function: code.function.clone(),
        file: code.file.clone(),
        line,
    }];
    let mut at = top.back;
    while !at.is_null() {
        if stack.len() >= MAX_FRAMES {
            return Err(DecodeError::inconsistent(
                "frame chain longer than 100000 frames",
            ));
        }
        let f = Frame::read(mem, py, at)?;
        let c = code_info(mem, py, caches, f.code, false)?;
        stack.push(FrameRec {
            function: c.function.clone(),
            file: c.file.clone(),
            line: f.line(&c),
        });
        at = f.back;
    }
    stack.reverse();

    let locals = frame_locals(mem, py, caches, limits, &top, &code)?;
    if top.lasti >= 0 {
        caches.top_slots = plain_slots(py, &code, frame, top.localsplus);
    }
    let globals = module_globals(mem, py, caches, limits, top.globals)?;
    // Column positions (PEP 657) exist from 3.11 on.
    finish_snapshot(
        mem, py, caches, limits, event, arg, &code, line, None, stack, locals, globals,
    )
}

/// What `frame.f_locals` holds: mirrors 3.8-3.10 `PyFrame_FastToLocalsWithError`,
/// which merges `map_to_dict(co_varnames)`, then the cells, then (optimized
/// code only) the free variables into the frame's locals dict, deleting the
/// names whose slot is empty.
fn frame_locals(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    f: &Frame,
    code: &CodeInfo,
) -> Result<Vec<(Arc<str>, RemoteAddr)>, DecodeError> {
    let optimized = code.flags & py.facts.code.optimized != 0;
    let kinds = &py.facts.code.kinds;
    let mut out: Vec<(Arc<str>, RemoteAddr)> = Vec::new();
    if !optimized {
        if f.locals.is_null() || f.locals == f.globals {
            return Ok(out);
        }
        // A class body (or exec with separate locals): the namespace dict.
        let items = dicts::dict_items(mem, py, f.locals, limits.max_items)
            .map_err(|e| DecodeError::inconsistent(format!("frame locals dict: {e}")))?;
        for (k, v) in items.items {
            if let Ok(name) = read_name(mem, py, caches, k) {
                out.push((name, v));
            }
        }
    }
    let n = code.localsplus_names.len();
    if n == 0 {
        return Ok(out);
    }
    let raw = mem.read_vec(f.localsplus, n * 8)?;
    mem.note(f.localsplus, n * 8, Words::Slots);
    for (i, c) in raw.chunks_exact(8).enumerate() {
        let kind = code.localsplus_kinds[i];
        if kind & kinds.free != 0 && !optimized {
            continue;
        }
        let mut value = RemoteAddr(u64::from_ne_bytes(c.try_into().unwrap_or_default()));
        if !value.is_null() && kind & (kinds.cell | kinds.free) != 0 {
            value = cell_contents(mem, py, value)?.unwrap_or(RemoteAddr::NULL);
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
