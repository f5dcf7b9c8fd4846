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
use store::{MetaView, OpView, Reader, Step};

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
    let mut o = out::stdout();
    let bound_ever = each_change(&rec.reader, name, |m, value, past_cut| {
        let note = if past_cut {
            "  (changed past the items shown)"
        } else {
            ""
        };
        writeln!(
            o,
            "{} {}:{} {} {name} = {value}{note}",
            m.step.0, m.file, m.line, m.function
        )?;
        Ok(true)
    })
    .map_err(|e| rec.with_path(e))?;
    o.flush()?;
    if !bound_ever {
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

/// Call `f` with each step at which `name` was bound or changed: its meta,
/// the value's text form, and whether it changed past the items shown; `f`
/// returns `false` to stop. Returns whether any step bound `name`. (`serve`
/// reads histories through this too.)
pub fn each_change(
    reader: &Reader,
    name: &str,
    mut f: impl FnMut(&MetaView<'_>, String, bool) -> Result<bool>,
) -> Result<bool> {
    let count = reader.step_count();
    let mut tracker = Tracker::new(name);
    if count == 0 {
        return Ok(false);
    }
    reader.scan_steps(Step(0), Step(count - 1), |s| match tracker.step(s)? {
        Some(c) => {
            let value = values::text::value_text(&tracker.watch.state, c.addr);
            f(&s.meta, value, c.past_cut)
        }
        None => Ok(true),
    })?;
    Ok(tracker.bound_ever)
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
