//! The command line grammar (docs/spec/cli.md), as clap derive types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod recording;
pub use recording::*;

/// Record an unmodified CPython program from outside and query its state at any step.
#[derive(Debug, Parser)]
#[command(name = "hindsight", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Launch a program and record it: hindsight record [OPTIONS] -- python3 app.py
    Record(RecordArgs),
    /// Record a running process, then detach
    Attach(AttachArgs),
    /// Program, interpreter, steps, threads, duration, size, complete or not
    Info {
        /// The recording (.hsr)
        file: PathBuf,
    },
    /// A line per step: step, event, file:line, function
    Steps {
        /// The recording (.hsr)
        file: PathBuf,
        #[command(flatten)]
        range: RangeArgs,
        /// JSON lines instead of text
        #[arg(long)]
        json: bool,
    },
    /// The state at STEP: source line, stack, locals and globals
    State {
        /// The recording (.hsr)
        file: PathBuf,
        /// The step number (from 0)
        step: u64,
        /// JSON as in docs/spec/values.md instead of text
        #[arg(long)]
        json: bool,
    },
    /// JSON lines, one state per step
    Dump {
        /// The recording (.hsr)
        file: PathBuf,
        #[command(flatten)]
        range: RangeArgs,
        /// The first state whole, then each step's changes only
        #[arg(long)]
        changes: bool,
    },
    /// The steps at which a source line ran
    Visits {
        /// The recording (.hsr)
        file: PathBuf,
        /// PATH:LINE; PATH is absolute or a suffix of the recorded path (app.py:12)
        location: String,
    },
    /// Each call of a function: its time and the calls made directly inside it, longest first
    Calls {
        /// The recording (.hsr)
        file: PathBuf,
        /// The function profiled, as `steps` names it (`slow`, `Bubble.sort`)
        #[arg(long)]
        function: String,
        /// Say of each call whether its time is above this many seconds
        #[arg(long, value_parser = parse_threshold)]
        threshold: Option<f64>,
        /// JSON lines instead of text
        #[arg(long)]
        json: bool,
    },
    /// The steps at which a variable or expression changed, with its value
    History {
        /// The recording (.hsr)
        file: PathBuf,
        /// A name (a local of the step's frame, else a global) or an expression: `p.items[0]`
        expr: String,
        /// Only steps in this function (as `steps` names it: `Bubble.sort`)
        #[arg(long)]
        function: Option<String>,
        /// Only steps of this thread (OS thread id)
        #[arg(long)]
        thread: Option<u32>,
        /// JSON lines instead of text
        #[arg(long)]
        json: bool,
    },
    /// The step that wrote the value EXPR has at STEP, and the value before
    #[command(name = "last-write")]
    LastWrite {
        /// The recording (.hsr)
        file: PathBuf,
        /// The step number (from 0)
        step: u64,
        /// A name or expression: `x`, `self.items[3].x`
        expr: String,
        /// JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// The first step (or every step) at which a condition holds
    Find {
        /// The recording (.hsr)
        file: PathBuf,
        /// The condition: `len(X) > 5 and X[0] < 10`
        condition: String,
        /// Every step where it holds, not only the first
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        range: RangeArgs,
        /// JSON lines instead of text
        #[arg(long)]
        json: bool,
    },
    /// What changed between two steps: bindings, and objects by identity
    Diff {
        /// The recording (.hsr)
        file: PathBuf,
        /// The first step
        a: u64,
        /// The second step
        b: u64,
        /// JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// The life of the object EXPR names at STEP: appears, changes, gone
    Object {
        /// The recording (.hsr)
        file: PathBuf,
        /// The step number (from 0)
        step: u64,
        /// A name or expression naming a recorded object
        expr: String,
        /// The whole value at each change too, not only the parts that changed
        #[arg(long)]
        full: bool,
        /// JSON lines instead of text
        #[arg(long)]
        json: bool,
    },
    /// Run Python code in a running process, in the frame of a line, then detach
    Exec(ExecArgs),
    /// Give a running process's function the code its source file now holds
    Reload(ReloadArgs),
    /// What hindsight finds about an interpreter: version, debug info, layout
    Doctor(DoctorArgs),
    /// A local web page to travel through a recording (docs/serve.md)
    Serve(ServeArgs),
    /// Write a recording in another tool's format: Python Tutor, Chrome trace, JSON lines
    Export {
        /// The recording (.hsr)
        file: PathBuf,
        /// The format written
        #[arg(long, value_enum)]
        format: ExportFormatArg,
        /// Where the export goes (default: stdout)
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        range: RangeArgs,
    },
    /// A Debug Adapter Protocol server on stdin and stdout (VS Code, any DAP client)
    Dap,
}

/// `serve FILE [--port P] [--host ADDR] [--open]`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The recording (.hsr)
    pub file: PathBuf,
    /// The port to listen on (0: a free one, printed)
    #[arg(long, default_value_t = 8421)]
    pub port: u16,
    /// The address to listen on; anything but the loopback lets others
    /// read the recording
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Open the page in the system's browser (xdg-open)
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    /// Python Tutor's trace: {"code": ..., "trace": [...]}
    Pythontutor,
    /// Chrome trace event JSON of calls and returns (Perfetto, chrome://tracing)
    Chrome,
    /// One state JSON per line, as `dump` prints them
    Jsonl,
}

/// `--from A --to B`, both inclusive.
#[derive(Debug, Args, Clone, Copy)]
pub struct RangeArgs {
    /// First step (default: 0)
    #[arg(long)]
    pub from: Option<u64>,
    /// Last step, inclusive (default: the last step)
    #[arg(long)]
    pub to: Option<u64>,
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hindsight").chain(args.iter().copied()))
    }

    #[test]
    fn record_takes_the_program_after_dashes() {
        let cli = parse(&[
            "record",
            "-o",
            "x.hsr",
            "--include",
            "a*",
            "--include",
            "b*",
            "--",
            "python3",
            "app.py",
            "--port",
            "0",
        ])
        .unwrap();
        let Command::Record(r) = cli.command else {
            panic!("not record")
        };
        assert_eq!(r.opts.output, PathBuf::from("x.hsr"));
        assert_eq!(r.opts.include, ["a*", "b*"]);
        assert_eq!(r.at_bound, AtBoundArg::Stop);
        assert_eq!(r.opts.granularity, GranularityArg::Line);
        assert_eq!(
            r.program,
            ["python3", "app.py", "--port", "0"].map(OsString::from)
        );
    }

    #[test]
    fn record_options() {
        let cli = parse(&[
            "record",
            "--max-time",
            "1.5",
            "--max-steps",
            "10",
            "--at-bound",
            "detach",
            "--granularity",
            "call",
            "--all",
            "--",
            "py",
        ])
        .unwrap();
        let Command::Record(r) = cli.command else {
            panic!("not record")
        };
        assert_eq!(
            r.opts.max_time,
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(r.opts.max_steps, Some(10));
        assert_eq!(r.at_bound, AtBoundArg::Detach);
        assert_eq!(r.opts.granularity, GranularityArg::Call);
        assert!(r.opts.all);
        assert_eq!(r.opts.ring, None);
        let Command::Record(r) = parse(&["record", "--ring", "10", "--", "py"])
            .unwrap()
            .command
        else {
            panic!("not record")
        };
        assert_eq!(r.opts.ring, Some(10));
        assert!(parse(&["record", "--ring", "0", "--", "py"]).is_err());
        assert!(parse(&["record", "--max-time", "-1", "--", "py"]).is_err());
        assert!(parse(&["record", "--max-time", "nan", "--", "py"]).is_err());
        assert!(parse(&["record"]).is_err());
    }

    #[test]
    fn file_mode_and_force() {
        let Command::Record(r) = parse(&["record", "--", "py"]).unwrap().command else {
            panic!("not record")
        };
        assert_eq!((r.opts.mode, r.opts.force), (0o600, false));
        let cli = parse(&["record", "--mode", "0640", "--force", "--", "py"]).unwrap();
        let Command::Record(r) = cli.command else {
            panic!("not record")
        };
        assert_eq!((r.opts.mode, r.opts.force), (0o640, true));
        for bad in ["8", "rw-r--r--", "1777", ""] {
            assert!(
                parse(&["record", "--mode", bad, "--", "py"]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn doctor_needs_a_target() {
        assert!(parse(&["doctor"]).is_err());
        assert!(parse(&["doctor", "12", "--python", "/x"]).is_err());
        assert!(parse(&["doctor", "12"]).is_ok());
        assert!(parse(&["doctor", "--python", "/x"]).is_ok());
    }

    #[test]
    fn reading_commands() {
        let cli = parse(&["steps", "f.hsr", "--from", "3", "--to", "5", "--json"]).unwrap();
        let Command::Steps { range, json, .. } = cli.command else {
            panic!("not steps")
        };
        assert_eq!((range.from, range.to, json), (Some(3), Some(5), true));
        assert!(parse(&["state", "f.hsr", "-1"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        let Command::Serve(a) = parse(&["serve", "f.hsr", "--port", "0", "--open"])
            .unwrap()
            .command
        else {
            panic!("not serve")
        };
        assert_eq!((a.port, a.open, a.host.is_loopback()), (0, true, true));
        assert!(parse(&["serve", "f.hsr", "--host", "nowhere"]).is_err());
    }

    #[test]
    fn export_and_dap() {
        let cli = parse(&[
            "export", "f.hsr", "--format", "chrome", "-o", "t.json", "--to", "9",
        ])
        .unwrap();
        let Command::Export {
            format,
            output,
            range,
            ..
        } = cli.command
        else {
            panic!("not export")
        };
        assert_eq!(format, ExportFormatArg::Chrome);
        assert_eq!(output, Some(PathBuf::from("t.json")));
        assert_eq!((range.from, range.to), (None, Some(9)));
        assert!(parse(&["export", "f.hsr"]).is_err());
        assert!(parse(&["export", "f.hsr", "--format", "svg"]).is_err());
        assert!(matches!(parse(&["dap"]).unwrap().command, Command::Dap));
    }
}
