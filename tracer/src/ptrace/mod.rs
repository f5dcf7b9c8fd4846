//! Process control: the one place that speaks ptrace. A [`Tracee`] is a
//! launched or seized process with its threads; this wing starts and stops
//! them, follows a launched command's processes to the one to trace
//! ([`family`]), sets and passes breakpoints, and calls functions inside
//! the target (inferior calls). It knows nothing of Python.

mod breakpoints;
mod error;
pub mod family;
pub mod inferior;
mod launch;
mod pause;
pub mod seize;
mod tracee;
mod wait;
mod wrapper;

pub use error::TraceError;
pub use launch::ProgramStdio;
pub use seize::SeizeError;
pub use tracee::{Regs, Stop, Tracee};
pub(crate) use tracee::{Thread, OPTIONS};
pub use wait::Polled;
pub use wrapper::{Ended, Wrapper};
