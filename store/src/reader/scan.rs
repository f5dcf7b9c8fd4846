//! Reading steps without rebuilding states: [`Reader::scan_steps`] walks the
//! deltas segments once, in order, and hands each step's meta and ops to
//! the caller as views borrowed from the decompressed segment. Nothing is
//! allocated per step unless the caller asks for it (a node's decoding),
//! so a query that needs only metas (which lines ran) or a few ops (which
//! names were bound) reads a million steps in a fraction of a second.

pub use super::wire::WireError;

use super::wire::{Cursor, Wire};
use super::Reader;
use crate::error::StoreError;
use crate::format::{array32_prefix, SegKind};
use crate::intern::intern;
use crate::model::{
    EventKind, FrameRec, Instruction, Node, ObjAddr, Op, Position, Scope, Step, StepMeta,
};
use std::cell::Cell;

/// A step's meta, borrowed from its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaView<'a> {
    /// This step's number.
    pub step: Step,
    /// What happened at this step.
    pub event: EventKind,
    /// OS thread id that ran the step.
    pub thread: u32,
    /// The source file of the code the step ran in.
    pub file: &'a str,
    /// The function (or other code block) the step ran in.
    pub function: &'a str,
    /// The line the step is at.
    pub line: u32,
    /// The source range of the instruction, when recorded.
    pub position: Option<Position>,
    /// `return` steps: the returned object; `exception` steps: the exception.
    pub value: Option<ObjAddr>,
    /// `opcode` steps: the instruction's name and offset.
    pub instruction: Option<(&'a str, u32)>,
}

impl MetaView<'_> {
    /// The owned meta, as [`Reader::metas`] returns it.
    pub fn to_meta(&self) -> StepMeta {
        StepMeta {
            step: self.step,
            event: self.event,
            thread: self.thread,
            file: intern(self.file),
            function: intern(self.function),
            line: self.line,
            position: self.position,
            value: self.value,
            instruction: self.instruction.map(|(name, offset)| Instruction {
                name: intern(name),
                offset,
            }),
        }
    }
}

/// A frame pushed by [`OpView::StackPush`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameView<'a> {
    /// The function the frame runs.
    pub function: &'a str,
    /// Its source file.
    pub file: &'a str,
    /// The line it is at.
    pub line: u32,
}

/// A node sent by [`OpView::HeapSet`], still encoded: decoded only when
/// the caller needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeView<'a> {
    raw: &'a [u8],
}

impl NodeView<'_> {
    /// The node.
    pub fn decode(&self) -> Result<Node, WireError> {
        let mut c = Cursor::new(self.raw);
        c.array_of(6)?;
        let type_name = intern(c.str()?);
        let kind = u8::try_from(c.uint()?).map_err(|_| WireError("a node kind is out of range"))?;
        let text = c.str()?.to_string();
        let n = c.array()?;
        let mut items = Vec::with_capacity(bounded(n, self.raw.len()));
        for _ in 0..n {
            items.push(ObjAddr(c.uint()?));
        }
        let attrs = if c.nil()? {
            None
        } else {
            let n = c.array()?;
            let mut attrs = Vec::with_capacity(bounded(n, self.raw.len()));
            for _ in 0..n {
                c.array_of(2)?;
                let name = intern(c.str()?);
                attrs.push((name, ObjAddr(c.uint()?)));
            }
            Some(attrs)
        };
        let truncated = c.bool()?;
        Ok(Node {
            type_name,
            kind,
            text,
            items,
            attrs,
            truncated,
        })
    }
}

/// A capacity no larger than the bytes that could hold the items.
fn bounded(n: u32, bytes: usize) -> usize {
    (n as usize).min(bytes)
}

/// One op of a step (every [`Op`] but the step's own [`Op::Step`]),
/// borrowed from its segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpView<'a> {
    /// Keep only the first `n` frames of the stack.
    StackTruncate(u32),
    /// Push a frame on top of the stack.
    StackPush(FrameView<'a>),
    /// Remove every binding of a scope.
    ClearScope(Scope),
    /// Bind (or rebind) a name.
    Bind {
        /// The name table.
        scope: Scope,
        /// The name.
        name: &'a str,
        /// The object bound.
        value: ObjAddr,
    },
    /// Remove a name.
    Unbind {
        /// The name table.
        scope: Scope,
        /// The name.
        name: &'a str,
    },
    /// Insert or replace the node at an address.
    HeapSet(ObjAddr, NodeView<'a>),
    /// Change a node's items in place (see [`Op::HeapItems`]).
    HeapItems {
        /// The node changed.
        addr: ObjAddr,
        /// The first item overwritten.
        start: u32,
        /// The items written from `start` on.
        new: Vec<ObjAddr>,
        /// The number of items afterwards.
        len: u32,
    },
    /// The object at this address is gone from the state.
    HeapDel(ObjAddr),
}

impl OpView<'_> {
    /// The owned op.
    pub fn to_op(&self) -> Result<Op, WireError> {
        Ok(match self {
            OpView::StackTruncate(n) => Op::StackTruncate(*n),
            OpView::StackPush(f) => Op::StackPush(FrameRec {
                function: intern(f.function),
                file: intern(f.file),
                line: f.line,
            }),
            OpView::ClearScope(s) => Op::ClearScope(*s),
            OpView::Bind { scope, name, value } => Op::Bind {
                scope: *scope,
                name: intern(name),
                value: *value,
            },
            OpView::Unbind { scope, name } => Op::Unbind {
                scope: *scope,
                name: intern(name),
            },
            OpView::HeapSet(a, n) => Op::HeapSet(*a, n.decode()?),
            OpView::HeapItems {
                addr,
                start,
                new,
                len,
            } => Op::HeapItems {
                addr: *addr,
                start: *start,
                new: new.clone(),
                len: *len,
            },
            OpView::HeapDel(a) => Op::HeapDel(*a),
        })
    }
}

/// One step as the scan hands it over: its meta, and its other ops still
/// encoded (read them with [`StepView::ops`]).
#[derive(Debug, Clone)]
pub struct StepView<'a> {
    /// The step's meta.
    pub meta: MetaView<'a>,
    /// The segment from the first op after the step's meta on.
    ops: Cursor<'a>,
    count: u32,
    /// Where the step ends, once an iteration of [`StepView::ops`] read
    /// them all: the scan then goes on from there instead of skipping the
    /// ops a second time.
    end: Cell<Option<Cursor<'a>>>,
    /// The segment's offset in the file, for messages.
    offset: u64,
}

impl<'a> StepView<'a> {
    /// The step's ops after its `Op::Step`, in order.
    pub fn ops(&self) -> impl Iterator<Item = Result<OpView<'a>, StoreError>> + '_ {
        let mut c = self.ops;
        let (step, offset) = (self.meta.step.0, self.offset);
        let mut left = self.count;
        let mut broken = false;
        std::iter::from_fn(move || {
            if left == 0 {
                // A damaged op leaves `end` unset: the scan then fails on
                // skipping it too, whatever the caller did with the error.
                if !broken {
                    self.end.set(Some(c));
                }
                return None;
            }
            left -= 1;
            Some(read_op(&mut c).map_err(|e| {
                (left, broken) = (0, true);
                StoreError::corrupt(
                    format!("an op of step {step} does not decode ({})", e.0),
                    offset,
                )
            }))
        })
    }

    /// How many ops follow the step's `Op::Step`.
    pub fn op_count(&self) -> u32 {
        self.count
    }
}

impl Reader {
    /// Call `f` on every step from `from` to `to` inclusive, in order,
    /// reading each deltas segment once and rebuilding no state. `f`
    /// returns `Ok(false)` to stop early. A flight recording's steps start
    /// at [`Reader::first_step`]: a scan from before it starts there (its
    /// first step's ops build the whole state from the empty one).
    pub fn scan_steps<E: From<StoreError>>(
        &self,
        from: Step,
        to: Step,
        mut f: impl FnMut(&StepView<'_>) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.check(to)?;
        let mut n = from.0.max(self.first);
        while n <= to.0 {
            let di = self.delta_index(n).ok_or_else(|| self.missing(n))?;
            let d = self.deltas[di];
            let raw = self.segment(d, SegKind::Deltas)?;
            let body = raw
                .strip_prefix(&array32_prefix(d.count)[..])
                .ok_or_else(|| {
                    StoreError::corrupt("deltas segment without its step count", d.offset)
                })?;
            let mut c = Cursor::new(body);
            let seg_end = d.first_step + u64::from(d.count);
            let bad = |s: u64, e: WireError| {
                StoreError::corrupt(format!("step {s} does not decode ({})", e.0), d.offset)
            };
            for s in d.first_step..seg_end.min(to.0 + 1) {
                if s < n {
                    c.skip().map_err(|e| bad(s, e))?;
                    continue;
                }
                let step = read_step(&mut c, s, d.offset).map_err(|e| bad(s, e))?;
                if !f(&step)? {
                    return Ok(());
                }
                c = match step.end.get() {
                    Some(end) => end,
                    None => step.skip_ops().map_err(|e| bad(s, e))?,
                };
            }
            n = seg_end;
        }
        Ok(())
    }
}

/// One step's ops: the array and its `Op::Step`; the cursor is left at
/// the step's other ops.
fn read_step<'a>(c: &mut Cursor<'a>, n: u64, offset: u64) -> Wire<StepView<'a>> {
    let count = c.array()?;
    if count == 0 {
        return Err(WireError("a step with no ops"));
    }
    match c.variant()? {
        ("Step", true) => {}
        _ => return Err(WireError("the first op is not the step's meta")),
    }
    let meta = read_meta(c, n)?;
    Ok(StepView {
        meta,
        ops: *c,
        count: count - 1,
        end: Cell::new(None),
        offset,
    })
}

impl<'a> StepView<'a> {
    /// A cursor past the step's ops, skipped without decoding them.
    fn skip_ops(&self) -> Wire<Cursor<'a>> {
        let mut c = self.ops;
        for _ in 0..self.count {
            c.skip()?;
        }
        Ok(c)
    }
}

/// A `StepMeta`; its step number is `n` (the file holds 0, or in version 1
/// the same number).
fn read_meta<'a>(c: &mut Cursor<'a>, n: u64) -> Wire<MetaView<'a>> {
    // Eight fields, or nine with an opcode step's instruction.
    let fields = c.array()?;
    if fields != 8 && fields != 9 {
        return Err(WireError("a step's meta has neither 8 nor 9 fields"));
    }
    c.uint()?;
    let event = match c.str()? {
        "Call" => EventKind::Call,
        "Line" => EventKind::Line,
        "Return" => EventKind::Return,
        "Exception" => EventKind::Exception,
        "Opcode" => EventKind::Opcode,
        _ => return Err(WireError("an unknown event")),
    };
    let thread = c.u32()?;
    let file = c.str()?;
    let function = c.str()?;
    let line = c.u32()?;
    let position = if c.nil()? {
        None
    } else {
        c.array_of(4)?;
        Some(Position {
            line: c.u32()?,
            end_line: c.u32()?,
            col: c.u32()?,
            end_col: c.u32()?,
        })
    };
    let value = if c.nil()? {
        None
    } else {
        Some(ObjAddr(c.uint()?))
    };
    let instruction = if fields == 9 && !c.nil()? {
        c.array_of(2)?;
        Some((c.str()?, c.u32()?))
    } else {
        None
    };
    Ok(MetaView {
        step: Step(n),
        event,
        thread,
        file,
        function,
        line,
        position,
        value,
        instruction,
    })
}

fn read_scope(c: &mut Cursor<'_>) -> Wire<Scope> {
    match c.str()? {
        "Locals" => Ok(Scope::Locals),
        "Globals" => Ok(Scope::Globals),
        _ => Err(WireError("an unknown scope")),
    }
}

/// One op other than `Op::Step`.
fn read_op<'a>(c: &mut Cursor<'a>) -> Wire<OpView<'a>> {
    let (name, has_value) = c.variant()?;
    if !has_value {
        return Err(WireError("an op without its fields"));
    }
    Ok(match name {
        "StackTruncate" => OpView::StackTruncate(c.u32()?),
        "StackPush" => {
            c.array_of(3)?;
            OpView::StackPush(FrameView {
                function: c.str()?,
                file: c.str()?,
                line: c.u32()?,
            })
        }
        "ClearScope" => OpView::ClearScope(read_scope(c)?),
        "Bind" => {
            c.array_of(3)?;
            OpView::Bind {
                scope: read_scope(c)?,
                name: c.str()?,
                value: ObjAddr(c.uint()?),
            }
        }
        "Unbind" => {
            c.array_of(2)?;
            OpView::Unbind {
                scope: read_scope(c)?,
                name: c.str()?,
            }
        }
        "HeapSet" => {
            c.array_of(2)?;
            let addr = ObjAddr(c.uint()?);
            let start = c.pos();
            c.skip()?;
            OpView::HeapSet(
                addr,
                NodeView {
                    raw: c.since(start),
                },
            )
        }
        "HeapItems" => {
            c.array_of(4)?;
            let addr = ObjAddr(c.uint()?);
            let start = c.u32()?;
            let n = c.array()?;
            let mut new = Vec::with_capacity((n as usize).min(1 << 16));
            for _ in 0..n {
                new.push(ObjAddr(c.uint()?));
            }
            OpView::HeapItems {
                addr,
                start,
                new,
                len: c.u32()?,
            }
        }
        "HeapDel" => OpView::HeapDel(ObjAddr(c.uint()?)),
        "Step" => return Err(WireError("a second Op::Step in one step")),
        _ => return Err(WireError("an unknown op")),
    })
}

#[cfg(test)]
mod tests;
