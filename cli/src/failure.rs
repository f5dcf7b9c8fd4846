//! How `hindsight` fails: exactly one `hindsight: ` line on stderr and exit
//! status 2, for errors, usage mistakes and (as a last resort) panics.

use std::io::Write;

/// The exit status of every failure of hindsight itself (docs/spec/cli.md).
pub const EXIT_ERROR: i32 = 2;

/// Print one line for a panic instead of Rust's multi-line report. A panic
/// is a bug, so the line asks for a report.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let what = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        };
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let line = one_line(&format!(
            "internal error ({what}{place}); this is a bug in hindsight, please report it with the command you ran"
        ));
        let _ = writeln!(std::io::stderr(), "hindsight: {line}");
    }));
}

/// Print an error as one line and return the exit status to use. A closed
/// stdout (`hindsight steps f | head`) is not an error: status 0, no line.
pub fn report(err: &anyhow::Error) -> i32 {
    if is_broken_pipe(err) {
        return 0;
    }
    let _ = writeln!(std::io::stderr(), "hindsight: {}", one_line(&message(err)));
    EXIT_ERROR
}

/// The error and its causes joined with `: `, leaving out a cause whose
/// text the message already holds (many errors print their source).
fn message(err: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

/// Whether the error is (caused by) writing to a closed pipe.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A clap error: help and version go to stdout with status 0; a usage
/// mistake becomes one `hindsight: ` line and status 2.
pub fn clap_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = writeln!(
                std::io::stderr(),
                "hindsight: no command given; run `hindsight --help` to see the commands"
            );
            EXIT_ERROR
        }
        _ => {
            let text = e.render().to_string();
            // The message and its tips, without the usage block clap appends.
            let body = text.split("\nUsage:").next().unwrap_or("");
            let body = body.trim().strip_prefix("error: ").unwrap_or(body.trim());
            let body = if body.is_empty() {
                "invalid arguments"
            } else {
                body
            };
            let _ = writeln!(
                std::io::stderr(),
                "hindsight: {}; run `hindsight --help` for usage",
                one_line(body)
            );
            EXIT_ERROR
        }
    }
}

/// Collapse a message onto one line: lines joined with `; ` (or a space
/// after a line that ends in `:`, which introduces the next).
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for part in s.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n\n  b\nc  "), "a; b; c");
        assert_eq!(one_line("plain"), "plain");
        assert_eq!(one_line("missing:\n  <STEP>\n"), "missing: <STEP>");
    }

    #[test]
    fn causes_are_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::from(io).context("opening x.hsr: entity not found");
        assert_eq!(message(&e), "opening x.hsr: entity not found");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(message(&e), "outer: inner");
    }

    #[test]
    fn broken_pipe_is_quiet() {
        let e = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(report(&e), 0);
        let e = anyhow::anyhow!("boom");
        assert_eq!(report(&e), EXIT_ERROR);
    }
}
