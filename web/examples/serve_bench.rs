//! Times the server's answer for one state over HTTP on a long recording:
//! `GET /api/state/N` (the JSON of `hindsight state N --json`) and
//! `GET /api/view/N` (that and the objects the page draws) at pseudo-random
//! steps, through a real socket, as the page asks. Reports p50 / p99 / max
//! wall-clock milliseconds (docs/benchmarks.md, "The web page").
//! Run: `cargo run --release -p web --example serve_bench -- FILE.hsr [QUERIES]`
//! (a recording of millions of steps: `STORE_BENCH_KEEP=1 cargo run --release
//! -p store --example store_bench -- 4000000 500 10` keeps one).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Instant;

use store::Reader;
use web::{App, Server};

fn get(addr: &str, path: &str) -> usize {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut body = Vec::new();
    s.read_to_end(&mut body).expect("answer");
    assert!(
        body.starts_with(b"HTTP/1.1 200"),
        "{path}: {}",
        String::from_utf8_lossy(&body[..body.len().min(200)])
    );
    body.len()
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("usage: serve_bench FILE.hsr [QUERIES]");
    let queries: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let t = Instant::now();
    let reader = Reader::open(Path::new(&file)).expect("open the recording");
    let steps = reader.step_count();
    println!(
        "{file}: {steps} steps, opened in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let app = App::new(reader, Path::new(&file));
    let server = Server::bind([127, 0, 0, 1].into(), 0, app).expect("bind");
    let addr = server.local_addr().to_string();
    std::thread::spawn(move || server.run());
    for route in ["state", "view"] {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut ms = Vec::with_capacity(queries);
        let mut bytes = 0;
        for _ in 0..queries {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = x % steps;
            let t = Instant::now();
            bytes += get(&addr, &format!("/api/{route}/{n}"));
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "GET /api/{route}/N at {queries} random steps: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} bytes an answer on average)",
            pct(&ms, 50),
            pct(&ms, 99),
            ms[ms.len() - 1],
            bytes / queries
        );
    }
}
