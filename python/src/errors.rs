//! The Python exceptions hindsight raises (defined in
//! `hindsight/_errors.py`, where they are documented) and the messages
//! they carry: the CLI's own words (cli/src/recording.rs), so a script
//! and a shell user read the same thing.

use std::path::Path;

use pyo3::prelude::*;
use store::StoreError;

pyo3::import_exception!(hindsight._errors, RecordingError);
pyo3::import_exception!(hindsight._errors, StepError);
pyo3::import_exception!(hindsight._errors, QueryError);
pyo3::import_exception!(hindsight._errors, RecordError);

/// A recording that cannot be opened, in the CLI's words.
pub(crate) fn open_error(path: &Path, e: StoreError) -> PyErr {
    match e {
        StoreError::Corrupt { .. } => RecordingError::new_err(format!(
            "{}: {e}; no command can read this file (a recording cut short by a crash or a \
             kill stays readable; this one is damaged, or cut inside its header): record \
             the program again",
            path.display()
        )),
        e => store_error(path, e),
    }
}

/// A failure reading a recording that opened, with its path in front
/// unless the message names it already (as the CLI says it).
pub(crate) fn store_error(path: &Path, e: StoreError) -> PyErr {
    let name = path.display().to_string();
    if let StoreError::Corrupt { .. } = e {
        return RecordingError::new_err(format!(
            "{name}: {e}; `hindsight info {name}` still reads what the file holds, and the \
             steps before the damage can still be read with `hindsight state`"
        ));
    }
    let text = e.to_string();
    if text.contains(&name) {
        RecordingError::new_err(text)
    } else {
        RecordingError::new_err(format!("{name}: {text}"))
    }
}
