//! hindsight's recorder: launches or attaches to a CPython process with
//! ptrace, traps the interpreter's trace hook, reads frames and objects out of
//! the target's memory and emits each step as ops for the store. Only this
//! crate touches ptrace.

pub mod addr;
mod breakpoints;
pub mod cpython;
pub mod kinds;
mod launch;
pub mod mem;
pub mod prefetch;
pub mod probe;
pub mod procmem;
pub mod ptrace;
pub mod render;
pub mod sys;

pub use addr::{RemoteAddr, Tid};
pub mod attach;
pub mod diff;
pub mod filter;
pub mod hook;
pub mod inferior;
pub mod record;
mod recorder;
pub mod seize;
pub mod session;
pub mod threads;
