//! Hooking the interpreter: getting a launched program to the point where
//! its CPython exists ([`startup`]), choosing the trap and pointing each
//! thread state's trace function at it ([`hook`]), and doing so for every
//! thread of a running interpreter ([`threads`]), keeping the program's
//! own trace function running ([`own_trace`]), and, on 3.12+, bringing a
//! running thread to where it may call into the interpreter
//! ([`safe_point`]). Undone on detach.

pub mod hook;
pub mod own_trace;
pub mod safe_point;
pub mod startup;
pub mod threads;
