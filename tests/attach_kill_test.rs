//! Killing `hindsight attach` (SIGKILL, as the OOM killer does) at random
//! moments never harms the program it recorded: 20 kills on every
//! interpreter `attach` records, while the program steps all the time (so
//! most kills find a thread stopped in the probe's trap), and the program's
//! output stays that of a run nobody attached to.

use std::time::Duration;

#[path = "attach/harness.rs"]
#[allow(dead_code)]
mod harness;
use harness::*;

/// Kills per interpreter.
const KILLS: usize = 20;

#[test]
fn twenty_sigkills_of_attach_leave_the_worker_unharmed() {
    for py in attach_pythons() {
        kills_leave_the_worker_unharmed(&py);
    }
}

fn kills_leave_the_worker_unharmed(py: &str) {
    let dir = tempfile::tempdir().unwrap();
    let worker = fixture("worker.py");
    let target = Target::start_with(py, &[worker.to_str().unwrap()]);
    target.expect("READY");
    let mut got: Vec<String> = Vec::new();
    // A fixed pseudo-random sequence of delays (0-250 ms after the attach
    // is under way): the same moments on every run of the test.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..KILLS {
        let hsr = dir.path().join(format!("killed{i}.hsr"));
        let a = Attach::start(target.pid(), &hsr, &[]);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 250));
        let wakers = a.wakers();
        a.signal(libc::SIGKILL);
        let status = a.wait();
        // Its helper processes die with it.
        for w in wakers {
            let gone = (0..50).any(|_| {
                std::thread::sleep(Duration::from_millis(20));
                std::fs::read(format!("/proc/{w}/cmdline"))
                    .map_or(true, |c| !c.starts_with(b"sleep\0"))
            });
            assert!(
                gone,
                "{py}: helper process {w} outlived the killed hindsight"
            );
        }
        assert!(
            !status.success(),
            "{py}: hindsight was not killed: {status:?}"
        );
        // The program runs on: a checksum line comes after every kill.
        got.push(target.expect("checksum"));
        got.push(target.expect("checksum"));
        assert!(target.alive(), "{py}: kill {i} killed the program");
    }
    // And the last attach records it normally, taking over the probe.
    let hsr = dir.path().join("last.hsr");
    let a = Attach::start(target.pid(), &hsr, &["--max-steps", "200"]);
    assert!(a.finish().contains("detached"), "{py}");
    assert_eq!(steps(&hsr).len(), 200, "{py}");
    assert_eq!(target.tracer_pid(), 0, "{py}: still traced");
    for _ in 0..5 {
        got.push(target.expect("checksum"));
    }
    drop(target);
    same_as_an_unattached_run(py, &worker, &got);
}
