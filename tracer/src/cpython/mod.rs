//! CPython decoding: from a frame pointer passed to the trace function to the
//! state at that step (stack, locals, globals and every object reachable from
//! them), per spec/values.md. Version facts live in per-minor modules
//! (`v311`); struct offsets come from the DWARF layout table.

mod atoms;
mod code;
mod code_legacy;
mod dicts;
mod dicts_legacy;
mod frames;
mod frames_legacy;
pub mod linetable;
mod lnotab;
mod managed;
mod mirror;
mod objects;
mod python;
mod read;
mod stopmem;
pub mod text;
mod types;
pub mod v311;
pub mod v312;
pub mod v313;
mod window;

/// Minor versions of CPython 3 this build decodes and records.
pub const SUPPORTED_MINORS: &[u8] = &[8, 9, 10, 11, 12, 13];

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
    #[error(
        "CPython {version} is not supported by this build of hindsight (supported: {})",
        supported_list()
    )]
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

/// [`SUPPORTED_MINORS`] as text, e.g. "3.8, 3.9, 3.10, 3.11".
pub fn supported_list() -> String {
    SUPPORTED_MINORS
        .iter()
        .map(|m| format!("3.{m}"))
        .collect::<Vec<_>>()
        .join(", ")
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
    /// Snapshots stop at the bindings: [`Decoder::snapshot_ops`] walks the
    /// heap itself, incrementally.
    pub bindings_only: bool,
}

/// Decodes frames and objects of one traced process; owns its caches.
pub struct Decoder {
    python: Arc<Python>,
    limits: Limits,
    caches: Caches,
    mirror: mirror::Mirror,
    /// What `frame_code` read at the current stop, for `snapshot_ops`.
    stop_reads: stopmem::StopReads,
}

impl Decoder {
    /// A decoder with the default limits of spec/values.md.
    pub fn new(python: Arc<Python>) -> Decoder {
        Decoder {
            python,
            limits: Limits::default(),
            caches: Caches::default(),
            mirror: mirror::Mirror::default(),
            stop_reads: stopmem::StopReads::default(),
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
        // Kept for the snapshot of this same stop (`snapshot_ops`).
        self.stop_reads.begin(frame);
        let kept = std::mem::take(&mut self.stop_reads);
        let smem = stopmem::StopMem {
            inner: mem,
            kept: &kept,
            record: true,
        };
        let r = self.frame_code_uncached(&smem, frame);
        self.stop_reads = kept;
        r
    }

    fn frame_code_uncached(
        &mut self,
        mem: &dyn Memory,
        frame: RemoteAddr,
    ) -> Result<Arc<CodeInfo>, DecodeError> {
        if frames_legacy::applies(&self.python) {
            return frames_legacy::frame_code(mem, &self.python, &mut self.caches, frame);
        }
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
        if frames_legacy::applies(&self.python) {
            return frames_legacy::snapshot(
                mem,
                &self.python,
                &mut self.caches,
                &self.limits,
                frame,
                what,
                arg,
            );
        }
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

    /// The state at a trace-function call like [`Decoder::snapshot`], but
    /// with an empty `heap`: the heap's changes since the previous call of
    /// this method are appended to `heap_ops` instead (set, splice, delete).
    /// The ops of consecutive calls, applied in order to one store, give
    /// exactly the heaps [`Decoder::snapshot`] would give. After an error,
    /// call [`Decoder::reset_mirror`] if the ops of earlier calls were lost.
    pub fn snapshot_ops(
        &mut self,
        mem: &dyn Memory,
        frame: RemoteAddr,
        what: i32,
        arg: RemoteAddr,
        heap_ops: &mut Vec<store::Op>,
    ) -> Result<Snapshot, DecodeError> {
        self.caches.bindings_only = true;
        // The frame reads `frame_code` made at this stop are reused.
        let kept = std::mem::take(&mut self.stop_reads);
        let smem = stopmem::StopMem {
            inner: mem,
            kept: &kept,
            record: false,
        };
        let replay: &dyn Memory = if kept.is_for(frame) { &smem } else { mem };
        let snap = self.snapshot(replay, frame, what, arg);
        self.stop_reads = kept;
        self.stop_reads.forget();
        self.caches.bindings_only = false;
        let snap = snap?;
        let roots: Vec<RemoteAddr> = snap
            .locals
            .iter()
            .chain(snap.globals.iter())
            .map(|(_, v)| RemoteAddr(v.0))
            .chain(snap.value.map(|v| RemoteAddr(v.0)))
            .collect();
        self.mirror.walk(
            mem,
            &self.python,
            &mut self.caches,
            &self.limits,
            &roots,
            heap_ops,
        );
        Ok(snap)
    }

    /// Forget what [`Decoder::frame_code`] read at this stop: call it when
    /// the target ran or was written to before `snapshot_ops` of the same
    /// stop (reads are reused only for the same frame, until then).
    pub fn forget_stop_reads(&mut self) {
        self.stop_reads.forget();
    }

    /// Forget the heap of earlier [`Decoder::snapshot_ops`] calls: the next
    /// call sends every node again.
    pub fn reset_mirror(&mut self) {
        self.mirror.reset();
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
