//! Callbacks during a recording: a step observer for the tracer
//! (`store::StepObserver`) that keeps the running state by applying each
//! step's ops as it is recorded (`store::apply`, the one definition of the
//! ops), and calls the Python callback with that step's state, rebuilt.
//! The callback returning `False` (or raising) ends the recording there.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBool;
use store::{Op, State, StepObserver};

use crate::recording::state_tuple;

/// What the callback left behind: the exception it raised, if any.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) raised: Option<PyErr>,
}

/// An observer calling `make_state(tuple)` then `callback(state)` for each
/// step; `outcome` receives the callback's exception.
pub(crate) fn observer(
    callback: Py<PyAny>,
    make_state: Py<PyAny>,
    outcome: Arc<Mutex<Outcome>>,
) -> StepObserver {
    let mut state = State::default();
    Box::new(move |ops: &[Op], _time: Option<u64>| {
        if let Err(e) = store::apply(&mut state, ops) {
            log::warn!(target: "hindsight::python", "a step the callback cannot follow: {e}");
            return true;
        }
        Python::attach(|py| {
            let r = state_tuple(py, &state)
                .and_then(|t| make_state.bind(py).call1((t,)))
                .and_then(|s| callback.bind(py).call1((s,)));
            match r {
                // Only `False` itself stops, as in Execorder: a callback
                // that returns nothing goes on.
                Ok(v) => v.cast::<PyBool>().map_or(true, |b| b.is_true()),
                Err(e) => {
                    if let Ok(mut o) = outcome.lock() {
                        o.raised = Some(e);
                    }
                    false
                }
            }
        })
    })
}
