//! Reading and writing a live target's memory: single reads, batched reads
//! with an unreadable range in the middle (ok flags, zero fill, the rest still
//! read), chunking past IOV_MAX, writes to data and to read-only code.

mod ptrace_util;

use tracer::internals::{MemError, Memory, ReadReq, MAX_READ};
use tracer::internals::{Stop, Tracee};
use tracer::{RemoteAddr, Tid};

const PAGE: u64 = 4096;

/// Maps 4 pages: 0 and 2 readable+writable and filled with (i % 251),
/// 1 PROT_NONE, 3 read-only; calls ready(base) and exits with the first
/// byte of page 0 (so a write made by the tracer is observable).
const SRC: &str = r#"
#include <sys/mman.h>
#include <string.h>
__attribute__((noipa)) void ready(unsigned char *base) { (void)base; }
int main(void) {
    unsigned char *p = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 99;
    for (int i = 0; i < 4 * 4096; i++) p[i] = (unsigned char)(i % 251);
    mprotect(p + 4096, 4096, PROT_NONE);
    mprotect(p + 3 * 4096, 4096, PROT_READ);
    ready(p);
    return p[0];
}
"#;

fn expected(off: u64) -> u8 {
    (off % 251) as u8
}

/// Run the program to ready(); returns the tracee, main tid, base address.
fn at_ready(prog: &ptrace_util::CProg) -> (Tracee, Tid, RemoteAddr) {
    let mut t = Tracee::launch(prog.exe.as_os_str(), &[], None).unwrap();
    let main = Tid(t.pid());
    let ready = prog.sym("ready");
    t.set_breakpoint(ready).unwrap();
    t.resume(main, None).unwrap();
    match t.wait().unwrap() {
        Stop::Breakpoint {
            tid,
            addr,
            mut regs,
        } => {
            assert_eq!(addr, ready);
            let base = RemoteAddr(regs.rdi);
            t.step_back_over(tid, &mut regs, addr).unwrap();
            (t, tid, base)
        }
        other => panic!("expected ready(), got {other:?}"),
    }
}

#[test]
fn reads_and_batches_with_a_bad_range() {
    let prog = ptrace_util::CProg::build("mem", SRC);
    let (t, _main, base) = at_ready(&prog);
    let m = t.mem();

    let mut buf = [0u8; 32];
    m.read(base.at(10), &mut buf).unwrap();
    assert!(buf
        .iter()
        .enumerate()
        .all(|(i, &b)| b == expected(10 + i as u64)));
    assert!(matches!(
        m.read(base.at(PAGE as u32), &mut buf),
        Err(MemError::Read { .. })
    ));
    // A read running from a good page into the bad one fails as a whole.
    assert!(m.read(base.at(PAGE as u32 - 8), &mut buf).is_err());
    assert_eq!(
        m.read_u64(base.at(3 * PAGE as u32)).unwrap().to_ne_bytes()[0],
        expected(3 * PAGE)
    );
    assert!(matches!(
        m.read_vec(base, MAX_READ + 1),
        Err(MemError::TooLarge { .. })
    ));

    let reqs = [
        ReadReq {
            addr: base.at(1),
            len: 16,
        },
        ReadReq {
            addr: base.at(PAGE as u32 + 5),
            len: 16,
        }, // PROT_NONE
        ReadReq {
            addr: base.at(2 * PAGE as u32),
            len: 16,
        },
        ReadReq {
            addr: base.at(PAGE as u32 - 4),
            len: 8,
        }, // straddles into PROT_NONE
        ReadReq {
            addr: base.at(0),
            len: 0,
        },
        ReadReq {
            addr: RemoteAddr(8),
            len: 8,
        }, // null page
        ReadReq {
            addr: base.at(100),
            len: 8,
        },
    ];
    let total: usize = reqs.iter().map(|r| r.len).sum();
    let mut out = vec![0xAAu8; total];
    let mut ok = Vec::new();
    m.read_batch(&reqs, &mut out, &mut ok);
    assert_eq!(ok, vec![true, false, true, false, true, false, true]);
    let mut off = 0usize;
    for (r, good) in reqs.iter().zip(&ok) {
        let got = &out[off..off + r.len];
        if *good {
            let start = r.addr.0 - base.0;
            assert!(
                got.iter()
                    .enumerate()
                    .all(|(i, &b)| b == expected(start + i as u64)),
                "{r:?}"
            );
        } else {
            assert!(got.iter().all(|&b| b == 0), "bad range {r:?} not zeroed");
        }
        off += r.len;
    }
}

#[test]
fn batches_longer_than_iov_max() {
    let prog = ptrace_util::CProg::build("memmany", SRC);
    let (t, _main, base) = at_ready(&prog);
    // 3000 ranges of 4 bytes; every 7th lies in the PROT_NONE page.
    let reqs: Vec<ReadReq> = (0..3000u32)
        .map(|i| {
            let off = if i % 7 == 0 {
                PAGE as u32 + i
            } else {
                (i * 4) % PAGE as u32
            };
            ReadReq {
                addr: base.at(off),
                len: 4,
            }
        })
        .collect();
    let mut out = vec![0xAAu8; reqs.len() * 4];
    let mut ok = Vec::new();
    t.mem().read_batch(&reqs, &mut out, &mut ok);
    for (i, r) in reqs.iter().enumerate() {
        assert_eq!(ok[i], i % 7 != 0, "range {i}");
        let got = &out[i * 4..i * 4 + 4];
        if ok[i] {
            let start = r.addr.0 - base.0;
            assert!(got
                .iter()
                .enumerate()
                .all(|(k, &b)| b == expected(start + k as u64)));
        } else {
            assert_eq!(got, &[0, 0, 0, 0]);
        }
    }
}

#[test]
fn writes_data_read_only_pages_and_code() {
    let prog = ptrace_util::CProg::build("memw", SRC);
    let (mut t, main, base) = at_ready(&prog);
    let m = t.mem();
    // Writable data, unaligned and odd-sized.
    m.write(base.at(3), &[1, 2, 3, 4, 5]).unwrap();
    let mut b = [0u8; 7];
    m.read(base.at(2), &mut b).unwrap();
    assert_eq!(b, [expected(2), 1, 2, 3, 4, 5, expected(8)]);
    // A read-only page goes through the ptrace fallback; neighbours kept.
    let ro = base.at(3 * PAGE as u32 + 13);
    m.write(ro, &[9; 11]).unwrap();
    let mut b = [0u8; 13];
    m.read(RemoteAddr(ro.0 - 1), &mut b).unwrap();
    assert_eq!(b[0], expected(3 * PAGE + 12));
    assert_eq!(&b[1..12], &[9; 11]);
    assert_eq!(b[12], expected(3 * PAGE + 24));
    // Code: write a byte and put it back.
    let code = prog.sym("main");
    let mut orig = [0u8; 3];
    m.read(code, &mut orig).unwrap();
    m.write(code, &[0x90, 0x90, 0x90]).unwrap();
    let mut now = [0u8; 3];
    m.read(code, &mut now).unwrap();
    assert_eq!(now, [0x90; 3]);
    m.write(code, &orig).unwrap();
    // An unmapped page cannot be written (ptrace's forced writes do reach
    // PROT_NONE pages, so use the null page).
    assert!(matches!(
        m.write(RemoteAddr(16), &[1]),
        Err(MemError::Write { .. })
    ));
    // The data write is what the program sees: it exits with p[0].
    m.write(base, &[42]).unwrap();
    t.resume(main, None).unwrap();
    match t.wait().unwrap() {
        Stop::Exited { code } => assert_eq!(code, 42),
        other => panic!("expected exit, got {other:?}"),
    }
}
