//! The incremental heap walk against the full one on a live CPython 3.11:
//! a program changes its objects in stages (floats freed and made again at
//! the same addresses by C code, sorts, deletes, attribute changes, objects
//! out of reach for a while, changed or not meanwhile, ints of a checked
//! list moved, duplicated, replaced, freed and their addresses reused) and
//! blocks after each; the heap ops of `Decoder::snapshot_ops`, applied in
//! order, must give exactly the heap `Decoder::snapshot` reads at that stage.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use store::{Node, ObjAddr, Op};
use tracer::internals::ProcMem;
use tracer::internals::{Decoder, Python};
use tracer::RemoteAddr;

/// CPython 3.11 as pyenv installs it: under `$PYENV_ROOT` (by default
/// `~/.pyenv`), where scripts/setup looks.
fn python311() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let root = std::env::var_os("PYENV_ROOT")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                    .join(".pyenv")
            });
        root.join("versions/3.11.7/bin/python3.11")
            .display()
            .to_string()
    })
}

const PROGRAM: &str = r#"
import json, operator, sys

class C:
    pass

def main():
    vals = [float(i) for i in range(40)]
    words = [str(i) * 3 for i in range(32)]
    counts = {str(i): i * 1000 for i in range(20)}
    t = tuple(float(i) / 3 for i in range(24))
    held = [10**6 + i for i in range(40)]
    obj = C()
    obj.items = vals
    def refloat():
        vals[:] = map(operator.add, vals, [0.5] * len(vals))
    # Out of reach of the frame's bindings (sys is walked as an opaque
    # object) while alive, then back: unchanged, and changed meanwhile.
    def hide():
        nonlocal counts, words
        sys._hidden = (counts, words)
        counts = words = None
    def change_hidden():
        sys._hidden[0]["new"] = 10**6
        sys._hidden[1][0] = "zzz"
    def unhide():
        nonlocal counts, words
        counts, words = sys._hidden
        del sys._hidden
    def swap():
        held[3], held[4] = held[4], held[3]
    def dup():
        # The old held[7] is freed; held[8]'s object is at two positions.
        held[7] = held[8]
    def reuse():
        # New ints, out of reach, at the freed addresses.
        sys._keep = [10**6 + 321 + i for i in range(4)]
    def replace():
        held[8] = 10**6 + 777
        held[9] = None
        held[9] = 10**6 + 778
        held.append(10**6 + 5)
        held.append(held[0])
    def shrink():
        del held[-3:]
        held[7] = None
        sys._keep = [10**6 + 654 + i for i in range(4)]
    # The checked list out of reach, changed there (an item freed and
    # another made at its address in its place, an append), and back.
    def hide_held():
        nonlocal held
        sys._held = held
        held = None
    def change_held():
        h = sys._held
        h[2] = None
        h[2] = 10**6 + len(h) * 3
        h.append(10**6 + len(h))
    def unhide_held():
        nonlocal held
        held = sys._held
        del sys._held
    stages = [
        lambda: None,
        refloat,
        refloat,
        lambda: vals.sort(reverse=True),
        lambda: words.__setitem__(5, "changed"),
        lambda: counts.update([(k, v + 1) for k, v in counts.items()]),
        lambda: vals.__delitem__(slice(3, 9)),
        refloat,
        lambda: vals.append(t),
        lambda: setattr(obj, "items", None),
        lambda: vals.clear(),
        lambda: words.reverse(),
        hide,
        lambda: None,
        unhide,
        hide,
        change_hidden,
        unhide,
        swap,
        dup,
        reuse,
        replace,
        reuse,
        shrink,
        lambda: None,
        hide_held,
        lambda: None,
        unhide_held,
        lambda: None,
        hide_held,
        change_held,
        unhide_held,
        lambda: None,
    ]
    frame = sys._getframe()
    for stage in stages:
        stage()
        print(json.dumps({"frame": hex(id(frame))}), flush=True)
        print("READY", flush=True)
        if not sys.stdin.readline():
            return

main()
"#;

/// Apply heap ops the way the store does.
fn apply(heap: &mut HashMap<ObjAddr, Node>, ops: &[Op]) {
    for op in ops {
        match op {
            Op::HeapSet(a, n) => {
                heap.insert(*a, n.clone());
            }
            Op::HeapItems {
                addr,
                start,
                new,
                len,
            } => {
                let items = &mut heap.get_mut(addr).expect("splice of a known node").items;
                let start = *start as usize;
                if items.len() < start + new.len() {
                    items.resize(start + new.len(), ObjAddr(0));
                }
                items[start..start + new.len()].copy_from_slice(new);
                items.resize(*len as usize, ObjAddr(0));
            }
            Op::HeapDel(a) => {
                assert!(heap.remove(a).is_some(), "delete of an unknown node {a:?}");
            }
            other => panic!("not a heap op: {other:?}"),
        }
    }
}

#[test]
fn incremental_heap_equals_full_walk() {
    if !Path::new(python311()).exists() {
        eprintln!("skipped: {} not installed", python311());
        return;
    }
    let mut child = Command::new(python311())
        .args(["-c", PROGRAM])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let pid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut input = child.stdin.take().unwrap();
    let mem = ProcMem::new(pid);
    // Discovered at the first stage, once the interpreter is up.
    let mut decoders: Option<(Arc<Python>, Decoder)> = None;
    let mut heap = HashMap::new();
    let mut stages = 0;
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).expect("read stage") == 0 {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(&line).expect("stage JSON");
        let mut ready = String::new();
        out.read_line(&mut ready).expect("read READY");
        assert_eq!(ready.trim(), "READY");
        let s = v["frame"].as_str().unwrap();
        let frame = RemoteAddr(u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap());

        let (python, incremental) = decoders.get_or_insert_with(|| {
            let p = Arc::new(Python::discover(pid, None).expect("discover the interpreter"));
            (p.clone(), Decoder::new(p))
        });
        let full = Decoder::new(python.clone())
            .snapshot(&mem, frame, 2, RemoteAddr::NULL)
            .expect("full snapshot");
        let mut ops = Vec::new();
        let snap = incremental
            .snapshot_ops(&mem, frame, 2, RemoteAddr::NULL, &mut ops)
            .expect("incremental snapshot");
        assert!(snap.heap.is_empty());
        assert_eq!(snap.locals, full.locals, "stage {stages}: locals");
        apply(&mut heap, &ops);
        let mut diffs: Vec<String> = Vec::new();
        for (a, n) in &full.heap {
            if heap.get(a) != Some(n) {
                diffs.push(format!("{a:?}: full {n:?}, incremental {:?}", heap.get(a)));
            }
        }
        for a in heap.keys() {
            if !full.heap.contains_key(a) {
                diffs.push(format!("{a:?}: only in the incremental heap"));
            }
        }
        assert!(diffs.is_empty(), "stage {stages}:\n{}", diffs.join("\n"));
        stages += 1;
        writeln!(input, "next").expect("resume the program");
    }
    let _ = child.wait();
    assert_eq!(stages, 33, "every stage was checked");
}
