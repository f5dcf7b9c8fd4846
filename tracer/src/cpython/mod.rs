//! CPython decoding: from a frame pointer passed to the trace function to the
//! state at that step (stack, locals, globals and every object reachable from
//! them), per docs/spec/values.md. Struct offsets come from the DWARF layout table
//! (`symbols::Layout`), everything else a version differs in from the
//! version model (`version`); both are resolved once in [`Python`].
//!
//! By concept: `objects` (reading objects, the walk), `dicts`, `code` (code
//! objects and line tables), `frames` (the snapshot of a trace call), and
//! `mirror` (the incremental walk that emits heap ops).

mod code;
mod dicts;
mod frames;
pub(crate) use mirror::{ItemChange, QuickStep};
mod mirror;
mod objects;
mod python;
pub mod version;

pub use version::SUPPORTED_MINORS;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use code::{CodeInfo, LineWatch};
pub use objects::Limits;
pub use python::Python;

use crate::addr::{AddrMap, AddrSet, RemoteAddr};
use crate::memory::{MemError, Memory};

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
    Unsupported {
        /// The interpreter's version.
        version: String,
    },
    /// Reading the interpreter's files failed.
    #[error(transparent)]
    Symbols(#[from] symbols::SymbolsError),
    /// A symbol the decoder needs is absent from the interpreter.
    #[error("symbol `{name}` not found in {}; is this a normally built CPython?", path.display())]
    MissingSymbol {
        /// The symbol.
        name: String,
        /// The file looked in.
        path: PathBuf,
    },
    /// Reading the target's memory failed.
    #[error(transparent)]
    Mem(#[from] MemError),
    /// The target's memory does not hold what CPython would put there.
    #[error("inconsistent interpreter state: {what}")]
    Inconsistent {
        /// What was found.
        what: String,
    },
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
    /// The trace event.
    pub event: store::EventKind,
    /// The file of the frame's code.
    pub file: Arc<str>,
    /// The frame's function.
    pub function: Arc<str>,
    /// `f_lineno` at the event (from the line table when CPython left it 0).
    pub line: u32,
    /// Position of the instruction at `prev_instr`; `None` if any part is None.
    pub position: Option<store::Position>,
    /// Outermost first, this frame last.
    pub stack: Vec<store::FrameRec>,
    /// The frame's local names and their objects, in order.
    pub locals: Vec<(Arc<str>, store::ObjAddr)>,
    /// The module's global names and their objects, in order.
    pub globals: Vec<(Arc<str>, store::ObjAddr)>,
    /// Return value (the None object when the frame is left by an exception)
    /// or exception instance.
    pub value: Option<store::ObjAddr>,
    /// Every object reachable from locals, globals and value.
    pub heap: HashMap<store::ObjAddr, store::Node>,
}

/// Names bound to objects, in order.
pub(crate) type Bindings = Vec<(Arc<str>, RemoteAddr)>;

/// Caches that outlive one snapshot (validated against address reuse).
#[derive(Default)]
pub(crate) struct Caches {
    pub codes: AddrMap<Arc<CodeInfo>>,
    pub types: AddrMap<Arc<objects::TypeInfo>>,
    /// Types validated during the current snapshot.
    pub types_checked: AddrSet,
    pub names: AddrMap<objects::CachedName>,
    pub set_dummy: Option<RemoteAddr>,
    /// Snapshots stop at the bindings: [`Decoder::snapshot_ops`] walks the
    /// heap itself, incrementally.
    pub bindings_only: bool,
    /// Module globals by dict: its version tag and the bindings read then.
    pub globals: AddrMap<(u64, Bindings)>,
    /// The last globals read were unchanged since the previous read of the
    /// same dict: the dict has held those values all along.
    pub globals_held: bool,
    /// Which code objects frames of this and the previous stop ran.
    pub stops: StopCodes,
    /// Where the last snapshot's top frame keeps its position, when its
    /// next line steps may be taken without a trap.
    pub line_watch: Option<LineWatch>,
    /// The last snapshot's top frame's slots, when all are plain locals.
    pub top_slots: Option<frames::TopSlots>,
}

/// Code objects seen on the stack at consecutive stops of one thread.
///
/// Between two stops of a thread at most one frame is pushed (a call event
/// is a stop) or popped (so is a return, also of a frame left by an
/// exception): every frame at a stop, except the top one at a call event,
/// was on the stack at the previous stop, and its code object has been
/// alive all along. At a call event after any event but a return, every
/// frame of the previous stop is still on the stack, so a code object one
/// of them ran is still that object. A cached [`CodeInfo`] needs no check
/// against the target then.
#[derive(Default)]
pub(crate) struct StopCodes {
    thread: Option<u32>,
    /// This stop is a call event, and the previous one of the thread was a
    /// return.
    call: bool,
    after_return: bool,
    last_return: bool,
    prev: AddrSet,
    now: AddrSet,
}

impl StopCodes {
    /// A new stop of `thread` for a trace event, a call event or a return
    /// event or neither.
    pub fn begin(&mut self, thread: u32, call: bool, ret: bool) {
        if self.thread == Some(thread) {
            std::mem::swap(&mut self.prev, &mut self.now);
            self.after_return = self.last_return;
        } else {
            self.prev.clear();
            self.after_return = true;
        }
        self.now.clear();
        self.thread = Some(thread);
        self.call = call;
        self.last_return = ret;
    }

    /// The thread of this stop, once [`StopCodes::begin`] was called.
    pub fn thread(&self) -> Option<u32> {
        self.thread
    }

    /// Whether the code at `addr`, run by the top frame (`top`) or one
    /// below it, was seen alive without a gap.
    pub fn code_trusted(&self, addr: RemoteAddr, top: bool) -> bool {
        self.thread.is_some()
            && (self.now.contains(&addr)
                || (self.prev.contains(&addr) && !(top && self.call && self.after_return)))
    }

    /// The code at `addr` was read (or trusted) at this stop.
    pub fn saw_code(&mut self, addr: RemoteAddr) {
        if self.thread.is_some() {
            self.now.insert(addr);
        }
    }
}

/// How many types [`Decoder::capture_types`] can name (None, bool, int,
/// float).
pub(crate) const CAPTURE_TYPES: usize = 4;

/// Decodes frames and objects of one traced process; owns its caches.
pub struct Decoder {
    python: Arc<Python>,
    limits: Limits,
    caches: Caches,
    mirror: mirror::Mirror,
}

impl Decoder {
    /// A decoder with the default limits of docs/spec/values.md.
    pub fn new(python: Arc<Python>) -> Decoder {
        Decoder {
            python,
            limits: Limits::default(),
            caches: Caches::default(),
            mirror: mirror::Mirror::default(),
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

    /// The types whose objects the probe may copy for a step without a
    /// trap (`None`, `bool`, `int`, `float`): those a decode of one reads
    /// nothing of besides the object's own bytes, which holds once their
    /// type is cached here (static types are never read again then).
    pub fn capture_types(&self) -> Vec<crate::probe::CapType> {
        use crate::probe::{CapLen, CapType};
        use version::IntSign;
        let py = &self.python;
        let (o, ob) = (&py.layout.objects, &py.layout.object);
        let base = o.long_digit as usize;
        let digits = match &py.facts.ints.sign {
            IntSign::SignedSize => CapLen::SignedDigits {
                base,
                count: ob.ob_size as usize,
            },
            IntSign::Tag(t) => CapLen::TagDigits {
                base,
                count: o.long_lv_tag.unwrap_or(ob.ob_size) as usize,
                shift: t.size_shift,
            },
        };
        let t = &py.types;
        let all: [_; CAPTURE_TYPES] = [
            (t.int, digits),
            (t.bool_, digits),
            (t.float, CapLen::Fixed(o.float_ob_fval as usize + 8)),
            (t.none, CapLen::Fixed(ob.ob_type as usize + 8)),
        ];
        all.into_iter()
            .filter(|(a, _)| !a.is_null() && self.caches.types.contains_key(a))
            .map(|(addr, len)| CapType { addr, len })
            .collect()
    }

    /// A new stop of `thread` at trace event `what`: code objects seen at
    /// its previous stop need no check (see `StopCodes`). Without this
    /// call every code object is checked against the target.
    pub fn begin_stop(&mut self, thread: u32, what: i32) {
        let t = &self.python.facts.tracing;
        self.caches
            .stops
            .begin(thread, what == t.call, what == t.return_);
    }

    /// The code object of the frame passed to the trace function (a
    /// `PyFrameObject*`), cached per code object.
    pub fn frame_code(
        &mut self,
        mem: &dyn Memory,
        frame: RemoteAddr,
    ) -> Result<Arc<CodeInfo>, DecodeError> {
        frames::frame_code(mem, &self.python, &mut self.caches, frame)
    }

    /// The instruction the frame passed to the trace function is about to
    /// run, when it is one of the steps of `--granularity opcode` (binds a
    /// name or mutates an object in place); `None` for any other.
    pub fn step_instruction(
        &mut self,
        mem: &dyn Memory,
        frame: RemoteAddr,
    ) -> Result<Option<store::Instruction>, DecodeError> {
        frames::step_instruction(mem, &self.python, &mut self.caches, frame)
    }

    /// Where the top frame of the last snapshot keeps its position, when
    /// the state of its next line steps is the snapshot's as long as no
    /// word the snapshot read changes but those.
    pub fn line_watch(&self) -> Option<&LineWatch> {
        self.caches.line_watch.as_ref()
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
        self.caches.line_watch = None;
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
        let snap = self.snapshot(mem, frame, what, arg);
        self.caches.bindings_only = false;
        let snap = snap?;
        // Values of unchanged globals have been held by their dict since it
        // was last read: the walk may trust what it knows of them.
        let held = self.caches.globals_held;
        let roots: Vec<(RemoteAddr, bool)> = snap
            .locals
            .iter()
            .map(|(_, v)| (RemoteAddr(v.0), false))
            .chain(snap.globals.iter().map(|(_, v)| (RemoteAddr(v.0), held)))
            .chain(snap.value.map(|v| (RemoteAddr(v.0), false)))
            .collect();
        let stop = self.caches.stops.thread().map(|thread| mirror::Stop {
            thread,
            depth: snap.stack.len() as u32,
        });
        self.mirror.walk(
            mem,
            &self.python,
            &mut self.caches,
            &self.limits,
            mirror::Roots {
                roots: &roots,
                stop,
            },
            heap_ops,
        );
        Ok(snap)
    }

    /// The heap ops of a step whose only changes are the slots `q` names
    /// coming to point at other immutable atoms, after a
    /// [`Decoder::snapshot_ops`] of the step before: what that call would
    /// append to `heap_ops`, made without a walk. False, with nothing
    /// changed, when the step is not such a step.
    pub(crate) fn quick_ops(
        &mut self,
        mem: &dyn Memory,
        q: &mirror::QuickStep<'_>,
        heap_ops: &mut Vec<store::Op>,
    ) -> bool {
        self.mirror.quick(
            mem,
            &self.python,
            &mut self.caches,
            &self.limits,
            q,
            heap_ops,
        )
    }

    /// The list whose items the last walk read from the word at `addr`, and
    /// the item's index.
    pub(crate) fn list_item_at(&self, addr: RemoteAddr) -> Option<(RemoteAddr, u32)> {
        self.mirror.list_item_at(addr)
    }

    /// The last snapshot's top frame's slots, when all are plain locals.
    pub(crate) fn top_slots(&self) -> Option<&frames::TopSlots> {
        self.caches.top_slots.as_ref()
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
