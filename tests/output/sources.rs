//! The source text a recording keeps: queries show the lines that ran as
//! they were when recorded, after the program's file changed or was
//! deleted (`state`, `visits`, `export --format pythontutor`), and a
//! recorded path that is a FIFO or `/dev/stdin` is never opened by a query
//! (which would wait for a writer forever) nor read by the recorder.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::common;

/// Line 2 is the one looked for; the file ends with a newline (3 lines).
const APP: &str = "total = 0\nfor i in range(3): total += i  # as recorded\nprint(total)\n";

/// A query must answer well within this, or it waits on something.
const QUERY_LIMIT: Duration = Duration::from_secs(60);

/// `hindsight ARGS` with a stdin that stays open and silent (a terminal
/// nobody types in), killed after [`QUERY_LIMIT`]; `Err` if it was.
fn query(args: &[&str]) -> Result<Output, String> {
    let mut child = Command::new(super::hindsight())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<()>();
    let dog = std::thread::spawn(move || {
        if rx.recv_timeout(QUERY_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return true;
        }
        false
    });
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let _ = tx.send(());
    if dog.join().unwrap() {
        return Err(format!("hindsight {args:?} hung and was killed"));
    }
    Ok(out)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The first line step at line 2 of the recording, from `steps`.
fn step_at_line_2(hsr: &str) -> String {
    let o = query(&["steps", hsr]).unwrap();
    let steps = text(&o.stdout);
    let l = steps
        .lines()
        .find(|l| l.contains(" line ") && l.contains(":2 "))
        .unwrap_or_else(|| panic!("no line step at line 2: {steps}"));
    l.split(' ').next().unwrap().to_string()
}

#[test]
fn queries_show_the_source_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        let name = py.minor.clone();
        let app = dir.path().join(format!("app{}.py", name.replace('.', "")));
        std::fs::write(&app, APP).unwrap();
        let hsr = dir.path().join(format!("app-{name}.hsr"));
        let o = common::run_record(&super::hindsight(), &py.path, &app, &hsr).unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let hsr = hsr.to_str().unwrap();
        // The program's file changes, then goes.
        std::fs::write(&app, "changed = True\n").unwrap();
        let step = step_at_line_2(hsr);
        for gone in [false, true] {
            if gone {
                std::fs::remove_file(&app).unwrap();
            }
            let o = query(&["state", hsr, &step]).unwrap();
            let shown = text(&o.stdout);
            assert!(
                shown.contains("for i in range(3): total += i  # as recorded"),
                "{name} (file gone: {gone}): {shown}"
            );
            let visits = query(&["visits", hsr, &format!("{}:9", app.display())]).unwrap();
            assert!(
                text(&visits.stderr).contains("(it has 3 lines)"),
                "{name}: {}",
                text(&visits.stderr)
            );
            let o = query(&["export", hsr, "--format", "pythontutor"]).unwrap();
            let trace: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(trace["code"], APP, "{name} (file gone: {gone})");
        }
    }
}

/// `python FIFO` (fed by a writer that then closes it) and `python
/// /dev/stdin`: the recorder keeps no text of them and does not block, and
/// a query on the recording never opens them.
#[test]
fn a_fifo_or_dev_stdin_as_the_source_never_hangs_a_query() {
    for py in &common::supported_interpreters() {
        fifo_and_stdin(py);
    }
}

fn fifo_and_stdin(py: &common::Interpreter) {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.py");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: mkfifo failed");
        return;
    }
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            // Blocks until python opens it, then closes it: python reads all.
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            f.write_all(APP.as_bytes()).unwrap();
        })
    };
    let hsr = dir.path().join("fifo.hsr");
    let o = common::run_record(&super::hindsight(), &py.path, &fifo, &hsr).unwrap();
    writer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    check_no_hang(&hsr, &format!("{} FIFO", py.minor));

    let app = dir.path().join("app.py");
    std::fs::write(&app, APP).unwrap();
    let hsr = dir.path().join("stdin.hsr");
    let mut cmd = Command::new(super::hindsight());
    cmd.args(["record", "-o"])
        .arg(&hsr)
        .arg("--")
        .arg(&py.path)
        .arg("/dev/stdin")
        .stdin(std::fs::File::open(&app).unwrap())
        .env_remove("RUST_LOG");
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    check_no_hang(&hsr, &format!("{} /dev/stdin", py.minor));
}

fn check_no_hang(hsr: &Path, what: &str) {
    let hsr = hsr.to_str().unwrap();
    let step = step_at_line_2(hsr);
    let o = query(&["state", hsr, &step]).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(o.status.success(), "{what}: {}", text(&o.stderr));
    let shown = text(&o.stdout);
    assert!(
        shown.starts_with(&format!("step {step} ")),
        "{what}: {shown}"
    );
    assert!(
        !shown.contains("# as recorded"),
        "{what}: its text was read: {shown}"
    );
    let o = query(&["export", hsr, "--format", "pythontutor"])
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(o.status.success(), "{what}: {}", text(&o.stderr));
}
