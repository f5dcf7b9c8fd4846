//! The one error type of the `symbols` crate.

use std::path::PathBuf;

use crate::version::PythonVersion;

/// Everything that can go wrong while reading an interpreter's files.
#[derive(Debug, thiserror::Error)]
pub enum SymbolsError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file is not a well-formed ELF file or its DWARF is damaged.
    #[error("cannot parse {path}: {what}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What failed to parse.
        what: String,
    },
    /// No mapped file of the process (nor the given executable) holds a CPython interpreter.
    #[error(
        "{what} is not a CPython interpreter: no mapped file defines `_PyRuntime` \
         (checked: {checked}); hindsight records CPython 3.8-3.13 programs only"
    )]
    NotPython {
        /// The process or file that was examined.
        what: String,
        /// The files that were looked at, comma separated.
        checked: String,
    },
    /// The interpreter has no DWARF and no separate debug file was found.
    #[error(
        "{path} has no debug info (DWARF); looked in: {looked}. Install the debug symbols of this \
         interpreter (e.g. the distro's python{minor}-dbg / python3-debuginfo package, which puts a \
         file under /usr/lib/debug/.build-id/), or pass --debug-file PATH"
    )]
    NoDebugInfo {
        /// The interpreter binary.
        path: PathBuf,
        /// Where debug info was searched, in order.
        looked: String,
        /// `3.X` when known, for the package name hint.
        minor: String,
    },
    /// The given debug file belongs to another build.
    #[error(
        "debug file {debug} does not belong to {path} (build-id {debug_id} vs {main_id}); \
         pass the debug file built with this interpreter"
    )]
    BuildIdMismatch {
        /// The interpreter binary.
        path: PathBuf,
        /// The debug file.
        debug: PathBuf,
        /// Hex build-id of the interpreter.
        main_id: String,
        /// Hex build-id of the debug file.
        debug_id: String,
    },
    /// The interpreter's version could not be found in its binary.
    #[error("cannot tell the Python version of {path}: {why}")]
    UnknownVersion {
        /// The interpreter binary.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The interpreter's version is outside 3.8..=3.13.
    #[error("Python {version} ({path}) is not supported; hindsight supports CPython 3.8 to 3.13")]
    UnsupportedVersion {
        /// The version found.
        version: PythonVersion,
        /// The interpreter binary.
        path: PathBuf,
    },
    /// Struct fields the tracer needs were not found in the DWARF.
    #[error(
        "the debug info of Python {version} lacks {} field(s) hindsight needs: {}; \
         the debug file may belong to another build or be incomplete",
        fields.len(), fields.join(", ")
    )]
    MissingFields {
        /// The interpreter version.
        version: PythonVersion,
        /// Every missing `struct.member.path`.
        fields: Vec<String>,
    },
    /// `_Py_DebugOffsets` (3.13+) disagrees with the DWARF.
    #[error(
        "_Py_DebugOffsets disagrees with DWARF for {field}: {debug_offsets} vs {}; \
         the debug file probably belongs to another build",
        .dwarf.map_or_else(|| "none".to_string(), |v| v.to_string())
    )]
    DebugOffsetsMismatch {
        /// The field, as `struct.member`.
        field: String,
        /// The value in `_Py_DebugOffsets`.
        debug_offsets: u64,
        /// The value resolved from DWARF (`None`: the layout has no such
        /// field for this version).
        dwarf: Option<u64>,
    },
    /// A symbol the caller needs is absent.
    #[error("symbol `{name}` not found in {path}; is this a CPython interpreter built normally?")]
    MissingSymbol {
        /// The symbol.
        name: String,
        /// The file searched.
        path: PathBuf,
    },
    /// Static data of the interpreter is not what CPython builds.
    #[error("unexpected static data in {path}: {what}")]
    BadData {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
}
