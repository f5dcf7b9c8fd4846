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

/// Where the tests find the pyenv interpreters: `$PYENV_ROOT/versions`, by
/// default `~/.pyenv/versions` (what scripts/setup looks for).
#[cfg(test)]
pub(crate) fn pyenv(rel: &str) -> std::path::PathBuf {
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".pyenv")
        });
    root.join("versions").join(rel)
}
