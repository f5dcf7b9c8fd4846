//! Measures the store on the op stream of a real workload: the recorder's
//! ops for a module-level bubble sort of 1,000 ints (see `bsort.rs`), 4
//! million steps by default. Reports writer throughput, bytes per step, peak
//! memory, open time and `state(n)` latency at random steps (p50/p99).
//! Run: `cargo run --release -p store --example store_bench -- [STEPS] [K] [QUERIES]`.

mod bsort;

use std::time::Instant;
use store::{ProgramEnd, Reader, RecordingEnd, RecordingHeader, Step, Writer, WriterOptions};

/// This process's peak resident memory in MiB (VmHWM), if Linux tells.
fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Nanoseconds this thread has spent on a CPU (CLOCK_THREAD_CPUTIME_ID):
/// a query's own cost, apart from the time the scheduler gave other
/// processes on a loaded machine.
fn thread_cpu_ns() -> Option<u64> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(4_000_000);
    let defaults = WriterOptions::default();
    let k: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(defaults.checkpoint_every);
    let queries: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let dir = std::env::temp_dir().join(format!("store_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.hsr");
    let header = RecordingHeader {
        format_version: 0,
        program: vec!["python3.11".into(), "bsort.py".into()],
        cwd: "/home/user/bench".into(),
        pid: 27622,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: "libpython3.11.so.1.0".into(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "store_bench".into(),
    };
    let opts = WriterOptions {
        checkpoint_every: k,
        ..defaults
    };

    if let Some(f) = std::env::var_os("STORE_BENCH_FILE") {
        // Queries only, on a file kept by an earlier run (for profiling).
        query(std::path::Path::new(&f), steps, queries);
        return;
    }
    let t = Instant::now();
    let gen_count = bsort::BubbleSort::new(1000).take(steps as usize).count();
    let gen_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let w = Writer::create(&path, header, opts).expect("create");
    for ops in bsort::BubbleSort::new(1000).take(steps as usize) {
        w.send(ops).expect("send");
    }
    let summary = w
        .finish(RecordingEnd {
            end: ProgramEnd::Exited(0),
            reason: "bench".into(),
            steps,
            threads: vec![27622],
            duration_ms: 0,
        })
        .expect("finish");
    let write_s = t.elapsed().as_secs_f64();
    println!(
        "workload: bubble sort of 1,000 ints, {gen_count} steps, K = {k}, generated alone in {gen_s:.2} s"
    );
    println!(
        "write: {:.2} s, {:.0} steps/s (generation included), {} bytes, {:.2} bytes/step, peak RSS {:.0} MiB",
        write_s,
        steps as f64 / write_s,
        summary.bytes,
        summary.bytes as f64 / steps as f64,
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    query(&path, steps, queries);
    if std::env::var_os("STORE_BENCH_KEEP").is_some() {
        println!("kept {}", path.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Open the file and time `state(n)` at random steps, then a walk over every step's meta.
fn query(path: &std::path::Path, steps: u64, queries: usize) {
    let t = Instant::now();
    let r = Reader::open(path).expect("open");
    println!("open: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut lat = Vec::with_capacity(queries);
    let mut cpu = Vec::with_capacity(queries);
    for _ in 0..queries {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = x % steps;
        let c = thread_cpu_ns();
        let t = Instant::now();
        let st = r.state(Step(n)).expect("state");
        let us = t.elapsed().as_secs_f64() * 1e6;
        if let (Some(a), Some(b)) = (c, thread_cpu_ns()) {
            cpu.push(b.saturating_sub(a) as f64 / 1e3);
        }
        if std::env::var_os("STORE_BENCH_SLOW").is_some() && us > 2000.0 {
            let t = Instant::now();
            r.state(Step(n)).expect("state");
            println!(
                "slow: step {n} {us:.0} us, again {:.0} us",
                t.elapsed().as_secs_f64() * 1e6
            );
        }
        lat.push(us);
        assert_eq!(st.meta.map(|m| m.step), Some(Step(n)));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    println!(
        "state(n), {queries} random n, wall clock: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        pct(&lat, 50),
        pct(&lat, 90),
        pct(&lat, 99),
        pct(&lat, 100)
    );
    if !cpu.is_empty() {
        println!(
            "state(n), same queries, on-CPU time: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
            pct(&cpu, 50),
            pct(&cpu, 90),
            pct(&cpu, 99),
            pct(&cpu, 100)
        );
    }
    let k = std::env::var("STORE_BENCH_K")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WriterOptions::default().checkpoint_every);
    for (label, off) in [
        ("right at a checkpoint", k - 1),
        ("K-1 steps after one", k - 2),
    ] {
        let mut best = Vec::new();
        for c in (1..steps / k).step_by(97) {
            let b = (0..5)
                .map(|_| {
                    let t = Instant::now();
                    r.state(Step(c * k + off)).expect("state");
                    t.elapsed().as_secs_f64() * 1e6
                })
                .fold(f64::MAX, f64::min);
            best.push(b);
        }
        best.sort_by(|a, b| a.total_cmp(b));
        println!(
            "state(n) {label}: median of best-of-5 {:.0} us",
            best[best.len() / 2]
        );
    }
    let t = Instant::now();
    let mut count = 0u64;
    for m in r.iter_metas(Step(0), Step(steps - 1)).expect("metas") {
        m.expect("meta");
        count += 1;
    }
    println!(
        "metas: all {count} in {:.2} s; peak RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
