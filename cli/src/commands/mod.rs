//! One module per command; `run` dispatches and returns the exit status.

mod doctor;
mod dump;
mod history;
mod info;
mod record;
mod state;
mod steps;
mod stream;

use anyhow::Result;

use crate::args::{Cli, Command};

/// Run the parsed command line; `Ok` carries the exit status.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Record(args) => record::record(args),
        Command::Attach(args) => record::attach(args),
        Command::Info { file } => info::info(&file),
        Command::Steps { file, range, json } => steps::steps(&file, range, json),
        Command::State { file, step, json } => state::state(&file, step, json),
        Command::Dump {
            file,
            range,
            changes,
        } => dump::dump(&file, range, changes),
        Command::Visits { file, location } => steps::visits(&file, &location),
        Command::History { file, name } => history::history(&file, &name),
        Command::Doctor(args) => doctor::doctor(args),
    }
}
