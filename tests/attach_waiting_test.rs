//! `hindsight attach PID` to a program that waits for its input
//! (`blocked.py`, blocked in a system call most of the time), on 3.11, 3.12
//! and 3.13: attach returns at once and records what the program runs when
//! a line comes; signals reach it; it ending, by itself or killed, ends the
//! recording; `--max-time` ends a recording of nothing; hindsight killed
//! while it waits leaves it running. Every wait is on a line a process
//! prints, under a watchdog deadline.

use std::process::Command;

#[path = "attach/harness.rs"]
#[allow(dead_code)]
mod harness;
use harness::*;

#[test]
fn blocked_target_signals_and_sigterm() {
    for py in recent_pythons() {
        blocked_target_signals_and_sigterm_on(&py);
    }
}

fn blocked_target_signals_and_sigterm_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("blocked.hsr");
    let mut target = Target::start_with(py, &[fixture("blocked.py").to_str().unwrap()]);
    target.expect("READY");
    // The target is blocked reading stdin: attach returns at once.
    let a = Attach::start(target.pid(), &hsr, &[]);
    target.send("work 5");
    assert_eq!(target.expect("done"), "done 5 30");
    // A signal meant for the target reaches it, handler and all. CPython
    // runs a Python-level handler when it next checks for signals: if the
    // signal lands just before the read() of the next line starts (likelier
    // under tracing, which slows the target), that is once the read returns,
    // exactly as it would be without hindsight; the next line wakes it.
    Command::new("kill")
        .args(["-USR1", &target.pid().to_string()])
        .status()
        .unwrap();
    target.send("sleep");
    target.expect("usr1");
    target.expect("slept");
    a.signal(libc::SIGTERM);
    let last = a.finish();
    assert!(last.contains("detached"), "{last}");
    assert_eq!(target.tracer_pid(), 0);
    // Unharmed after detach.
    target.send("work 3");
    assert_eq!(target.expect("done"), "done 3 5");
    let s = steps(&hsr);
    let f = functions(&s);
    assert!(f.contains("handle") && f.contains("on_usr1"), "{f:?}");
    assert!(info(&hsr).contains("detached"));
}

#[test]
fn target_ending_while_recorded() {
    for py in recent_pythons() {
        target_ending_while_recorded_on(&py);
    }
}

fn target_ending_while_recorded_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("end.hsr");
    let mut target = Target::start_with(py, &[fixture("blocked.py").to_str().unwrap()]);
    target.expect("READY");
    let a = Attach::start(target.pid(), &hsr, &[]);
    target.send("work 2");
    target.expect("done");
    target.send("raise");
    let last = a.finish();
    assert!(last.contains("exited with status 1"), "{last}");
    let s = steps(&hsr);
    assert!(
        s.iter().any(|x| x["event"] == "exception"),
        "no exception step"
    );
    assert!(
        info(&hsr).contains("exited with status 1"),
        "{}",
        info(&hsr)
    );

    // Killed by a signal while recorded.
    let hsr = dir.path().join("killed.hsr");
    let target = Target::start_with(py, &[fixture("blocked.py").to_str().unwrap()]);
    target.expect("READY");
    let a = Attach::start(target.pid(), &hsr, &[]);
    Command::new("kill")
        .args(["-KILL", &target.pid().to_string()])
        .status()
        .unwrap();
    let last = a.finish();
    assert!(last.contains("killed by signal 9"), "{last}");
}

#[test]
fn max_time_ends_an_attach_to_a_blocked_target() {
    for py in recent_pythons() {
        max_time_ends_an_attach_to_a_blocked_target_on(&py);
    }
}

fn max_time_ends_an_attach_to_a_blocked_target_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("bounded.hsr");
    let mut target = Target::start_with(py, &[fixture("blocked.py").to_str().unwrap()]);
    target.expect("READY");
    // Blocked in read the whole time: only the clock can end the recording.
    let a = Attach::start(target.pid(), &hsr, &["--max-time", "0.3"]);
    let last = a.finish();
    assert!(last.contains("--max-time"), "{last}");
    assert_eq!(target.tracer_pid(), 0);
    target.send("work 4");
    assert_eq!(target.expect("done"), "done 4 14");
}

/// `hindsight attach` killed (SIGKILL, as the OOM killer does) while the
/// program waits: the program runs on, untraced. The probe's trap would
/// otherwise stay in its path with nobody to answer it, and its next step
/// would kill it with SIGTRAP; a process hindsight leaves behind disarms
/// the probe the moment hindsight is gone. Five attaches to one program,
/// each killed while it is blocked reading its input, each next one taking
/// over the probe the killed one left as the trace function; the last one
/// ends normally. (Kills at any moment: tests/attach_kill_test.rs.)
#[test]
fn a_killed_attach_leaves_a_waiting_program_running() {
    for py in recent_pythons() {
        a_killed_attach_leaves_a_waiting_program_running_on(&py);
    }
}

fn a_killed_attach_leaves_a_waiting_program_running_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let mut target = Target::start_with(py, &[fixture("blocked.py").to_str().unwrap()]);
    target.expect("READY");
    for n in 0..5 {
        let hsr = dir.path().join(format!("killed-{n}.hsr"));
        let a = Attach::start(target.pid(), &hsr, &[]);
        target.send("work 3");
        assert_eq!(target.expect("done"), "done 3 5");
        // Killed while it waits in read(), not while it is stopped in the
        // trap on its way there.
        wait_blocked_in_read(target.pid());
        a.signal(libc::SIGKILL);
        let status = a.wait();
        assert!(!status.success(), "hindsight was not killed: {status:?}");
        // Its watchdog (a fork of it: the same command line) has done its
        // work once it is gone; before that, a step races with it.
        wait_gone(&hsr);
        assert!(target.alive(), "the kill killed the program");
        // Its next lines run through the disarmed probe.
        target.send("work 4");
        assert_eq!(target.expect("done"), "done 4 14");
    }
    let hsr = dir.path().join("last.hsr");
    let a = Attach::start(target.pid(), &hsr, &[]);
    target.send("work 3");
    assert_eq!(target.expect("done"), "done 3 5");
    a.signal(libc::SIGTERM);
    assert!(a.finish().contains("detached"));
    assert_eq!(target.tracer_pid(), 0, "still traced");
    let f = functions(&steps(&hsr));
    assert!(f.contains("handle"), "{f:?}");
}

/// Wait until process `pid` sleeps in a read(2) (/proc/PID/syscall names
/// system call 0), under the harness's deadline.
fn wait_blocked_in_read(pid: i32) {
    let start = std::time::Instant::now();
    loop {
        let sc = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        if sc.split_whitespace().next() == Some("0") && state == Some("S") {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{pid} never blocked in read: {sc}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Wait until no process's command line names `path` (hindsight and what it
/// forked are gone), under the harness's deadline.
fn wait_gone(path: &std::path::Path) {
    let needle = path.to_string_lossy().into_owned();
    let start = std::time::Instant::now();
    loop {
        let alive = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next())
                == Some("Z");
            !zombie && String::from_utf8_lossy(&cmd).contains(&needle)
        });
        if !alive {
            return;
        }
        assert!(start.elapsed() < DEADLINE, "a process still names {needle}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
