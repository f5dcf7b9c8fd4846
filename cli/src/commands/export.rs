//! `hindsight export FILE --format F [-o OUT] [--from A --to B]`: the
//! recording in another tool's format (the `export` crate writes it).

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::args::{ExportFormatArg, RangeArgs};
use crate::out;
use crate::recording::{store_error, Recording};

pub fn export(
    file: &Path,
    format: ExportFormatArg,
    output: Option<&Path>,
    range: RangeArgs,
) -> Result<i32> {
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(range.from, range.to)? else {
        bail!("{}; there is nothing to export", rec.holds());
    };
    let format = match format {
        ExportFormatArg::Pythontutor => export::Format::PythonTutor,
        ExportFormatArg::Chrome => export::Format::Chrome,
        ExportFormatArg::Jsonl => export::Format::Jsonl,
    };
    let result = match output {
        None => {
            let mut o = out::stdout();
            export::export(&rec.reader, format, from, to, &mut o)
                .and_then(|s| o.flush().map(|()| s).map_err(Into::into))
        }
        Some(path) => {
            if same_file(path, file) {
                bail!(
                    "{} is the recording itself; give -o another file",
                    path.display()
                );
            }
            let f = std::fs::File::create(path)
                .map_err(|e| anyhow!("cannot create {}: {e}", path.display()))?;
            let mut o = BufWriter::with_capacity(64 * 1024, f);
            export::export(&rec.reader, format, from, to, &mut o)
                .and_then(|s| o.flush().map(|()| s).map_err(Into::into))
        }
    };
    match result {
        Ok(s) => {
            log::info!("exported {} steps as {} entries", s.steps_read, s.entries);
            Ok(0)
        }
        Err(export::ExportError::Store(e)) => Err(store_error(file, e)),
        Err(e) => Err(e.into()),
    }
}

/// Whether `a` names the file `b` is (so the export would overwrite the recording).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
