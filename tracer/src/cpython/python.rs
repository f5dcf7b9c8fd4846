//! [`Python`]: everything resolved once about one interpreter process (its
//! image, layout, version facts, load bias, and the runtime addresses of the
//! type objects and singletons the decoder compares against).

use std::path::{Path, PathBuf};

use symbols::python::PythonImage;
use symbols::unicode::UnicodePrintable;

use super::version::Facts;
use super::DecodeError;
use crate::addr::RemoteAddr;

/// Runtime addresses of the builtin type objects the decoder recognises.
#[derive(Debug, Clone, Default)]
pub struct TypeAddrs {
    pub none: RemoteAddr,
    pub bool_: RemoteAddr,
    pub int: RemoteAddr,
    pub float: RemoteAddr,
    pub complex: RemoteAddr,
    pub str_: RemoteAddr,
    pub bytes: RemoteAddr,
    pub bytearray: RemoteAddr,
    pub list: RemoteAddr,
    pub tuple: RemoteAddr,
    pub dict: RemoteAddr,
    pub set: RemoteAddr,
    pub frozenset: RemoteAddr,
    pub range: RemoteAddr,
    pub cell: RemoteAddr,
    pub frame: RemoteAddr,
    pub code: RemoteAddr,
    pub object: RemoteAddr,
    pub type_: RemoteAddr,
    pub function: RemoteAddr,
    pub module: RemoteAddr,
}

/// One interpreter process, resolved.
pub struct Python {
    /// The interpreter's version.
    pub version: symbols::PythonVersion,
    /// Struct field offsets, from DWARF.
    pub layout: symbols::Layout,
    /// What this version differs in that DWARF does not say.
    pub facts: Facts,
    /// The file holding the interpreter (libpython or the executable).
    pub image_path: PathBuf,
    /// Where the debug info came from, for messages and `doctor`.
    pub debug_source: String,
    /// Added to a file address of the image to get its runtime address.
    pub load_bias: u64,
    /// The built-in types the decoder recognises by address.
    pub types: TypeAddrs,
    /// `_Py_NoneStruct`.
    pub none: RemoteAddr,
    /// `_Py_TrueStruct`.
    pub true_: RemoteAddr,
    /// `_Py_FalseStruct`.
    pub false_: RemoteAddr,
    /// `_PyRuntime`.
    pub runtime: RemoteAddr,
    /// Bytes of `_PyRuntime` (0 when the symbol table does not say): from
    /// 3.11 on it holds the statically allocated objects (small ints, the
    /// interpreter's own strings), which are never freed.
    pub runtime_size: u64,
    /// The variable `_PySet_Dummy` (holds the address of the set dummy key).
    pub set_dummy_var: Option<RemoteAddr>,
    printable: Option<UnicodePrintable>,
    image: PythonImage,
}

impl std::fmt::Debug for Python {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Python")
            .field("version", &self.version)
            .field("image_path", &self.image_path)
            .field("load_bias", &format_args!("{:#x}", self.load_bias))
            .finish_non_exhaustive()
    }
}

impl Python {
    /// Find and resolve the interpreter of process `pid` (from
    /// /proc/PID/maps and /proc/PID/exe).
    pub fn discover(pid: i32, debug_file: Option<&Path>) -> Result<Python, DecodeError> {
        let maps = symbols::maps::read_maps(pid)?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map_err(|e| DecodeError::NotPython(format!("cannot read /proc/{pid}/exe: {e}")))?;
        let image = match PythonImage::find_in_maps(&maps, &exe, debug_file) {
            Ok(i) => i,
            Err(symbols::SymbolsError::NotPython { what, checked }) => {
                return Err(DecodeError::NotPython(format!(
                    "{what} is not a CPython interpreter (checked: {checked})"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let bias = image
            .elf
            .load_bias(&maps)
            .ok_or_else(|| DecodeError::Inconsistent {
                what: format!(
                    "{} is not mapped in process {pid} where expected",
                    image.path.display()
                ),
            })?;
        Python::from_image(image, bias)
    }

    /// Resolve an opened interpreter image loaded at `load_bias`.
    pub fn from_image(image: PythonImage, load_bias: u64) -> Result<Python, DecodeError> {
        let version = image.version;
        let facts = Facts::for_version(version).ok_or_else(|| DecodeError::Unsupported {
            version: version.to_string(),
        })?;
        let layout = image.layout()?;
        let sym = |name: &str| -> Result<RemoteAddr, DecodeError> {
            image
                .symbol(name)
                .map(|s| RemoteAddr(s.addr.runtime(load_bias)))
                .ok_or_else(|| DecodeError::MissingSymbol {
                    name: name.to_string(),
                    path: image.path.clone(),
                })
        };
        let types = TypeAddrs {
            none: sym("_PyNone_Type")?,
            bool_: sym("PyBool_Type")?,
            int: sym("PyLong_Type")?,
            float: sym("PyFloat_Type")?,
            complex: sym("PyComplex_Type")?,
            str_: sym("PyUnicode_Type")?,
            bytes: sym("PyBytes_Type")?,
            bytearray: sym("PyByteArray_Type")?,
            list: sym("PyList_Type")?,
            tuple: sym("PyTuple_Type")?,
            dict: sym("PyDict_Type")?,
            set: sym("PySet_Type")?,
            frozenset: sym("PyFrozenSet_Type")?,
            range: sym("PyRange_Type")?,
            cell: sym("PyCell_Type")?,
            frame: sym("PyFrame_Type")?,
            code: sym("PyCode_Type")?,
            object: sym("PyBaseObject_Type")?,
            type_: sym("PyType_Type")?,
            function: sym("PyFunction_Type")?,
            module: sym("PyModule_Type")?,
        };
        let printable = match UnicodePrintable::load(&image) {
            Ok(p) => Some(p),
            Err(e) => {
                log::warn!(target: "tracer::cpython", "no unicode table, non-ASCII is escaped: {e}");
                None
            }
        };
        Ok(Python {
            version,
            image_path: image.path.clone(),
            debug_source: match &image.debug_source {
                symbols::DebugSource::Embedded => format!("embedded in {}", image.path.display()),
                symbols::DebugSource::BuildId(p) => format!("build-id debug file {}", p.display()),
                symbols::DebugSource::Given(p) => format!("given debug file {}", p.display()),
            },
            load_bias,
            none: sym("_Py_NoneStruct")?,
            true_: sym("_Py_TrueStruct")?,
            false_: sym("_Py_FalseStruct")?,
            runtime: sym("_PyRuntime")?,
            runtime_size: image.symbol("_PyRuntime").map_or(0, |s| s.size),
            set_dummy_var: sym("_PySet_Dummy").ok(),
            layout,
            facts,
            types,
            printable,
            image,
        })
    }

    /// Runtime address of a symbol of the interpreter image (e.g.
    /// "none_bool", "Py_RunMain", "_PyRuntime").
    pub fn symbol_addr(&self, name: &str) -> Option<RemoteAddr> {
        self.image
            .symbol(name)
            .map(|s| RemoteAddr(s.addr.runtime(self.load_bias)))
    }

    /// Whether `addr` lies in static storage of the interpreter (inside
    /// `_PyRuntime`): an immutable object there is the same object, with
    /// the same value, for the whole run.
    pub fn is_static(&self, addr: RemoteAddr) -> bool {
        addr.0 >= self.runtime.0 && addr.0 - self.runtime.0 < self.runtime_size
    }

    /// `Py_UNICODE_ISPRINTABLE(c)` as this interpreter answers it.
    pub fn is_printable(&self, c: u32) -> bool {
        match &self.printable {
            Some(p) => p.is_printable(c),
            // Without the table, escape every non-ASCII code point.
            None => false,
        }
    }
}
