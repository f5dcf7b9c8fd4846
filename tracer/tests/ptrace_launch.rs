//! Launching under ptrace: exit codes and fatal signals pass through, a
//! missing program is a clear error, the entry point is found and reached.

mod ptrace_util;

use std::ffi::{OsStr, OsString};

use tracer::internals::{Stop, TraceError, Tracee};
use tracer::Tid;

fn sh(script: &str) -> Tracee {
    Tracee::launch(
        OsStr::new("/bin/sh"),
        &[OsString::from("-c"), OsString::from(script)],
        None,
    )
    .expect("launch sh")
}

/// Resume the main thread and run to the end, passing signals through.
fn run_to_end(t: &mut Tracee) -> Stop {
    run_counting_forks(t).0
}

/// [`run_to_end`], letting forked children go; and how many there were.
fn run_counting_forks(t: &mut Tracee) -> (Stop, usize) {
    let main = Tid(t.pid());
    let mut forks = 0;
    t.resume(main, None).expect("resume");
    loop {
        match t.wait().expect("wait") {
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).expect("resume"),
            Stop::NewThread { parent, tid } => {
                t.resume(tid, None).expect("resume new");
                t.resume(parent, None).expect("resume parent");
            }
            Stop::Forked { parent, child } => {
                forks += 1;
                t.release_fork(child).expect("release child");
                t.resume(parent, None).expect("resume parent");
            }
            Stop::Exec { tid } => t.resume(tid, None).expect("resume after exec"),
            Stop::ThreadExit { .. } => {}
            Stop::Breakpoint { tid, addr, .. } | Stop::Watch { tid, addr, .. } => {
                panic!("unexpected breakpoint at {addr} in {tid}")
            }
            end @ (Stop::Exited { .. } | Stop::Killed { .. }) => return (end, forks),
        }
    }
}

#[test]
fn exit_code_passes_through() {
    let mut t = sh("exit 3");
    assert!(matches!(run_to_end(&mut t), Stop::Exited { code: 3 }));
}

#[test]
fn forks_are_reported_and_the_children_run_on() {
    // Two subshells (forks) whose exit codes the shell adds up.
    let mut t = sh("(exit 2); a=$?; (exit 3); exit $((a + $?))");
    let (end, forks) = run_counting_forks(&mut t);
    assert!(matches!(end, Stop::Exited { code: 5 }), "{end:?}");
    assert!(forks >= 2, "{forks} forks reported");
}

#[test]
fn death_by_signal_passes_through() {
    let mut t = sh("kill -TERM $$");
    match run_to_end(&mut t) {
        Stop::Killed { sig } => assert_eq!(sig, libc::SIGTERM),
        other => panic!("expected Killed, got {other:?}"),
    }
}

#[test]
fn missing_program_is_a_clear_error() {
    let err = match Tracee::launch(OsStr::new("/nonexistent/hindsight-no-such-prog"), &[], None) {
        Err(e) => e,
        Ok(_) => panic!("launching a missing program succeeded"),
    };
    assert!(matches!(err, TraceError::Spawn { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot run /nonexistent/hindsight-no-such-prog: No such file or directory"
    );
}

#[test]
fn exec_of_another_program_is_reported() {
    // sh -c with two commands cannot exec directly; `exec` forces it.
    let mut t = sh("exec /bin/true");
    t.resume(Tid(t.pid()), None).unwrap();
    let mut execs = 0;
    loop {
        match t.wait().unwrap() {
            Stop::Exec { tid } => {
                assert_eq!(tid, Tid(t.pid()));
                execs += 1;
                t.resume(tid, None).unwrap();
            }
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).unwrap(),
            Stop::Exited { code } => {
                assert_eq!(code, 0);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(execs, 1);
}

#[test]
fn runs_to_entry_point() {
    let prog = ptrace_util::CProg::build("entry", "int main(void) { return 7; }\n");
    let mut t = Tracee::launch(
        prog.exe.as_os_str(),
        &[],
        Some(tracer::internals::pick_cpu()),
    )
    .unwrap();
    let entry = t.entry_point().unwrap();
    assert_eq!(entry, prog.sym("_start"));
    let main = Tid(t.pid());
    t.set_breakpoint(entry).unwrap();
    t.set_breakpoint(entry).unwrap(); // idempotent
    t.resume(main, None).unwrap();
    match t.wait().unwrap() {
        Stop::Breakpoint {
            tid,
            addr,
            mut regs,
        } => {
            assert_eq!((tid, addr), (main, entry));
            assert_eq!(regs.rip, entry.0 + 1);
            t.step_back_over(tid, &mut regs, addr).unwrap();
            assert_eq!(t.regs(tid).unwrap().rip, entry.0);
        }
        other => panic!("expected the entry breakpoint, got {other:?}"),
    }
    assert!(matches!(run_to_end(&mut t), Stop::Exited { code: 7 }));
}

#[test]
fn kill_ends_a_stopped_target() {
    let t = sh("exit 0");
    let pid = t.pid();
    t.kill().unwrap();
    // Reaped: waiting for it again finds no such child.
    let again = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::__WALL | nix::sys::wait::WaitPidFlag::WNOHANG),
    );
    assert_eq!(again, Err(nix::errno::Errno::ECHILD));
}

#[test]
fn python_threads_run_to_completion() {
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".pyenv")
        });
    let py = &root
        .join("versions/3.11.7/bin/python3.11")
        .display()
        .to_string();
    if !std::path::Path::new(py).exists() {
        eprintln!("skipped: no {py}");
        return;
    }
    let code = "import threading\n\
                out = []\n\
                ts = [threading.Thread(target=lambda i=i: out.append(sum(range(i * 1000)))) for i in range(3)]\n\
                [t.start() for t in ts]\n\
                [t.join() for t in ts]\n\
                raise SystemExit(len(out) + 1)\n";
    let mut t = Tracee::launch(
        OsStr::new(py),
        &[OsString::from("-c"), OsString::from(code)],
        None,
    )
    .unwrap();
    t.resume(Tid(t.pid()), None).unwrap();
    let (mut born, mut died) = (0, 0);
    loop {
        match t.wait().unwrap() {
            Stop::NewThread { parent, tid } => {
                born += 1;
                t.resume(tid, None).unwrap();
                t.resume(parent, None).unwrap();
            }
            Stop::ThreadExit { .. } => died += 1,
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).unwrap(),
            Stop::Exited { code } => {
                assert_eq!(code, 4);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((born, died), (3, 3));
    assert_eq!(t.threads(), Vec::<Tid>::new());
}

#[test]
fn wait_timeout_returns_none_for_a_blocked_target() {
    let mut t = Tracee::launch(OsStr::new("sleep"), &[OsString::from("1000")], None).unwrap();
    t.resume(Tid(t.pid()), None).unwrap();
    let got = t
        .wait_timeout(std::time::Duration::from_millis(100))
        .unwrap();
    assert!(got.is_none(), "{got:?}");
    t.kill().unwrap();
}

#[test]
fn wait_timeout_reports_stops() {
    let mut t = sh("exit 9");
    t.resume(Tid(t.pid()), None).unwrap();
    let got = t.wait_timeout(std::time::Duration::from_secs(30)).unwrap();
    assert!(matches!(got, Some(Stop::Exited { code: 9 })), "{got:?}");
}
