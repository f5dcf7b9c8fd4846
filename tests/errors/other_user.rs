//! `attach` to a process of another user, by a user without CAP_SYS_PTRACE:
//! the error names the real cause (the owner differs) before anything about
//! Yama, and what to do. The test runs as root to start a target of one
//! user (uid 1) and hindsight as another (nobody); elsewhere it is skipped.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

/// The target: started as root, it becomes uid 1 (an interpreter under
/// /root cannot be started by another user) and waits.
const TARGET: &str = "import os, sys, time\n\
os.setgid(1); os.setuid(1)\n\
print('ready', flush=True)\n\
time.sleep(120)\n";

/// What is missing to run the test here, if anything.
fn cannot_run() -> Option<String> {
    // /proc/self belongs to this process's effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Some("not root: cannot start processes of two other users".into());
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !setpriv.is_ok_and(|o| o.status.success()) {
        return Some("setpriv (util-linux) is not installed".into());
    }
    None
}

/// Kills the target however the test ends.
struct Target(std::process::Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn check(python: &Path) -> Result<(), String> {
    let mut child = Command::new(python)
        .args(["-c", TARGET])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let target = Target(child);
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    if line.trim() != "ready" {
        return Err(format!("the target did not start: {line:?}"));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
        .map_err(|e| e.to_string())?;
    let output = dir.path().join("other.hsr");
    let pid = target.0.id().to_string();
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_hindsight"))
        .args(["attach", &pid, "-o"])
        .arg(&output)
        .env_remove("RUST_LOG")
        .output()
        .map_err(|e| format!("cannot run setpriv: {e}"))?;
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.code() != Some(2) || err.lines().count() != 1 {
        return Err(format!(
            "want one error line and status 2: {:?}, {err}",
            o.status
        ));
    }
    let owner = err
        .find("another user")
        .ok_or(format!("no owner named: {err}"))?;
    if !err.contains("uid 1)") || !err.contains("uid 65534)") {
        return Err(format!("both users not named: {err}"));
    }
    if err.find("yama").is_some_and(|y| y < owner) {
        return Err(format!("Yama named before the owner: {err}"));
    }
    if !err.contains("as root") {
        return Err(format!("no advice: {err}"));
    }
    if output.exists() {
        return Err("a recording was left behind".into());
    }
    Ok(())
}

#[test]
fn attach_to_another_users_process_names_the_owner() {
    if let Some(why) = cannot_run() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let mut ran = 0;
    for version in ["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"] {
        let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        let python = Path::new(&super::py311())
            .parent()
            .expect("versions dir")
            .join(version)
            .join(format!("bin/python{minor}"));
        if !python.exists() {
            eprintln!("SKIPPED: {} not present", python.display());
            continue;
        }
        if let Err(e) = check(&python) {
            panic!("{version}: {e}");
        }
        ran += 1;
    }
    eprintln!("checked on {ran} interpreters");
}
