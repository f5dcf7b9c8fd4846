//! What a batched read of another process's memory costs here, by shape:
//! the one `process_vm_readv` a stop makes ([`ProcMem::read_batch`]), on a
//! tiny C program that fills 64 pages and waits. Pages, not bytes, are what
//! it pays for (each page touched is pinned), so the shapes vary the pages.
//!
//! `cargo run --release -p tracer --example read_bench -- [CALLS]`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use tracer::internals::ProcMem;
use tracer::internals::{Memory, ReadReq};
use tracer::RemoteAddr;

const SRC: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    char *p = aligned_alloc(4096, 64 * 4096);
    memset(p, 1, 64 * 4096);
    printf("%lu\n", (unsigned long)p);
    fflush(stdout);
    pause();
    return 0;
}
"#;

const PAGE: u64 = 4096;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let calls: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let c = dir.path().join("pages.c");
    std::fs::write(&c, SRC)?;
    let exe = dir.path().join("pages");
    if !Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&c)
        .status()?
        .success()
    {
        return Err("cc failed".into());
    }
    let cpu = tracer::internals::pick_cpu();
    tracer::internals::pin_current_thread(cpu);
    let mut child = Command::new(&exe).stdout(Stdio::piped()).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let base: u64 = line.trim().parse()?;
    let mem = ProcMem::new(child.id() as i32);

    let spread = |n: u64, len: usize| -> Vec<ReadReq> {
        // Every other page: separate ranges, as a stop's plan mostly is.
        (0..n)
            .map(|i| ReadReq {
                addr: RemoteAddr(base + 2 * i * PAGE),
                len,
            })
            .collect()
    };
    let shapes: Vec<(String, Vec<ReadReq>)> = vec![
        ("1 range of 64 bytes (1 page)".into(), spread(1, 64)),
        ("1 range of 4096 bytes (1 page)".into(), spread(1, 4096)),
        ("8 ranges of 64 bytes on 8 pages".into(), spread(8, 64)),
        ("16 ranges of 64 bytes on 16 pages".into(), spread(16, 64)),
        (
            "16 ranges of 4096 bytes on 16 pages".into(),
            spread(16, 4096),
        ),
        (
            "1 range of 16 pages".into(),
            vec![ReadReq {
                addr: RemoteAddr(base),
                len: 16 * PAGE as usize,
            }],
        ),
    ];
    println!("{calls} calls each, pinned to CPU {cpu}:");
    let mut ok = Vec::new();
    for (what, reqs) in &shapes {
        let total: usize = reqs.iter().map(|r| r.len).sum();
        let mut out = vec![0u8; total];
        let start = Instant::now();
        for _ in 0..calls {
            mem.read_batch(reqs, &mut out, &mut ok);
        }
        let us = start.elapsed().as_secs_f64() / f64::from(calls) * 1e6;
        if !ok.iter().all(|&b| b) || out.iter().any(|&b| b != 1) {
            return Err(format!("{what}: the read went wrong").into());
        }
        println!("  {what}: {us:.2} us");
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
