//! hindsight's recorder: launches or attaches to a CPython process with
//! ptrace, traps the interpreter's trace hook, reads frames and objects out of
//! the target's memory and emits each step as ops for the store. Only this
//! crate touches ptrace.

pub mod addr;
pub mod kinds;
pub mod mem;

pub use addr::{RemoteAddr, Tid};
