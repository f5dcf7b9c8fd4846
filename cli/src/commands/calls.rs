//! `hindsight calls`: the shallow call profile of one function (each call
//! of it, its time, above or below a threshold, and the calls made directly
//! inside it summed by callee, longest first), from the steps' times.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::out;
use crate::recording::Recording;
use crate::suggest;

pub fn calls(file: &Path, function: &str, threshold: Option<f64>, json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    if rec.count() > 0 && !rec.reader.has_times() {
        bail!(
            "{} keeps no step times (written by an older hindsight, store format {}): record the program again to profile it",
            file.display(),
            rec.reader.header().format_version
        );
    }
    let found = query::calls(&rec.reader, function).map_err(|e| rec.with_path(e.into()))?;
    if found.reports.is_empty() {
        let close = suggest::closest(function, found.called.iter(), |s: &String| s.as_str());
        let hint = if close.is_empty() {
            "no function call was recorded".to_string()
        } else {
            let names: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
            format!("functions called: {}", names.join(", "))
        };
        bail!(
            "no call of `{function}` in {} ({hint}); name the function as `hindsight steps` does",
            file.display()
        );
    }
    let mut o = out::stdout();
    for r in &found.reports {
        if json {
            serde_json::to_writer(&mut o, &report_json(r, function, threshold))?;
            o.write_all(b"\n")?;
        } else {
            o.write_all(report_text(r, function, threshold).as_bytes())?;
        }
    }
    o.flush()?;
    Ok(0)
}

/// `record --profile NAME [--threshold S]` (and `attach`): an observer of
/// the steps as they are recorded that prints, on stderr, the report of
/// each call of NAME as it ends (only those above the threshold, when one
/// is given), each line starting `hindsight: profile: `.
pub fn live(function: &str, threshold: Option<f64>) -> store::StepObserver {
    let mut p = query::Profiler::live(function);
    let name = function.to_string();
    let mut last = 0;
    Box::new(move |ops: &[store::Op], time: Option<u64>| {
        let Some(store::Op::Step(m)) = ops.first() else {
            return true;
        };
        let time = time.unwrap_or(last);
        last = time;
        let done = p.step(&query::StepEvent {
            step: m.step.0,
            thread: m.thread,
            event: m.event,
            function: &m.function,
            file: &m.file,
            line: m.line,
            time,
        });
        if let Some(r) = done {
            if threshold.is_none_or(|t| secs(r.total_ns) > t) {
                let text = report_text(&r, &name, threshold);
                let mut err = std::io::stderr().lock();
                for line in text.lines() {
                    let _ = writeln!(err, "hindsight: profile: {line}");
                }
            }
        }
        true
    })
}

/// Seconds of a nanosecond count, as the reports show them.
fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Whether the call's time is above the threshold.
fn over(r: &query::CallReport, threshold: Option<f64>) -> Option<bool> {
    threshold.map(|t| secs(r.total_ns) > t)
}

/// A call's report as text: a header line, then a line per callee.
pub fn report_text(r: &query::CallReport, function: &str, threshold: Option<f64>) -> String {
    let ended = match r.end_step {
        Some(e) => format!("steps {} to {e}", r.step),
        None => format!("from step {}, unfinished when the recording ended", r.step),
    };
    let verdict = match (over(r, threshold), threshold) {
        (Some(true), Some(t)) => format!(": OVER the threshold of {t} s"),
        (Some(false), Some(t)) => format!(": under the threshold of {t} s"),
        _ => String::new(),
    };
    let mut s = format!(
        "{function} took {:.6} s ({}:{}, {ended}, thread {}, {} steps recorded){verdict}\n",
        secs(r.total_ns),
        r.file,
        r.line,
        r.thread,
        r.steps
    );
    for c in &r.callees {
        let calls = if c.calls == 1 { "call" } else { "calls" };
        s.push_str(&format!(
            "  {:>12.6} s  {}  ({} {calls})\n",
            secs(c.total_ns),
            c.function,
            c.calls
        ));
    }
    s
}

/// A call's report as one JSON object (docs/spec/cli.md).
pub fn report_json(r: &query::CallReport, function: &str, threshold: Option<f64>) -> Value {
    let callees: Vec<Value> = r
        .callees
        .iter()
        .map(|c| {
            json!({
                "function": c.function,
                "file": c.file,
                "calls": c.calls,
                "total": secs(c.total_ns),
                "total_ns": c.total_ns,
            })
        })
        .collect();
    json!({
        "function": function,
        "file": r.file,
        "line": r.line,
        "thread": r.thread,
        "step": r.step,
        "end_step": r.end_step,
        "start_ns": r.start_ns,
        "total": secs(r.total_ns),
        "total_ns": r.total_ns,
        "threshold": threshold,
        "over": over(r, threshold),
        "steps": r.steps,
        "callees": callees,
    })
}
