//! The command line grammar of the commands that take hold of a program
//! (`record`, `attach`, `exec`, `reload`, `doctor`): their arguments and
//! the parsers of their values (docs/spec/cli.md).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GranularityArg {
    /// call, line, return and exception steps
    Line,
    /// call and return steps only
    Call,
    /// as line, plus a step before each instruction that binds a name or
    /// mutates an object in place (STORE_*, DELETE_*, in-place operators)
    Opcode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AtBoundArg {
    /// End the program: SIGTERM (recorded while its handlers run), SIGKILL 2 s later
    Stop,
    /// Let it run on, untraced
    Detach,
}

/// What is recorded and for how long; shared by `record` and `attach`.
#[derive(Debug, Args)]
pub struct RecordingOptions {
    /// Where the recording goes
    #[arg(short, long, default_value = "recording.hsr")]
    pub output: PathBuf,
    /// Permission bits of the recording, in octal (it holds the program's
    /// variables: by default only you can read it)
    #[arg(long, value_name = "OCTAL", default_value = "600", value_parser = parse_mode)]
    pub mode: u32,
    /// Replace the output even when it is not a recording (or is a
    /// symbolic link: the link itself is replaced, never its target)
    #[arg(long)]
    pub force: bool,
    /// Also record files whose absolute path matches GLOB (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Do not record files whose absolute path matches GLOB (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Record every Python frame, the standard library included
    #[arg(long)]
    pub all: bool,
    /// Which events become steps
    #[arg(long, value_enum, default_value_t = GranularityArg::Line)]
    pub granularity: GranularityArg,
    /// End the recording after N steps
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u64>,
    /// End the recording after SECONDS (fractions allowed)
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub max_time: Option<std::time::Duration>,
    /// The interpreter's separate debug file (when it is stripped)
    #[arg(long, value_name = "PATH")]
    pub debug_file: Option<PathBuf>,
    /// Flight recorder: keep only the last N steps (at least N: the ring
    /// starts at a full state), written when the program ends or raises an
    /// exception nothing catches, on SIGUSR1 to hindsight (then recording
    /// goes on), and at detach
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub ring: Option<u64>,
    /// Shallow call profiler: record only the calls and returns of the
    /// function NAME and of the calls made directly inside it, and print on
    /// stderr the report of each call of NAME as it ends
    #[arg(long, value_name = "NAME", conflicts_with = "granularity")]
    pub profile: Option<String>,
    /// With --profile: report only the calls of NAME that took longer than
    /// SECONDS
    #[arg(long, value_name = "SECONDS", requires = "profile", value_parser = parse_threshold)]
    pub threshold: Option<f64>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub opts: RecordingOptions,
    /// What happens to the program when a bound is reached
    #[arg(long, value_enum, default_value_t = AtBoundArg::Stop)]
    pub at_bound: AtBoundArg,
    /// Also write each step's state as a JSON line to PATH (`-`: stdout) as it is recorded
    #[arg(long, value_name = "PATH")]
    pub stream: Option<PathBuf>,
    /// The program: PYTHON [ARGS...] (after `--`), or a command that runs CPython (sh -c ..., env ...)
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PYTHON [ARGS]"
    )]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub opts: RecordingOptions,
    /// The process to record
    pub pid: i32,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The process
    pub pid: i32,
    /// Python code: an expression (its value is printed) or statements
    #[arg(allow_hyphen_values = true)]
    pub code: String,
    /// Run it when this line is about to run (else at the next line of any thread)
    #[arg(long, value_name = "FILE:LINE")]
    pub at: Option<String>,
    /// Run it in this thread (its id as in /proc/PID/task)
    #[arg(long, value_name = "TID")]
    pub thread: Option<i32>,
    /// The interpreter's separate debug file
    #[arg(long, value_name = "PATH")]
    pub debug_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// The process
    pub pid: i32,
    /// The function: MODULE:FUNCTION (`__main__:work`, `app.jobs:Job.run`)
    #[arg(value_name = "MODULE:FUNCTION")]
    pub target: String,
    /// Replace it from a step of this thread (its id as in /proc/PID/task)
    #[arg(long, value_name = "TID")]
    pub thread: Option<i32>,
    /// The interpreter's separate debug file
    #[arg(long, value_name = "PATH")]
    pub debug_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["pid", "python"])))]
pub struct DoctorArgs {
    /// A running Python process
    pub pid: Option<i32>,
    /// A python executable or libpython
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// The interpreter's separate debug file
    #[arg(long, value_name = "PATH")]
    pub debug_file: Option<PathBuf>,
}

/// `--mode`: permission bits in octal, `640` or `0640`.
fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!(
            "`{s}` is not a file mode; give octal permission bits such as 600 or 640"
        )),
    }
}

/// `--max-time`: a positive, finite number of seconds.
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds (for example 2.5)"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!(
            "`{s}` seconds is not a usable time limit; give a positive number"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// A threshold in seconds: a number at least 0 (fractions allowed).
pub fn parse_threshold(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds (a number at least 0, such as 0.3)"
        )),
    }
}
