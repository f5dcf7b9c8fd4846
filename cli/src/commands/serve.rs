//! `hindsight serve`: open the recording, start the web page's server
//! (the `web` crate), say where it is, and answer until interrupted.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::Result;
use web::{App, Server};

use crate::args::ServeArgs;
use crate::recording::Recording;

pub fn serve(args: ServeArgs) -> Result<i32> {
    let rec = Recording::open(&args.file)?;
    let steps = rec.count();
    let app = App::new(rec.reader, &rec.path);
    let server = Server::bind(args.host, args.port, app)?;
    let url = server.url();
    if !args.host.is_loopback() {
        eprintln!(
            "hindsight: warning: listening on {}: anyone who can reach it can read everything \
             the recording holds (the program's variables, secrets included); use the default \
             --host 127.0.0.1 unless you mean it",
            server.local_addr()
        );
    }
    let mut o = std::io::stdout();
    writeln!(
        o,
        "hindsight: serving {} ({} steps) at {url} (Ctrl-C stops)",
        rec.path.display(),
        steps
    )?;
    o.flush()?;
    if args.open {
        open_browser(&url);
    }
    server.run()?;
    Ok(0)
}

/// Start the system's browser on `url` (xdg-open), without waiting for it.
fn open_browser(url: &str) {
    let child = Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(mut c) => {
            // Reaped when it ends, so it leaves no zombie behind.
            std::thread::spawn(move || c.wait());
        }
        Err(e) => eprintln!("hindsight: cannot start xdg-open ({e}); open {url} yourself"),
    }
}
