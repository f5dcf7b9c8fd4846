//! Traps: a breakpoint on a function answered by emulate_return (the program
//! sees the emulated value; hit counts exact), a returning trap run past
//! (and what is left when it is removed), signals delivered unchanged,
//! threads followed to completion with the breakpoint hit in every thread.

mod ptrace_util;

use std::collections::HashSet;

use tracer::internals::{Stop, Tracee};
use tracer::{RemoteAddr, Tid};

/// `check(i)` returns i + 41; the program writes the sum over `n` calls per
/// thread for `threads` threads (0 = only main) to argv[1].
const CALLS: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
__attribute__((noipa)) long check(long x) { return x + 41; }
static long n;
static void *work(void *arg) {
    long s = 0;
    for (long i = 0; i < n; i++) s += check(i);
    *(long *)arg = s;
    return 0;
}
int main(int argc, char **argv) {
    n = atol(argv[2]);
    int threads = atoi(argv[3]);
    long sums[64] = {0};
    pthread_t th[64];
    if (threads > 64) threads = 64;
    long total = 0;
    if (threads == 0) {
        work(&sums[0]);
        total = sums[0];
    } else {
        for (int i = 0; i < threads; i++) pthread_create(&th[i], 0, work, &sums[i]);
        for (int i = 0; i < threads; i++) { pthread_join(th[i], 0); total += sums[i]; }
    }
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "%ld\n", total);
    fclose(f);
    return 0;
}
"#;

struct Run {
    hits: u64,
    new_threads: HashSet<Tid>,
    exited_threads: HashSet<Tid>,
    hit_threads: HashSet<Tid>,
}

/// Run `prog` with a breakpoint at `check` answered with `return 0`.
fn run_with_trap(prog: &ptrace_util::CProg, n: &str, threads: &str) -> Run {
    let cpu = tracer::internals::pick_cpu();
    tracer::internals::pin_current_thread(cpu);
    let mut t = Tracee::launch(prog.exe.as_os_str(), &prog.args(&[n, threads]), Some(cpu)).unwrap();
    let check = prog.sym("check");
    t.set_breakpoint(check).unwrap();
    let mut run = Run {
        hits: 0,
        new_threads: HashSet::new(),
        exited_threads: HashSet::new(),
        hit_threads: HashSet::new(),
    };
    t.resume(Tid(t.pid()), None).unwrap();
    loop {
        match t.wait().unwrap() {
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } => {
                assert_eq!(addr, check);
                run.hits += 1;
                run.hit_threads.insert(tid);
                t.emulate_return(tid, &mut regs, 0).unwrap();
                t.resume(tid, None).unwrap();
            }
            Stop::NewThread { parent, tid } => {
                assert!(t.threads().contains(&tid));
                run.new_threads.insert(tid);
                t.resume(tid, None).unwrap();
                t.resume(parent, None).unwrap();
            }
            Stop::ThreadExit { tid } => {
                run.exited_threads.insert(tid);
            }
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).unwrap(),
            Stop::Exited { code } => {
                assert_eq!(code, 0);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    run
}

#[test]
fn emulated_return_is_what_the_program_sees() {
    let prog = ptrace_util::CProg::build("calls", CALLS);
    let run = run_with_trap(&prog, "1000", "0");
    assert_eq!(run.hits, 1000);
    assert_eq!(prog.output().trim(), "0");
    assert!(run.new_threads.is_empty());
}

#[test]
fn without_the_trap_the_program_computes_normally() {
    // Guards the test above: the sum really is non-zero untraced.
    let prog = ptrace_util::CProg::build("calls_plain", CALLS);
    let st = std::process::Command::new(&prog.exe)
        .args(prog.args(&["1000", "0"]))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        prog.output().trim(),
        (0..1000i64).map(|i| i + 41).sum::<i64>().to_string()
    );
}

#[test]
fn threads_are_followed_and_all_run_to_completion() {
    let prog = ptrace_util::CProg::build("calls_mt", CALLS);
    let run = run_with_trap(&prog, "500", "4");
    assert_eq!(run.new_threads.len(), 4);
    assert_eq!(run.exited_threads, run.new_threads);
    assert_eq!(run.hit_threads, run.new_threads);
    assert_eq!(run.hits, 4 * 500);
    assert_eq!(prog.output().trim(), "0");
}

/// Waits at ready(), then spins until SIGUSR1's handler ran, and reports it.
const SIG: &str = r#"
#include <signal.h>
#include <stdio.h>
static volatile sig_atomic_t got;
static void on_usr1(int s) { (void)s; got = 1; }
__attribute__((noipa)) void ready(void) {}
int main(int argc, char **argv) {
    signal(SIGUSR1, on_usr1);
    ready();
    while (!got) {}
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "handled SIGUSR1\n");
    fclose(f);
    return 5;
}
"#;

#[test]
fn signals_are_delivered_to_the_target() {
    let prog = ptrace_util::CProg::build("sig", SIG);
    let mut t = Tracee::launch(prog.exe.as_os_str(), &prog.args(&[]), None).unwrap();
    let main = Tid(t.pid());
    let ready = prog.sym("ready");
    t.set_breakpoint(ready).unwrap();
    t.resume(main, None).unwrap();
    let mut seen = Vec::new();
    loop {
        match t.wait().unwrap() {
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } => {
                assert_eq!(addr, ready);
                t.step_back_over(tid, &mut regs, addr).unwrap();
                assert!(!t.has_breakpoint(ready));
                tracer::internals::kill(t.pid(), libc::SIGUSR1).unwrap();
                t.resume(tid, None).unwrap();
            }
            Stop::Signal { tid, sig } => {
                seen.push(sig);
                t.resume(tid, Some(sig)).unwrap();
            }
            Stop::Exited { code } => {
                assert_eq!(code, 5);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec![libc::SIGUSR1]);
    assert_eq!(prog.output(), "handled SIGUSR1\n");
}

#[test]
fn detach_leaves_the_program_running_without_breakpoints() {
    let prog = ptrace_util::CProg::build("calls_detach", CALLS);
    let mut t = Tracee::launch(prog.exe.as_os_str(), &prog.args(&["300", "2"]), None).unwrap();
    let pid = t.pid();
    let check = prog.sym("check");
    t.set_breakpoint(check).unwrap();
    t.resume(Tid(pid), None).unwrap();
    // Trap a few calls, then detach in the middle of the run.
    let mut hits = 0;
    while hits < 10 {
        match t.wait().unwrap() {
            Stop::Breakpoint { tid, mut regs, .. } => {
                hits += 1;
                t.emulate_return(tid, &mut regs, 0).unwrap();
                t.resume(tid, None).unwrap();
            }
            Stop::NewThread { parent, tid } => {
                t.resume(tid, None).unwrap();
                t.resume(parent, None).unwrap();
            }
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).unwrap(),
            Stop::ThreadExit { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let mut orig = [0u8; 1];
    tracer::internals::Memory::read(t.mem(), RemoteAddr(check.0), &mut orig).unwrap();
    assert_eq!(orig[0], 0xcc);
    t.detach().unwrap();
    // No longer traced: it is our plain child now; it finishes on its own.
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None).unwrap();
    assert_eq!(
        status,
        nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
    );
    // Some calls returned 0, the rest their real value: a positive sum.
    let sum: i64 = prog.output().trim().parse().unwrap();
    assert!(sum > 0);
}

/// `zero` and `tight` are `xor eax,eax; ret`; `zero` is followed by alignment
/// padding, `tight` directly by another function. The program calls `hook`
/// (a pointer to `zero`) `argv[2]` times, adding 1 to each result, and writes
/// the sum to argv[1].
const RETURNING: &str = r#"
#include <stdio.h>
#include <stdlib.h>
__asm__(".text\n.p2align 4\n.globl zero\nzero:\n xor %eax,%eax\n ret\n"
        ".p2align 4\n.globl tight\ntight:\n xor %eax,%eax\n ret\n"
        ".globl seven\nseven:\n mov $7,%eax\n ret\n");
long zero(long), tight(long), seven(long);
long (*volatile hook)(long) = zero;
int main(int argc, char **argv) {
    long n = atol(argv[2]), s = 0;
    for (long i = 0; i < n; i++) s += hook(i) + 1;
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "%ld\n", s + tight(0) + seven(0) - 7);
    fclose(f);
    return 0;
}
"#;

#[test]
fn a_returning_trap_is_run_past_and_leaves_a_function_that_returns_0() {
    let prog = ptrace_util::CProg::build("returning", RETURNING);
    let mut t = Tracee::launch(prog.exe.as_os_str(), &prog.args(&["100"]), None).unwrap();
    let main = Tid(t.pid());
    let (zero, tight, seven) = (prog.sym("zero"), prog.sym("tight"), prog.sym("seven"));
    // No room after `tight`, and `seven` does not return 0: nothing written.
    let mut before = [0u8; 24];
    use tracer::internals::Memory;
    t.mem().read(tight, &mut before).unwrap();
    assert_eq!(t.prepare_returning_trap(tight).unwrap(), None);
    assert_eq!(t.prepare_returning_trap(seven).unwrap(), None);
    let mut after = [0u8; 24];
    t.mem().read(tight, &mut after).unwrap();
    assert_eq!(before, after);

    let stub = t
        .prepare_returning_trap(zero)
        .unwrap()
        .expect("padding after zero");
    assert_eq!(stub.0, zero.0 + 3);
    t.mem()
        .write_via(main, prog.sym("hook"), &stub.0.to_ne_bytes())
        .unwrap();
    t.set_breakpoint(stub).unwrap();
    t.resume(main, None).unwrap();
    let mut hits = 0;
    loop {
        match t.wait().unwrap() {
            Stop::Breakpoint { tid, addr, regs } => {
                assert_eq!(addr, stub);
                assert_eq!(regs.rip, stub.0 + 1);
                hits += 1;
                if hits == 10 {
                    // Removed: the calls after it run the nop and return 0.
                    t.clear_breakpoint(stub).unwrap();
                }
                // Nothing set: the thread runs on past the int3.
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
    assert_eq!(hits, 10);
    assert_eq!(prog.output().trim(), "100");
}
