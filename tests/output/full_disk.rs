//! A recording that can no longer be written (a file size limit set on
//! hindsight alone, with `prlimit --pid`, once the program runs: EFBIG; and
//! a full disk, a small tmpfs where the test may mount one: ENOSPC): hindsight says so in one line,
//! stops recording and lets the program run on untraced, keeps every step
//! written before readable, and `record` exits with the program's status;
//! `attach` detaches, the target unharmed. The program's own SIGXFSZ
//! disposition is the one hindsight was started with.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use super::common;

/// Waits for "go" on stdin once it said "ready", then runs long enough
/// to fill the room left; its output and status tell it ran to its end.
const APP: &str = "\
import sys
print('ready', flush=True)
sys.stdin.readline()
xs = []
for i in range(200000):
    xs.append(i * 7 % 1000)
    if len(xs) > 50:
        xs.pop(0)
print('done', sum(xs), flush=True)
sys.exit(3)
";

/// Room the recording gets past its size when the limit is set.
const ROOM: u64 = 64 * 1024;

/// Kills the processes given unless told in time that the test is done.
struct Watchdog(mpsc::Sender<()>);

impl Watchdog {
    fn start(pids: Vec<u32>) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if rx.recv_timeout(common::HINDSIGHT_TIMEOUT) == Err(mpsc::RecvTimeoutError::Timeout) {
                for pid in pids {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            }
        });
        Watchdog(tx)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// `prlimit --pid PID --fsize=N`: PID's files may not grow past N bytes.
fn limit_file_size(pid: u32, bytes: u64) -> Result<(), String> {
    let o = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={bytes}")])
        .output()
        .map_err(|e| format!("cannot run prlimit: {e}"))?;
    if !o.status.success() {
        return Err(format!("prlimit: {}", String::from_utf8_lossy(&o.stderr)));
    }
    Ok(())
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG")
        .spawn()
        .expect("spawn")
}

fn read_line(r: &mut impl BufRead) -> String {
    let mut line = String::new();
    let _ = r.read_line(&mut line);
    line
}

/// `hindsight CMD HSR [ARGS]`: status and stdout.
fn query(hsr: &Path, cmd: &str, args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(super::hindsight())
        .arg(cmd)
        .arg(hsr)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// The recording holds `steps` steps, every one readable, and says it was
/// cut (or, when not even its end record fitted, that it is incomplete).
fn check_cut_file(name: &str, hsr: &Path, steps: u64, limit: u64) {
    let size = std::fs::metadata(hsr).unwrap().len();
    assert!(size <= limit, "{name}: {size} bytes past the limit {limit}");
    let (code, info) = query(hsr, "info", &[]);
    assert_eq!(code, Some(0), "{name}: {info}");
    assert!(
        info.contains("cut short; hindsight detached") || info.contains("(incomplete)"),
        "{name}: {info}"
    );
    assert!(
        info.contains(&format!("steps:       {steps}")),
        "{name}: want {steps} steps: {info}"
    );
    let (code, listed) = query(hsr, "steps", &[]);
    assert_eq!(code, Some(0), "{name}");
    assert_eq!(listed.lines().count() as u64, steps, "{name}");
    let last = (steps - 1).to_string();
    let (code, state) = query(hsr, "state", &[&last, "--json"]);
    assert_eq!(code, Some(0), "{name}: state {last}: {state}");
}

/// "N steps recorded before it" in the one line that says the recording was cut.
fn steps_in(line: &str) -> u64 {
    let head = line.split(" recorded before it").next().unwrap_or("");
    let n = head.rsplit(' ').nth(1).unwrap_or("");
    n.parse()
        .unwrap_or_else(|_| panic!("no step count in {line}"))
}

fn record_cut(dir: &Path, py: &common::Interpreter, want: &str) {
    let name = format!("{} record", py.minor);
    let app = dir.join(format!("full-{}.py", py.minor));
    std::fs::write(&app, APP).unwrap();
    let hsr = dir.join(format!("full-{}.hsr", py.minor));
    let mut child = spawn(
        Command::new(super::hindsight())
            .args(["record", "-o"])
            .arg(&hsr)
            .arg("--")
            .arg(&py.path)
            .arg(&app),
    );
    let _dog = Watchdog::start(vec![child.id()]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    assert_eq!(read_line(&mut out), "ready\n", "{name}");
    let limit = std::fs::metadata(&hsr).unwrap().len() + ROOM;
    limit_file_size(child.id(), limit).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{name}: {status:?}: {err}");
    assert_eq!(
        rest, want,
        "{name}: the program did not run to its end: {err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{name}: want one line: {err}");
    assert!(
        lines[0].starts_with("hindsight: the recording was cut (")
            && lines[0].contains("the program ran on untraced"),
        "{name}: {err}"
    );
    check_cut_file(&name, &hsr, steps_in(lines[0]), limit);
}

/// What the program prints after "ready", run plainly.
fn plain_output(py: &common::Interpreter, dir: &Path) -> String {
    let app = dir.join("plain.py");
    std::fs::write(&app, APP).unwrap();
    let mut child = spawn(Command::new(&py.path).arg(&app));
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.strip_prefix("ready\n")
        .expect("ready first")
        .to_string()
}

#[test]
fn a_recording_that_cannot_be_written_stops_and_the_program_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        let want = plain_output(py, dir.path());
        record_cut(dir.path(), py, &want);
    }
}

#[test]
fn attach_that_cannot_write_detaches_and_the_target_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let attachable = ["3.8", "3.9", "3.10", "3.11"];
    for py in common::supported_interpreters()
        .iter()
        .filter(|p| attachable.contains(&p.minor.as_str()))
    {
        let name = format!("{} attach", py.minor);
        let want = plain_output(py, dir.path());
        let app = dir.path().join(format!("target-{}.py", py.minor));
        std::fs::write(&app, APP).unwrap();
        let mut target = spawn(Command::new(&py.path).arg(&app));
        let mut out = BufReader::new(target.stdout.take().unwrap());
        assert_eq!(read_line(&mut out), "ready\n", "{name}");
        let hsr = dir.path().join(format!("attach-{}.hsr", py.minor));
        let mut h = spawn(
            Command::new(super::hindsight())
                .args(["attach", &target.id().to_string(), "-o"])
                .arg(&hsr),
        );
        let _dog = Watchdog::start(vec![h.id(), target.id()]);
        let mut herr = BufReader::new(h.stderr.take().unwrap());
        let attached = read_line(&mut herr);
        assert!(
            attached.starts_with("hindsight: attached"),
            "{name}: {attached}"
        );
        let limit = std::fs::metadata(&hsr).unwrap().len() + ROOM;
        limit_file_size(h.id(), limit).unwrap();
        target.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let mut err = String::new();
        herr.read_to_string(&mut err).unwrap();
        let hstatus = h.wait().unwrap();
        assert_eq!(hstatus.code(), Some(0), "{name}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: want one line: {err}");
        assert!(
            lines[0].starts_with("hindsight: the recording was cut (")
                && lines[0].contains("detached from process"),
            "{name}: {err}"
        );
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let status = target.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(3),
            "{name}: the target was harmed: {status:?}"
        );
        assert_eq!(rest, want, "{name}");
        check_cut_file(&name, &hsr, steps_in(lines[0]), limit);
    }
}

/// Which signals a shell started by `record` ignores, and the same shell
/// started plainly: hindsight's own SIGXFSZ is not passed on.
#[test]
fn the_program_inherits_the_signal_dispositions_hindsight_got() {
    let dir = tempfile::tempdir().unwrap();
    let show = "grep SigIgn /proc/self/status";
    let plain = Command::new("/bin/sh").args(["-c", show]).output().unwrap();
    let o = Command::new(super::hindsight())
        .args(["record", "-o"])
        .arg(dir.path().join("none.hsr"))
        .args(["--", "/bin/sh", "-c", show])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let xfsz_ignored = |out: &[u8]| -> bool {
        let text = String::from_utf8_lossy(out);
        let mask = text
            .trim()
            .strip_prefix("SigIgn:")
            .expect("a SigIgn line")
            .trim();
        let mask = u64::from_str_radix(mask, 16).expect("a mask");
        mask & (1 << (libc::SIGXFSZ - 1)) != 0
    };
    assert_eq!(xfsz_ignored(&o.stdout), xfsz_ignored(&plain.stdout));
}

/// A small tmpfs, unmounted when dropped; `None` where it cannot be
/// mounted (not root, no mount in this container).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, bytes: u64) -> Option<SmallDisk> {
        let at = dir.join("disk");
        std::fs::create_dir_all(&at).ok()?;
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&at)
            .output()
            .ok()?;
        o.status.success().then_some(SmallDisk(at))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The same on a disk that fills up (ENOSPC): a tmpfs of 256 KiB, where
/// the test may mount one (as root); skipped elsewhere.
#[test]
fn a_full_disk_stops_the_recording_and_the_program_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path(), 256 * 1024) else {
        eprintln!("SKIPPED: cannot mount a small tmpfs here (not root?)");
        return;
    };
    let app = dir.path().join("full.py");
    std::fs::write(&app, APP).unwrap();
    for py in &common::supported_interpreters() {
        let name = format!("{} full disk", py.minor);
        let want = plain_output(py, dir.path());
        let hsr = disk.0.join("full.hsr");
        let _ = std::fs::remove_file(&hsr);
        let mut child = spawn(
            Command::new(super::hindsight())
                .args(["record", "-o"])
                .arg(&hsr)
                .arg("--")
                .arg(&py.path)
                .arg(&app),
        );
        let _dog = Watchdog::start(vec![child.id()]);
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(3), "{name}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("ready\n{want}"),
            "{name}"
        );
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: want one line: {err}");
        assert!(
            lines[0].contains("No space left on device"),
            "{name}: {err}"
        );
        check_cut_file(&name, &hsr, steps_in(lines[0]), 256 * 1024);
    }
}
