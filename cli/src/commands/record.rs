//! `hindsight record` (launch and record) and `hindsight attach` (record a
//! running process, then detach).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use store::{CreateOptions, ProgramEnd};
use tracer::ProbeMode;
use tracer::{AtBound, FilterSpec, FlightRing, Granularity, PassOn, Progress, RecordConfig};
use tracer::{AttachConfig, Attached};

use crate::args::{AtBoundArg, AttachArgs, GranularityArg, RecordArgs, RecordingOptions};
use crate::out::{count, human_bytes};

/// Record `args.program`; exit with the command's own status.
pub fn record(args: RecordArgs) -> Result<i32> {
    let RecordArgs {
        opts,
        at_bound,
        stream,
        program,
    } = args;
    let (on_step, stream) = match (stream, &opts.profile) {
        (Some(_), Some(_)) => bail!(
            "--stream and --profile cannot be used together: record with --profile, then read the steps with `hindsight steps`"
        ),
        (Some(path), None) => {
            let (observer, stream) = super::stream::start(&path)?;
            (Some(observer), Some(stream))
        }
        (None, Some(name)) => (Some(super::calls::live(name, opts.threshold)), None),
        (None, None) => (None, None),
    };
    let output = opts.output.clone();
    let ring = flight_ring(opts.ring)?;
    let pass_on = catch_program_signals()?;
    let progress = std::io::stderr().is_terminal().then(progress_line);
    let cfg = RecordConfig {
        program,
        output: opts.output,
        create: CreateOptions {
            mode: opts.mode,
            force: opts.force,
        },
        filter: FilterSpec {
            include: opts.include,
            exclude: opts.exclude,
            all: opts.all,
        },
        granularity: match opts.profile {
            Some(_) => Granularity::Call,
            None => granularity(opts.granularity),
        },
        max_steps: opts.max_steps,
        max_time: opts.max_time,
        at_bound: match at_bound {
            AtBoundArg::Stop => AtBound::Stop,
            AtBoundArg::Detach => AtBound::Detach,
        },
        debug_file: opts.debug_file,
        progress,
        probe: probe_mode(),
        // To compare, or to rule them out: every step then traps.
        trapless: std::env::var_os("HINDSIGHT_NO_TRAPLESS").is_none(),
        delta: std::env::var_os("HINDSIGHT_NO_DELTA").is_none(),
        // Likewise: every event of unrecorded code then traps.
        probe_filter: std::env::var_os("HINDSIGHT_NO_PROBE_FILTER").is_none(),
        pass_on: Some(pass_on),
        stdio: None,
        on_step,
        ring,
        profile: opts.profile,
    };
    let result = tracer::record(cfg);
    if let Some(s) = stream {
        s.finish()?;
    }
    if std::io::stderr().is_terminal() {
        // Clear the progress line whatever happened.
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
    let outcome = result?;
    log::info!(
        "recorded {}, {} to {}",
        count(outcome.steps, "step"),
        human_bytes(outcome.bytes),
        output.display()
    );
    if let Some(bound) = &outcome.bound {
        // Not an error: the user asked for a bounded recording. Say so, since
        // the program's status (killed) would otherwise look like a crash.
        let _ = writeln!(
            std::io::stderr(),
            "hindsight: {bound}: recorded {} to {}",
            count(outcome.steps, "step"),
            output.display()
        );
    }
    if let Some(note) = &outcome.note {
        let _ = writeln!(std::io::stderr(), "hindsight: {note}");
    }
    if opts.ring.is_some() {
        say_kept(&output);
    }
    if let Some(cause) = &outcome.cut {
        let _ = writeln!(
            std::io::stderr(),
            "hindsight: {}",
            cut_message(cause, &outcome, &output)
        );
    }
    if let ProgramEnd::Signaled(sig) = outcome.command_end {
        // The recording is complete: end as the program ended, so the
        // caller sees its signal (not 128+N); returns only for a signal
        // that does not end a process, which then exits 128+N.
        tracer::die_by_signal(sig);
    }
    Ok(exit_status(outcome.command_end))
}

/// `--ring N`: the flight recorder's configuration, with SIGUSR1 to
/// hindsight caught to write the file now and record on.
///
/// Without `--ring`, SIGUSR1 is caught and does nothing: a SIGUSR1 meant
/// for a flight recording must not end hindsight (and with it a launched
/// program). A caught signal's handler does not pass to the program.
fn flight_ring(steps: Option<u64>) -> Result<Option<FlightRing>> {
    let snapshot = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, snapshot.clone()).map_err(|e| {
        anyhow!("cannot catch SIGUSR1 to write the flight recording on demand: {e}")
    })?;
    let Some(steps) = steps else {
        return Ok(None);
    };
    Ok(Some(FlightRing {
        steps,
        snapshot: Some(snapshot),
    }))
}

/// After a flight recording: which steps of the run the file kept.
fn say_kept(output: &std::path::Path) {
    let Ok(r) = store::Reader::open(output) else {
        return;
    };
    if r.step_count() > r.first_step() {
        let _ = writeln!(
            std::io::stderr(),
            "hindsight: flight recording: {} kept steps {} to {} of the run",
            output.display(),
            r.first_step(),
            r.step_count() - 1
        );
    }
}

/// The one line that says a recording was cut: why, what became of the
/// program, and what the file holds.
fn cut_message(cause: &str, outcome: &tracer::RecordOutcome, output: &std::path::Path) -> String {
    let after = match outcome.end {
        ProgramEnd::Detached => "recording stopped there and the program ran on untraced",
        _ => "the recording stops there",
    };
    format!(
        "{} ({cause}): {after}; {} recorded before it are in {} (`hindsight info {}`)",
        store::CUT,
        count(outcome.steps, "step"),
        output.display(),
        output.display()
    )
}

/// Catch SIGINT and SIGTERM for the program: the recorder passes them on
/// to it and records until it ends (docs/spec/cli.md).
fn catch_program_signals() -> Result<Arc<PassOn>> {
    let pass_on = Arc::new(PassOn::new());
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| anyhow!("cannot catch SIGINT and SIGTERM to pass them on to the program: {e}"))?;
    let caught = pass_on.clone();
    std::thread::Builder::new()
        .name("hindsight-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                caught.caught(sig);
            }
        })
        .map_err(|e| anyhow!("cannot start the thread that passes signals on: {e}"))?;
    Ok(pass_on)
}

/// The status `hindsight record` exits with: the program's own.
fn exit_status(end: ProgramEnd) -> i32 {
    match end {
        ProgramEnd::Exited(code) => code,
        ProgramEnd::Signaled(sig) => 128 + sig,
        ProgramEnd::Detached | ProgramEnd::StillRunning => 0,
    }
}

fn granularity(g: GranularityArg) -> Granularity {
    match g {
        GranularityArg::Line => Granularity::Line,
        GranularityArg::Call => Granularity::Call,
        GranularityArg::Opcode => Granularity::Opcode,
    }
}

/// The `\r`-updated progress display: steps, steps/s, bytes written.
fn progress_line() -> Box<dyn FnMut(&Progress) + Send> {
    Box::new(|p: &Progress| {
        let secs = p.elapsed.max(Duration::from_millis(1)).as_secs_f64();
        let rate = p.steps as f64 / secs;
        let _ = write!(
            std::io::stderr(),
            "\r\x1b[Khindsight: {} steps, {:.0} steps/s, {} written",
            p.steps,
            rate,
            human_bytes(p.bytes)
        );
    })
}

/// `hindsight attach PID`: record the running process until Ctrl-C,
/// SIGTERM, a bound or its end, then detach. Prints one line on stderr once
/// attached (scripts and tests wait for it) and one when done; exits 0.
pub fn attach(args: AttachArgs) -> Result<i32> {
    let AttachArgs { opts, pid } = args;
    let RecordingOptions {
        output,
        mode,
        force,
        include,
        exclude,
        all,
        granularity: gran,
        max_steps,
        max_time,
        debug_file,
        ring,
        profile,
        threshold,
    } = opts;
    let kept = ring.is_some();
    let ring = flight_ring(ring)?;
    // Ctrl-C and SIGTERM end the recording and detach; the target never sees them.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| anyhow!("cannot catch signal {sig} to detach cleanly: {e}"))?;
    }
    let shown = output.clone();
    let cfg = AttachConfig {
        pid,
        output: output.clone(),
        create: CreateOptions { mode, force },
        filter: FilterSpec {
            include,
            exclude,
            all,
        },
        granularity: match profile {
            Some(_) => Granularity::Call,
            None => granularity(gran),
        },
        max_steps,
        max_time,
        debug_file,
        progress: std::io::stderr().is_terminal().then(progress_line),
        stop,
        on_attached: Some(Box::new(move |a: &Attached| {
            let _ = writeln!(
                std::io::stderr(),
                "hindsight: attached to process {} ({}, {}), recording to {}; Ctrl-C or \
                 SIGTERM detaches",
                a.pid,
                a.interpreter,
                count(a.threads as u64, "thread"),
                shown.display()
            );
        })),
        probe: probe_mode(),
        trapless: std::env::var_os("HINDSIGHT_NO_TRAPLESS").is_none(),
        delta: std::env::var_os("HINDSIGHT_NO_DELTA").is_none(),
        probe_filter: std::env::var_os("HINDSIGHT_NO_PROBE_FILTER").is_none(),
        on_step: profile
            .as_deref()
            .map(|name| super::calls::live(name, threshold)),
        ring,
        profile,
    };
    let result = tracer::attach(cfg);
    if std::io::stderr().is_terminal() {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
    let outcome = result?;
    if let Some(cause) = &outcome.cut {
        let _ = writeln!(
            std::io::stderr(),
            "hindsight: {}; detached from process {pid}",
            cut_message(cause, &outcome, &output)
        );
        return Ok(0);
    }
    let how = match outcome.end {
        ProgramEnd::Exited(c) => format!("process {pid} exited with status {c}"),
        ProgramEnd::Signaled(s) => format!("process {pid} was killed by signal {s}"),
        ProgramEnd::Detached | ProgramEnd::StillRunning => match &outcome.bound {
            Some(b) => format!("{b}; detached from process {pid}"),
            None => format!("detached from process {pid}"),
        },
    };
    let _ = writeln!(
        std::io::stderr(),
        "hindsight: {how}: recorded {} to {}",
        count(outcome.steps, "step"),
        output.display()
    );
    if kept {
        say_kept(&output);
    }
    Ok(0)
}

/// The probe unless `HINDSIGHT_NO_PROBE` is set (to compare, or to rule it
/// out); `HINDSIGHT_PROBE_BASELINE` picks its build for the baseline
/// instruction set (to test that build on any CPU).
pub(super) fn probe_mode() -> ProbeMode {
    if std::env::var_os("HINDSIGHT_NO_PROBE").is_some() {
        ProbeMode::Off
    } else if std::env::var_os("HINDSIGHT_PROBE_BASELINE").is_some() {
        ProbeMode::Baseline
    } else {
        ProbeMode::Best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_status_passes_through() {
        assert_eq!(exit_status(ProgramEnd::Exited(3)), 3);
        assert_eq!(exit_status(ProgramEnd::Signaled(9)), 137);
        assert_eq!(exit_status(ProgramEnd::Detached), 0);
    }
}
