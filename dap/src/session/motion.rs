//! The motions: where `continue`, `next`, `stepIn`, `stepOut`, `stepBack`
//! and `reverseContinue` go from the current step, and the first stop
//! after `configurationDone`.
//!
//! - `next`: the next step of the same thread at the same depth or
//!   shallower (over calls; out of the frame at its return);
//! - `stepIn`: the next step of the same thread;
//! - `stepOut`: the first step of the same thread after the current frame
//!   returned (shallower than it);
//! - `continue`: the next line step at a breakpoint whose condition holds;
//! - `stepBack`: the previous step of the same thread at the same depth or
//!   shallower;
//! - `reverseContinue`: the previous breakpoint hit.
//!
//! Forward with nothing to reach, the session stops at the last step
//! (`stopped`, described as the end of the recording); a forward motion
//! from the last step ends the session (`exited` with the program's
//! status, then `terminated`). Backward with nothing to reach, it stops at
//! step 0 (reason `entry`).

use serde_json::{json, Value};
use store::{EventKind, Reader, Step, StoreError};

use super::{exit_code, Answer, Server};
use crate::breakpoints::Breakpoints;
use crate::inspect::Stop;
use crate::travel::{self, Seen};

/// Where a motion stops, and how the `stopped` event says it.
struct Target {
    step: u64,
    reason: &'static str,
    description: Option<&'static str>,
}

impl Server<'_> {
    /// After `configurationDone` (and `launch`): stop at step 0 when the
    /// client asked to stop on entry, else run to the first breakpoint.
    pub(crate) fn first_stop(&mut self) -> Answer {
        let stop_on_entry = self.stop_on_entry;
        let Some(l) = self.loaded.as_mut() else {
            // configurationDone before launch: the stop comes with launch.
            return Ok((json!({}), Vec::new()));
        };
        if l.stop.is_some() {
            return Ok((json!({}), Vec::new()));
        }
        // A flight recording starts at its ring's first step.
        let first = l.reader.first_step();
        let target = if stop_on_entry {
            Target {
                step: first,
                reason: "entry",
                description: None,
            }
        } else {
            let pos = first;
            let hit = hit_at(&l.reader, &l.breakpoints, pos).map_err(|e| e.to_string())?;
            if hit {
                Target {
                    step: first,
                    reason: "breakpoint",
                    description: None,
                }
            } else {
                let depth = l
                    .reader
                    .state(Step(first))
                    .map_err(|e| e.to_string())?
                    .stack
                    .len();
                to_breakpoint(&l.reader, &l.breakpoints, pos, depth)?
            }
        };
        let event = self.stop_at(target)?;
        Ok((json!({}), vec![event]))
    }

    /// One motion request.
    pub(crate) fn motion(&mut self, command: &str) -> Answer {
        let l = self.loaded()?;
        let Some(stop) = &l.stop else {
            return Err("the session has not stopped yet: send configurationDone".into());
        };
        let (pos, thread, depth) = (stop.step, stop.thread(), stop.state.stack.len());
        let last = l.reader.step_count() - 1;
        let (reader, bps) = (&l.reader, &l.breakpoints);
        let err = |e: StoreError| e.to_string();
        let forward = matches!(command, "continue" | "next" | "stepIn" | "stepOut");
        if forward && pos == last {
            l.ended = true;
            let code = exit_code(reader);
            return Ok((
                json!({"allThreadsContinued": true}),
                vec![
                    ("exited", json!({"exitCode": code})),
                    ("terminated", json!({})),
                ],
            ));
        }
        let same = move |s: &Seen<'_>| s.thread == thread;
        let target = match command {
            "continue" => to_breakpoint(reader, bps, pos, depth)?,
            "next" | "stepIn" | "stepOut" => {
                let found = match command {
                    "next" => {
                        travel::forward(reader, pos, depth, |s| same(s) && s.depth <= depth, ok)
                    }
                    "stepIn" => travel::forward(reader, pos, depth, same, ok),
                    _ => travel::forward(reader, pos, depth, |s| same(s) && s.depth < depth, ok),
                }
                .map_err(err)?;
                found.map_or_else(|| end_of(last), |step| step_to(step, "step"))
            }
            "stepBack" => travel::backward(reader, pos, |s| same(s) && s.depth <= depth, ok)
                .map_err(err)?
                .map_or_else(entry, |step| step_to(step, "step")),
            _ => travel::backward(
                reader,
                pos,
                |s| at_breakpoint(bps, s),
                |n| hit_at(reader, bps, n),
            )
            .map_err(err)?
            .map_or_else(entry, |step| step_to(step, "breakpoint")),
        };
        let event = self.stop_at(target)?;
        Ok((json!({"allThreadsContinued": true}), vec![event]))
    }

    /// Stop at `target`: the new stop, and its `stopped` event.
    fn stop_at(&mut self, target: Target) -> Result<(&'static str, Value), String> {
        let l = self.loaded()?;
        let stop = Stop::at(&l.reader, target.step).map_err(|e| e.to_string())?;
        let mut body = json!({"reason": target.reason, "threadId": stop.thread(),
            "allThreadsStopped": true});
        // The step number, for the user (VS Code shows it as the reason
        // of the pause) and for scripts.
        body["description"] = json!(match target.description {
            Some(d) => format!("step {}, {d}", target.step),
            None => format!("step {}", target.step),
        });
        if target.reason == "breakpoint" {
            if let Some(m) = &stop.state.meta {
                let ids: Vec<u64> = l
                    .breakpoints
                    .at(&m.file, m.line)
                    .into_iter()
                    .flatten()
                    .filter(|b| b.condition.as_ref().is_none_or(|c| c.holds(&stop.state)))
                    .map(|b| b.id)
                    .collect();
                body["hitBreakpointIds"] = json!(ids);
            }
        }
        l.stop = Some(stop);
        Ok(("stopped", body))
    }
}

/// Accept every step a predicate picked.
fn ok(_: u64) -> Result<bool, StoreError> {
    Ok(true)
}

fn step_to(step: u64, reason: &'static str) -> Target {
    Target {
        step,
        reason,
        description: None,
    }
}

/// The last step, when a forward motion reaches nothing.
fn end_of(last: u64) -> Target {
    Target {
        step: last,
        reason: "step",
        description: Some("the end of the recording"),
    }
}

/// Step 0, when a backward motion reaches nothing.
fn entry() -> Target {
    step_to(0, "entry")
}

/// The next breakpoint hit after `pos`, else the last step.
fn to_breakpoint(
    reader: &Reader,
    bps: &Breakpoints,
    pos: u64,
    depth: usize,
) -> Result<Target, String> {
    if !bps.any() {
        return Ok(end_of(reader.step_count() - 1));
    }
    let found = travel::forward(
        reader,
        pos,
        depth,
        |s| at_breakpoint(bps, s),
        |n| hit_at(reader, bps, n),
    )
    .map_err(|e| e.to_string())?;
    Ok(found.map_or_else(
        || end_of(reader.step_count() - 1),
        |s| step_to(s, "breakpoint"),
    ))
}

/// A line step at a line with a breakpoint (its condition not read yet).
fn at_breakpoint(bps: &Breakpoints, s: &Seen<'_>) -> bool {
    s.event == EventKind::Line && bps.at(s.file, s.line).is_some()
}

/// Whether step `n` hits a breakpoint: a line step at one whose condition
/// holds in the step's state.
fn hit_at(reader: &Reader, bps: &Breakpoints, n: u64) -> Result<bool, StoreError> {
    let meta = reader.metas(Step(n), Step(n))?.remove(0);
    if meta.event != EventKind::Line {
        return Ok(false);
    }
    let Some(list) = bps.at(&meta.file, meta.line) else {
        return Ok(false);
    };
    if list.iter().any(|b| b.condition.is_none()) {
        return Ok(true);
    }
    let state = reader.state(Step(n))?;
    Ok(list
        .iter()
        .any(|b| b.condition.as_ref().is_some_and(|c| c.holds(&state))))
}
