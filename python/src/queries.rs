//! The omniscient queries from Python: `history`, `last_write`, `find`
//! and `diff`, answered by the `query` crate exactly as the CLI answers
//! them (docs/spec/cli.md), with the values rebuilt as Python objects
//! ([`crate::rebuild`]). python/hindsight/ wraps the tuples made here in
//! named tuples.

use std::path::Path;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PyString, PyTuple};
use query::diff::{BindingChange, ObjectChange, Part};
use query::{Expr, Filters, QueryError as Query, Value};
use store::{ObjAddr, StoreError};

use crate::errors::{store_error, QueryError};
use crate::rebuild::Rebuild;
use crate::recording::Reader;

/// A query's failure: the query's, or Python's (rebuilding a value).
enum Failed {
    Query(Query),
    Py(PyErr),
}

impl From<Query> for Failed {
    fn from(e: Query) -> Failed {
        Failed::Query(e)
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed::Query(Query::Store(e))
    }
}

impl From<PyErr> for Failed {
    fn from(e: PyErr) -> Failed {
        Failed::Py(e)
    }
}

impl Failed {
    /// As a Python exception: the store's with the recording's path, the
    /// query's (a name no step binds, an expression that does not parse or
    /// has no value) as `QueryError`, in the CLI's words.
    fn into_py(self, path: &Path) -> PyErr {
        match self {
            Failed::Py(e) => e,
            Failed::Query(Query::Store(e)) => store_error(path, e),
            Failed::Query(Query::NeverBound { name }) => {
                QueryError::new_err(format!("no step of {} binds `{name}`", path.display()))
            }
            Failed::Query(e) => QueryError::new_err(e.to_string()),
        }
    }
}

/// The expression, or a `QueryError` saying where it stops being one.
fn parse(src: &str) -> PyResult<Expr> {
    Expr::parse(src).map_err(|e| QueryError::new_err(Query::parse(src.trim(), e).to_string()))
}

/// A value of an expression as a Python object: a recorded object rebuilt
/// (by `rb`, so identity is kept within it), a computed one as itself.
fn value<'py>(
    py: Python<'py>,
    rb: &mut Rebuild<'_, 'py>,
    v: &Value,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Obj(a) => rb.value(*a)?,
        Value::None => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Int(i) => i.into_pyobject(py)?.into_any(),
        Value::BigInt(d) => py.get_type::<PyInt>().call1((d.as_str(),))?,
        Value::Float(f) => f.into_pyobject(py)?.into_any(),
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
    })
}

/// `[(step, value), ...]`: the steps at which `expr`'s value changed
/// (`hindsight history FILE EXPR [--function F] [--thread T]`).
#[pyfunction]
#[pyo3(signature = (reader, expr, function=None, thread=None))]
pub(crate) fn history<'py>(
    py: Python<'py>,
    reader: &Reader,
    expr: &str,
    function: Option<String>,
    thread: Option<u32>,
) -> PyResult<Bound<'py, PyList>> {
    let expr = parse(expr)?;
    let out = PyList::empty(py);
    let filters = Filters { function, thread };
    query::history(&reader.reader, &expr, &filters, |m, c, state| {
        let v = value(py, &mut Rebuild::new(py, state), &c.value)?;
        out.append((m.step.0, v))?;
        Ok::<_, Failed>(true)
    })
    .map_err(|e| e.into_py(&reader.path))?;
    Ok(out)
}

/// `(writer, shown_from, value, before_step, before)` of `hindsight
/// last-write FILE STEP EXPR`: the step that wrote the value `expr` has
/// at `step` (`None`: no recorded step), the first step of the run that
/// shows it, the value, and the value before the write (`before_step`
/// `None`: it had none).
#[pyfunction]
pub(crate) fn last_write<'py>(
    py: Python<'py>,
    reader: &Reader,
    step: i64,
    expr: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    let step = reader.check_step(step)?;
    let expr = parse(expr)?;
    let lw = py
        .detach(|| query::last_write(&reader.reader, step, &expr))
        .map_err(|e| Failed::from(e).into_py(&reader.path))?;
    let now = value(py, &mut Rebuild::new(py, &lw.state), &lw.value)?;
    let (before_step, before) = match &lw.before {
        Some((s, v, st)) => (Some(*s), value(py, &mut Rebuild::new(py, st), v)?),
        None => (None, py.None().into_bound(py)),
    };
    let items: [Bound<'py, PyAny>; 5] = [
        lw.writer.map(|m| m.step.0).into_pyobject(py)?.into_any(),
        lw.shown_from.into_pyobject(py)?.into_any(),
        now,
        before_step.into_pyobject(py)?.into_any(),
        before,
    ];
    PyTuple::new(py, items)
}

/// The steps from `first` to `last` inclusive at which `condition` holds,
/// in order; the first only unless `all` (`hindsight find`).
#[pyfunction]
pub(crate) fn find(
    py: Python<'_>,
    reader: &Reader,
    condition: &str,
    first: u64,
    last: u64,
    all: bool,
) -> PyResult<Vec<u64>> {
    let cond = parse(condition)?;
    let count = reader.reader.step_count();
    if count == 0 || first > last || first >= count {
        return Ok(Vec::new());
    }
    let last = last.min(count - 1);
    let mut steps = Vec::new();
    py.detach(|| {
        query::find(&reader.reader, &cond, first, last, |m, _| {
            steps.push(m.step.0);
            Ok::<_, Query>(all)
        })
    })
    .map_err(|e| Failed::from(e).into_py(&reader.path))?;
    Ok(steps)
}

/// What changed from step `a` to step `b` (`hindsight diff FILE A B`):
/// `(locals, globals, objects)`. `locals` (`None` unless both steps run in
/// the same frame) and `globals` (`None` unless in the same module) are
/// lists of `(name, before, after)`; `objects` a list of `(id, path,
/// type, part, before, after)`, `part` one of `("item", i)`, `("key",
/// repr)`, `("attr", name)`, `("element", None)`, `("replaced", None)`.
/// A side that is absent is `(False, None)`, else `(True, value)`.
#[pyfunction]
pub(crate) fn diff<'py>(
    py: Python<'py>,
    reader: &Reader,
    a: i64,
    b: i64,
) -> PyResult<Bound<'py, PyTuple>> {
    let (a, b) = (reader.check_step(a)?, reader.check_step(b)?);
    let d = py
        .detach(|| query::diff(&reader.reader, a, b))
        .map_err(|e| Failed::from(e).into_py(&reader.path))?;
    let mut sides = Sides {
        py,
        a: Rebuild::new(py, &d.a),
        b: Rebuild::new(py, &d.b),
    };
    let mut scope = |which: &str, compared: bool| -> PyResult<Bound<'py, PyAny>> {
        if !compared {
            return Ok(py.None().into_bound(py));
        }
        let list = PyList::empty(py);
        for c in d.bindings.iter().filter(|c| c.scope == which) {
            list.append(sides.binding(c)?)?;
        }
        Ok(list.into_any())
    };
    let locals = scope("locals", d.same_frame)?;
    let globals = scope("globals", d.same_module)?;
    let objects = PyList::empty(py);
    for c in &d.objects {
        objects.append(sides.object(c)?)?;
    }
    PyTuple::new(py, [locals, globals, objects.into_any()])
}

/// The two states of a diff, each with its own rebuild.
struct Sides<'s, 'py> {
    py: Python<'py>,
    a: Rebuild<'s, 'py>,
    b: Rebuild<'s, 'py>,
}

impl<'py> Sides<'_, 'py> {
    /// `(present, value)` of one side.
    fn side(&mut self, before: bool, v: Option<ObjAddr>) -> PyResult<Bound<'py, PyTuple>> {
        let py = self.py;
        let rb = if before { &mut self.a } else { &mut self.b };
        match v {
            Some(a) => (true, rb.value(a)?).into_pyobject(py),
            None => (false, py.None()).into_pyobject(py),
        }
    }

    fn binding(&mut self, c: &BindingChange) -> PyResult<Bound<'py, PyTuple>> {
        let before = self.side(true, c.before)?;
        let after = self.side(false, c.after)?;
        (&*c.name, before, after).into_pyobject(self.py)
    }

    fn object(&mut self, c: &ObjectChange) -> PyResult<Bound<'py, PyTuple>> {
        let py = self.py;
        let part = match &c.part {
            Part::Item(i) => ("item", i.into_pyobject(py)?.into_any()),
            Part::Key(k) => ("key", PyString::new(py, k).into_any()),
            Part::Attr(a) => ("attr", PyString::new(py, a).into_any()),
            Part::Element => ("element", py.None().into_bound(py)),
            Part::Replaced => ("replaced", py.None().into_bound(py)),
        };
        let before = self.side(true, c.before)?;
        let after = self.side(false, c.after)?;
        (
            c.addr.0,
            c.path.as_str(),
            &*c.type_name,
            part,
            before,
            after,
        )
            .into_pyobject(py)
    }
}
