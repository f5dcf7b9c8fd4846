//! What both ways of starting share: the recording file, created with a
//! header before anything else happens (so a recorder killed at any moment
//! leaves a file `hindsight info` opens), and once the interpreter is
//! known the full header, the filter of the files it records, and the
//! writer.

use std::ffi::OsString;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use store::{CreateOptions, RecordingFile, RecordingHeader, RingOptions, Writer, WriterOptions};

use super::config::FlightRing;

use super::filter::{stdlib_dirs, FileFilter, FilterSpec};
use super::program::main_program;
use crate::cpython::Python;

/// The recording file at `output`, created before the program is launched
/// or seized, with a header that says what is known yet: the interpreter
/// is not ("" in `interpreter`), nor the pid (0) when `pid` is `None`.
/// Dropped before [`create_writer`] takes it, it is removed: a start that
/// fails leaves no file behind (a killed recorder leaves this one).
pub(crate) fn create_placeholder(
    output: &Path,
    opts: CreateOptions,
    program: &[OsString],
    cwd: &Path,
    pid: Option<i32>,
    mode: &str,
) -> Result<Placeholder, store::StoreError> {
    let header = RecordingHeader {
        interpreter: String::new(),
        interpreter_path: String::new(),
        ..base_header(program, cwd, pid.unwrap_or(0), mode)
    };
    RecordingFile::create(output, &header, opts).map(|f| Placeholder(Some(f)))
}

/// A recording file that holds its first header only; removed when dropped.
pub(crate) struct Placeholder(Option<RecordingFile>);

impl Drop for Placeholder {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f.remove();
        }
    }
}

/// The header of a new recording of process `pid` running `program`.
pub(crate) fn recording_header(
    program: &[OsString],
    cwd: &Path,
    pid: i32,
    python: &Python,
    mode: &str,
) -> RecordingHeader {
    RecordingHeader {
        interpreter: format!("CPython {}", python.version),
        interpreter_path: python.image_path.to_string_lossy().into_owned(),
        ..base_header(program, cwd, pid, mode)
    }
}

/// A header with everything but the interpreter.
fn base_header(program: &[OsString], cwd: &Path, pid: i32, mode: &str) -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        program: program
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        cwd: cwd.to_string_lossy().into_owned(),
        pid: pid as u32,
        interpreter: String::new(),
        interpreter_path: String::new(),
        mode: mode.into(),
        started_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        recorder: format!("hindsight {}", env!("CARGO_PKG_VERSION")),
    }
}

/// The filter of recorded files: `spec`, with the program the
/// interpreter's arguments `python_args` name (run in `cwd`) as the
/// default, and the interpreter's standard library left out.
pub(crate) fn file_filter(
    spec: FilterSpec,
    python_args: &[OsString],
    cwd: &Path,
    python: &Python,
) -> FileFilter {
    let program = main_program(python_args, cwd);
    log::debug!(target: "tracer::filter", "the program: {program:?}");
    FileFilter::new(
        spec,
        &program,
        cwd,
        &stdlib_dirs(&python.image_path, python.version.minor),
    )
}

/// Start writing the recording into `file` under its full `header`. The
/// writer thread would inherit this thread's pinning: its compression and
/// disk writes belong on another CPU than the target's (`cpu`).
/// A flight recording (`ring`) keeps its last steps only.
pub(crate) fn create_writer(
    mut file: Placeholder,
    header: RecordingHeader,
    cpu: usize,
    ring: Option<&FlightRing>,
) -> Result<Writer, store::StoreError> {
    let off_cpu = Box::new(move || crate::sys::pin_current_thread_away_from(cpu));
    let Some(file) = file.0.take() else {
        return Err(store::StoreError::WriterGone {
            cause: "the recording file was already handed to a writer".into(),
        });
    };
    let Some(ring) = ring else {
        return Writer::create_on(file, header, WriterOptions::default(), off_cpu);
    };
    let opts = RingOptions { steps: ring.steps };
    let writer = Writer::create_ring_on(file, header, WriterOptions::default(), opts, off_cpu)?;
    if let Some(flag) = &ring.snapshot {
        writer.snapshot_on(flag.clone());
    }
    Ok(writer)
}

/// The command line of process `pid` (/proc/PID/cmdline).
pub(crate) fn cmdline(pid: i32) -> Vec<OsString> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The probe's table of the instructions that are steps of `--granularity
/// opcode`, from the interpreter's opcode table.
pub(crate) fn opcode_steps(python: &Python) -> crate::probe::OpcodeSteps {
    let ops = python.facts.code.opcodes;
    let mut steps = [0u8; 256];
    for (op, _) in ops.stores {
        steps[usize::from(*op)] = 1;
    }
    for op in ops.binary_op {
        steps[usize::from(*op)] = 2;
    }
    let mut inplace = [0u8; 256];
    for arg in ops.inplace_args {
        inplace[usize::from(*arg)] = 1;
    }
    crate::probe::OpcodeSteps {
        steps,
        inplace,
        instrumented_line: ops.instrumented_line,
        instrumented_instruction: ops.instrumented_instruction,
        lasti_in_bytes: python.facts.frames.lasti_in_bytes,
    }
}
