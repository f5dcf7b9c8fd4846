//! Pausing every thread of a seized process in the middle of its traps
//! (`Tracee::pause_all`) loses none of them: a thread that traps, starts a
//! thread or ends while the others are being paused has that stop kept for
//! the next wait, so every call of the trapped function is answered once.

mod ptrace_util;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use tracer::internals::{Stop, Tracee};

/// Deadline for the next stop of the program.
const DEADLINE: Duration = Duration::from_secs(60);

/// Waits for a byte on stdin, then `check(i)` `n` times in each of
/// `threads` threads; writes the sum of what it returned to argv[1].
const CALLS: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
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
    char go;
    if (read(0, &go, 1) != 1) return 3;
    long total = 0;
    for (int i = 0; i < threads; i++) pthread_create(&th[i], 0, work, &sums[i]);
    for (int i = 0; i < threads; i++) { pthread_join(th[i], 0); total += sums[i]; }
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "%ld\n", total);
    fclose(f);
    return 0;
}
"#;

#[test]
fn pauses_between_traps_lose_no_stop() {
    let prog = ptrace_util::CProg::build("pause_calls", CALLS);
    let (n, threads) = (400u64, 4u64);
    let mut child = Command::new(&prog.exe)
        .args(prog.args(&[&n.to_string(), &threads.to_string()]))
        .stdin(Stdio::piped())
        .spawn()
        .expect("start the program");
    let mut t = Tracee::seize(child.id() as i32).expect("seize");
    let check = prog.sym("check");
    t.set_breakpoint(check).unwrap();
    t.resume_all().unwrap();
    child.stdin.take().unwrap().write_all(b"g").unwrap();
    let (mut hits, mut pauses, mut paused_threads) = (0u64, 0u64, 0usize);
    loop {
        // A stop lost would leave its thread stopped and the program waiting.
        let stop = t.wait_timeout(DEADLINE).unwrap();
        match stop.unwrap_or_else(|| panic!("no stop within {DEADLINE:?} after {hits} traps")) {
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } => {
                assert_eq!(addr, check);
                hits += 1;
                if hits % 3 == 0 {
                    // The other threads run meanwhile: some trap, start or
                    // end as they are paused.
                    let paused = t.pause_all().unwrap();
                    paused_threads += paused.len();
                    pauses += 1;
                    t.resume_paused(&paused).unwrap();
                }
                t.emulate_return(tid, &mut regs, 0).unwrap();
                t.resume(tid, None).unwrap();
            }
            Stop::NewThread { parent, tid } => {
                t.resume(tid, None).unwrap();
                t.resume(parent, None).unwrap();
            }
            Stop::ThreadExit { .. } => {}
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).unwrap(),
            Stop::Exited { code } => {
                assert_eq!(code, 0);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let _ = child.wait();
    assert_eq!(hits, n * threads, "every call trapped once");
    assert_eq!(prog.output().trim(), "0", "every trap answered");
    assert!(
        pauses >= hits / 3 && paused_threads > 0,
        "{pauses} pauses, {paused_threads} threads paused"
    );
}
