//! `hindsight dap`: the Debug Adapter Protocol server (the `dap` crate) on
//! stdin and stdout, with a launcher that records a program through the
//! tracer when the client launches one. The program's standard streams
//! are files, not hindsight's: its stdin is empty, and what it writes is
//! sent to the client as `output` events once the recording is complete.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Result;
use dap::{Launcher, ProgramLaunch, Recorded};
use store::CreateOptions;
use tracer::{AtBound, FilterSpec, Granularity, ProgramStdio, RecordConfig};

/// What is kept of each of the program's output streams.
const MAX_OUTPUT_BYTES: u64 = 1 << 20;

pub fn dap() -> Result<i32> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut output = stdout.lock();
    dap::serve(&mut input, &mut output, Some(Box::new(TracerLauncher)))?;
    Ok(0)
}

/// Records a launched program with `tracer::record`, as `hindsight record` does.
struct TracerLauncher;

impl Launcher for TracerLauncher {
    fn record(&mut self, l: &ProgramLaunch) -> Result<Recorded, String> {
        if let Some(cwd) = &l.cwd {
            std::env::set_current_dir(cwd)
                .map_err(|e| format!("cannot change to the directory {}: {e}", cwd.display()))?;
        }
        let base = std::env::temp_dir().join(format!("hindsight-dap-{}", std::process::id()));
        let out_path = base.with_extension("stdout");
        let err_path = base.with_extension("stderr");
        let stdio = ProgramStdio {
            stdin: Stdio::null(),
            stdout: Stdio::from(create(&out_path)?),
            stderr: Stdio::from(create(&err_path)?),
        };
        let mut program = vec![l.python.clone().into(), l.program.clone().into()];
        program.extend(l.args.iter().map(Into::into));
        let cfg = RecordConfig {
            program,
            output: l.output.clone(),
            create: CreateOptions {
                mode: 0o600,
                force: false,
            },
            filter: FilterSpec {
                include: Vec::new(),
                exclude: Vec::new(),
                all: false,
            },
            granularity: Granularity::Line,
            max_steps: l.max_steps,
            max_time: None,
            at_bound: AtBound::Stop,
            debug_file: None,
            progress: None,
            probe: super::record::probe_mode(),
            trapless: std::env::var_os("HINDSIGHT_NO_TRAPLESS").is_none(),
            delta: std::env::var_os("HINDSIGHT_NO_DELTA").is_none(),
            probe_filter: std::env::var_os("HINDSIGHT_NO_PROBE_FILTER").is_none(),
            pass_on: None,
            stdio: Some(stdio),
            on_step: None,
            ring: None,
            profile: None,
        };
        let result = tracer::record(cfg);
        let recorded = Recorded {
            stdout: take(&out_path),
            stderr: take(&err_path),
        };
        let outcome = result.map_err(|e| {
            format!(
                "recording {} failed: {e}{}",
                l.program,
                tail(&recorded.stderr)
            )
        })?;
        log::info!(target: "dap", "recorded {} steps to {}", outcome.steps, l.output.display());
        Ok(recorded)
    }
}

fn create(path: &PathBuf) -> Result<File, String> {
    File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// A captured stream's text (at most [`MAX_OUTPUT_BYTES`]), the file removed.
fn take(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(MAX_OUTPUT_BYTES).read_to_end(&mut bytes);
    }
    let _ = std::fs::remove_file(path);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The program's last words on stderr, for a failure's message.
fn tail(stderr: &str) -> String {
    let last: Vec<&str> = stderr.lines().rev().take(3).collect();
    if last.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = last.into_iter().rev().collect();
    format!(" (the program said: {})", lines.join(" / "))
}
