//! Crafted recordings that used to make a query allocate without bound or
//! run forever, run through the real `hindsight` under an address-space
//! limit (`prlimit --as`): every query ends, within its time, with an answer
//! or one clean error line, and its output is bounded.
//!
//! - a step that splices 2^26 items into a list (in its new items, or by a
//!   length with nothing behind it), once and forty times over;
//! - steps that hold texts of 16 MiB and more, compressed to kilobytes;
//! - a global whose value fans out 1,000 x 1,000 (x 1,000 ...), for
//!   `history` and `dump`.
//!
//! Each file is a valid recording made by the store's writer, with the
//! crafted steps appended as a deltas segment with a valid CRC32 (so only
//! the reader's bounds stand in the way). The peak memory of each query is
//! printed (`/usr/bin/time`, where installed).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store::format::{encode_segment, to_msgpack, SegKind, ZSTD_LEVEL};
use store::{EventKind, Node, ObjAddr, Op, RecordingHeader, Scope, Step, StepMeta, Writer};

/// The address space a query gets: well above what the bounds allow
/// (docs/store-format.md, "Hostile files"), far below what the crafted
/// files asked for.
const AS_LIMIT: u64 = 3 << 30;

/// The longest a query may take, on a loaded machine.
const QUERY_TIME: Duration = Duration::from_secs(120);

/// Output beyond this fails the test: 16 MiB of reprs a state, a few states.
const MAX_OUTPUT: u64 = 256 << 20;

const LIST: u8 = 2;
const ATOM: u8 = 1;

fn meta() -> Op {
    Op::Step(StepMeta {
        step: Step(0),
        event: EventKind::Line,
        thread: 1,
        file: "/crafted/app.py".into(),
        function: "<module>".into(),
        line: 1,
        position: None,
        value: None,
        instruction: None,
    })
}

fn node(kind: u8, text: &str, items: Vec<ObjAddr>) -> Node {
    Node {
        type_name: if kind == LIST { "list" } else { "int" }.into(),
        kind,
        text: text.into(),
        items,
        attrs: None,
        truncated: false,
    }
}

/// A recording of `steps` ordinary steps: `xs` and forty other lists bound
/// as globals, and a counter rebound at every step; unfinished (as a killed
/// writer leaves it), so crafted segments can follow.
fn prefix(path: &Path, steps: u64) {
    let header = RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "app.py".into()],
        cwd: "/crafted".into(),
        pid: 1,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: "/usr/bin/python3.11".into(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "crafted".into(),
    };
    let w = Writer::create(path, header, store::WriterOptions::default()).unwrap();
    for n in 0..steps {
        let mut ops = vec![meta()];
        if let Some(Op::Step(m)) = ops.first_mut() {
            m.step = Step(n);
        }
        if n == 0 {
            ops.push(Op::HeapSet(ObjAddr(8), node(ATOM, "1", vec![])));
            for a in 0..41u64 {
                let addr = ObjAddr(0x1000 + a * 16);
                ops.push(Op::HeapSet(addr, node(LIST, "", vec![ObjAddr(8); 3])));
                let name = if a == 0 {
                    "xs".to_string()
                } else {
                    format!("l{a}")
                };
                ops.push(Op::Bind {
                    scope: Scope::Globals,
                    name: name.into(),
                    value: addr,
                });
            }
        }
        ops.push(Op::HeapSet(
            ObjAddr(0x10 + n * 16),
            node(ATOM, &n.to_string(), vec![]),
        ));
        ops.push(Op::Bind {
            scope: Scope::Globals,
            name: "i".into(),
            value: ObjAddr(0x10 + n * 16),
        });
        w.send(ops).unwrap();
    }
    drop(w);
}

/// msgpack written by hand where serde would need the huge value in memory.
struct Mp(Vec<u8>);

impl Mp {
    fn variant(&mut self, name: &str) -> &mut Mp {
        self.0.push(0x81);
        self.0.push(0xa0 | name.len() as u8);
        self.0.extend_from_slice(name.as_bytes());
        self
    }
    fn arr_head(&mut self, n: u32) -> &mut Mp {
        self.0.push(0xdd);
        self.0.extend(n.to_be_bytes());
        self
    }
    fn u(&mut self, v: u64) -> &mut Mp {
        self.0.push(0xcf);
        self.0.extend(v.to_be_bytes());
        self
    }
    /// `HeapItems { addr, start: 0, new: n items, len }`, the items one byte each.
    fn splice(&mut self, addr: u64, n: u32, len: u64) -> &mut Mp {
        self.variant("HeapItems")
            .arr_head(4)
            .u(addr)
            .u(0)
            .arr_head(n);
        self.0.resize(self.0.len() + n as usize, 0x08);
        self.u(len)
    }
}

/// Append one deltas segment holding `steps` (each a step's ops as msgpack)
/// from step `first`, compressed, with a valid CRC32.
fn append(path: &Path, first: u64, steps: &[Vec<u8>]) {
    let mut raw = store::format::array32_prefix(steps.len() as u32).to_vec();
    for s in steps {
        raw.extend_from_slice(s);
    }
    let mut z = zstd::bulk::Compressor::new(ZSTD_LEVEL).unwrap();
    let seg = encode_segment(
        SegKind::Deltas,
        first,
        steps.len() as u32,
        &raw,
        Some(&mut z),
    )
    .unwrap();
    let seg_len = seg.len();
    let mut bytes = std::fs::read(path).unwrap();
    bytes.extend(seg);
    std::fs::write(path, &bytes).unwrap();
    eprintln!(
        "{}: {} bytes, {} of them the crafted segment (raw {} bytes)",
        path.file_name().unwrap().to_string_lossy(),
        bytes.len(),
        seg_len,
        raw.len()
    );
}

/// A step: its meta, then `rest` (msgpack ops), as a list of 1 + `ops` ops.
fn step(ops: u32, rest: &[u8]) -> Vec<u8> {
    let mut mp = Mp(Vec::new());
    mp.arr_head(1 + ops);
    mp.0.extend(to_msgpack(&meta(), "meta").unwrap());
    mp.0.extend_from_slice(rest);
    mp.0
}

/// What one query did.
struct Run {
    ok: bool,
    stderr: String,
    out_bytes: u64,
    took: Duration,
    max_rss_kb: Option<u64>,
}

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

/// Run `hindsight ARGS` under the address-space limit, counting (not
/// keeping) its output.
fn query(args: &[&str]) -> Run {
    let time = Path::new("/usr/bin/time");
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={AS_LIMIT}")).arg("--");
    if time.exists() {
        cmd.arg(time).args(["-f", "maxrss_kb=%M"]);
    }
    let start = Instant::now();
    let mut child = cmd
        .arg(hindsight())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit runs (util-linux)");
    let mut stdout = child.stdout.take().unwrap();
    let counter = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        while let Ok(k) = stdout.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        n
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let deadline = Instant::now() + QUERY_TIME;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("hindsight {args:?} still runs after {QUERY_TIME:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out_bytes = counter.join().unwrap();
    let max_rss_kb = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok());
    let stderr: String = stderr
        .lines()
        .filter(|l| !l.starts_with("maxrss_kb=") && !l.starts_with("Command exited"))
        .collect::<Vec<_>>()
        .join("\n");
    Run {
        ok: status.success(),
        stderr,
        out_bytes,
        took: start.elapsed(),
        max_rss_kb,
    }
}

/// The query ended cleanly: an answer, or one `hindsight:` line (status 2).
fn clean(args: &[&str]) -> Run {
    let r = query(args);
    assert!(
        r.out_bytes <= MAX_OUTPUT,
        "hindsight {args:?} wrote more than {MAX_OUTPUT} bytes"
    );
    if !r.ok {
        assert!(
            r.stderr.lines().count() == 1 && r.stderr.starts_with("hindsight: "),
            "hindsight {args:?} did not end cleanly:\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("internal error"), "{}", r.stderr);
    }
    eprintln!(
        "hindsight {:<40} {:>6} {:>8.2?} {:>10} out, max {} kB{}",
        args[..args.len().min(3)].join(" "),
        if r.ok { "answer" } else { "error" },
        r.took,
        r.out_bytes,
        r.max_rss_kb.map_or("?".into(), |k| k.to_string()),
        if r.ok {
            String::new()
        } else {
            format!(": {}", r.stderr)
        }
    );
    r
}

fn file(dir: &Path, name: &str) -> (PathBuf, String) {
    let p = dir.join(name);
    let s = p.to_str().unwrap().to_string();
    (p, s)
}

#[test]
fn a_splice_of_two_to_the_26_items() {
    let dir = tempfile::tempdir().unwrap();
    // In its new items (64 MiB of one-byte items, a few KiB compressed).
    let (p, f) = file(dir.path(), "items.hsr");
    prefix(&p, 20);
    let mut ops = Mp(Vec::new());
    ops.splice(0x1000, 1 << 26, 1 << 26);
    append(&p, 20, &[step(1, &ops.0)]);
    let r = clean(&["state", &f, "20"]);
    assert!(!r.ok && r.stderr.contains("items"), "{}", r.stderr);
    assert!(r.stderr.contains("--to 19"), "{}", r.stderr);
    assert!(clean(&["state", &f, "19"]).ok);
    clean(&["steps", &f]);
    clean(&["dump", &f, "--from", "15"]);
    // By a length with nothing behind it (a few bytes in the file): past
    // the bound, and within it.
    for (len, why) in [(1u64 << 26, "more than"), (1000, "nothing writes")] {
        let (p, f) = file(dir.path(), "len.hsr");
        prefix(&p, 20);
        let mut ops = Mp(Vec::new());
        ops.splice(0x1000, 0, len);
        append(&p, 20, &[step(1, &ops.0)]);
        let r = clean(&["state", &f, "20"]);
        assert!(!r.ok && r.stderr.contains(why), "{}", r.stderr);
    }
    // Forty splices of 2^20 items (each at the bound) on forty lists: a
    // state of 320 MiB, which is allowed; a hundred: refused.
    for (name, count) in [("forty.hsr", 40u32), ("many.hsr", 100)] {
        let (p, f) = file(dir.path(), name);
        prefix(&p, 20);
        let mut ops = Mp(Vec::new());
        for k in 0..u64::from(count) {
            ops.splice(0x1000 + (k % 41) * 16, 1 << 20, 1 << 20);
        }
        append(&p, 20, &[step(count, &ops.0)]);
        let r = clean(&["state", &f, "20", "--json"]);
        if count == 40 {
            assert!(r.ok, "{}", r.stderr);
        } else {
            assert!(!r.ok && r.stderr.contains("bound"), "{}", r.stderr);
        }
        clean(&["history", &f, "xs"]);
    }
}

#[test]
fn huge_texts() {
    let dir = tempfile::tempdir().unwrap();
    let (p, f) = file(dir.path(), "texts.hsr");
    prefix(&p, 20);
    // Eight steps, each setting the text of the int bound to `i` to 16 MiB
    // (at the bound), then one past the bound.
    let mut steps = Vec::new();
    for k in 0..9u64 {
        let len = if k == 8 {
            store::bounds::MAX_TEXT + 1
        } else {
            store::bounds::MAX_TEXT
        };
        let i = ObjAddr(0x10 + 19 * 16);
        let big = Op::HeapSet(i, node(ATOM, &"a".repeat(len), vec![]));
        steps.push(step(1, &to_msgpack(&big, "op").unwrap()));
    }
    append(&p, 20, &steps);
    assert!(clean(&["steps", &f]).ok);
    assert!(clean(&["info", &f]).ok);
    let r = clean(&["state", &f, "25", "--json"]);
    assert!(r.ok && r.out_bytes < 20 << 20, "{}", r.stderr);
    let r = clean(&["state", &f, "28"]);
    assert!(!r.ok && r.stderr.contains("more than"), "{}", r.stderr);
}

#[test]
fn a_value_that_fans_out_a_thousandfold() {
    let dir = tempfile::tempdir().unwrap();
    let (p, f) = file(dir.path(), "fanout.hsr");
    prefix(&p, 2);
    // Five levels of a list of a thousand references to the level below,
    // bound to `fan`, then ten steps that change its innermost int.
    let mut ops = vec![meta()];
    ops.push(Op::HeapSet(ObjAddr(0x9000), node(ATOM, "0", vec![])));
    for level in 1..=5u64 {
        let below = ObjAddr(0x9000 + (level - 1) * 16);
        ops.push(Op::HeapSet(
            ObjAddr(0x9000 + level * 16),
            node(LIST, "", vec![below; 1000]),
        ));
    }
    ops.push(Op::Bind {
        scope: Scope::Globals,
        name: "fan".into(),
        value: ObjAddr(0x9000 + 5 * 16),
    });
    let mut steps = vec![to_msgpack(&ops, "ops").unwrap()];
    for k in 1..=10 {
        let ops = vec![
            meta(),
            Op::HeapSet(ObjAddr(0x9000), node(ATOM, &k.to_string(), vec![])),
        ];
        steps.push(to_msgpack(&ops, "ops").unwrap());
    }
    append(&p, 2, &steps);
    let r = clean(&["history", &f, "fan"]);
    assert!(r.ok, "{}", r.stderr);
    let r = clean(&["dump", &f, "--from", "2", "--to", "6"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.out_bytes <= 5 * (17 << 20), "{} bytes", r.out_bytes);
    let r = clean(&["state", &f, "5"]);
    assert!(r.ok, "{}", r.stderr);
}
