//! `hindsight steps`: a line per step, read from the step metas alone.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use crate::args::RangeArgs;
use crate::out;
use crate::recording::{meta_json, Recording, Threads};

pub fn steps(file: &Path, range: RangeArgs, json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    // `--to` past the end means "to the end": the listing shows where it
    // stopped. (`--from` past the end is still an error: nothing to list.)
    let to = range.to.map(|t| t.min(rec.count().saturating_sub(1)));
    let Some((from, to)) = rec.range(range.from, to)? else {
        return Ok(0);
    };
    let threads = if json {
        Threads::Hidden
    } else {
        Threads::of(&rec)?
    };
    let mut o = out::stdout();
    rec.for_each_meta(from, to, |m| {
        if json {
            serde_json::to_writer(&mut o, &meta_json(m))?;
            o.write_all(b"\n")?;
        } else {
            out::line(&mut o, &threads.line(m))?;
        }
        Ok(())
    })?;
    o.flush()?;
    Ok(0)
}
