//! The rendering rules of docs/spec/values.md, case by case.

use super::*;
use std::sync::Arc;
use store::{EventKind, FrameRec, Node, Position, Step, StepMeta};

/// A hand-built heap: `add` nodes, then render.
struct Heap(State);

impl Heap {
    fn new() -> Heap {
        Heap(State::default())
    }
    fn node(&mut self, addr: u64, type_name: &str, kind: u8, text: &str, items: &[u64]) -> ObjAddr {
        let node = Node {
            type_name: Arc::from(type_name),
            kind,
            text: text.to_string(),
            items: items.iter().map(|a| ObjAddr(*a)).collect(),
            attrs: None,
            truncated: false,
        };
        self.0.heap.insert(ObjAddr(addr), node);
        ObjAddr(addr)
    }
    fn int(&mut self, addr: u64, v: i64) -> ObjAddr {
        self.node(addr, "int", kinds::ATOM, &v.to_string(), &[])
    }
    fn get(&mut self, addr: u64) -> &mut Node {
        self.0.heap.get_mut(&ObjAddr(addr)).unwrap()
    }
    fn repr(&self, addr: u64) -> String {
        repr(&self.0, ObjAddr(addr))
    }
}

#[test]
fn atoms_opaque_unreadable() {
    let mut h = Heap::new();
    h.node(0x10, "str", kinds::ATOM, "'hi'", &[]);
    h.node(0x20, "app.Point", kinds::OPAQUE, "", &[]);
    h.node(0x30, "dict", kinds::UNREADABLE, "changed while read", &[]);
    h.node(0x40, "weird", 200, "", &[]);
    assert_eq!(h.repr(0x10), "'hi'");
    assert_eq!(h.repr(0x20), "<app.Point object at 0x20>");
    assert_eq!(h.repr(0x30), "<unreadable dict object at 0x30>");
    assert_eq!(h.repr(0x40), "<weird object at 0x40>");
}

#[test]
fn containers() {
    let mut h = Heap::new();
    h.int(1, 1);
    h.int(2, 2);
    h.node(0x100, "list", kinds::LIST, "", &[1, 2]);
    h.node(0x101, "list", kinds::LIST, "", &[]);
    h.node(0x110, "tuple", kinds::TUPLE, "", &[1, 2]);
    h.node(0x111, "tuple", kinds::TUPLE, "", &[1]);
    h.node(0x112, "tuple", kinds::TUPLE, "", &[]);
    h.node(0x120, "dict", kinds::DICT, "", &[1, 2, 2, 1]);
    h.node(0x121, "dict", kinds::DICT, "", &[]);
    h.node(0x130, "set", kinds::SET, "", &[1, 2]);
    h.node(0x131, "set", kinds::SET, "", &[]);
    h.node(0x140, "frozenset", kinds::FROZENSET, "", &[1]);
    h.node(0x141, "frozenset", kinds::FROZENSET, "", &[]);
    h.node(0x150, "list", kinds::LIST, "", &[0x110, 0x120, 0x101]);
    assert_eq!(h.repr(0x100), "[1, 2]");
    assert_eq!(h.repr(0x101), "[]");
    assert_eq!(h.repr(0x110), "(1, 2)");
    assert_eq!(h.repr(0x111), "(1,)");
    assert_eq!(h.repr(0x112), "()");
    assert_eq!(h.repr(0x120), "{1: 2, 2: 1}");
    assert_eq!(h.repr(0x121), "{}");
    assert_eq!(h.repr(0x130), "{1, 2}");
    assert_eq!(h.repr(0x131), "set()");
    assert_eq!(h.repr(0x140), "frozenset({1})");
    assert_eq!(h.repr(0x141), "frozenset()");
    assert_eq!(h.repr(0x150), "[(1, 2), {1: 2, 2: 1}, []]");
}

#[test]
fn truncated_containers_end_in_ellipsis() {
    let mut h = Heap::new();
    h.int(1, 1);
    h.int(2, 2);
    h.node(0x100, "list", kinds::LIST, "", &[1, 2]);
    h.node(0x110, "tuple", kinds::TUPLE, "", &[1]);
    h.node(0x120, "dict", kinds::DICT, "", &[1, 2]);
    h.node(0x130, "set", kinds::SET, "", &[1]);
    h.node(0x140, "frozenset", kinds::FROZENSET, "", &[2]);
    for a in [0x100, 0x110, 0x120, 0x130, 0x140] {
        h.get(a).truncated = true;
    }
    assert_eq!(h.repr(0x100), "[1, 2, ...]");
    assert_eq!(h.repr(0x110), "(1, ...)");
    assert_eq!(h.repr(0x120), "{1: 2, ...}");
    assert_eq!(h.repr(0x130), "{1, ...}");
    assert_eq!(h.repr(0x140), "frozenset({2, ...})");
    let v = value_json(&h.0, ObjAddr(0x100), 1);
    assert_eq!(v["truncated"], json!(true));
    let v = value_json(&h.0, ObjAddr(1), 1);
    assert!(v.get("truncated").is_none());
}

#[test]
fn recursion_like_cpython() {
    let mut h = Heap::new();
    // l = []; l.append(l)  -> [[...]]
    h.node(0x100, "list", kinds::LIST, "", &[0x100]);
    assert_eq!(h.repr(0x100), "[[...]]");
    // d = {}; d[1] = d  -> {1: {...}}
    h.int(1, 1);
    h.node(0x200, "dict", kinds::DICT, "", &[1, 0x200]);
    assert_eq!(h.repr(0x200), "{1: {...}}");
    // l = []; t = (l,); l.append(t)  -> repr(t) == "([(...)],)"
    h.node(0x300, "list", kinds::LIST, "", &[0x310]);
    h.node(0x310, "tuple", kinds::TUPLE, "", &[0x300]);
    assert_eq!(h.repr(0x310), "([(...)],)");
    // The same object twice side by side is not recursion.
    h.node(0x400, "list", kinds::LIST, "", &[1]);
    h.node(0x410, "list", kinds::LIST, "", &[0x400, 0x400]);
    assert_eq!(h.repr(0x410), "[[1], [1]]");
}

#[test]
fn nesting_deeper_than_64_prints_ellipsis() {
    let mut h = Heap::new();
    // 70 nested lists: the innermost is an empty list.
    h.node(1000, "list", kinds::LIST, "", &[]);
    for i in 1..70u64 {
        h.node(1000 + i, "list", kinds::LIST, "", &[1000 + i - 1]);
    }
    // 64 non-empty lists around an empty one: the empty list is at depth
    // 65 and prints "..." (the depth check comes before the empty check).
    let top64 = 1000 + 64;
    let expect64 = format!("{}...{}", "[".repeat(64), "]".repeat(64));
    assert_eq!(h.repr(top64), expect64);
    let top63 = 1000 + 63;
    assert_eq!(
        h.repr(top63),
        format!("{}[]{}", "[".repeat(63), "]".repeat(63))
    );
    // 65 non-empty levels: the 65th container prints "...".
    let mut h2 = Heap::new();
    h2.int(1, 1);
    h2.node(2000, "list", kinds::LIST, "", &[1]);
    for i in 1..65u64 {
        h2.node(2000 + i, "list", kinds::LIST, "", &[2000 + i - 1]);
    }
    // 2064 is depth 1, 2000 is depth 65.
    let expect = format!("{}...{}", "[".repeat(64), "]".repeat(64));
    assert_eq!(h2.repr(2064), expect);
    assert_eq!(
        h2.repr(2063),
        format!("{}[1]{}", "[".repeat(63), "]".repeat(63))
    );
}

#[test]
fn missing_children_and_odd_dicts_do_not_panic() {
    let mut h = Heap::new();
    h.int(1, 1);
    h.node(0x100, "list", kinds::LIST, "", &[1, 0xdead]);
    assert_eq!(h.repr(0x100), "[1, <missing object at 0xdead>]");
    assert_eq!(h.repr(0xbeef), "<missing object at 0xbeef>");
    h.node(0x200, "dict", kinds::DICT, "", &[1, 1, 1]);
    assert_eq!(h.repr(0x200), "{1: 1}");
    let v = value_json(&h.0, ObjAddr(0xbeef), 1);
    assert_eq!(v["repr"], json!("<missing object at 0xbeef>"));
    assert_eq!(v["id"], json!("0xbeef"));
    let e = exception_json(&h.0, ObjAddr(0xbeef));
    assert_eq!(e["repr"], json!("<missing object at 0xbeef>"));
}

#[test]
fn attrs_down_to_depth_three() {
    let mut h = Heap::new();
    h.int(1, 1);
    // A linked list of instances: a.next = b, b.next = c, c.next = d, d.v = 1.
    for (a, next) in [(0x10, 0x20), (0x20, 0x30), (0x30, 0x40), (0x40, 1)] {
        h.node(a, "app.Node", kinds::OPAQUE, "", &[]);
        h.get(a).attrs = Some(vec![(Arc::from("next"), ObjAddr(next))]);
    }
    let v = value_json(&h.0, ObjAddr(0x10), 1);
    assert_eq!(v["type"], json!("app.Node"));
    assert_eq!(v["id"], json!("0x10"));
    assert_eq!(v["repr"], json!("<app.Node object at 0x10>"));
    let d2 = &v["attrs"]["next"];
    assert_eq!(d2["id"], json!("0x20"));
    let d3 = &d2["attrs"]["next"];
    assert_eq!(d3["id"], json!("0x30"));
    assert!(d3.get("attrs").is_some());
    let d4 = &d3["attrs"]["next"];
    assert_eq!(d4["id"], json!("0x40"));
    assert!(d4.get("attrs").is_none(), "depth 4 carries no attrs: {d4}");
    // A self-referencing instance is bounded by the same depth.
    h.node(0x50, "app.Loop", kinds::OPAQUE, "", &[]);
    h.get(0x50).attrs = Some(vec![(Arc::from("me"), ObjAddr(0x50))]);
    let v = value_json(&h.0, ObjAddr(0x50), 1);
    assert!(v["attrs"]["me"]["attrs"]["me"].get("attrs").is_some());
    assert!(v["attrs"]["me"]["attrs"]["me"]["attrs"]["me"]
        .get("attrs")
        .is_none());
    // Key order of a value.
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["type", "id", "repr", "attrs"]);
}

#[test]
fn exceptions() {
    let mut h = Heap::new();
    h.node(1, "str", kinds::ATOM, "'x'", &[]);
    h.node(2, "int", kinds::ATOM, "2", &[]);
    h.node(0x100, "tuple", kinds::TUPLE, "", &[1]);
    h.node(0x110, "tuple", kinds::TUPLE, "", &[1, 2]);
    h.node(0x120, "tuple", kinds::TUPLE, "", &[]);
    h.node(0x10, "ValueError", kinds::OPAQUE, "", &[0x100]);
    h.node(0x20, "app.errors.MyError", kinds::OPAQUE, "", &[0x110]);
    h.node(0x30, "KeyError", kinds::OPAQUE, "", &[0x120]);
    h.node(0x40, "RuntimeError", kinds::OPAQUE, "", &[]);
    let e = |a| exception_json(&h.0, ObjAddr(a));
    assert_eq!(
        e(0x10),
        json!({"type": "ValueError", "repr": "ValueError('x')"})
    );
    assert_eq!(
        e(0x20),
        json!({"type": "app.errors.MyError", "repr": "MyError('x', 2)"})
    );
    assert_eq!(e(0x30)["repr"], json!("KeyError()"));
    assert_eq!(e(0x40)["repr"], json!("RuntimeError()"));
}

fn meta(event: EventKind, value: Option<u64>) -> StepMeta {
    StepMeta {
        step: Step(17),
        event,
        thread: 4242,
        file: Arc::from("/abs/script.py"),
        function: Arc::from("Bubble.sort"),
        line: 9,
        position: Some(Position {
            line: 9,
            end_line: 9,
            col: 12,
            end_col: 30,
        }),
        value: value.map(ObjAddr),
        instruction: None,
    }
}

#[test]
fn state_shape_and_key_order() {
    let mut h = Heap::new();
    h.int(1, 3);
    h.node(0x100, "list", kinds::LIST, "", &[1]);
    let mut st = h.0;
    st.meta = Some(meta(EventKind::Line, None));
    st.stack = vec![
        FrameRec {
            function: Arc::from("<module>"),
            file: Arc::from("/abs/script.py"),
            line: 30,
        },
        FrameRec {
            function: Arc::from("Bubble.sort"),
            file: Arc::from("/abs/script.py"),
            line: 9,
        },
    ];
    st.locals = vec![(Arc::from("i"), ObjAddr(1))];
    st.globals = vec![
        (Arc::from("X"), ObjAddr(0x100)),
        (Arc::from("__name__"), ObjAddr(1)),
        (Arc::from("__"), ObjAddr(1)),
        (Arc::from("__x"), ObjAddr(1)),
    ];
    let v = state_json(&st);
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "step", "event", "thread", "file", "function", "line", "position", "stack", "locals",
            "globals"
        ]
    );
    assert_eq!(v["step"], json!(17));
    assert_eq!(v["event"], json!("line"));
    assert_eq!(
        v["position"],
        json!({"line": 9, "end_line": 9, "col": 12, "end_col": 30})
    );
    assert_eq!(
        v["stack"][0],
        json!({"function": "<module>", "file": "/abs/script.py", "line": 30})
    );
    assert_eq!(
        v["locals"]["i"],
        json!({"type": "int", "id": "0x1", "repr": "3"})
    );
    let g: Vec<_> = v["globals"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(g, ["X", "__x"]);
    assert_eq!(v["globals"]["X"]["repr"], json!("[3]"));
}

#[test]
fn return_and_exception_steps() {
    let mut h = Heap::new();
    h.int(1, 3);
    h.node(0x10, "ValueError", kinds::OPAQUE, "", &[]);
    let mut st = h.0;
    st.meta = Some(meta(EventKind::Return, Some(1)));
    let v = state_json(&st);
    assert_eq!(
        v["return"],
        json!({"type": "int", "id": "0x1", "repr": "3"})
    );
    assert!(v.get("exception").is_none());
    st.meta = Some(meta(EventKind::Exception, Some(0x10)));
    let v = state_json(&st);
    assert_eq!(
        v["exception"],
        json!({"type": "ValueError", "repr": "ValueError()"})
    );
    assert!(v.get("return").is_none());
    st.meta = Some(meta(EventKind::Call, Some(1)));
    let v = state_json(&st);
    assert!(v.get("return").is_none() && v.get("exception").is_none());
    assert_eq!(
        *v.as_object().unwrap().keys().next_back().unwrap(),
        "globals"
    );
    // No meta at all still renders.
    let v = state_json(&State::default());
    assert_eq!(v["step"], Value::Null);
}

#[test]
fn huge_shared_heap_is_bounded() {
    let mut h = Heap::new();
    h.node(1, "str", kinds::ATOM, &"x".repeat(1000), &[]);
    // 10 levels of lists that each hold the level below 10 times: 10^10
    // leaves if rendered in full.
    h.node(100, "list", kinds::LIST, "", &[1; 10]);
    for i in 1..10u64 {
        h.node(100 + i, "list", kinds::LIST, "", &[100 + i - 1; 10]);
    }
    let r = h.repr(109);
    assert!(r.len() <= MAX_STATE_REPR_BYTES + 4096, "{}", r.len());
    assert!(r.ends_with("...]"));
}

#[test]
fn one_budget_for_the_whole_state() {
    // A thousand globals bound to a list of a thousand references to a list
    // of a thousand ints: 3 GB of reprs if each were rendered in full.
    let mut h = Heap::new();
    h.int(1, 7);
    h.node(10, "list", kinds::LIST, "", &[1; 1000]);
    h.node(11, "list", kinds::LIST, "", &[10; 1000]);
    let mut st = h.0;
    for i in 0..1000 {
        st.globals.push((Arc::from(format!("g{i}")), ObjAddr(11)));
    }
    let t = std::time::Instant::now();
    let v = state_json(&st);
    let size = v.to_string().len();
    assert!(size <= MAX_STATE_REPR_BYTES + 200_000, "{size} bytes");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    // The first globals in full (3 MB each), then one cut, then `...`.
    let full = v["globals"]["g0"]["repr"].as_str().unwrap().len();
    assert_eq!(full, 2 + 1000 * (2 + 1000 * 3 - 2) + 999 * 2);
    assert!(v["globals"]["g0"].get("truncated").is_none());
    let cut = (0..1000)
        .find(|i| v["globals"][format!("g{i}")]["truncated"] == json!(true))
        .unwrap();
    assert_eq!(cut, MAX_STATE_REPR_BYTES / full);
    let r = v["globals"][format!("g{cut}")]["repr"].as_str().unwrap();
    assert!(r.ends_with("...]"), "{}", &r[r.len() - 20..]);
    // Once spent, the values after it are `...`, and say they are cut.
    let last = &v["globals"]["g999"];
    assert_eq!(last["repr"], json!("..."));
    assert_eq!(last["truncated"], json!(true));
}

#[test]
fn containers_over_the_element_limit_are_cut() {
    let mut h = Heap::new();
    h.int(1, 0);
    h.node(10, "list", kinds::LIST, "", &vec![1; MAX_ELEMENTS + 5]);
    h.node(11, "dict", kinds::DICT, "", &vec![1; 2 * MAX_ELEMENTS + 2]);
    let v = value_json(&h.0, ObjAddr(10), 1);
    let r = v["repr"].as_str().unwrap();
    assert_eq!(r.matches('0').count(), MAX_ELEMENTS);
    assert!(r.ends_with(", ...]"));
    assert_eq!(v["truncated"], json!(true));
    let r = h.repr(11);
    assert_eq!(r.matches(": ").count(), MAX_ELEMENTS);
}

#[test]
fn a_text_past_the_budget_is_cut_at_a_character() {
    let mut h = Heap::new();
    h.node(
        1,
        "str",
        kinds::ATOM,
        &format!("'{}'", "é".repeat(100)),
        &[],
    );
    let (r, cut) = repr_in(&h.0, ObjAddr(1), &mut Budget::of(10));
    assert!(cut);
    assert_eq!(r, "'éééé...");
}
