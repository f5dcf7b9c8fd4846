//! `hindsight attach PID` against running CPython programs that are not
//! hindsight's children, and what it records of them: attach/detach cycles
//! leave a worker's output identical to an unattached run; new and existing
//! threads are recorded; a real `python3 -m http.server` serves on after
//! detach (those three on 3.8-3.13); the probe reads the program's state,
//! and an attached recording shows what `record` shows (3.11-3.13); and the
//! errors. A program waiting for its input while attached (signals, its
//! end, the time bound, hindsight killed): attach_waiting_test.rs. Every
//! wait is on a line a process prints (READY, hindsight's "attached"
//! line), under a watchdog deadline; never a sleep.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

#[path = "attach/harness.rs"]
#[allow(dead_code)]
mod harness;
use harness::*;

#[test]
fn fifty_attach_detach_cycles_leave_the_worker_unharmed() {
    // CPython 3.11, 3.12 and 3.13 (20 cycles on the last two: each
    // switches tracing on and off by calls in the target); the older
    // versions below.
    for py in recent_pythons() {
        let n = if py.ends_with("3.11") { 50 } else { 20 };
        cycles(&py, n);
    }
}

/// The same, 20 cycles, on 3.8, 3.9 and 3.10 (hooked by writes). On 3.10
/// an attach whose stop lands where the eval loop copies `use_tracing`
/// between C frames records nothing unless its second looks switch tracing
/// on again; that attach would wait for its 40 steps forever.
#[test]
fn twenty_attach_detach_cycles_on_the_older_versions() {
    for py in attach_pythons()
        .into_iter()
        .filter(|p| p.ends_with("3.8") || p.ends_with("3.9") || p.ends_with("3.10"))
    {
        cycles(&py, 20);
    }
}

fn cycles(py: &str, n: usize) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let worker = fixture("worker.py");
    let target = Target::start_with(py, &[worker.to_str().unwrap()]);
    target.expect("READY");
    let mut got: Vec<String> = Vec::new();
    for i in 0..n {
        let hsr = dir.path().join(format!("cycle{i}.hsr"));
        let a = Attach::start(target.pid(), &hsr, &["--max-steps", "40"]);
        let last = a.finish();
        assert!(last.contains("detached"), "{py}: {last}");
        let s = steps(&hsr);
        assert_eq!(s.len(), 40, "{py}: cycle {i}");
        let o = hindsight(&["state", hsr.to_str().unwrap(), "39"]);
        assert!(o.status.success(), "cycle {i}: {o:?}");
        assert!(info(&hsr).contains("complete"), "cycle {i}");
        assert_eq!(target.tracer_pid(), 0, "cycle {i}: still traced");
        // The target runs on: a checksum line comes after every cycle.
        got.push(target.expect("checksum"));
    }
    // Some more work after the last detach.
    for _ in 0..20 {
        got.push(target.expect("checksum"));
    }
    drop(target);
    same_as_an_unattached_run(py, &worker, &got);
}

#[test]
fn threads_old_and_new_are_recorded() {
    for py in attach_pythons() {
        threads_old_and_new_are_recorded_on(&py);
    }
}

fn threads_old_and_new_are_recorded_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("threads.hsr");
    let mut target = Target::start_with(py, &[fixture("threads.py").to_str().unwrap()]);
    target.expect("READY");
    let before: HashSet<i64> = std::fs::read_dir(format!("/proc/{}/task", target.pid()))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let a = Attach::start(target.pid(), &hsr, &[]);
    // Long enough (thousands of recorded steps) that both busy workers
    // get the interpreter's lock while recorded: a short one may end
    // within one switch interval.
    target.send("spawn 5000");
    assert_eq!(target.expect("thread s1"), "thread s1 41654167500");
    a.signal(libc::SIGINT);
    a.finish();
    let s = steps(&hsr);
    let thread_of = |f: &str| -> HashSet<i64> {
        s.iter()
            .filter(|x| x["function"] == f)
            .filter_map(|x| x["thread"].as_i64())
            .collect()
    };
    let busy = thread_of("busy");
    assert_eq!(busy.len(), 2, "both workers recorded: {busy:?}");
    assert!(busy.is_subset(&before));
    let new = thread_of("squares");
    assert_eq!(new.len(), 1, "the new thread is recorded: {new:?}");
    assert!(
        new.is_disjoint(&before),
        "squares ran in a thread born after attach"
    );
    let main = thread_of("main");
    assert!(main.contains(&(target.pid() as i64)), "{main:?}");
    // Unharmed.
    target.send("spawn 3");
    assert_eq!(target.expect("thread s2"), "thread s2 5");
}

/// GET `path` from 127.0.0.1:`port`; the whole response.
fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the response");
    out
}

#[test]
fn http_server_serves_on_after_detach() {
    for py in attach_pythons() {
        http_server_serves_on_after_detach_on(&py);
    }
}

fn http_server_serves_on_after_detach_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("hello.txt"), "hello from the server\n").unwrap();
    let hsr = dir.path().join("http.hsr");
    let target = Target::start_with(
        py,
        &[
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
            site.to_str().unwrap(),
        ],
    );
    let line = target.expect("Serving HTTP on");
    let port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line}"));
    // The first request initialises mimetypes (tens of thousands of steps
    // with --all): serve it before attaching, as a server that has been
    // up for a while would have.
    assert!(http_get(port, "/hello.txt").starts_with("HTTP/1.0 200"));
    let a = Attach::start(target.pid(), &hsr, &["--all"]);
    for _ in 0..3 {
        let r = http_get(port, "/hello.txt");
        assert!(r.starts_with("HTTP/1.0 200"), "{r}");
        assert!(r.ends_with("hello from the server\n"), "{r}");
    }
    a.signal(libc::SIGTERM);
    a.finish();
    assert_eq!(target.tracer_pid(), 0);
    for _ in 0..10 {
        let r = http_get(port, "/hello.txt");
        assert!(r.starts_with("HTTP/1.0 200"), "{r}");
        assert!(r.ends_with("hello from the server\n"), "{r}");
    }
    let r = http_get(port, "/missing");
    assert!(r.starts_with("HTTP/1.0 404"), "{r}");
    let f = functions(&steps(&hsr));
    assert!(
        f.contains("SimpleHTTPRequestHandler.do_GET") || f.contains("do_GET"),
        "request handling not in the recording: {f:?}"
    );
}

#[test]
fn attach_errors_say_what_to_do() {
    // No such process.
    let o = hindsight(&["attach", "999999999"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no process"), "{err}");
    // Not a CPython.
    let mut sleeper = Command::new("sleep").arg("1000").spawn().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.hsr");
    let o = hindsight(&[
        "attach",
        &sleeper.id().to_string(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("not a CPython"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    // Already traced (by another hindsight).
    if python().is_none() {
        return;
    }
    let target = Target::start(&[fixture("blocked.py").to_str().unwrap()]);
    target.expect("READY");
    let a = Attach::start(target.pid(), &dir.path().join("first.hsr"), &[]);
    let o = hindsight(&[
        "attach",
        &target.pid().to_string(),
        "-o",
        dir.path().join("second.hsr").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("already traced"), "{err}");
    a.signal(libc::SIGINT);
    a.finish();
}

#[test]
fn record_mode_records_threads_started_by_the_program() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("rt.hsr");
    let o = Command::new(hindsight_bin())
        .args(["record", "-o", hsr.to_str().unwrap(), "--", py])
        .arg(fixture("record_threads.py"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run hindsight record");
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[10, 10]\n");
    let s = steps(&hsr);
    let sq: HashSet<i64> = s
        .iter()
        .filter(|x| x["function"] == "sq")
        .filter_map(|x| x["thread"].as_i64())
        .collect();
    assert_eq!(sq.len(), 2, "both threads recorded: {sq:?}");
    // Every line of both calls: call, 4 lines x (1 + 5 loop turns)..., the
    // same count in each thread.
    let per: Vec<usize> = sq
        .iter()
        .map(|t| {
            s.iter()
                .filter(|x| x["thread"].as_i64() == Some(*t))
                .count()
        })
        .collect();
    assert_eq!(per[0], per[1], "{per:?}");
}

#[test]
fn attach_places_the_probe_and_reads_through_it() {
    for py in recent_pythons() {
        attach_places_the_probe_and_reads_through_it_on(&py);
    }
}

fn attach_places_the_probe_and_reads_through_it_on(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start_with(py, &[fixture("worker.py").to_str().unwrap()]);
    target.expect("READY");
    let hsr = dir.path().join("probe.hsr");
    let a = Attach::start(target.pid(), &hsr, &["--max-steps", "400"]);
    assert!(a.finish().contains("detached"));
    assert_eq!(target.tracer_pid(), 0, "still traced");
    // The probe was placed (its mappings stay, called by nothing).
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", target.pid())).unwrap();
    assert!(
        maps.contains("hindsight-probe"),
        "no probe mapping:\n{maps}"
    );
    // What the stops read through it is the program's state: in mix(),
    // parts is computed from acc, so each recorded pair must agree.
    let dump = hindsight(&["dump", hsr.to_str().unwrap()]);
    assert!(dump.status.success(), "{dump:?}");
    let mut checked = 0;
    for line in String::from_utf8_lossy(&dump.stdout).lines() {
        let s: serde_json::Value = serde_json::from_str(line).unwrap();
        let locals = &s["locals"];
        let (Some(acc), Some(parts)) = (
            locals["acc"]["repr"].as_str(),
            locals["parts"]["repr"].as_str(),
        ) else {
            continue;
        };
        if s["function"] != "mix" || s["line"].as_u64() != Some(15) {
            continue;
        }
        let acc: u64 = acc.parse().unwrap();
        assert_eq!(
            parts,
            format!("[{}, {}, {}]", acc % 7, acc % 11, acc % 13),
            "{line}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} steps of mix() checked");
    // The target runs on unharmed.
    target.expect("checksum");
}

/// What a dumped step shows, without object ids (which differ between
/// runs): event, function, line, the stack's functions and lines, and each
/// local's repr.
fn shown(step: &serde_json::Value) -> String {
    let stack: Vec<String> = step["stack"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|f| format!("{}:{}", f["function"], f["line"]))
                .collect()
        })
        .unwrap_or_default();
    let mut locals: Vec<String> = step["locals"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v["repr"]))
                .collect()
        })
        .unwrap_or_default();
    locals.sort();
    format!(
        "{} {} {} [{}] {{{}}}",
        step["event"],
        step["function"],
        step["line"],
        stack.join(" "),
        locals.join(", ")
    )
}

/// Every step of a recording as `hindsight dump` shows it.
fn dumped(hsr: &std::path::Path) -> Vec<serde_json::Value> {
    let o = hindsight(&["dump", hsr.to_str().unwrap()]);
    assert!(o.status.success(), "dump: {o:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON step"))
        .collect()
}

/// An attached recording shows what `record` shows of the same work: its
/// first step (a full snapshot of the stack it found) and every later step
/// of `handle` are steps of the recording of the same program run from its
/// start, on 3.11 (hooked by writes) and 3.12, 3.13 (hooked by calls).
#[test]
fn an_attached_recording_shows_what_record_shows() {
    for py in recent_pythons() {
        eprintln!("on {py}");
        let dir = tempfile::tempdir().unwrap();
        let script = fixture("blocked.py");
        let full = dir.path().join("full.hsr");
        let mut rec = Command::new(hindsight_bin())
            .args(["record", "-o", full.to_str().unwrap(), "--", &py])
            .arg(&script)
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run hindsight record");
        rec.stdin.take().unwrap().write_all(b"work 6\n").unwrap();
        assert!(rec.wait().unwrap().success(), "{py}: record failed");
        let hsr = dir.path().join("attached.hsr");
        let mut target = Target::start_with(&py, &[script.to_str().unwrap()]);
        target.expect("READY");
        let a = Attach::start(target.pid(), &hsr, &[]);
        target.send("work 6");
        assert_eq!(target.expect("done"), "done 6 55");
        a.signal(libc::SIGTERM);
        a.finish();
        let full: Vec<String> = dumped(&full).iter().map(shown).collect();
        let got = dumped(&hsr);
        assert!(!got.is_empty(), "{py}: nothing recorded");
        assert!(
            full.contains(&shown(&got[0])),
            "{py}: the first attached step is no step of record's: {}",
            shown(&got[0])
        );
        let handle = |s: &[String]| -> Vec<String> {
            s.iter()
                .filter(|x| x.contains("\"handle\" "))
                .cloned()
                .collect()
        };
        let got: Vec<String> = got.iter().map(shown).collect();
        assert!(!handle(&got).is_empty(), "{py}: handle() not recorded");
        assert_eq!(handle(&got), handle(&full), "{py}");
    }
}
