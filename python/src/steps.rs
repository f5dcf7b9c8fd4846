//! Step metadata without rebuilding states: [`StepInfo`] objects made
//! straight from the reader's scan of the deltas (`Reader::scan_steps`),
//! sharing one Python string per file and function name, so a million
//! steps come back in well under a second; and `visits`, the steps at which
//! a source line ran, matched as the CLI matches `PATH:LINE`.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use store::{EventKind, MetaView, Reader, Step};

use crate::errors::{store_error, QueryError};

/// One step's metadata: what ran, where, in which thread.
#[pyclass(frozen, module = "hindsight", name = "StepInfo")]
pub(crate) struct StepInfo {
    /// The step number, from 0.
    #[pyo3(get)]
    step: u64,
    /// `"call"`, `"line"`, `"return"` or `"exception"`.
    #[pyo3(get)]
    event: Py<PyString>,
    /// The OS thread id that ran it.
    #[pyo3(get)]
    thread: u32,
    /// The source file, as the interpreter names it.
    #[pyo3(get)]
    file: Py<PyString>,
    /// The function's qualified name (3.11+) or name.
    #[pyo3(get)]
    function: Py<PyString>,
    /// The line.
    #[pyo3(get)]
    line: u32,
    /// `(line, end_line, col, end_col)` of the instruction, or `None`.
    #[pyo3(get)]
    position: Option<(u32, u32, u32, u32)>,
}

#[pymethods]
impl StepInfo {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "StepInfo(step={}, event={:?}, file={:?}, line={}, function={:?})",
            self.step,
            self.event.bind(py).to_string(),
            self.file.bind(py).to_string(),
            self.line,
            self.function.bind(py).to_string()
        )
    }
}

/// Python strings for the names steps repeat (consecutive steps mostly
/// share their file and function).
struct Names {
    file: (String, Option<Py<PyString>>),
    function: (String, Option<Py<PyString>>),
    events: [Py<PyString>; 5],
}

impl Names {
    fn new(py: Python<'_>) -> Names {
        let e = |s: &str| PyString::intern(py, s).unbind();
        Names {
            file: (String::new(), None),
            function: (String::new(), None),
            events: [
                e("call"),
                e("line"),
                e("return"),
                e("exception"),
                e("opcode"),
            ],
        }
    }

    fn get(py: Python<'_>, slot: &mut (String, Option<Py<PyString>>), s: &str) -> Py<PyString> {
        match &slot.1 {
            Some(p) if slot.0 == s => p.clone_ref(py),
            _ => {
                let p = PyString::new(py, s).unbind();
                *slot = (s.to_string(), Some(p.clone_ref(py)));
                p
            }
        }
    }

    fn info(&mut self, py: Python<'_>, m: &MetaView<'_>) -> StepInfo {
        let event = match m.event {
            EventKind::Call => 0,
            EventKind::Line => 1,
            EventKind::Return => 2,
            EventKind::Exception => 3,
            EventKind::Opcode => 4,
        };
        StepInfo {
            step: m.step.0,
            event: self.events[event].clone_ref(py),
            thread: m.thread,
            file: Names::get(py, &mut self.file, m.file),
            function: Names::get(py, &mut self.function, m.function),
            line: m.line,
            position: m.position.map(|p| (p.line, p.end_line, p.col, p.end_col)),
        }
    }
}

/// The metadata of steps `from..=to`, as a list of [`StepInfo`].
pub(crate) fn metas<'py>(
    py: Python<'py>,
    reader: &Reader,
    path: &Path,
    from: u64,
    to: u64,
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    let mut names = Names::new(py);
    reader
        .scan_steps(Step(from), Step(to), |s| {
            let info = Bound::new(py, names.info(py, &s.meta)).map_err(Failed::Py)?;
            list.append(info).map_err(Failed::Py)?;
            Ok::<_, Failed>(true)
        })
        .map_err(|e| e.into_py(path))?;
    Ok(list)
}

/// The steps at which line `line` of the file matching `wanted` ran
/// (`line` events), in order.
pub(crate) fn visits(reader: &Reader, path: &Path, wanted: &str, line: u32) -> PyResult<Vec<u64>> {
    let count = reader.step_count();
    let mut out = Vec::new();
    let mut any_file = false;
    if count > 0 {
        let mut last: (String, bool) = (String::new(), false);
        reader
            .scan_steps(Step(0), Step(count - 1), |s| {
                let m = &s.meta;
                if m.file != last.0 {
                    last = (m.file.to_string(), path_matches(m.file, wanted));
                    any_file |= last.1;
                }
                if last.1 && m.event == EventKind::Line && m.line == line {
                    out.push(m.step.0);
                }
                Ok::<_, Failed>(true)
            })
            .map_err(|e| e.into_py(path))?;
    }
    if !any_file {
        return Err(QueryError::new_err(format!(
            "no recorded step ran in a file matching `{wanted}`; give the path as recorded, \
             or its last components"
        )));
    }
    Ok(out)
}

/// Whether a recorded file is the one a user named: the same absolute
/// path, or a relative path that is its last components (as `hindsight
/// visits` matches `PATH:LINE`).
fn path_matches(recorded: &str, wanted: &str) -> bool {
    if wanted.starts_with('/') {
        return recorded == wanted;
    }
    let wanted = wanted.strip_prefix("./").unwrap_or(wanted);
    recorded == wanted
        || (recorded.len() > wanted.len()
            && recorded.ends_with(wanted)
            && recorded.as_bytes()[recorded.len() - wanted.len() - 1] == b'/')
}

/// A scan's failure: the store's, or Python's.
pub(crate) enum Failed {
    Store(store::StoreError),
    Py(PyErr),
}

impl From<store::StoreError> for Failed {
    fn from(e: store::StoreError) -> Failed {
        Failed::Store(e)
    }
}

impl Failed {
    /// As a Python exception, the store's with the recording's path.
    pub(crate) fn into_py(self, path: &Path) -> PyErr {
        match self {
            Failed::Store(e) => store_error(path, e),
            Failed::Py(e) => e,
        }
    }
}
