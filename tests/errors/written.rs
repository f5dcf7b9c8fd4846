//! A small recording written with `store::Writer` (no recorder involved),
//! for the reading commands' tests in errors_test.rs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::py311;

use store::{
    EventKind, FrameRec, Node, ObjAddr, Op, Position, ProgramEnd, RecordingEnd, RecordingHeader,
    Scope, Step, StepMeta, Writer, WriterOptions,
};

fn header() -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "/tmp/app.py".into()],
        cwd: "/tmp".into(),
        pid: 4242,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: format!("{}/lib/libpython3.11.so.1.0", py311()),
        mode: "record".into(),
        started_unix_ms: 1_700_000_000_000,
        recorder: "hindsight test".into(),
    }
}

fn int_node(v: i64) -> Node {
    Node {
        type_name: Arc::from("int"),
        kind: values::kinds::ATOM,
        text: v.to_string(),
        items: vec![],
        attrs: None,
        truncated: false,
    }
}

fn meta(step: u64, event: EventKind, file: &str, line: u32, value: Option<u64>) -> StepMeta {
    StepMeta {
        step: Step(step),
        event,
        thread: 4242,
        file: Arc::from(file),
        function: Arc::from(if step == 0 { "<module>" } else { "f" }),
        line,
        position: Some(Position {
            line,
            end_line: line,
            col: 4,
            end_col: 9,
        }),
        value: value.map(ObjAddr),
        instruction: None,
    }
}

/// A small program's recording, written by hand:
/// step 0 `<module>` line 1; step 1 call f; steps 2-4 lines 2, 3, 2 of f
/// with `x` = 1, 2, 2 (rebound to the same value but a new object at step
/// 4); step 5 return 2.
fn write_recording(path: &Path, src: &Path, finish: bool) {
    let file = src.to_str().unwrap();
    let w = Writer::create(path, header(), WriterOptions::default()).unwrap();
    // Its text, as the recorder keeps it before the first step naming it.
    w.keep_source(store::SourceFile {
        file: file.to_string(),
        text: Some(std::fs::read_to_string(src).unwrap()),
        missing: String::new(),
    });
    let frame = |line| FrameRec {
        function: Arc::from("<module>"),
        file: Arc::from(file),
        line,
    };
    let f_frame = |line| FrameRec {
        function: Arc::from("f"),
        file: Arc::from(file),
        line,
    };
    w.send(vec![
        Op::Step(meta(0, EventKind::Line, file, 1, None)),
        Op::StackPush(frame(1)),
        Op::HeapSet(ObjAddr(0x100), int_node(7)),
        Op::Bind {
            scope: Scope::Globals,
            name: Arc::from("G"),
            value: ObjAddr(0x100),
        },
    ])
    .unwrap();
    w.send(vec![
        Op::Step(meta(1, EventKind::Call, file, 1, None)),
        Op::StackPush(f_frame(1)),
    ])
    .unwrap();
    let x_steps = [
        (2u64, 2u32, 0x10u64, 1i64),
        (3, 3, 0x20, 2),
        (4, 2, 0x30, 2),
    ];
    for (step, line, addr, v) in x_steps {
        w.send(vec![
            Op::Step(meta(step, EventKind::Line, file, line, None)),
            Op::StackTruncate(1),
            Op::StackPush(f_frame(line)),
            Op::HeapSet(ObjAddr(addr), int_node(v)),
            Op::Bind {
                scope: Scope::Locals,
                name: Arc::from("x"),
                value: ObjAddr(addr),
            },
        ])
        .unwrap();
    }
    w.send(vec![Op::Step(meta(
        5,
        EventKind::Return,
        file,
        2,
        Some(0x30),
    ))])
    .unwrap();
    if finish {
        w.finish(RecordingEnd {
            end: ProgramEnd::Exited(0),
            reason: "the program exited with status 0".into(),
            steps: 6,
            threads: vec![4242],
            duration_ms: 1234,
        })
        .unwrap();
    } else {
        drop(w);
    }
}

/// A temp dir with `app.py` and its recording `rec.hsr`.
pub fn recorded(finish: bool) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("app.py");
    std::fs::write(&src, "G = 7\ndef f():\n    x = 1\n").unwrap();
    let rec = dir.path().join("rec.hsr");
    write_recording(&rec, &src, finish);
    (dir, rec, src)
}
