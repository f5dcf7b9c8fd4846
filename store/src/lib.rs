//! hindsight's recording file: a writer thread fed by a bounded channel that
//! writes checkpoints and deltas, and a reader that rebuilds the state at any
//! step. The store knows nothing of CPython: it keeps a heap of generic nodes
//! by address, name bindings, a stack of frames and step records.

pub mod model;

pub use model::{EventKind, FrameRec, Node, ObjAddr, Op, Position, Scope, State, Step, StepMeta};
