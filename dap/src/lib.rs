//! hindsight's Debug Adapter Protocol server: a recording replayed as a
//! debug session, with time travel. The client (VS Code, or any DAP
//! client) launches it on a recording, or on a program that is recorded
//! first; every motion (continue, next, step in or out, step back,
//! reverse continue) moves to another recorded step, and every answer
//! (stack, scopes, variables, evaluate) is read from the recording.
//!
//! The crate reads recordings only: recording a program is the
//! [`Launcher`]'s job, which the `hindsight` binary provides over the
//! tracer. docs/dap.md says what each request does.

mod breakpoints;
mod cond;
mod inspect;
mod session;
mod travel;
pub mod wire;

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

pub use session::Server;

/// The attributes `launch` reads (docs/dap.md); the VS Code extension's
/// package.json declares exactly these.
pub const LAUNCH_ATTRIBUTES: &[&str] = &[
    "recording",
    "program",
    "args",
    "python",
    "cwd",
    "output",
    "maxSteps",
    "stopOnEntry",
];

/// A program the client asked to launch, to be recorded before replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramLaunch {
    /// The interpreter (`python3` unless the client named one).
    pub python: String,
    /// The script.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The working directory to run it in.
    pub cwd: Option<PathBuf>,
    /// Where the recording goes.
    pub output: PathBuf,
    /// A bound on the steps recorded.
    pub max_steps: Option<u64>,
}

/// What recording a program left besides the recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The program's standard output (what was kept of it).
    pub stdout: String,
    /// The program's standard error (likewise).
    pub stderr: String,
}

/// Records a program for a `launch` with `"program"`.
pub trait Launcher {
    /// Record `launch.program` into `launch.output`; the error says why it
    /// could not, for the client to show.
    fn record(&mut self, launch: &ProgramLaunch) -> Result<Recorded, String>;
}

/// Serve one debug session: read requests from `input` until the client
/// disconnects or the input ends, answering on `output`. Fails only when
/// the client can no longer be read or written.
pub fn serve(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    launcher: Option<Box<dyn Launcher>>,
) -> io::Result<()> {
    let mut server = Server::new(output, launcher);
    server.run(input)
}
