//! ELF and DWARF reading for hindsight: which mapped file is the interpreter,
//! its version, its symbols, and the layout of every CPython struct the tracer
//! reads. This crate parses files only; it never touches a live process
//! except to read `/proc/PID/maps`, which is a file.

pub mod addr;
mod debug_offsets;
pub mod dwarf;
pub mod elf;
pub mod error;
pub mod layout;
pub mod maps;
pub mod python;
pub mod resolve;
pub mod unicode;
pub mod version;

pub use addr::FileAddr;
pub use elf::{ElfFile, Symbol};
pub use error::SymbolsError;
pub use layout::Layout;
pub use maps::{parse_maps, read_maps, Mapping};
pub use python::{DebugSource, PythonImage};
pub use unicode::UnicodePrintable;
pub use version::PythonVersion;
