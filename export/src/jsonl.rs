//! JSON lines: the state at each step (docs/spec/values.md), one a line,
//! as `hindsight dump` prints them.

use std::io::Write;

use store::{Reader, Step};
use values::render;

use crate::{ExportError, Summary};

/// Write the states of steps `from..=to`, one JSON object a line.
pub fn write(
    reader: &Reader,
    from: u64,
    to: u64,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    let mut summary = Summary::default();
    let mut failed: Option<ExportError> = None;
    reader.for_each_state(Step(from), Step(to), |state| {
        let r = serde_json::to_writer(&mut *out, &render::state_json(state))
            .map_err(ExportError::from)
            .and_then(|()| out.write_all(b"\n").map_err(ExportError::from));
        summary.steps_read += 1;
        summary.entries += 1;
        match r {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}
