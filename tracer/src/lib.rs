//! hindsight's recorder: launches or attaches to a CPython process with
//! ptrace, traps the interpreter's trace hook, reads frames and objects out of
//! the target's memory and emits each step as ops for the store. Only this
//! crate touches ptrace.
//!
//! The wings, in the order a step flows through them (docs/architecture.md):
//! [`ptrace`] (process control) -> [`memory`] and [`probe`] (reading the
//! target, the probe placed in it) -> [`interp`] (hooking the interpreter)
//! -> [`cpython`] (decoding) -> [`record`] (the stop loop, diff, store ops).

pub mod addr;
pub mod cpython;
pub mod interp;
pub mod memory;
pub mod probe;
pub mod ptrace;
pub mod record;
pub mod sys;

pub use addr::{RemoteAddr, Tid};
