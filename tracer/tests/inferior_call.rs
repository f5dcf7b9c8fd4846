//! Inferior calls: a stopped thread calls the target's own functions with
//! up to six integer arguments; the results, the stack alignment the callee
//! sees and the side effects are exact, and the program then runs on as if
//! nothing happened (its registers restored).

mod ptrace_util;

use tracer::internals::{startup, RunTo};
use tracer::internals::{Stop, Tracee};
use tracer::Tid;

const PROG: &str = r#"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static long counter;
__attribute__((noipa)) long add6(long a, long b, long c, long d, long e, long f) {
    return a + 10 * b + 100 * c + 1000 * d + 10000 * e + 100000 * f;
}
/* The address of a 16-aligned local, mod 16: non-zero when the caller broke
   the ABI's stack alignment (the compiler trusts it). */
__attribute__((noipa)) long misalignment(void) {
    volatile long x __attribute__((aligned(16))) = 1;
    return (long)((uintptr_t)&x % 16) + x - 1;
}
__attribute__((noipa)) long bump(long by) { counter += by; return counter; }
__attribute__((noipa)) void stop_here(long *v) { *v += 1; }
int main(int argc, char **argv) {
    long v = atol(argv[2]);
    long w = v * 3;
    stop_here(&v);
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "%ld %ld %ld\n", v, w, counter);
    fclose(f);
    return 0;
}
"#;

#[test]
fn calls_return_values_and_leave_the_thread_as_it_was() {
    let prog = ptrace_util::CProg::build("inferior", PROG);
    let cpu = tracer::internals::pick_cpu();
    tracer::internals::pin_current_thread(cpu);
    let mut t = Tracee::launch(prog.exe.as_os_str(), &prog.args(&["7"]), Some(cpu)).unwrap();
    let main = Tid(t.pid());
    let entry = t.entry_point().unwrap();
    assert!(matches!(
        startup::run_to(&mut t, main, Some(prog.sym("stop_here"))).unwrap(),
        RunTo::Reached
    ));
    let before = t.regs(main).unwrap();

    let r = t
        .call_function(main, prog.sym("add6"), &[1, 2, 3, 4, 5, 6], entry)
        .unwrap();
    assert_eq!(r, 654_321);
    assert_eq!(
        t.call_function(main, prog.sym("misalignment"), &[], entry)
            .unwrap(),
        0
    );
    assert_eq!(
        t.call_function(main, prog.sym("bump"), &[5], entry)
            .unwrap(),
        5
    );
    assert_eq!(
        t.call_function(main, prog.sym("bump"), &[4], entry)
            .unwrap(),
        9
    );
    assert!(!t.has_breakpoint(entry), "the return trap is removed");
    let after = t.regs(main).unwrap();
    assert_eq!(
        (before.rip, before.rsp, before.rdi),
        (after.rip, after.rsp, after.rdi)
    );

    // More than six integer arguments are refused, not half-passed.
    assert!(t
        .call_function(main, prog.sym("add6"), &[0; 7], entry)
        .is_err());

    t.resume(main, None).unwrap();
    loop {
        match t.wait().unwrap() {
            Stop::Exited { code } => {
                assert_eq!(code, 0);
                break;
            }
            Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).unwrap(),
            other => panic!("unexpected stop {other:?}"),
        }
    }
    // v was incremented once by stop_here itself, w kept, counter bumped.
    assert_eq!(prog.output().trim(), "8 21 9");
}
