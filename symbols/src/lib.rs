//! ELF and DWARF reading for hindsight: which mapped file is the interpreter,
//! its version, its symbols, and the layout of every CPython struct the tracer
//! reads. This crate parses files only; it never touches a live process
//! except to read `/proc/PID/maps`, which is a file.

pub mod layout;
pub mod version;

pub use layout::{Layout, NA};
pub use version::PythonVersion;
