use super::*;
use crate::apply::apply;
use crate::model::{EventKind, FrameRec, Node, Op, State, Step, StepMeta};

fn meta(n: u64, event: EventKind, thread: u32, line: u32) -> Op {
    Op::Step(StepMeta {
        step: Step(n),
        event,
        thread,
        file: Arc::from("a.py"),
        function: Arc::from("f"),
        line,
        position: None,
        value: None,
        instruction: None,
    })
}

fn frame(function: &str, line: u32) -> FrameRec {
    FrameRec {
        function: Arc::from(function),
        file: Arc::from("a.py"),
        line,
    }
}

fn atom(text: &str) -> Node {
    Node {
        type_name: Arc::from("int"),
        kind: 0,
        text: text.into(),
        items: vec![],
        attrs: None,
        truncated: false,
    }
}

/// Feed steps to a builder as the sealer does, applying them to a state.
fn build(steps: &[Vec<Op>]) -> Vec<u8> {
    let mut b = PostingsBuilder::default();
    let mut state = State::default();
    for (i, ops) in steps.iter().enumerate() {
        let cut = b.before(i as u32, ops, &state);
        apply(&mut state, ops).unwrap();
        b.after(i as u32, cut, &state);
    }
    b.take()
}

#[test]
fn postings_name_the_steps_that_change_each_key() {
    let x = Arc::from("x");
    let steps = vec![
        vec![
            meta(0, EventKind::Call, 1, 1),
            Op::StackPush(frame("f", 1)),
            Op::HeapSet(ObjAddr(16), atom("1")),
            Op::Bind {
                scope: Scope::Locals,
                name: Arc::clone(&x),
                value: ObjAddr(16),
            },
        ],
        // A line step: the top frame's line only, no Frames posting.
        vec![
            meta(1, EventKind::Line, 1, 2),
            Op::StackTruncate(0),
            Op::StackPush(frame("f", 2)),
        ],
        vec![
            meta(2, EventKind::Line, 1, 3),
            Op::StackTruncate(0),
            Op::StackPush(frame("f", 3)),
            Op::HeapSet(ObjAddr(32), atom("2")),
            Op::Bind {
                scope: Scope::Locals,
                name: Arc::clone(&x),
                value: ObjAddr(32),
            },
            Op::HeapDel(ObjAddr(16)),
        ],
        // A call of g: the stack's shape changes.
        vec![meta(3, EventKind::Line, 1, 3), Op::StackPush(frame("g", 9))],
        // Another thread.
        vec![
            meta(4, EventKind::Line, 2, 3),
            Op::ClearScope(Scope::Locals),
        ],
    ];
    let raw = build(&steps);
    let p = decode_postings(&raw, 100, 5, 0).unwrap();
    assert_eq!(p.steps(&PostingKey::Object(ObjAddr(16))), &[100, 102]);
    assert_eq!(p.steps(&PostingKey::Object(ObjAddr(32))), &[102]);
    assert_eq!(p.steps(&PostingKey::Name(Scope::Locals, x)), &[100, 102]);
    assert_eq!(p.steps(&PostingKey::Frames), &[100, 103, 104]);
    assert_eq!(p.steps(&PostingKey::Clear(Scope::Locals)), &[104]);
    assert!(!p.has(&PostingKey::Clear(Scope::Globals)));
    let mut objects: Vec<ObjAddr> = p.objects().collect();
    objects.sort();
    assert_eq!(objects, vec![ObjAddr(16), ObjAddr(32)]);
    assert_eq!(p.end(), 105);
}

#[test]
fn damaged_postings_are_refused_not_trusted() {
    let steps = vec![
        vec![
            meta(0, EventKind::Line, 1, 1),
            Op::HeapSet(ObjAddr(16), atom("1")),
        ],
        vec![meta(1, EventKind::Line, 1, 1), Op::HeapDel(ObjAddr(16))],
    ];
    let raw = build(&steps);
    assert!(decode_postings(&raw, 0, 2, 0).is_ok());
    // Fewer steps than the postings name.
    assert!(decode_postings(&raw, 0, 1, 0).is_err());
    // Every truncation and every byte flipped: an error or postings within
    // the segment, never a panic.
    for cut in 0..raw.len() {
        assert!(decode_postings(&raw[..cut], 0, 2, 0).is_err());
    }
    for i in 0..raw.len() {
        for bit in 0..8 {
            let mut bad = raw.clone();
            bad[i] ^= 1 << bit;
            if let Ok(p) = decode_postings(&bad, 0, 2, 0) {
                assert!(p.iter().all(|(_, s)| s.iter().all(|&s| s < 2)));
            }
        }
    }
    // A count of keys past the bytes.
    assert!(decode_postings(&[0xff, 0xff, 0xff, 0x0f], 0, 2, 0).is_err());
}

fn list(items: &[u64]) -> Node {
    Node {
        type_name: Arc::from("list"),
        kind: 1,
        text: String::new(),
        items: items.iter().map(|a| ObjAddr(*a)).collect(),
        attrs: None,
        truncated: false,
    }
}

fn items(addr: u64, start: u32, new: &[u64], len: u32) -> Op {
    Op::HeapItems {
        addr: ObjAddr(addr),
        start,
        new: new.iter().map(|a| ObjAddr(*a)).collect(),
        len,
    }
}

#[test]
fn item_ranges_say_which_items_of_a_list_a_step_wrote() {
    let l = 64;
    let steps = vec![
        // Made whole: no ranges (set whole only) until an item is written.
        vec![
            meta(0, EventKind::Line, 1, 1),
            Op::HeapSet(ObjAddr(l), list(&[1, 2, 3, 4])),
        ],
        // A swap of items 1 and 2.
        vec![meta(1, EventKind::Line, 1, 1), items(l, 1, &[3, 2], 4)],
        // An append: item 4 and the length.
        vec![meta(2, EventKind::Line, 1, 1), items(l, 4, &[5], 5)],
        // Two writes in one step: merged.
        vec![
            meta(3, EventKind::Line, 1, 1),
            items(l, 0, &[9], 5),
            items(l, 3, &[8], 5),
        ],
        // Set whole then written: the whole node.
        vec![
            meta(4, EventKind::Line, 1, 1),
            Op::HeapSet(ObjAddr(l), list(&[1, 2])),
            items(l, 0, &[7], 2),
        ],
        // Cut short: from the new length on.
        vec![meta(5, EventKind::Line, 1, 1), items(l, 1, &[], 1)],
    ];
    let raw = build(&steps);
    let p = decode_postings(&raw, 10, 6, 0).unwrap();
    assert_eq!(
        p.steps(&PostingKey::Object(ObjAddr(l))),
        &[10, 11, 12, 13, 14, 15]
    );
    let r = p.items(ObjAddr(l)).unwrap();
    let got: Vec<(u64, u32, Option<u32>)> = r.iter().map(|r| (r.step, r.lo, r.hi)).collect();
    assert_eq!(
        got,
        vec![
            (10, 0, None),
            (11, 1, Some(3)),
            (12, 4, None),
            (13, 0, Some(4)),
            (14, 0, None),
            (15, 1, None),
        ]
    );
    assert!(r[1].covers(2) && !r[1].covers(0) && !r[1].covers(3) && !r[1].resizes());
    assert!(r[2].covers(100) && !r[2].covers(3) && r[2].resizes());
    assert!(p.items(ObjAddr(16)).is_none());
}
