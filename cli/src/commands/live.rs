//! `hindsight exec` (run code in a running process, in the frame of a
//! line) and `hindsight reload` (give a running function the code its
//! source file now holds). Both detach once done; the program runs on.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use tracer::{Attached, LiveConfig, LiveOutcome, LiveStatus, Place, Tid, Wanted};

use crate::args::{ExecArgs, ReloadArgs};
use crate::out::count;

/// The exit status when the code raised, or `reload` refused.
const EXIT_RAISED: i32 = 1;

/// `hindsight exec PID CODE [--at FILE:LINE] [--thread TID]`.
pub fn exec(args: ExecArgs) -> Result<i32> {
    let ExecArgs {
        pid,
        code,
        at,
        thread,
        debug_file,
    } = args;
    let at = at.as_deref().map(parse_at).transpose()?;
    let cfg = config(
        pid,
        debug_file,
        Wanted {
            at,
            thread: thread.map(Tid),
        },
    )?;
    let outcome = tracer::exec(cfg, &code)?;
    let mut out = std::io::stdout().lock();
    out.write_all(outcome.output.as_bytes())?;
    if let Some(v) = &outcome.value {
        writeln!(out, "{v}")?;
    }
    out.flush()?;
    let place = describe(&outcome.place);
    let mut err = std::io::stderr().lock();
    match outcome.status {
        LiveStatus::Ok | LiveStatus::Refused => {
            writeln!(
                err,
                "hindsight: ran the code {place} ({}); detached from process {pid}",
                outcome.interpreter
            )?;
            Ok(0)
        }
        LiveStatus::Raised => {
            err.write_all(outcome.error.as_deref().unwrap_or("").as_bytes())?;
            writeln!(
                err,
                "hindsight: the code raised {place} (the exception was caught there, the \
                 program's state is as the code left it); detached from process {pid}"
            )?;
            Ok(EXIT_RAISED)
        }
    }
}

/// `hindsight reload PID MODULE:FUNCTION [--thread TID]`.
pub fn reload(args: ReloadArgs) -> Result<i32> {
    let ReloadArgs {
        pid,
        target,
        thread,
        debug_file,
    } = args;
    let Some((module, function)) = target
        .split_once(':')
        .filter(|(m, f)| !m.is_empty() && !f.is_empty())
    else {
        bail!("expected MODULE:FUNCTION such as __main__:work or app.jobs:Job.run, got `{target}`");
    };
    let cfg = config(
        pid,
        debug_file,
        Wanted {
            at: None,
            thread: thread.map(Tid),
        },
    )?;
    let outcome = tracer::reload(cfg, module, function)?;
    report_reload(pid, &target, &outcome)
}

fn report_reload(pid: i32, target: &str, outcome: &LiveOutcome) -> Result<i32> {
    let mut err = std::io::stderr().lock();
    match outcome.status {
        LiveStatus::Ok => {
            if let Some(v) = &outcome.value {
                writeln!(std::io::stdout(), "{v}")?;
            }
            writeln!(
                err,
                "hindsight: reloaded {target}; detached from process {pid}"
            )?;
            Ok(0)
        }
        LiveStatus::Refused => {
            writeln!(
                err,
                "hindsight: cannot reload {target}: {}; detached from process {pid}, which runs \
                 on unchanged",
                outcome.error.as_deref().unwrap_or("refused")
            )?;
            Ok(EXIT_RAISED)
        }
        LiveStatus::Raised => {
            err.write_all(outcome.error.as_deref().unwrap_or("").as_bytes())?;
            writeln!(
                err,
                "hindsight: cannot reload {target}: its new source does not compile (above); \
                 detached from process {pid}, which runs on unchanged"
            )?;
            Ok(EXIT_RAISED)
        }
    }
}

/// The configuration of both commands: Ctrl-C and SIGTERM stop the wait
/// for the step and let the program go (the target never sees them).
fn config(pid: i32, debug_file: Option<std::path::PathBuf>, wanted: Wanted) -> Result<LiveConfig> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| anyhow!("cannot catch signal {sig} to detach cleanly: {e}"))?;
    }
    let what = match (&wanted.at, wanted.thread) {
        (Some((f, l)), Some(t)) => format!("line {f}:{l} in thread {t}"),
        (Some((f, l)), None) => format!("line {f}:{l}"),
        (None, Some(t)) => format!("the next line step of thread {t}"),
        (None, None) => "the next line step".to_string(),
    };
    Ok(LiveConfig {
        pid,
        debug_file,
        wanted,
        stop,
        probe: super::record::probe_mode(),
        on_waiting: Some(Box::new(move |a: &Attached| {
            let _ = writeln!(
                std::io::stderr(),
                "hindsight: attached to process {} ({}, {}); waiting for {what} (Ctrl-C or \
                 SIGTERM lets it go)",
                a.pid,
                a.interpreter,
                count(a.threads as u64, "thread"),
            );
        })),
    })
}

/// `FILE:LINE`.
fn parse_at(at: &str) -> Result<(String, u32)> {
    match at
        .rsplit_once(':')
        .and_then(|(f, l)| Some((f, l.trim().parse::<u32>().ok()?)))
        .filter(|(f, l)| !f.is_empty() && *l > 0)
    {
        Some((f, l)) => Ok((f.to_string(), l)),
        None => bail!("expected --at FILE:LINE such as app.py:12, got `{at}`"),
    }
}

/// "in thread T at FILE:LINE (FUNCTION)".
fn describe(p: &Place) -> String {
    format!(
        "in thread {} at {}:{} ({})",
        p.thread, p.file, p.line, p.function
    )
}
