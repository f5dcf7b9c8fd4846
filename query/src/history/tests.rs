//! The change rules of `history` on recordings written by hand: what a
//! frame saw is kept while it calls others, a change anywhere inside a
//! value counts, and an object sent again unchanged does not.

use std::sync::Arc;

use store::{
    EventKind, FrameRec, Node, ObjAddr, Op, Reader, Scope, Step, StepMeta, Writer, WriterOptions,
};

use super::{history, Filters};
use crate::Expr;

/// Builds one step's ops.
struct S(Vec<Op>);

impl S {
    fn new(n: u64, function: &str) -> S {
        S(vec![Op::Step(StepMeta {
            step: Step(n),
            event: EventKind::Line,
            thread: 1,
            file: "/app.py".into(),
            function: function.into(),
            line: 1,
            position: None,
            value: None,
            instruction: None,
        })])
    }
    /// The stack becomes `frames` (outermost first).
    fn stack(mut self, frames: &[&str]) -> S {
        self.0.push(Op::StackTruncate(0));
        for f in frames {
            self.0.push(Op::StackPush(FrameRec {
                function: (*f).into(),
                file: "/app.py".into(),
                line: 1,
            }));
        }
        self
    }
    fn locals(mut self, names: &[(&str, u64)]) -> S {
        self.0.push(Op::ClearScope(Scope::Locals));
        for (n, a) in names {
            self.0.push(Op::Bind {
                scope: Scope::Locals,
                name: (*n).into(),
                value: ObjAddr(*a),
            });
        }
        self
    }
    fn global(mut self, name: &str, a: u64) -> S {
        self.0.push(Op::Bind {
            scope: Scope::Globals,
            name: name.into(),
            value: ObjAddr(a),
        });
        self
    }
    fn node(mut self, a: u64, kind: u8, text: &str, items: &[u64], truncated: bool) -> S {
        self.0.push(Op::HeapSet(
            ObjAddr(a),
            Node {
                type_name: Arc::from(if kind == values::kinds::ATOM {
                    "int"
                } else {
                    "list"
                }),
                kind,
                text: text.into(),
                items: items.iter().map(|i| ObjAddr(*i)).collect(),
                attrs: None,
                truncated,
            },
        ));
        self
    }
    fn int(self, a: u64, v: i64) -> S {
        self.node(a, values::kinds::ATOM, &v.to_string(), &[], false)
    }
    fn op(mut self, op: Op) -> S {
        self.0.push(op);
        self
    }
}

/// The steps `history NAME` lists for these steps, with their values.
fn listed(steps: Vec<S>, name: &str) -> Vec<(u64, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let header = store::RecordingHeader {
        format_version: 0,
        program: vec![],
        cwd: "/".into(),
        pid: 1,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: String::new(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "test".into(),
    };
    let w = Writer::create(&path, header, WriterOptions::default()).unwrap();
    let n = steps.len() as u64;
    for s in steps {
        w.send(s.0).unwrap();
    }
    drop(w);
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), n);
    let mut out = Vec::new();
    let expr = Expr::parse(name).unwrap();
    history(&r, &expr, &Filters::default(), |m, c, state| {
        let mut v = c.value.text(state);
        if c.past_cut {
            v.push_str(" (past the cut)");
        }
        out.push((m.step.0, v));
        Ok::<_, crate::QueryError>(true)
    })
    .unwrap();
    out
}

fn steps(v: &[(u64, &str)]) -> Vec<(u64, String)> {
    v.iter().map(|(n, s)| (*n, s.to_string())).collect()
}

#[test]
fn coming_back_from_a_call_is_not_a_change() {
    // def main(): x = 10; helper(); helper(); x = 11
    let main = ["<module>", "main"];
    let helper = ["<module>", "main", "helper"];
    let got = listed(
        vec![
            S::new(0, "main")
                .stack(&main)
                .int(10, 10)
                .locals(&[("x", 10)]),
            S::new(1, "helper")
                .stack(&helper)
                .int(1, 1)
                .locals(&[("y", 1)]),
            S::new(2, "main").stack(&main).locals(&[("x", 10)]),
            S::new(3, "helper").stack(&helper).locals(&[("y", 1)]),
            S::new(4, "main").stack(&main).locals(&[("x", 10)]),
            S::new(5, "main").int(11, 11).locals(&[("x", 11)]),
        ],
        "x",
    );
    assert_eq!(got, steps(&[(0, "10"), (5, "11")]));
}

#[test]
fn a_change_deep_inside_the_value_counts() {
    let l = values::kinds::LIST;
    let got = listed(
        vec![
            S::new(0, "<module>")
                .stack(&["<module>"])
                .node(0x100, l, "", &[0x200], false)
                .node(0x200, l, "", &[0x300], false)
                .int(0x300, 1)
                .global("a", 0x100),
            S::new(1, "<module>").int(0x999, 5),
            // a[0][0] = 2, while another frame runs: seen when main's frame is back.
            S::new(2, "f")
                .stack(&["<module>", "f"])
                .int(0x301, 2)
                .op(Op::HeapItems {
                    addr: ObjAddr(0x200),
                    start: 0,
                    new: vec![ObjAddr(0x301)],
                    len: 1,
                }),
            S::new(3, "<module>").stack(&["<module>"]),
            S::new(4, "<module>"),
        ],
        "a",
    );
    // Step 2 also shows `a` (a global, seen from f): the change is listed there.
    assert_eq!(got, steps(&[(0, "[[1]]"), (2, "[[2]]")]));
}

#[test]
fn a_change_past_the_cut_counts() {
    let d = values::kinds::DICT;
    let got = listed(
        vec![
            S::new(0, "<module>")
                .stack(&["<module>"])
                .int(1, 0)
                .node(0x100, d, "", &[1, 1], true)
                .global("d", 0x100),
            S::new(1, "<module>"),
            // The recorder sends the cut node again: something past the cut changed.
            S::new(2, "<module>").node(0x100, d, "", &[1, 1], true),
            S::new(3, "<module>"),
        ],
        "d",
    );
    assert_eq!(
        got,
        steps(&[(0, "{0: 0, ...}"), (2, "{0: 0, ...} (past the cut)")])
    );
}

#[test]
fn objects_that_leave_and_come_back_unchanged_are_not_a_change() {
    // A generator's frame: popped at each yield, its objects deleted from
    // the state and sent back equal when it resumes.
    let l = values::kinds::LIST;
    let g = ["<module>", "gen"];
    let got = listed(
        vec![
            S::new(0, "gen")
                .stack(&g)
                .node(0x10, l, "", &[], false)
                .locals(&[("acc", 0x10)]),
            S::new(1, "<module>")
                .stack(&["<module>"])
                .locals(&[])
                .op(Op::HeapDel(ObjAddr(0x10))),
            S::new(2, "gen")
                .stack(&g)
                .node(0x10, l, "", &[], false)
                .locals(&[("acc", 0x10)]),
            S::new(3, "gen").int(7, 7).op(Op::HeapItems {
                addr: ObjAddr(0x10),
                start: 0,
                new: vec![ObjAddr(7)],
                len: 1,
            }),
        ],
        "acc",
    );
    assert_eq!(got, steps(&[(0, "[]"), (3, "[7]")]));
}

#[test]
fn unbound_and_bound_again_is_a_change_and_locals_shadow_globals() {
    let m = ["<module>", "f"];
    let got = listed(
        vec![
            S::new(0, "<module>")
                .stack(&["<module>"])
                .int(1, 1)
                .global("x", 1),
            S::new(1, "f").stack(&m).int(2, 2).locals(&[("x", 2)]),
            S::new(2, "f").locals(&[]),
            S::new(3, "f").locals(&[("x", 2)]),
            // Back at module level: the global, unchanged since the module saw it.
            S::new(4, "<module>").stack(&["<module>"]).locals(&[]),
        ],
        "x",
    );
    // Step 2: f has no local x any more, so the global shows (a first look
    // from f's module... the same module, which saw it at step 0).
    assert_eq!(got, steps(&[(0, "1"), (1, "2"), (3, "2")]));
}

#[test]
fn a_change_listed_through_another_frame_is_not_listed_again() {
    // p = P(); grow(p) appends to p.items; back in the module.
    let l = values::kinds::LIST;
    let m = ["<module>"];
    let g = ["<module>", "grow"];
    let got = listed(
        vec![
            S::new(0, "<module>")
                .stack(&m)
                .node(0x10, l, "", &[], false)
                .global("p", 0x10),
            S::new(1, "grow").stack(&g).locals(&[("p", 0x10)]),
            S::new(2, "grow").int(1, 0).op(Op::HeapItems {
                addr: ObjAddr(0x10),
                start: 0,
                new: vec![ObjAddr(1)],
                len: 1,
            }),
            S::new(3, "<module>").stack(&m).locals(&[]),
            S::new(4, "grow").stack(&g).locals(&[("p", 0x10)]),
        ],
        "p",
    );
    // Step 1: a fresh binding in grow. Step 3: the module's p catches up
    // with what step 2 listed. Step 4: a new call of grow, whose last call
    // saw p before the append: changed since, but just listed as it is.
    assert_eq!(got, steps(&[(0, "[]"), (1, "[]"), (2, "[0]")]));
}
