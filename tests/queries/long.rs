//! A long recording written with `store::Writer` (no recorder involved):
//! a large state that stays, and a loop that changes one name at every
//! step, for the scaling test of queries_test.rs.

use std::path::Path;

/// A module-level loop `for i in ...: pass` at line 3 over a list of
/// 20,000 ints bound to `data`, written with the store's own writer.
pub fn write_long(path: &Path, steps: u64) {
    use std::sync::Arc;
    use store::{EventKind, FrameRec, Node, ObjAddr, Op, Scope, Step, StepMeta, Writer};
    let int = |v: u64| Node {
        type_name: Arc::from("int"),
        kind: values::kinds::ATOM,
        text: v.to_string(),
        items: vec![],
        attrs: None,
        truncated: false,
    };
    let header = store::RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "/long.py".into()],
        cwd: "/".into(),
        pid: 1,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: String::new(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "queries_test".into(),
    };
    let w = Writer::create(path, header, Default::default()).unwrap();
    let file: Arc<str> = Arc::from("/long.py");
    let meta = |n: u64, line: u32| {
        Op::Step(StepMeta {
            step: Step(n),
            event: EventKind::Line,
            thread: 1,
            file: file.clone(),
            function: Arc::from("<module>"),
            line,
            position: None,
            value: None,
            instruction: None,
        })
    };
    let frame = |line: u32| FrameRec {
        function: Arc::from("<module>"),
        file: file.clone(),
        line,
    };
    const DATA: u64 = 20_000;
    let mut first = vec![meta(0, 1), Op::StackPush(frame(1))];
    for k in 0..DATA {
        first.push(Op::HeapSet(ObjAddr(0x10_0000 + 16 * k), int(k)));
    }
    first.push(Op::HeapSet(
        ObjAddr(0x1000),
        Node {
            type_name: Arc::from("list"),
            kind: values::kinds::LIST,
            text: String::new(),
            items: (0..DATA).map(|k| ObjAddr(0x10_0000 + 16 * k)).collect(),
            attrs: None,
            truncated: false,
        },
    ));
    first.push(Op::Bind {
        scope: Scope::Globals,
        name: Arc::from("data"),
        value: ObjAddr(0x1000),
    });
    w.send(first).unwrap();
    for n in 1..steps {
        let i = ObjAddr(0x9000_0000 + 16 * (n % 2));
        w.send(vec![
            meta(n, 3),
            Op::StackTruncate(0),
            Op::StackPush(frame(3)),
            Op::HeapSet(i, int(n)),
            Op::Bind {
                scope: Scope::Globals,
                name: Arc::from("i"),
                value: i,
            },
        ])
        .unwrap();
    }
    w.finish(store::RecordingEnd {
        end: store::ProgramEnd::Exited(0),
        reason: String::new(),
        steps,
        threads: vec![1],
        duration_ms: 0,
    })
    .unwrap();
}
