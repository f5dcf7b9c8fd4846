//! Recording from Python: `record` launches a command and `attach` seizes
//! a running process, through the tracer crate's `record()` and
//! `attach()`. The recording runs on a thread of its own (the tracer pins
//! the thread it runs on to a CPU, and ptrace belongs to one thread) while
//! the caller's thread waits without the GIL, so the callback
//! ([`crate::follow`]) and other Python threads run meanwhile.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use pyo3::prelude::*;
use store::{CreateOptions, ProgramEnd};
use tracer::{
    AtBound, AttachConfig, FilterSpec, FlightRing, Granularity, ProbeMode, RecordConfig,
    RecordError, RecordOutcome,
};

use crate::errors::RecordError as PyRecordError;
use crate::follow::{observer, Outcome};

/// The recording thread's stack: the callback rebuilds values recursively.
const STACK: usize = 64 << 20;
/// How often the waiting caller looks for Ctrl-C (`attach`).
const POLL: Duration = Duration::from_millis(50);

/// What `record` and `attach` return: `(how, code, steps, bytes, bound,
/// note)`; `how` is "exited", "signaled", "detached" or "running".
type Summary = (
    &'static str,
    Option<i32>,
    u64,
    u64,
    Option<String>,
    Option<String>,
);

/// Record `argv` into `output`; see `hindsight.record`.
#[pyfunction]
#[pyo3(signature = (argv, output, include, exclude, all, granularity, max_steps, max_time, at_bound, callback, make_state, debug_file, force, ring=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn record(
    py: Python<'_>,
    argv: Vec<OsString>,
    output: PathBuf,
    include: Vec<String>,
    exclude: Vec<String>,
    all: bool,
    granularity: &str,
    max_steps: Option<u64>,
    max_time: Option<f64>,
    at_bound: &str,
    callback: Option<Py<PyAny>>,
    make_state: Py<PyAny>,
    debug_file: Option<PathBuf>,
    force: bool,
    ring: Option<u64>,
) -> PyResult<Summary> {
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let cfg = RecordConfig {
        program: argv,
        output,
        create: CreateOptions {
            force,
            ..CreateOptions::default()
        },
        filter: FilterSpec {
            include,
            exclude,
            all,
        },
        granularity: granularity_of(granularity)?,
        max_steps,
        max_time: duration(max_time)?,
        at_bound: match at_bound {
            "stop" => AtBound::Stop,
            "detach" => AtBound::Detach,
            other => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "at_bound is \"stop\" or \"detach\", not {other:?}"
                )))
            }
        },
        debug_file,
        progress: None,
        probe: probe_mode(),
        trapless: std::env::var_os("HINDSIGHT_NO_TRAPLESS").is_none(),
        delta: std::env::var_os("HINDSIGHT_NO_DELTA").is_none(),
        probe_filter: std::env::var_os("HINDSIGHT_NO_PROBE_FILTER").is_none(),
        pass_on: None,
        stdio: None,
        on_step: callback.map(|cb| observer(cb, make_state, outcome.clone())),
        ring: flight_ring(ring)?,
        profile: None,
    };
    let thread = spawn(move || tracer::record(cfg))?;
    finish(py, thread, None, &outcome)
}

/// Attach to process `pid`, record until it ends, a bound, the callback or
/// Ctrl-C, then detach; see `hindsight.attach`.
#[pyfunction]
#[pyo3(signature = (pid, output, include, exclude, all, granularity, max_steps, max_time, callback, make_state, debug_file, force, ring=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attach(
    py: Python<'_>,
    pid: i32,
    output: PathBuf,
    include: Vec<String>,
    exclude: Vec<String>,
    all: bool,
    granularity: &str,
    max_steps: Option<u64>,
    max_time: Option<f64>,
    callback: Option<Py<PyAny>>,
    make_state: Py<PyAny>,
    debug_file: Option<PathBuf>,
    force: bool,
    ring: Option<u64>,
) -> PyResult<Summary> {
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let granularity = granularity_of(granularity)?;
    let max_time = duration(max_time)?;
    let on_step = callback.map(|cb| observer(cb, make_state, outcome.clone()));
    let ring = flight_ring(ring)?;
    let flag = stop.clone();
    // Made on the recording thread: its `on_attached` need not be `Send`.
    let cfg = move || AttachConfig {
        pid,
        output,
        create: CreateOptions {
            force,
            ..CreateOptions::default()
        },
        filter: FilterSpec {
            include,
            exclude,
            all,
        },
        granularity,
        max_steps,
        max_time,
        debug_file,
        progress: None,
        stop: flag,
        on_attached: None,
        probe: probe_mode(),
        trapless: std::env::var_os("HINDSIGHT_NO_TRAPLESS").is_none(),
        delta: std::env::var_os("HINDSIGHT_NO_DELTA").is_none(),
        probe_filter: std::env::var_os("HINDSIGHT_NO_PROBE_FILTER").is_none(),
        on_step,
        ring,
        profile: None,
    };
    let thread = spawn(move || tracer::attach(cfg()))?;
    finish(py, thread, Some(stop), &outcome)
}

/// `ring=N`: a flight recording of the last N steps (at least N).
fn flight_ring(ring: Option<u64>) -> PyResult<Option<FlightRing>> {
    match ring {
        Some(0) => Err(pyo3::exceptions::PyValueError::new_err(
            "ring is a number of steps, at least 1",
        )),
        Some(steps) => Ok(Some(FlightRing {
            steps,
            snapshot: None,
        })),
        None => Ok(None),
    }
}

/// Run the recording on its own thread.
fn spawn(
    f: impl FnOnce() -> Result<RecordOutcome, RecordError> + Send + 'static,
) -> PyResult<JoinHandle<Result<RecordOutcome, RecordError>>> {
    std::thread::Builder::new()
        .name("hindsight-record".into())
        .stack_size(STACK)
        .spawn(f)
        .map_err(|e| PyRecordError::new_err(format!("cannot start the recording thread: {e}")))
}

/// Wait for the recording without the GIL. With a `stop` flag (attach),
/// Ctrl-C in the caller sets it, the recording ends and detaches, and the
/// KeyboardInterrupt is raised after. The callback's exception comes first.
fn finish(
    py: Python<'_>,
    thread: JoinHandle<Result<RecordOutcome, RecordError>>,
    stop: Option<Arc<AtomicBool>>,
    outcome: &Mutex<Outcome>,
) -> PyResult<Summary> {
    let mut interrupted = None;
    while !thread.is_finished() {
        py.detach(|| std::thread::sleep(POLL));
        if let Some(flag) = &stop {
            if let Err(e) = py.check_signals() {
                flag.store(true, Ordering::SeqCst);
                interrupted.get_or_insert(e);
            }
        }
    }
    let result = thread.join().map_err(|_| {
        PyRecordError::new_err("the recording thread panicked (a bug in hindsight)")
    })?;
    if let Some(e) = outcome.lock().ok().and_then(|mut o| o.raised.take()) {
        return Err(e);
    }
    let o = result.map_err(|e| PyRecordError::new_err(e.to_string()))?;
    if let Some(e) = interrupted {
        return Err(e);
    }
    let (how, code) = match o.command_end {
        ProgramEnd::Exited(c) => ("exited", Some(c)),
        ProgramEnd::Signaled(s) => ("signaled", Some(s)),
        ProgramEnd::Detached => ("detached", None),
        ProgramEnd::StillRunning => ("running", None),
    };
    Ok((how, code, o.steps, o.bytes, o.bound, o.note))
}

fn granularity_of(g: &str) -> PyResult<Granularity> {
    match g {
        "line" => Ok(Granularity::Line),
        "call" => Ok(Granularity::Call),
        "opcode" => Ok(Granularity::Opcode),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "granularity is \"line\", \"call\" or \"opcode\", not {other:?}"
        ))),
    }
}

fn duration(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "max_time is a number of seconds, 0 or more, not {s}"
                ))
            })
        })
        .transpose()
}

/// As the CLI: the probe unless `HINDSIGHT_NO_PROBE` is set;
/// `HINDSIGHT_PROBE_BASELINE` picks its build for the baseline instruction set.
fn probe_mode() -> ProbeMode {
    if std::env::var_os("HINDSIGHT_NO_PROBE").is_some() {
        ProbeMode::Off
    } else if std::env::var_os("HINDSIGHT_PROBE_BASELINE").is_some() {
        ProbeMode::Baseline
    } else {
        ProbeMode::Best
    }
}
