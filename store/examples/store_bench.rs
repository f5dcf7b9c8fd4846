//! Measures the store on a synthetic bubble-sort-like recording: write
//! speed, bytes per step, open time and `state(n)` latency at random steps.
//! Run: `cargo run --release -p store --example store_bench -- [STEPS] [K]`.

use std::sync::Arc;
use std::time::Instant;
use store::{
    EventKind, FrameRec, Node, ObjAddr, Op, ProgramEnd, Reader, RecordingEnd, RecordingHeader,
    Scope, Step, StepMeta, Writer, WriterOptions,
};

fn int_node(v: u64) -> Node {
    Node {
        type_name: "int".into(),
        kind: 1,
        text: v.to_string(),
        items: vec![],
        attrs: None,
        truncated: false,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let k: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("store_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.hsr");
    let header = RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "bubble.py".into()],
        cwd: "/".into(),
        pid: 1,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: "python3.11".into(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "bench".into(),
    };
    let opts = WriterOptions {
        checkpoint_every: k,
        ..WriterOptions::default()
    };
    let t = Instant::now();
    let w = Writer::create(&path, header, opts).expect("create");
    let file: Arc<str> = "/src/bubble.py".into();
    let func: Arc<str> = "sort".into();
    let n = 1000u64;
    let list = ObjAddr(0x10_0000);
    let mut xs: Vec<u64> = (0..n).map(|i| (i * 7919) % n).collect();
    let addr = |v: u64| ObjAddr(0x20_0000 + v * 32);
    let (mut i, mut j) = (0u64, 0u64);
    for s in 0..steps {
        let mut ops = vec![Op::Step(StepMeta {
            step: Step(s),
            event: EventKind::Line,
            thread: 1,
            file: file.clone(),
            function: func.clone(),
            line: 3 + (s % 3) as u32,
            position: None,
            value: None,
        })];
        if s == 0 {
            ops.push(Op::StackPush(FrameRec {
                function: func.clone(),
                file: file.clone(),
                line: 3,
            }));
            for v in 0..n {
                ops.push(Op::HeapSet(addr(v), int_node(v)));
            }
            ops.push(Op::HeapSet(
                list,
                Node {
                    type_name: "list".into(),
                    kind: 2,
                    text: String::new(),
                    items: xs.iter().map(|&v| addr(v)).collect(),
                    attrs: None,
                    truncated: false,
                },
            ));
            ops.push(Op::Bind {
                scope: Scope::Locals,
                name: "xs".into(),
                value: list,
            });
        }
        match s % 3 {
            0 => {
                j += 1;
                if j >= n - 1 - i % (n - 1) {
                    j = 0;
                    i += 1;
                    ops.push(Op::Bind {
                        scope: Scope::Locals,
                        name: "i".into(),
                        value: addr(i % n),
                    });
                }
                ops.push(Op::Bind {
                    scope: Scope::Locals,
                    name: "j".into(),
                    value: addr(j),
                });
            }
            2 if xs[j as usize] > xs[j as usize + 1] => {
                xs.swap(j as usize, j as usize + 1);
                ops.push(Op::HeapItems {
                    addr: list,
                    start: j as u32,
                    new: vec![addr(xs[j as usize]), addr(xs[j as usize + 1])],
                    len: n as u32,
                });
            }
            _ => {}
        }
        w.send(ops).expect("send");
    }
    let summary = w
        .finish(RecordingEnd {
            end: ProgramEnd::Exited(0),
            reason: "bench".into(),
            steps,
            threads: vec![1],
            duration_ms: 0,
        })
        .expect("finish");
    let write_s = t.elapsed().as_secs_f64();
    println!(
        "wrote {} steps in {:.2}s ({:.0} steps/s), {} bytes, {:.2} bytes/step",
        summary.steps,
        write_s,
        steps as f64 / write_s,
        summary.bytes,
        summary.bytes as f64 / steps as f64
    );
    let t = Instant::now();
    let r = Reader::open(&path).expect("open");
    println!("open: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut lat = Vec::new();
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = x % steps;
        let t = Instant::now();
        let st = r.state(Step(n)).expect("state");
        lat.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(st.meta.map(|m| m.step), Some(Step(n)));
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    println!(
        "state(n) random: p50 {:.0} us, p99 {:.0} us, max {:.0} us",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
    for (label, off) in [("at a checkpoint", k - 1), ("K-1 steps after one", k - 2)] {
        let t = Instant::now();
        let mut m = 0;
        for c in (1..steps / k).step_by(7) {
            r.state(Step(c * k + off)).expect("state");
            m += 1;
        }
        println!(
            "state(n) {label}: mean {:.0} us",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(m)
        );
    }
    let t = Instant::now();
    let mut count = 0u64;
    for m in r.iter_metas(Step(0), Step(steps - 1)).expect("metas") {
        m.expect("meta");
        count += 1;
    }
    println!("metas: {count} in {:.2}s", t.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);
}
