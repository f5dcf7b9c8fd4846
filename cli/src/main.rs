//! The `hindsight` command line (docs/spec/cli.md): parses the arguments, runs one
//! command, and turns every failure into one `hindsight: ` line on stderr
//! with exit status 2.

mod args;
mod commands;
mod failure;
mod nodes;
mod out;
mod recording;
mod suggest;

use clap::Parser;

/// See Cargo.toml: memory freed by another thread than the one that
/// allocated it, at every step.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    failure::install_panic_hook();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(failure::clap_error(e)),
    };
    // A panic is a bug; the hook has already printed its one line.
    let code = match std::panic::catch_unwind(move || commands::run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => failure::report(&e),
        Err(_) => failure::EXIT_ERROR,
    };
    std::process::exit(code);
}
