//! The recorder: one stop loop ([`stops`]) that turns each trap into a
//! recorded step (decode, diff, store ops), started by launching a command
//! ([`record`]) or by seizing a running program ([`attach`]), ended by the
//! program, a bound or the user, then letting go ([`letgo`]); the launched
//! command's signals and end ([`command`]); and the file filter that
//! decides which code is recorded ([`filter`], [`program`]).

mod attach;
mod command;
mod config;
mod diff;
mod error;
mod filter;
mod globs;
mod launch;
mod letgo;
mod opcodes;
mod open;
mod passon;
mod program;
mod recorder;
mod safe_hook;
mod session;
mod sources;
mod stops;
mod waker;

pub use attach::{attach, ATTACH_MINORS};
pub use config::{
    AtBound, AttachConfig, Attached, FlightRing, Granularity, OnAttached, Progress, ProgressFn,
    RecordConfig, RecordOutcome, STOPPED_BY_OBSERVER,
};
pub use error::RecordError;
pub use filter::FilterSpec;
pub use launch::record;
pub use passon::PassOn;
