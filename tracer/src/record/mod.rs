//! The recorder: one stop loop ([`stops`]) that turns each trap into a
//! recorded step (decode, diff, store ops), started by launching a command
//! ([`record`]) or by seizing a running program ([`attach`]), ended by the
//! program, a bound or the user, then letting go ([`letgo`]); the launched
//! command's signals and end ([`command`]); and the file filter that
//! decides which code is recorded ([`filter`], [`program`]).

pub(crate) mod attach;
mod beside;
mod clock;
mod command;
mod config;
mod diff;
mod drain;
pub(crate) mod error;
mod filter;
mod globs;
mod launch;
pub(crate) mod letgo;
mod opcodes;
mod open;
mod passon;
mod profile;
mod program;
mod quick;
mod recorder;
pub(crate) mod relook;
mod safe_hook;
pub(crate) mod session;
mod sources;
mod stops;
pub(crate) mod waker;

pub use attach::{attach, ATTACH_MINORS};
pub use config::{
    AtBound, AttachConfig, Attached, FlightRing, Granularity, OnAttached, Progress, ProgressFn,
    RecordConfig, RecordOutcome, STOPPED_BY_OBSERVER,
};
pub use error::RecordError;
pub use filter::FilterSpec;
pub use launch::record;
pub use passon::PassOn;
