//! A recorded program that forks: the child is a copy of the target with
//! the trace hook in its memory. hindsight removes the hook from the child
//! and lets it run untraced (left hooked, its first step stops it on a trap
//! nobody answers and it dies of SIGTRAP); the recording goes on with the
//! parent. On every supported interpreter present, with and without the
//! probe (which the child shares memory with).

mod common;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn a_forked_child_runs_on_untraced() {
    let pythons = common::supported_interpreters();
    if pythons.is_empty() {
        return;
    }
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let fixture = common::repo_root().join("tests/fixtures/process/fork.py");
    let dir = tempfile::tempdir().unwrap();
    for py in &pythons {
        for probe in [true, false] {
            let name = format!("{} (probe: {probe})", py.minor);
            let hsr = dir.path().join(format!("fork-{}-{probe}.hsr", py.minor));
            let mut cmd = Command::new(&hindsight);
            cmd.arg("record")
                .arg("-o")
                .arg(&hsr)
                .arg("--")
                .arg(&py.path)
                .arg(&fixture)
                .env_remove("HINDSIGHT_NO_PROBE");
            if !probe {
                cmd.env("HINDSIGHT_NO_PROBE", "1");
            }
            let out = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}: {}: {stderr}", out.status);
            assert!(
                stdout.contains("child 4950"),
                "{name}: child output missing: {stdout}"
            );
            assert!(
                stdout.contains("parent 45 child status 0"),
                "{name}: the child did not exit cleanly: {stdout}"
            );
            // The parent's steps after the fork are recorded, to its last:
            // the module's return at the final print (line 19).
            let dump = Command::new(&hindsight)
                .arg("dump")
                .arg(&hsr)
                .output()
                .unwrap();
            let dump = String::from_utf8_lossy(&dump.stdout);
            let last = dump.lines().last().unwrap_or_default();
            assert!(
                last.contains(r#""event":"return""#)
                    && last.contains(r#""function":"<module>","line":19"#),
                "{name}: the recording does not end at the parent's last line: {last}"
            );
        }
    }
}
