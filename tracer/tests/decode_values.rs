//! Decoding against a live CPython 3.11: a fixture program builds values,
//! prints what docs/spec/values.md says each must render as (computed in-process)
//! and blocks; the decoder reads the same objects through /proc/PID/mem and
//! must agree exactly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use serde_json::{json, Value};
use store::{ObjAddr, State};
use tracer::internals::ProcMem;
use tracer::internals::{Decoder, Python, Snapshot};
use tracer::RemoteAddr;
use values::render;

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

/// The fixture process; killed when dropped.
struct Fixture {
    child: Child,
    expected: Value,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Option<Fixture> {
    if !Path::new(python311()).exists() {
        eprintln!("skipping: {} not installed", python311());
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/decode_fixture.py");
    let mut child = Command::new(python311())
        .arg(&script)
        .env("PYTHONHASHSEED", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("read expectations");
    let expected: Value = serde_json::from_str(&line).expect("fixture JSON");
    let mut ready = String::new();
    out.read_line(&mut ready).expect("read READY");
    assert_eq!(ready.trim(), "READY");
    Some(Fixture { child, expected })
}

fn addr(v: &Value) -> RemoteAddr {
    let s = v.as_str().expect("hex id");
    RemoteAddr(u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex"))
}

fn hex(a: ObjAddr) -> String {
    format!("{:#x}", a.0)
}

fn state_of(s: &Snapshot) -> State {
    State {
        meta: None,
        stack: s.stack.clone(),
        locals: s.locals.clone(),
        globals: s.globals.clone(),
        heap: s.heap.clone(),
    }
}

fn setup() -> Option<(Fixture, ProcMem, Decoder)> {
    let fx = start()?;
    let pid = fx.child.id() as i32;
    let mem = ProcMem::new(pid);
    let python = Python::discover(pid, None).expect("discover the interpreter");
    assert_eq!(python.version.minor_pair(), (3, 11));
    Some((fx, mem, Decoder::new(Arc::new(python))))
}

#[test]
fn decode_function_frame_matches_cpython() {
    let Some((fx, mem, mut dec)) = setup() else {
        return;
    };
    let exp = &fx.expected;
    let frame = addr(&exp["frame"]);

    let code = dec.frame_code(&mem, frame).expect("frame_code");
    assert_eq!(&*code.function, "scenario");
    assert!(code.file.ends_with("decode_fixture.py"));

    let snap = dec
        .snapshot(&mem, frame, 2, RemoteAddr::NULL)
        .expect("snapshot");
    assert_eq!(snap.event, store::EventKind::Line);
    assert_eq!(&*snap.function, "scenario");
    assert_eq!(snap.line as u64, exp["line"].as_u64().unwrap());

    // Stack: names, files and lines, outermost first.
    let stack: Vec<Value> = snap
        .stack
        .iter()
        .map(|f| json!({"function": &*f.function, "file": &*f.file, "line": f.line}))
        .collect();
    assert_eq!(Value::Array(stack), exp["stack"]);

    // Position of the instruction at prev_instr.
    let lasti = exp["lasti"].as_u64().unwrap() as usize;
    let p = &exp["positions"][lasti];
    let want = if p.as_array().unwrap().iter().any(|v| v.is_null()) {
        Value::Null
    } else {
        p.clone()
    };
    let got = snap.position.map_or(Value::Null, |p| {
        json!([p.line, p.end_line, p.col, p.end_col])
    });
    assert_eq!(got, want, "position at code unit {lasti}");

    // Locals: exactly the bound names (cells and free variables included), same objects.
    let got: HashMap<String, String> = snap
        .locals
        .iter()
        .filter(|(n, _)| !n.starts_with("_h"))
        .map(|(n, a)| (n.to_string(), hex(*a)))
        .collect();
    let want: HashMap<String, String> = exp["local_ids"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want, "locals");
    assert!(!got.contains_key("unbound_later"));

    // Every value renders as CPython (with the values.md rules) says.
    let state = state_of(&snap);
    let by_name: HashMap<&str, ObjAddr> = snap.locals.iter().map(|(n, a)| (&**n, *a)).collect();
    let mut failures = Vec::new();
    for (name, want) in exp["locals"].as_object().unwrap() {
        let got = render::value_json(&state, by_name[name.as_str()], 1);
        if &got != want {
            let cut = |v: &Value| v.to_string().chars().take(600).collect::<String>();
            failures.push(format!(
                "{name}:\n  got  {}\n  want {}",
                cut(&got),
                cut(want)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Container items are the very element objects, in iteration order.
    for (name, want) in exp["items"].as_object().unwrap() {
        let Some(want) = want.as_array() else {
            continue;
        };
        let node = &snap.heap[&by_name[name.as_str()]];
        // Dict items are key, value pairs: twice the element limit.
        let cap = if node.kind == values::kinds::DICT {
            20_000
        } else {
            10_000
        };
        let n = want.len().min(cap);
        let got: Vec<String> = node.items.iter().map(|a| hex(*a)).collect();
        let want: Vec<String> = want
            .iter()
            .take(n)
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{name} items");
        let full = exp["items"][name].as_array().map_or(0, |a| a.len());
        assert_eq!(node.truncated, n < full, "{name} truncated");
    }

    // Every atom's text is exactly repr().
    for (group, elems) in exp["elements"].as_object().unwrap() {
        for e in elems.as_array().unwrap() {
            let a = ObjAddr(addr(&e["id"]).0);
            let node = snap
                .heap
                .get(&a)
                .unwrap_or_else(|| panic!("{group}: {} missing", e["id"]));
            assert_eq!(node.kind, values::kinds::ATOM, "{group} {}", e["repr"]);
            assert_eq!(node.text, e["repr"].as_str().unwrap(), "{group}");
            assert_eq!(&*node.type_name, e["type"].as_str().unwrap(), "{group}");
        }
    }

    // Deep nesting is decoded without blowing up, and bounded.
    let deep = &snap.heap[&by_name["deep"]];
    assert_eq!(deep.kind, values::kinds::LIST);

    // Globals: str keys, no dunders, same objects.
    let got: HashMap<String, String> = snap
        .globals
        .iter()
        .map(|(n, a)| (n.to_string(), hex(*a)))
        .collect();
    let want: HashMap<String, String> = exp["globals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want, "globals");
    assert!(!got.contains_key("__dunder__") && got.contains_key("_private"));
}

#[test]
fn decode_class_body_module_and_events() {
    let Some((fx, mem, mut dec)) = setup() else {
        return;
    };
    let exp = &fx.expected;

    // A class body: its namespace, in dict order.
    let snap = dec
        .snapshot(&mem, addr(&exp["class_frame"]), 2, RemoteAddr::NULL)
        .expect("class body snapshot");
    assert_eq!(&*snap.function, "Body");
    let got: Vec<(String, String)> = snap
        .locals
        .iter()
        .map(|(n, a)| (n.to_string(), hex(*a)))
        .collect();
    let want: Vec<(String, String)> = exp["class_locals"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(snap.stack.len(), 2);

    // Module level: no locals.
    let snap = dec
        .snapshot(&mem, addr(&exp["module_frame"]), 2, RemoteAddr::NULL)
        .expect("module snapshot");
    assert_eq!(&*snap.function, "<module>");
    assert!(snap.locals.is_empty());
    assert_eq!(snap.stack.len(), 1);

    let frame = addr(&exp["frame"]);
    // Exception event: the instance out of the (type, value, tb) tuple.
    let snap = dec
        .snapshot(&mem, frame, 1, addr(&exp["exc_arg"]))
        .expect("exception snapshot");
    assert_eq!(snap.event, store::EventKind::Exception);
    let err = ObjAddr(addr(&exp["err"]).0);
    assert_eq!(snap.value, Some(err));
    let state = state_of(&snap);
    let node = &snap.heap[&err];
    assert_eq!(&*node.type_name, "__main__.MyError");
    assert_eq!(render::repr(&state, node.items[0]), "('bad', 2)");

    // Return event: NULL means None; otherwise the object itself.
    let snap = dec
        .snapshot(&mem, frame, 3, RemoteAddr::NULL)
        .expect("return snapshot");
    let none = snap.value.expect("None value");
    assert_eq!(snap.heap[&none].text, "None");
    let snap = dec
        .snapshot(&mem, frame, 3, addr(&exp["err"]))
        .expect("return snapshot");
    assert_eq!(snap.value, Some(err));

    // Bad pointers are errors, never panics.
    assert!(dec
        .snapshot(&mem, RemoteAddr(8), 2, RemoteAddr::NULL)
        .is_err());
    assert!(dec.snapshot(&mem, frame, 9, RemoteAddr::NULL).is_err());
    let heap = dec.objects(&mem, &[RemoteAddr(16), RemoteAddr(frame.0 + 1)]);
    assert_eq!(heap.len(), 2);
    assert!(heap.values().all(|n| n.kind == values::kinds::UNREADABLE));

    let _ = fx.child.stdin.as_ref().map(|mut s| s.write_all(b"\n"));
}
