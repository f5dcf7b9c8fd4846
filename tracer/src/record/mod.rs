//! The recorder: one stop loop ([`stops`]) that turns each trap into a
//! recorded step (decode, diff, store ops), started by launching a program
//! ([`record`]) or by seizing a running one ([`attach`]), ended by the
//! program, a bound or the user; and the file filter that decides which
//! code is recorded.

mod attach;
mod config;
mod diff;
mod error;
mod filter;
mod launch;
mod open;
mod recorder;
mod stops;
mod waker;

pub use attach::{attach, ATTACH_MINORS};
pub use config::{
    AtBound, AttachConfig, Attached, Granularity, OnAttached, Progress, ProgressFn, RecordConfig,
    RecordOutcome,
};
pub use error::RecordError;
pub use filter::FilterSpec;
pub use launch::record;
