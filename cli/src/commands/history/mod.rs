//! `hindsight history FILE NAME`: the steps at which NAME got bound or its
//! value changed, with the value. Read straight from each step's ops
//! (`track.rs` follows the stack and NAME's bindings, `watch.rs` the heap
//! and the watched values): no state is rebuilt, so the cost is that of
//! reading the ops once.

mod track;
mod watch;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use store::{OpView, Step};

use crate::out;
use crate::recording::Recording;
use crate::suggest;
use track::Tracker;

/// Distinct names gathered for a "not bound anywhere" message, at most.
const MAX_NAMES: usize = 100_000;

pub fn history(file: &Path, name: &str) -> Result<i32> {
    if name.trim().is_empty() {
        bail!("give the name of a variable: `hindsight history FILE NAME`");
    }
    let rec = Recording::open(file)?;
    let count = rec.count();
    if count == 0 {
        bail!("no step binds `{name}`: {}", rec.holds());
    }
    let mut tracker = Tracker::new(name);
    let mut o = out::stdout();
    rec.reader
        .scan_steps(Step(0), Step(count - 1), |s| {
            if let Some(c) = tracker.step(s)? {
                let m = &s.meta;
                let value = values::text::value_text(&tracker.watch.state, c.addr);
                let note = if c.past_cut {
                    "  (changed past the items shown)"
                } else {
                    ""
                };
                writeln!(
                    o,
                    "{} {}:{} {} {name} = {value}{note}",
                    m.step.0, m.file, m.line, m.function
                )?;
            }
            Ok::<_, anyhow::Error>(true)
        })
        .map_err(|e| rec.with_path(e))?;
    o.flush()?;
    if !tracker.bound_ever {
        let mut names = bound_names(&rec, count)?;
        // `__name__` and its kind are bound in every module: noise unless asked for.
        if !name.starts_with("__") {
            names.retain(|n| !(n.starts_with("__") && n.ends_with("__")));
        }
        let close = suggest::closest(name, names.iter(), |s: &String| s.as_str());
        let close: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
        if close.is_empty() {
            bail!(
                "no step of {} binds `{name}` (it binds no names at all)",
                file.display()
            );
        }
        bail!(
            "no step of {} binds `{name}`; the names it binds closest to it: {}",
            file.display(),
            close.join(", ")
        );
    }
    Ok(0)
}

/// Every name some step binds (up to [`MAX_NAMES`]), sorted.
fn bound_names(rec: &Recording, count: u64) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    rec.reader
        .scan_steps(Step(0), Step(count - 1), |s| {
            for op in s.ops() {
                if let OpView::Bind { name, .. } = op? {
                    if names.len() < MAX_NAMES && !names.contains(name) {
                        names.insert(name.to_string());
                    }
                }
            }
            Ok::<_, anyhow::Error>(true)
        })
        .map_err(|e| rec.with_path(e))?;
    Ok(names)
}

#[cfg(test)]
mod tests;
