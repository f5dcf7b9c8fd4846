//! The views of `scan.rs` against rmp-serde's own encoding of every op,
//! and damaged encodings (cut anywhere, bytes replaced) read without a panic.

use super::*;
use crate::model::Node;

fn sample() -> Vec<Op> {
    let meta = StepMeta {
        step: Step(0),
        event: EventKind::Exception,
        thread: 7,
        file: "/a.py".into(),
        function: "f".into(),
        line: 3,
        position: Some(Position {
            line: 3,
            end_line: 4,
            col: 1,
            end_col: 300,
        }),
        value: Some(ObjAddr(u64::MAX)),
        instruction: None,
    };
    let node = Node {
        type_name: "app.P".into(),
        kind: 0,
        text: "é".into(),
        items: vec![ObjAddr(1), ObjAddr(1 << 40)],
        attrs: Some(vec![("x".into(), ObjAddr(2))]),
        truncated: true,
    };
    vec![
        Op::Step(meta),
        Op::StackTruncate(0),
        Op::StackPush(FrameRec {
            function: "f".into(),
            file: "/a.py".into(),
            line: 70_000,
        }),
        Op::ClearScope(Scope::Globals),
        Op::Bind {
            scope: Scope::Locals,
            name: "x".into(),
            value: ObjAddr(5),
        },
        Op::Unbind {
            scope: Scope::Globals,
            name: "y".into(),
        },
        Op::HeapSet(ObjAddr(9), node),
        Op::HeapItems {
            addr: ObjAddr(9),
            start: 1,
            new: vec![ObjAddr(3)],
            len: 2,
        },
        Op::HeapDel(ObjAddr(9)),
    ]
}

fn read_all(bytes: &[u8]) -> Result<Vec<Op>, String> {
    let mut c = Cursor::new(bytes);
    let s = read_step(&mut c, 12, 0).map_err(|e| e.0.to_string())?;
    s.skip_ops().map_err(|e| e.0.to_string())?;
    let mut ops = vec![Op::Step(s.meta.to_meta())];
    for op in s.ops() {
        ops.push(
            op.map_err(|e| e.to_string())?
                .to_op()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(ops)
}

#[test]
fn every_op_reads_back() {
    let ops = sample();
    let bytes = rmp_serde::to_vec(&ops).unwrap();
    let mut want = ops.clone();
    if let Op::Step(m) = &mut want[0] {
        m.step = Step(12);
    }
    assert_eq!(read_all(&bytes).unwrap(), want);
}

#[test]
fn every_cut_and_damaged_byte_is_an_error_or_a_value() {
    let bytes = rmp_serde::to_vec(&sample()).unwrap();
    for cut in 0..bytes.len() {
        assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    for i in 0..bytes.len() {
        for b in [0x00, 0x7f, 0xc1, 0xdd, 0xff] {
            let mut bad = bytes.clone();
            bad[i] = b;
            // Must not panic; may decode to something else.
            let _ = read_all(&bad);
        }
    }
}
