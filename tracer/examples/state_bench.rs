//! `state(n)` latency on a real recording: opens FILE with `store::Reader`,
//! asks for the state at Q pseudo-random steps and prints one JSON object
//! with the open time, p50/p99/max of `Reader::state` alone and of
//! `Reader::state` plus rendering to the JSON of docs/spec/values.md (what
//! `hindsight state --json` does, minus process start and printing).
//!
//! `cargo run --release -p tracer --example state_bench -- FILE [Q]`

use std::time::Instant;

use store::{Reader, Step};

fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: state_bench FILE [QUERIES]: FILE is a recording (.hsr)")?;
    let queries: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let t = Instant::now();
    let reader = Reader::open(std::path::Path::new(&path))?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let steps = reader.step_count();
    if steps == 0 {
        return Err(format!("{path} holds no steps").into());
    }
    // Fixed-seed xorshift: the same steps on every run, no rand crate.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let (mut raw, mut rendered) = (Vec::new(), Vec::new());
    let mut bytes = 0usize;
    for _ in 0..queries {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = Step(x % steps);
        let t = Instant::now();
        let state = reader.state(n)?;
        raw.push(t.elapsed().as_secs_f64() * 1e6);
        let json = values::render::state_json(&state).to_string();
        rendered.push(t.elapsed().as_secs_f64() * 1e6);
        bytes += json.len();
    }
    raw.sort_by(f64::total_cmp);
    rendered.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({
            "file": path,
            "steps": steps,
            "file_bytes": reader.file_size(),
            "queries": queries,
            "open_ms": open_ms,
            "state_p50_us": percentile(&raw, 50),
            "state_p99_us": percentile(&raw, 99),
            "state_max_us": percentile(&raw, 100),
            "state_json_p50_us": percentile(&rendered, 50),
            "state_json_p99_us": percentile(&rendered, 99),
            "mean_json_bytes": bytes as f64 / queries.max(1) as f64,
        })
    );
    Ok(())
}
