//! No input makes the adapter panic: random bytes, and requests of every
//! command with arguments of the wrong shapes, before and after a launch
//! that fails, are each answered (or skipped) and the session goes on.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use store::{
    EventKind, FrameRec, Node, ObjAddr, Op, ProgramEnd, RecordingEnd, RecordingHeader, Scope, Step,
    StepMeta, Writer, WriterOptions,
};

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn framed(v: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(v).unwrap();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend(body);
    out
}

/// Every response the adapter wrote, read back.
fn responses(out: &[u8]) -> Vec<Value> {
    let mut r = out;
    let mut all = Vec::new();
    while let Some(v) = dap::wire::read_message(&mut r).unwrap() {
        all.push(v);
    }
    all
}

#[test]
fn random_bytes_and_misshapen_requests_are_answered() {
    let commands = [
        "initialize",
        "launch",
        "setBreakpoints",
        "configurationDone",
        "threads",
        "stackTrace",
        "scopes",
        "variables",
        "evaluate",
        "continue",
        "next",
        "stepIn",
        "stepOut",
        "stepBack",
        "reverseContinue",
        "pause",
        "setExceptionBreakpoints",
        "source",
        "goto",
        "",
    ];
    let values = [
        json!(null),
        json!(-1),
        json!(u64::MAX),
        json!(1.5),
        json!("x"),
        json!([1, [2]]),
        json!({"path": 3}),
        json!(true),
        json!(""),
        json!("i == "),
        json!("a[[[["),
    ];
    let keys = [
        "recording",
        "program",
        "args",
        "source",
        "breakpoints",
        "lines",
        "frameId",
        "variablesReference",
        "expression",
        "threadId",
        "start",
        "count",
        "levels",
        "filter",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..50 {
        let mut input = Vec::new();
        let mut requests = 0;
        for _ in 0..40 {
            if rng.next() & 7 == 0 {
                // Raw garbage, sometimes shaped like a header.
                let n = rng.next() % 64;
                if rng.next() & 1 == 0 {
                    input.extend(format!("Content-Length: {n}\r\n\r\n").bytes());
                }
                input.extend((0..n).map(|_| (rng.next() % 256) as u8));
                continue;
            }
            let mut args = serde_json::Map::new();
            for _ in 0..rng.next() % 4 {
                args.insert(rng.pick(&keys).to_string(), rng.pick(&values).clone());
            }
            let command = *rng.pick(&commands);
            input.extend(framed(&json!({"seq": requests + 1, "type": "request",
                "command": command, "arguments": args})));
            requests += 1;
        }
        let mut out = Vec::new();
        // Ends at the end of the input, whatever it held.
        dap::serve(&mut &input[..], &mut out, None)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for r in responses(&out) {
            assert!(
                r["type"] == "response" || r["type"] == "event",
                "round {round}: {r}"
            );
            if r["type"] == "response" && r["success"] == false {
                assert!(
                    r["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "round {round}: {r}"
                );
            }
        }
    }
}

/// A node for the synthetic heap.
fn node(ty: &str, kind: u8, text: &str, items: &[u64], attrs: Option<&[(&str, u64)]>) -> Node {
    Node {
        type_name: Arc::from(ty),
        kind,
        text: text.into(),
        items: items.iter().map(|a| ObjAddr(*a)).collect(),
        attrs: attrs.map(|a| {
            a.iter()
                .map(|(n, v)| (Arc::from(*n), ObjAddr(*v)))
                .collect()
        }),
        truncated: false,
    }
}

/// A recording written with the store alone: a module calling a function
/// a few times, its names bound to atoms, a list holding itself, a dict,
/// an instance, a node of an unknown kind and one whose items are missing.
fn synthetic(path: &Path) {
    let header = RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "app.py".into()],
        cwd: "/src".into(),
        pid: 7,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: "/x".into(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "test".into(),
    };
    let w = Writer::create(
        path,
        header,
        WriterOptions {
            checkpoint_every: 7,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let frame = |f: &str, line| FrameRec {
        function: Arc::from(f),
        file: Arc::from("/src/app.py"),
        line,
    };
    let meta = |event, function: &str, line| {
        Op::Step(StepMeta {
            step: Step(0),
            event,
            thread: 7,
            file: Arc::from("/src/app.py"),
            function: Arc::from(function),
            line,
            position: None,
            value: Some(ObjAddr(0x10)),
            instruction: None,
        })
    };
    let heap = vec![
        Op::HeapSet(
            ObjAddr(0x10),
            node("int", values::kinds::ATOM, "3", &[], None),
        ),
        Op::HeapSet(
            ObjAddr(0x20),
            node("str", values::kinds::ATOM, "'ann'", &[], None),
        ),
        Op::HeapSet(
            ObjAddr(0x30),
            node("list", values::kinds::LIST, "", &[0x10, 0x30, 0x20], None),
        ),
        Op::HeapSet(
            ObjAddr(0x40),
            node(
                "dict",
                values::kinds::DICT,
                "",
                &[0x20, 0x30, 0x10, 0x99],
                None,
            ),
        ),
        Op::HeapSet(
            ObjAddr(0x50),
            node(
                "app.P",
                values::kinds::OPAQUE,
                "",
                &[0x30],
                Some(&[("name", 0x20), ("xs", 0x30)]),
            ),
        ),
        Op::HeapSet(
            ObjAddr(0x60),
            node("odd", 42, "", &[0x60, 0x61], Some(&[("self", 0x60)])),
        ),
        Op::Bind {
            scope: Scope::Globals,
            name: Arc::from("xs"),
            value: ObjAddr(0x30),
        },
        Op::Bind {
            scope: Scope::Globals,
            name: Arc::from("d"),
            value: ObjAddr(0x40),
        },
    ];
    let mut steps = vec![{
        let mut ops = vec![
            meta(EventKind::Call, "<module>", 0),
            Op::StackPush(frame("<module>", 0)),
        ];
        ops.extend(heap);
        ops
    }];
    for call in 0..4u32 {
        steps.push(vec![meta(EventKind::Line, "<module>", 5 + call)]);
        steps.push(vec![
            meta(EventKind::Call, "f", 1),
            Op::StackTruncate(1),
            Op::StackPush(frame("<module>", 5 + call)),
            Op::StackPush(frame("f", 1)),
            Op::ClearScope(Scope::Locals),
            Op::Bind {
                scope: Scope::Locals,
                name: Arc::from("p"),
                value: ObjAddr(0x50),
            },
            Op::Bind {
                scope: Scope::Locals,
                name: Arc::from("o"),
                value: ObjAddr(0x60),
            },
            Op::Bind {
                scope: Scope::Locals,
                name: Arc::from("i"),
                value: ObjAddr(0x10),
            },
        ]);
        steps.push(vec![meta(EventKind::Line, "f", 2)]);
        steps.push(vec![meta(EventKind::Return, "f", 2)]);
        steps.push(vec![
            meta(EventKind::Line, "<module>", 5 + call),
            Op::StackTruncate(1),
            Op::ClearScope(Scope::Locals),
        ]);
    }
    for (n, mut ops) in steps.into_iter().enumerate() {
        if let Some(Op::Step(m)) = ops.first_mut() {
            m.step = Step(n as u64);
        }
        w.send(ops).unwrap();
    }
    w.finish(RecordingEnd {
        end: ProgramEnd::Exited(3),
        reason: "program exited".into(),
        steps: 0,
        threads: vec![7],
        duration_ms: 1,
    })
    .unwrap();
}

#[test]
fn misshapen_requests_in_a_session_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("synthetic.hsr");
    synthetic(&rec);
    let commands = [
        "setBreakpoints",
        "threads",
        "stackTrace",
        "scopes",
        "variables",
        "evaluate",
        "continue",
        "next",
        "stepIn",
        "stepOut",
        "stepBack",
        "reverseContinue",
        "launch",
        "nope",
    ];
    let values = [
        json!(null),
        json!(0),
        json!(1),
        json!(2),
        json!(3),
        json!(7),
        json!(-1),
        json!(u64::MAX),
        json!("p.xs[1][1][-1]"),
        json!("d['ann'][0]"),
        json!("o.self.self"),
        json!("p.name == 'ann'"),
        json!("i >= 3"),
        json!("x["),
    ];
    let keys = [
        "frameId",
        "variablesReference",
        "expression",
        "threadId",
        "start",
        "count",
        "levels",
        "filter",
    ];
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut answered = std::collections::BTreeMap::new();
    for round in 0..30 {
        let mut input = framed(&json!({"seq": 1, "type": "request", "command": "initialize"}));
        input.extend(framed(
            &json!({"seq": 2, "type": "request", "command": "launch",
            "arguments": {"recording": rec, "stopOnEntry": round % 2 == 0}}),
        ));
        let lines: Vec<Value> = (0..3)
            .map(|_| json!({"line": rng.next() % 10, "condition": rng.pick(&values)}))
            .collect();
        input.extend(framed(
            &json!({"seq": 3, "type": "request", "command": "setBreakpoints",
            "arguments": {"source": {"path": "/src/app.py"}, "breakpoints": lines}}),
        ));
        input.extend(framed(
            &json!({"seq": 4, "type": "request", "command": "configurationDone"}),
        ));
        // A walk through the stop's frames and values, then random requests.
        let mut seq = 5;
        for (command, args) in [
            ("scopes", json!({"frameId": 1})),
            ("scopes", json!({"frameId": 2})),
        ]
        .into_iter()
        .chain((1..9).map(|r| ("variables", json!({"variablesReference": r}))))
        {
            input.extend(framed(
                &json!({"seq": seq, "type": "request", "command": command, "arguments": args}),
            ));
            seq += 1;
        }
        for seq in seq..seq + 55 {
            let mut args = serde_json::Map::new();
            for _ in 0..rng.next() % 4 {
                args.insert(rng.pick(&keys).to_string(), rng.pick(&values).clone());
            }
            input.extend(framed(&json!({"seq": seq, "type": "request",
                "command": rng.pick(&commands), "arguments": args})));
        }
        let mut out = Vec::new();
        dap::serve(&mut &input[..], &mut out, None)
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let all = responses(&out);
        let launched = all.iter().find(|r| r["command"] == "launch").unwrap();
        assert_eq!(launched["success"], true, "round {round}: {launched}");
        assert!(all.iter().any(|r| r["event"] == "stopped"), "round {round}");
        for r in &all {
            if r["type"] == "response" && r["success"] == false {
                assert!(
                    r["message"].as_str().is_some_and(|m| !m.is_empty()),
                    "round {round}: {r}"
                );
            }
            if r["success"] == true {
                *answered
                    .entry(r["command"].as_str().unwrap().to_string())
                    .or_insert(0) += 1;
            }
        }
    }
    // The misshapen requests reached the session's code, not only its checks.
    for command in [
        "evaluate",
        "variables",
        "scopes",
        "stackTrace",
        "next",
        "stepBack",
        "reverseContinue",
    ] {
        assert!(
            answered.get(command).is_some_and(|n| *n > 0),
            "{command}: {answered:?}"
        );
    }
}
