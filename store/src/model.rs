//! The recorded state model: a heap of generic objects by address, name
//! bindings for the current frame and its module, the stack, and the step.
//!
//! The store knows nothing of CPython: a [`Node`]'s `kind` is a tag chosen by
//! the recorder and interpreted only by whoever renders it.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// A step number: steps are numbered from 0 in the order they ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Step(pub u64);

/// An object's identity in the recording: its address in the traced process
/// (what `id()` returned there). The recorder re-sends a node whenever the
/// object at an address changes, including when the address is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjAddr(pub u64);

/// What kind of step this is (as `sys.settrace` names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A function (or other code block) was entered, before its first line runs.
    Call,
    /// A new line of source is about to run.
    Line,
    /// A function (or other code block) is about to return.
    Return,
    /// An exception was raised in, or propagated into, the current frame.
    Exception,
    /// An instruction that binds a name or mutates an object in place is
    /// about to run (`--granularity opcode`; the step's `instruction`).
    Opcode,
}

impl EventKind {
    /// The name `sys.settrace` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Call => "call",
            EventKind::Line => "line",
            EventKind::Return => "return",
            EventKind::Exception => "exception",
            EventKind::Opcode => "opcode",
        }
    }
}

/// A source range (PEP 657): 1-based lines, 0-based UTF-8 columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Position {
    /// The line the range starts on.
    pub line: u32,
    /// The line the range ends on.
    pub end_line: u32,
    /// The column the range starts at, on `line`.
    pub col: u32,
    /// The column just past the range's end, on `end_line`.
    pub end_col: u32,
}

/// One frame of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameRec {
    /// The name of the function (or other code block) the frame runs.
    #[serde(deserialize_with = "crate::intern::de_arc_str")]
    pub function: Arc<str>,
    /// The source file of that code, as the interpreter names it.
    #[serde(deserialize_with = "crate::intern::de_arc_str")]
    pub file: Arc<str>,
    /// The line the frame is at: the step's line for the innermost frame,
    /// the line of the call in progress for the others.
    pub line: u32,
}

/// What is known of a step itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepMeta {
    /// This step's number (written as 0 inside a deltas segment, whose
    /// frame gives it; the reader puts it back).
    pub step: Step,
    /// What happened at this step.
    pub event: EventKind,
    /// OS thread id that ran the step.
    pub thread: u32,
    /// The source file of the code the step ran in.
    #[serde(deserialize_with = "crate::intern::de_arc_str")]
    pub file: Arc<str>,
    /// The function (or other code block) the step ran in.
    #[serde(deserialize_with = "crate::intern::de_arc_str")]
    pub function: Arc<str>,
    /// The line the step is at.
    pub line: u32,
    /// The exact source range of the instruction the step is at, when the
    /// interpreter records columns (`None` otherwise).
    pub position: Option<Position>,
    /// `return` steps: the returned object; `exception` steps: the exception object.
    pub value: Option<ObjAddr>,
    /// `opcode` steps: the instruction about to run. Written only when
    /// present (a line recording's metas keep their eight fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<Instruction>,
}

/// The instruction an `opcode` step is at: its name as `dis` shows it and
/// its offset in bytes in the code object's instructions (`f_lasti`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instruction {
    /// The instruction's name (`STORE_SUBSCR`, `BINARY_OP`, ...).
    #[serde(deserialize_with = "crate::intern::de_arc_str")]
    pub name: Arc<str>,
    /// Its offset in bytes.
    pub offset: u32,
}

/// A generic heap object. Children are referenced by address and must be
/// present in the heap whenever their parent is reachable from a binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The type as it is shown to users.
    #[serde(deserialize_with = "crate::intern::de_arc_str")]
    pub type_name: Arc<str>,
    /// A rendering tag chosen by the recorder; opaque to the store.
    pub kind: u8,
    /// Leaf payload (for instance an atom's finished text); may be empty.
    #[serde(deserialize_with = "crate::bounds::de_text")]
    pub text: String,
    /// Children, in order.
    #[serde(deserialize_with = "crate::bounds::de_items")]
    pub items: Vec<ObjAddr>,
    /// Named children (instance attributes), when the object has them.
    #[serde(deserialize_with = "crate::intern::de_attrs")]
    pub attrs: Option<Vec<(Arc<str>, ObjAddr)>>,
    /// The object was cut at a size limit.
    pub truncated: bool,
}

/// Which name table a binding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The current frame's locals.
    Locals,
    /// The current frame's module globals.
    Globals,
}

/// One change from the state at the step before to the state at this step.
/// A step's ops start with exactly one [`Op::Step`]; the others follow in
/// the order they must be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// This step's meta data (replaces the previous step's).
    Step(StepMeta),
    /// Keep only the first `n` frames of the stack (outermost first).
    StackTruncate(u32),
    /// Push a frame on top (innermost end) of the stack.
    StackPush(FrameRec),
    /// Remove every binding of a scope.
    ClearScope(Scope),
    /// Bind (or rebind) a name; a new name goes at the end of the scope's order.
    Bind {
        /// The name table to bind in.
        scope: Scope,
        /// The name bound.
        #[serde(deserialize_with = "crate::intern::de_arc_str")]
        name: Arc<str>,
        /// The object the name now refers to.
        value: ObjAddr,
    },
    /// Remove a name from a scope.
    Unbind {
        /// The name table to remove it from.
        scope: Scope,
        /// The name removed.
        #[serde(deserialize_with = "crate::intern::de_arc_str")]
        name: Arc<str>,
    },
    /// Insert or replace the node at an address.
    HeapSet(ObjAddr, Node),
    /// Change a node's items in place: overwrite `items[start..start+new.len()]`
    /// (growing the vector where needed), then cut it to `len` items. Every
    /// item must be written by the op or be there before: `start` is at most
    /// the node's item count, and `len` at most the larger of that count and
    /// `start + new.len()` (a length with nothing behind it would make a
    /// reader allocate what the file never paid for).
    HeapItems {
        /// The node changed; it must already be in the heap.
        addr: ObjAddr,
        /// The index of the first item overwritten.
        start: u32,
        /// The items written from `start` on.
        #[serde(deserialize_with = "crate::bounds::de_items")]
        new: Vec<ObjAddr>,
        /// The number of items the node has afterwards.
        len: u32,
    },
    /// The object at this address is gone from the recorded state.
    HeapDel(ObjAddr),
}

/// The complete recorded state at one step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// `None` only before the first step is applied.
    pub meta: Option<StepMeta>,
    /// Outermost first.
    pub stack: Vec<FrameRec>,
    /// In binding order.
    pub locals: Vec<(Arc<str>, ObjAddr)>,
    /// In binding order.
    pub globals: Vec<(Arc<str>, ObjAddr)>,
    /// The recorded objects, by address.
    pub heap: HashMap<ObjAddr, Node>,
}
