//! CPython decoding: from a frame pointer passed to the trace function to the
//! state at that step (stack, locals, globals and every object reachable from
//! them), per spec/values.md. Version facts live in per-minor modules
//! (`v311`); struct offsets come from the DWARF layout table.

mod code;
mod dicts;
mod frames;
pub mod linetable;
mod objects;
mod python;
mod read;
pub mod text;
pub mod v311;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use code::CodeInfo;
pub use objects::Limits;
pub use python::{Python, TypeAddrs};

use crate::addr::RemoteAddr;
use crate::mem::{MemError, Memory};

/// Decoding failed.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The process runs no CPython interpreter hindsight can find.
    #[error("not a CPython process: {0}")]
    NotPython(String),
    /// The interpreter's version is not decoded (yet).
    #[error("CPython {version} is not supported by this build of hindsight (supported: 3.11)")]
    Unsupported { version: String },
    /// Reading the interpreter's files failed.
    #[error(transparent)]
    Symbols(#[from] symbols::SymbolsError),
    /// A symbol the decoder needs is absent from the interpreter.
    #[error("symbol `{name}` not found in {}; is this a normally built CPython?", path.display())]
    MissingSymbol { name: String, path: PathBuf },
    /// Reading the target's memory failed.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// The target's memory does not hold what CPython would put there.
    #[error("inconsistent interpreter state: {what}")]
    Inconsistent { what: String },
}

impl DecodeError {
    pub(crate) fn inconsistent(what: impl Into<String>) -> DecodeError {
        DecodeError::Inconsistent { what: what.into() }
    }
}

/// The full state at one trace-function call.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub event: store::EventKind,
    pub file: Arc<str>,
    pub function: Arc<str>,
    /// `f_lineno` at the event (from the line table when CPython left it 0).
    pub line: u32,
    /// Position of the instruction at `prev_instr`; `None` if any part is None.
    pub position: Option<store::Position>,
    /// Outermost first, this frame last.
    pub stack: Vec<store::FrameRec>,
    pub locals: Vec<(Arc<str>, store::ObjAddr)>,
    pub globals: Vec<(Arc<str>, store::ObjAddr)>,
    /// Return value (the None object when the frame is left by an exception)
    /// or exception instance.
    pub value: Option<store::ObjAddr>,
    /// Every object reachable from locals, globals and value.
    pub heap: HashMap<store::ObjAddr, store::Node>,
}

/// Caches that outlive one snapshot (validated against address reuse).
#[derive(Default)]
pub(crate) struct Caches {
    pub codes: HashMap<RemoteAddr, Arc<CodeInfo>>,
    pub types: HashMap<RemoteAddr, Arc<objects::TypeInfo>>,
    /// Types validated during the current snapshot.
    pub types_checked: std::collections::HashSet<RemoteAddr>,
    pub names: HashMap<RemoteAddr, objects::CachedName>,
    pub set_dummy: Option<RemoteAddr>,
}

/// Decodes frames and objects of one traced process; owns its caches.
pub struct Decoder {
    python: Arc<Python>,
    limits: Limits,
    caches: Caches,
}

impl Decoder {
    /// A decoder with the default limits of spec/values.md.
    pub fn new(python: Arc<Python>) -> Decoder {
        Decoder {
            python,
            limits: Limits::default(),
            caches: Caches::default(),
        }
    }

    /// Change the limits (sizes, depths, object budget).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The interpreter this decoder reads.
    pub fn python(&self) -> &Arc<Python> {
        &self.python
    }

    /// The code object of the frame passed to the trace function (a
    /// `PyFrameObject*`), cached per code object.
    pub fn frame_code(
        &mut self,
        mem: &dyn Memory,
        frame: RemoteAddr,
    ) -> Result<Arc<CodeInfo>, DecodeError> {
        let f = frames::FrameObj::read(mem, &self.python, frame)?;
        let iframe = frames::IFrame::read(mem, &self.python, f.iframe)?;
        code::code_info(mem, &self.python, &mut self.caches, iframe.code)
    }

    /// The full state at a trace-function call: `frame` is the
    /// `PyFrameObject*`, `what` the `PyTrace_*` code, `arg` its argument.
    pub fn snapshot(
        &mut self,
        mem: &dyn Memory,
        frame: RemoteAddr,
        what: i32,
        arg: RemoteAddr,
    ) -> Result<Snapshot, DecodeError> {
        self.caches.types_checked.clear();
        frames::snapshot(
            mem,
            &self.python,
            &mut self.caches,
            &self.limits,
            frame,
            what,
            arg,
        )
    }

    /// Decode the objects at `roots` (and everything reachable from them, as a
    /// snapshot would), each root at attribute depth 1.
    pub fn objects(
        &mut self,
        mem: &dyn Memory,
        roots: &[RemoteAddr],
    ) -> HashMap<store::ObjAddr, store::Node> {
        self.caches.types_checked.clear();
        let mut w = objects::Walker::new(mem, &self.python, &mut self.caches, &self.limits);
        for &r in roots {
            w.add_root(r);
        }
        w.run();
        w.into_heap()
    }
}
