//! The bare-trap microbenchmark: a tiny C program calls `check()` (whose
//! body is `xor eax,eax; ret`, like the interpreter's trap function) N
//! times through a function pointer, trapped exactly as hindsight traps the
//! interpreter: the pointer set to a returning trap in the padding after
//! `check` ([`Tracee::prepare_returning_trap`]), each stop answered by
//! resuming the thread (stop, GETREGS, CONT). Prints the
//! cost of one round trip with tracer and target pinned to one CPU, and for
//! comparison unpinned, and pinned with the return performed by the tracer
//! (`emulate_return`: one read and a SETREGS more), which is what hindsight
//! does when a trap function has no room for a returning trap.
//!
//! `cargo run --release -p tracer --example trap_bench -- [N] [--json]`
//!
//! With `--json` it prints one JSON object instead (for scripts/bench):
//! `{"traps": N, "cpu": C, "pinned_us": .., "unpinned_us": ..,
//! "emulated_pinned_us": .., "plain_s": ..}`.

use std::ffi::OsString;
use std::process::Command;
use std::time::Instant;

use tracer::internals::{Stop, Tracee};
use tracer::{RemoteAddr, Tid};

const SRC: &str = r#"
#include <stdlib.h>
__attribute__((noipa)) long check(long x) { return 0; }
/* Another function after check(): the padding between them is where the
   returning trap goes. */
__attribute__((noipa)) long other(long x) { return x + 2; }
/* Called through a pointer, as CPython calls tstate->c_tracefunc: the
   tracer points it at the trap. */
long (*volatile hook)(long) = check;
int main(int argc, char **argv) {
    long n = atol(argv[1]), s = 0;
    for (long i = 0; i < n; i++) s += hook(i);
    return s == 0 ? (int)other(-2) : 1;
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let n: u64 = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let c = dir.path().join("bench.c");
    std::fs::write(&c, SRC)?;
    let exe = dir.path().join("bench");
    let st = Command::new("cc")
        .args(["-O2", "-no-pie", "-fno-pie", "-o"])
        .arg(&exe)
        .arg(&c)
        .status()?;
    if !st.success() {
        return Err("cc failed".into());
    }
    let check = symbol_of(&exe, "check")?;
    let hook = symbol_of(&exe, "hook")?;

    // Untraced baseline, to subtract the program's own time.
    let t0 = Instant::now();
    Command::new(&exe).arg(n.to_string()).status()?;
    let plain = t0.elapsed().as_secs_f64();

    let cpu = tracer::internals::pick_cpu();
    let mut results = Vec::new();
    for (pinned, returning) in [(true, true), (false, true), (true, false)] {
        let per = one_run(&exe, (check, hook), n, plain, cpu, pinned, returning)?;
        results.push(per);
        if !json {
            let how = match (pinned, returning) {
                (true, true) => format!("pinned to CPU {cpu}"),
                (false, _) => "unpinned".to_string(),
                (true, false) => format!("pinned to CPU {cpu}, return emulated"),
            };
            println!("{n} traps, {how}: {per:.2} us per round trip");
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "traps": n,
                "cpu": cpu,
                "pinned_us": results[0],
                "unpinned_us": results[1],
                "emulated_pinned_us": results[2],
                "plain_s": plain,
            })
        );
    }
    Ok(())
}

/// Trap `check` `n` times in a fresh run of `exe`: the µs one trap adds.
fn one_run(
    exe: &std::path::Path,
    (check, hook): (RemoteAddr, RemoteAddr),
    n: u64,
    plain: f64,
    cpu: usize,
    pinned: bool,
    returning: bool,
) -> Result<f64, Box<dyn std::error::Error>> {
    let exe = exe.to_path_buf();
    // A fresh thread per run: its CPU affinity is its own.
    let per = std::thread::spawn(move || -> Result<f64, String> {
        if pinned {
            tracer::internals::pin_current_thread(cpu);
        }
        let args = [OsString::from(n.to_string())];
        let mut t = Tracee::launch(exe.as_os_str(), &args, pinned.then_some(cpu))
            .map_err(|e| e.to_string())?;
        let trap = if returning {
            let stub = t
                .prepare_returning_trap(check)
                .map_err(|e| e.to_string())?
                .ok_or("check() has no room for a returning trap")?;
            t.mem()
                .write_via(Tid(t.pid()), hook, &stub.0.to_ne_bytes())
                .map_err(|e| e.to_string())?;
            stub
        } else {
            check
        };
        t.set_breakpoint(trap).map_err(|e| e.to_string())?;
        let start = Instant::now();
        t.resume(Tid(t.pid()), None).map_err(|e| e.to_string())?;
        let mut hits = 0u64;
        loop {
            match t.wait().map_err(|e| e.to_string())? {
                Stop::Breakpoint { tid, mut regs, .. } => {
                    hits += 1;
                    if !returning {
                        t.emulate_return(tid, &mut regs, 0)
                            .map_err(|e| e.to_string())?;
                    }
                    t.resume(tid, None).map_err(|e| e.to_string())?;
                }
                Stop::Signal { tid, sig } => t.resume(tid, Some(sig)).map_err(|e| e.to_string())?,
                Stop::Exited { code } => {
                    if code != 0 || hits != n {
                        return Err(format!(
                            "exit {code} after {hits} hits: the trap went wrong"
                        ));
                    }
                    break;
                }
                other => return Err(format!("unexpected {other:?}")),
            }
        }
        Ok((start.elapsed().as_secs_f64() - plain) / n as f64 * 1e6)
    })
    .join()
    .map_err(|_| "bench thread panicked")??;
    Ok(per)
}

/// The address of `name` in the (non-PIE) executable `exe`.
fn symbol_of(exe: &std::path::Path, name: &str) -> Result<RemoteAddr, Box<dyn std::error::Error>> {
    let nm = Command::new("nm").arg(exe).output()?;
    String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            (p.len() == 3 && p[2] == name).then(|| u64::from_str_radix(p[0], 16).ok())?
        })
        .map(RemoteAddr)
        .ok_or_else(|| format!("no symbol {name}").into())
}
