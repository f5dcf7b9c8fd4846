//! A recording opened for reading ([`Reader`]): its header and end record,
//! the state at a step with its values rebuilt ([`crate::rebuild`]), step
//! metadata ([`crate::steps`]) and the queries over steps: `visits`, the
//! exception a program ended with (the omniscient queries: [`crate::queries`]).

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use serde_json::Value;
use store::{EventKind, ProgramEnd, State, Step};
use values::render;

use crate::errors::{open_error, store_error, RecordingError, StepError};
use crate::rebuild::Rebuild;
use crate::steps::{self, Failed};

/// Open the recording at `path` (complete, still being written, or cut
/// short by a crash), with the CLI's checks and messages.
#[pyfunction]
pub(crate) fn open(py: Python<'_>, path: PathBuf) -> PyResult<Reader> {
    if !path.exists() {
        return Err(RecordingError::new_err(format!(
            "{} does not exist; pass the path of a recording made by `hindsight record`",
            path.display()
        )));
    }
    if path.is_dir() {
        return Err(RecordingError::new_err(format!(
            "{} is a directory, not a recording; pass the .hsr file",
            path.display()
        )));
    }
    let reader = py
        .detach(|| store::Reader::open(&path))
        .map_err(|e| open_error(&path, e))?;
    Ok(Reader { reader, path })
}

/// An open recording (the `hindsight.Recording` of the Python API wraps it).
#[pyclass(frozen, module = "hindsight._native")]
pub(crate) struct Reader {
    pub(crate) reader: store::Reader,
    pub(crate) path: PathBuf,
}

#[pymethods]
impl Reader {
    /// The path it was opened from.
    #[getter]
    fn path(&self) -> &Path {
        &self.path
    }

    fn __len__(&self) -> usize {
        self.reader.step_count() as usize
    }

    /// The first step held: 0, or a flight recording's first (`ring=N`).
    #[getter]
    fn first(&self) -> u64 {
        self.reader.first_step()
    }

    /// The header as a dict: program, cwd, pid, interpreter, mode, ...
    fn header<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let h = self.reader.header();
        let d = PyDict::new(py);
        d.set_item("program", h.program.clone())?;
        d.set_item("cwd", &h.cwd)?;
        d.set_item("pid", h.pid)?;
        d.set_item("interpreter", &h.interpreter)?;
        d.set_item("interpreter_path", &h.interpreter_path)?;
        d.set_item("mode", &h.mode)?;
        d.set_item("started_unix_ms", h.started_unix_ms)?;
        d.set_item("recorder", &h.recorder)?;
        d.set_item("complete", self.reader.is_complete())?;
        Ok(d)
    }

    /// The end record as `(how, code, reason, duration_ms)`, `how` one of
    /// "exited", "signaled", "detached", "running"; `None` while the file
    /// has none (being written, or cut short).
    fn end(&self) -> Option<(&'static str, Option<i32>, String, u64)> {
        let e = self.reader.end()?;
        let (how, code) = match e.end {
            ProgramEnd::Exited(c) => ("exited", Some(c)),
            ProgramEnd::Signaled(s) => ("signaled", Some(s)),
            ProgramEnd::Detached => ("detached", None),
            ProgramEnd::StillRunning => ("running", None),
        };
        Some((how, code, e.reason.clone(), e.duration_ms))
    }

    /// Step `n`'s state as the tuple `hindsight.State` is made of.
    fn state<'py>(&self, py: Python<'py>, n: i64) -> PyResult<Bound<'py, PyTuple>> {
        let step = self.check_step(n)?;
        let state = py
            .detach(|| self.reader.state(Step(step)))
            .map_err(|e| store_error(&self.path, e))?;
        state_tuple(py, &state)
    }

    /// The metadata of steps `from..=to` (a list of `StepInfo`).
    fn metas<'py>(&self, py: Python<'py>, from: u64, to: u64) -> PyResult<Bound<'py, PyList>> {
        let to = to.min(self.reader.step_count().saturating_sub(1));
        let from = from.max(self.reader.first_step());
        if from > to || self.reader.step_count() <= self.reader.first_step() {
            return Ok(PyList::empty(py));
        }
        steps::metas(py, &self.reader, &self.path, from, to)
    }

    /// The line step `n` is at.
    fn line(&self, n: i64) -> PyResult<u32> {
        let step = self.check_step(n)?;
        let mut line = 0;
        self.reader
            .scan_steps(Step(step), Step(step), |s| {
                line = s.meta.line;
                Ok::<_, Failed>(false)
            })
            .map_err(|e| e.into_py(&self.path))?;
        Ok(line)
    }

    /// The steps at which `line` of `file` ran.
    fn visits(&self, py: Python<'_>, file: &str, line: u32) -> PyResult<Vec<u64>> {
        py.detach(|| steps::visits(&self.reader, &self.path, file, line))
    }

    /// The step of the exception the program ended with: the last
    /// `exception` step of a module's code after which that code ran no
    /// other line (it propagated out). `None` when there is none.
    fn uncaught_exception(&self) -> PyResult<Option<u64>> {
        let count = self.reader.step_count();
        if count == 0 {
            return Ok(None);
        }
        let mut found: Option<(u64, String)> = None;
        self.reader
            .scan_steps(Step(0), Step(count - 1), |s| {
                let m = &s.meta;
                if m.function == "<module>" {
                    match m.event {
                        EventKind::Exception => found = Some((m.step.0, m.file.to_string())),
                        EventKind::Line if found.as_ref().is_some_and(|f| f.1 == m.file) => {
                            found = None
                        }
                        _ => {}
                    }
                }
                Ok::<_, Failed>(true)
            })
            .map_err(|e| e.into_py(&self.path))?;
        Ok(found.map(|f| f.0))
    }
}

impl Reader {
    /// `n` as a step the recording holds, or the CLI's error.
    pub(crate) fn check_step(&self, n: i64) -> PyResult<u64> {
        let count = self.reader.step_count();
        match u64::try_from(n) {
            Ok(s) if s < count && s >= self.reader.first_step() => Ok(s),
            _ => Err(StepError::new_err(format!(
                "step {n} is out of range: {}",
                self.holds()
            ))),
        }
    }

    /// "FILE holds steps 0 to N", as the CLI says it.
    fn holds(&self) -> String {
        let count = self.reader.step_count();
        let incomplete = match (self.reader.is_complete(), self.reader.damage()) {
            (_, Some(d)) if d.steps_before == count && !self.reader.is_complete() => {
                " (the rest is damaged; `hindsight info` says where)"
            }
            (true, _) => "",
            (false, _) => " (incomplete)",
        };
        let first = self.reader.first_step();
        if count <= first {
            format!("{} holds no steps{incomplete}", self.path.display())
        } else {
            format!(
                "{} holds steps {first} to {}{incomplete}",
                self.path.display(),
                count - 1
            )
        }
    }
}

/// A state as `(step, event, thread, file, function, line, position,
/// stack, locals, globals, value)`, its values rebuilt together (names
/// that share an object share one Python object). `globals` leaves out
/// the names that start and end with `__`, as docs/spec/values.md does.
pub(crate) fn state_tuple<'py>(py: Python<'py>, state: &State) -> PyResult<Bound<'py, PyTuple>> {
    let Some(meta) = &state.meta else {
        return Err(RecordingError::new_err("a state before any step"));
    };
    let mut rb = Rebuild::new(py, state);
    let locals = PyDict::new(py);
    for (name, addr) in &state.locals {
        locals.set_item(name.as_ref(), rb.value(*addr)?)?;
    }
    let globals = PyDict::new(py);
    for (name, addr) in &state.globals {
        if name.starts_with("__") && name.ends_with("__") {
            continue;
        }
        globals.set_item(name.as_ref(), rb.value(*addr)?)?;
    }
    let value = match (meta.event, meta.value) {
        (EventKind::Return, Some(a)) => rb.value(a)?,
        (EventKind::Exception, Some(a)) => {
            let repr = match render::exception_json(state, a).get("repr") {
                Some(Value::String(s)) => s.clone(),
                _ => render::repr(state, a),
            };
            rb.object_with_repr(a, repr)?
        }
        _ => py.None().into_bound(py),
    };
    let stack = PyList::empty(py);
    for f in &state.stack {
        stack.append((f.function.as_ref(), f.file.as_ref(), f.line))?;
    }
    let position = meta
        .position
        .map(|p| (p.line, p.end_line, p.col, p.end_col));
    let items: [Bound<'py, PyAny>; 11] = [
        meta.step.0.into_pyobject(py)?.into_any(),
        meta.event.as_str().into_pyobject(py)?.into_any(),
        meta.thread.into_pyobject(py)?.into_any(),
        meta.file.as_ref().into_pyobject(py)?.into_any(),
        meta.function.as_ref().into_pyobject(py)?.into_any(),
        meta.line.into_pyobject(py)?.into_any(),
        position.into_pyobject(py)?.into_any(),
        stack.into_any(),
        locals.into_any(),
        globals.into_any(),
        value,
    ];
    PyTuple::new(py, items)
}
