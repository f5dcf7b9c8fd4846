//! hindsight's recording file: a writer thread fed by a bounded inbox that
//! writes checkpoints and deltas, and a reader that rebuilds the state at any
//! step. The store knows nothing of CPython: it keeps a heap of generic nodes
//! by address, name bindings, a stack of frames and step records.
//!
//! The byte layout is described in docs/store-format.md.

pub mod apply;
pub mod bounds;
pub mod checkpoint;
pub mod create;
pub mod error;
pub mod format;
mod inbox;
pub mod intern;
pub mod model;
mod observe;
pub mod postings;
pub mod reader;
pub mod records;
pub mod ring;
pub mod skim;
pub mod sources;
pub mod times;
pub mod writer;

pub use apply::{apply, apply_counted, apply_owned, splice_items};
pub use bounds::Budget;
pub use create::{CreateOptions, RecordingFile};
pub use error::StoreError;
pub use format::{FORMAT_VERSION, NEWEST_FORMAT_VERSION, RING_FORMAT_VERSION};
pub use model::{
    EventKind, FrameRec, Instruction, Node, ObjAddr, Op, Position, Scope, State, Step, StepMeta,
};
pub use observe::StepObserver;
pub use postings::{decode_postings, ItemRange, PostingKey, Postings};
pub use reader::scan::{FrameView, MetaView, NodeView, OpView, StepView, WireError};
pub use reader::Reader;
pub use records::{ProgramEnd, RecordingEnd, RecordingHeader, WriteSummary, CUT};
pub use ring::{RingOptions, RingRecord};
pub use sources::{SourceFile, MAX_SOURCES_BYTES, MAX_SOURCE_BYTES};
pub use writer::{Writer, WriterOptions};
