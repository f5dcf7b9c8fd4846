//! The bare-trap microbenchmark: a tiny C program calls `check()` N times; a
//! breakpoint on `check` is answered with `emulate_return(0)`. Prints the
//! cost of one trap round trip (stop, GETREGS, one read, SETREGS, CONT), with
//! tracer and target pinned to one CPU and, for comparison, unpinned.
//!
//! `cargo run --release -p tracer --example trap_bench -- [N] [--json]`
//!
//! With `--json` it prints one JSON object instead (for scripts/bench):
//! `{"traps": N, "cpu": C, "pinned_us": .., "unpinned_us": .., "plain_s": ..}`.

use std::ffi::OsString;
use std::process::Command;
use std::time::Instant;

use tracer::ptrace::{Stop, Tracee};
use tracer::{RemoteAddr, Tid};

const SRC: &str = r#"
#include <stdlib.h>
__attribute__((noipa)) long check(long x) { return x + 1; }
int main(int argc, char **argv) {
    long n = atol(argv[1]), s = 0;
    for (long i = 0; i < n; i++) s += check(i);
    return s == 0 ? 0 : 1;
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
        .args(["-O1", "-no-pie", "-fno-pie", "-o"])
        .arg(&exe)
        .arg(&c)
        .status()?;
    if !st.success() {
        return Err("cc failed".into());
    }
    let nm = Command::new("nm").arg(&exe).output()?;
    let check = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            (p.len() == 3 && p[2] == "check").then(|| u64::from_str_radix(p[0], 16).ok())?
        })
        .map(RemoteAddr)
        .ok_or("no symbol check")?;

    // Untraced baseline, to subtract the program's own time.
    let t0 = Instant::now();
    Command::new(&exe).arg(n.to_string()).status()?;
    let plain = t0.elapsed().as_secs_f64();

    let cpu = tracer::sys::pick_cpu();
    let mut results = Vec::new();
    for pinned in [true, false] {
        // A fresh thread per run: its CPU affinity is its own.
        let exe = exe.clone();
        let per = std::thread::spawn(move || -> Result<f64, String> {
            if pinned {
                tracer::sys::pin_current_thread(cpu);
            }
            let args = [OsString::from(n.to_string())];
            let mut t = Tracee::launch(exe.as_os_str(), &args, pinned.then_some(cpu))
                .map_err(|e| e.to_string())?;
            t.set_breakpoint(check).map_err(|e| e.to_string())?;
            let start = Instant::now();
            t.resume(Tid(t.pid()), None).map_err(|e| e.to_string())?;
            let mut hits = 0u64;
            loop {
                match t.wait().map_err(|e| e.to_string())? {
                    Stop::Breakpoint { tid, mut regs, .. } => {
                        hits += 1;
                        t.emulate_return(tid, &mut regs, 0)
                            .map_err(|e| e.to_string())?;
                        t.resume(tid, None).map_err(|e| e.to_string())?;
                    }
                    Stop::Signal { tid, sig } => {
                        t.resume(tid, Some(sig)).map_err(|e| e.to_string())?
                    }
                    Stop::Exited { code } => {
                        if code != 0 || hits != n {
                            return Err(format!(
                                "exit {code} after {hits} hits: the emulation went wrong"
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
        results.push(per);
        if !json {
            let how = if pinned {
                format!("pinned to CPU {cpu}")
            } else {
                "unpinned".to_string()
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
                "plain_s": plain,
            })
        );
    }
    Ok(())
}
