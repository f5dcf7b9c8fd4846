//! What both ways of starting share once the interpreter is known: the
//! recording's header, the filter of the files it records, and its writer.

use std::ffi::OsString;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use store::{RecordingHeader, Writer, WriterOptions};

use super::filter::{stdlib_dirs, FileFilter, FilterSpec};
use super::program::main_program;
use crate::cpython::Python;

/// The header of a new recording of process `pid` running `program`.
pub(crate) fn recording_header(
    program: &[OsString],
    cwd: &Path,
    pid: i32,
    python: &Python,
    mode: &str,
) -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        program: program
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        cwd: cwd.to_string_lossy().into_owned(),
        pid: pid as u32,
        interpreter: format!("CPython {}", python.version),
        interpreter_path: python.image_path.to_string_lossy().into_owned(),
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

/// Create the recording at `output`. The writer thread would inherit this
/// thread's pinning: its compression and disk writes belong on another CPU
/// than the target's (`cpu`).
pub(crate) fn create_writer(
    output: &Path,
    header: RecordingHeader,
    cpu: usize,
) -> Result<Writer, store::StoreError> {
    let off_cpu = Box::new(move || crate::sys::pin_current_thread_away_from(cpu));
    Writer::create_with_init(output, header, WriterOptions::default(), off_cpu)
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
