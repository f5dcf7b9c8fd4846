//! hindsight's recorder: launches or attaches to a CPython process with
//! ptrace, traps the interpreter's trace hook, reads frames and objects out of
//! the target's memory and emits each step as ops for the store. Only this
//! crate touches ptrace.
//!
//! The wings, in the order a step flows through them (docs/architecture.md):
//! `ptrace` (process control) -> `memory` and `probe` (reading the target,
//! the probe placed in it) -> `interp` (hooking the interpreter) ->
//! `cpython` (decoding) -> `record` (the stop loop, diff, store ops). They
//! are internal: the crate's face is [`record()`], [`attach()`], [`exec()`],
//! [`reload()`] and their configuration, below.

mod addr;
pub(crate) mod cpython;
pub(crate) mod interp;
mod live;
pub(crate) mod memory;
pub(crate) mod probe;
pub(crate) mod ptrace;
mod record;
// The one module allowed `unsafe` (with its submodule): the raw system
// calls nix does not wrap and the probe's shared memory, each block with its
// SAFETY line.
#[allow(unsafe_code)]
pub(crate) mod sys;

pub use addr::{RemoteAddr, Tid};
pub use cpython::{supported_list, DecodeError, SUPPORTED_MINORS};
pub use live::{exec, reload, LiveConfig, LiveOutcome, LiveStatus, OnWaiting, Place, Wanted};
pub use memory::MemError;
pub use probe::ProbeMode;
pub use ptrace::Ended;
pub use ptrace::ProgramStdio;
pub use ptrace::TraceError;
pub use record::{
    attach, record, AtBound, AttachConfig, Attached, FilterSpec, FlightRing, Granularity,
    OnAttached, PassOn, Progress, ProgressFn, RecordConfig, RecordError, RecordOutcome,
    ATTACH_MINORS, STOPPED_BY_OBSERVER,
};
pub use sys::die_by_signal;

/// The wings' own pieces that the crate's integration tests
/// (`tracer/tests`) and benchmark programs (`tracer/examples`) drive
/// directly. Not an API: nothing outside this repository may rely on it.
#[doc(hidden)]
pub mod internals {
    pub use crate::cpython::{Decoder, Python, Snapshot};
    pub use crate::interp::startup::{self, RunTo};
    pub use crate::memory::procmem::ProcMem;
    pub use crate::memory::{MemError, Memory, ReadReq, MAX_READ};
    pub use crate::ptrace::{Stop, TraceError, Tracee};
    pub use crate::sys::{kill, pick_cpu, pin_current_thread};
}
