//! The `hindsight` command line (spec/cli.md).

fn main() {
    std::process::exit(2);
}
