//! One module per command; `run` dispatches and returns the exit status.

mod calls;
mod dap;
mod doctor;
mod dump;
mod export;
mod info;
mod live;
mod queries;
mod record;
mod serve;
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
        Command::Calls {
            file,
            function,
            threshold,
            json,
        } => calls::calls(&file, &function, threshold, json),
        Command::History {
            file,
            expr,
            function,
            thread,
            json,
        } => queries::history(&file, &expr, query::Filters { function, thread }, json),
        Command::LastWrite {
            file,
            step,
            expr,
            json,
        } => queries::last_write(&file, step, &expr, json),
        Command::Find {
            file,
            condition,
            all,
            range,
            json,
        } => queries::find(&file, &condition, all, range, json),
        Command::Diff { file, a, b, json } => queries::diff(&file, a, b, json),
        Command::Object {
            file,
            step,
            expr,
            full,
            json,
        } => queries::object(&file, step, &expr, full, json),
        Command::Exec(args) => live::exec(args),
        Command::Reload(args) => live::reload(args),
        Command::Doctor(args) => doctor::doctor(args),
        Command::Serve(args) => serve::serve(args),
        Command::Export {
            file,
            format,
            output,
            range,
        } => export::export(&file, format, output.as_deref(), range),
        Command::Dap => dap::dap(),
    }
}
