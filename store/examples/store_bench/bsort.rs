//! The op stream `hindsight record` emits for a module-level bubble sort of
//! 1,000 ints (the Execorder benchmark program), generated without running
//! the recorder. The program, with the line numbers used below:
//!
//! ```text
//! 1 import random
//! 2 random.seed(1)
//! 3 n = 1000
//! 4 for r in range(4):
//! 5     a = [random.randint(0, 10000) for _ in range(n)]
//! 6     for i in range(n):
//! 7         for j in range(n - 1 - i):
//! 8             if a[j] > a[j + 1]:
//! 9                 a[j], a[j + 1] = a[j + 1], a[j]
//! ```
//!
//! The ops mirror a real recording of that program (checked against
//! `hindsight record` on 200 ints, 3.11): every step carries its meta with a
//! position, every module line step re-sends the frame (`StackTruncate(0)` +
//! `StackPush`), the changes a line makes arrive with the next step, a node
//! is sent when an object becomes reachable and deleted when it stops being
//! reachable (small ints live at fixed addresses, other ints come from a
//! free list, so a fresh `j` above 256 reuses the address the previous one
//! freed), and a swap is a 2-item `HeapItems` splice.

use std::collections::HashMap;
use std::sync::Arc;
use store::{EventKind, FrameRec, Node, ObjAddr, Op, Position, Scope, Step, StepMeta};

const THREAD: u32 = 27622;
const SMALL_INTS: u64 = 0x7f8a_3c1f_0b48;
const HEAP: u64 = 0x7f8a_3b00_0000;

/// Generates the steps of the program above, one `Vec<Op>` at a time.
pub struct BubbleSort {
    file: Arc<str>,
    module: Arc<str>,
    listcomp: Arc<str>,
    int_t: Arc<str>,
    list_t: Arc<str>,
    n: u64,
    step: u64,
    /// Ops made by the line that ran last, sent with the next step.
    pending: Vec<Op>,
    refs: HashMap<ObjAddr, u32>,
    free: Vec<u64>,
    bump: u64,
    rng: u64,
    /// Steps queued by the program walk, handed out one by one.
    queue: std::collections::VecDeque<Vec<Op>>,
    walk: Walk,
    globals: HashMap<&'static str, ObjAddr>,
    list: ObjAddr,
    values: Vec<(ObjAddr, u64)>,
}

/// Where the program walk is.
#[derive(Clone, Copy)]
enum Walk {
    Start,
    Round(u64),
    Pass(u64, u64),
}

fn pos(line: u32) -> Position {
    let (l, e, c, ec) = match line {
        0 => (0, 1, 0, 0),
        1 => (1, 1, 0, 13),
        2 => (2, 2, 0, 14),
        3 => (3, 3, 4, 8),
        4 => (4, 9, 0, 47),
        5 => (5, 5, 8, 52),
        6 => (6, 9, 4, 47),
        7 => (7, 9, 8, 47),
        8 => (8, 8, 15, 16),
        _ => (9, 9, 33, 34),
    };
    Position {
        line: l,
        end_line: e,
        col: c,
        end_col: ec,
    }
}

impl BubbleSort {
    /// The program with `n` ints per round.
    pub fn new(n: u64) -> BubbleSort {
        BubbleSort {
            file: "/home/user/bench/bsort.py".into(),
            module: "<module>".into(),
            listcomp: "<listcomp>".into(),
            int_t: "int".into(),
            list_t: "list".into(),
            n,
            step: 0,
            pending: Vec::new(),
            refs: HashMap::new(),
            free: Vec::new(),
            bump: HEAP,
            rng: 0x2545_f491_4f6c_dd1d,
            queue: Default::default(),
            walk: Walk::Start,
            globals: HashMap::new(),
            list: ObjAddr(0),
            values: Vec::new(),
        }
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn int_node(&self, v: u64) -> Node {
        Node {
            type_name: self.int_t.clone(),
            kind: 1,
            text: v.to_string(),
            items: vec![],
            attrs: None,
            truncated: false,
        }
    }

    /// A new int object: cached below 257, otherwise from the free list.
    fn new_int(&mut self, v: u64) -> ObjAddr {
        if v <= 256 {
            return ObjAddr(SMALL_INTS + 32 * v);
        }
        ObjAddr(self.free.pop().unwrap_or_else(|| {
            self.bump += 32;
            self.bump
        }))
    }

    /// One more reference to an int; its node is sent when it becomes reachable.
    fn take_int(&mut self, a: ObjAddr, v: u64) {
        let c = self.refs.entry(a).or_insert(0);
        *c += 1;
        if *c == 1 {
            let node = self.int_node(v);
            self.pending.push(Op::HeapSet(a, node));
        }
    }

    fn drop_ref(&mut self, a: ObjAddr) {
        if let Some(c) = self.refs.get_mut(&a) {
            *c -= 1;
            if *c == 0 {
                self.refs.remove(&a);
                self.pending.push(Op::HeapDel(a));
                if a.0 >= HEAP {
                    self.free.push(a.0);
                }
            }
        }
    }

    /// Bind a global to a fresh int (`name = v`).
    fn bind_int(&mut self, name: &'static str, v: u64) {
        let a = self.new_int(v);
        self.take_int(a, v);
        if let Some(old) = self.globals.insert(name, a) {
            self.drop_ref(old);
        }
        self.pending.push(Op::Bind {
            scope: Scope::Globals,
            name: name.into(),
            value: a,
        });
    }

    fn emit(&mut self, event: EventKind, function: Arc<str>, line: u32, value: Option<ObjAddr>) {
        let mut ops = vec![Op::Step(StepMeta {
            step: Step(self.step),
            event,
            thread: THREAD,
            file: self.file.clone(),
            function: function.clone(),
            line,
            position: Some(pos(line)),
            value,
            instruction: None,
        })];
        if event == EventKind::Line && Arc::ptr_eq(&function, &self.module) {
            ops.push(Op::StackTruncate(0));
            ops.push(Op::StackPush(FrameRec {
                function,
                file: self.file.clone(),
                line,
            }));
        }
        ops.append(&mut self.pending);
        self.step += 1;
        self.queue.push_back(ops);
    }

    fn line(&mut self, line: u32) {
        self.emit(EventKind::Line, self.module.clone(), line, None);
    }

    /// Lines 5: the list comprehension and the new list bound to `a`.
    fn make_list(&mut self) {
        let lc = self.listcomp.clone();
        let iter = ObjAddr(self.new_int(100_000).0);
        self.pending.push(Op::StackPush(FrameRec {
            function: lc.clone(),
            file: self.file.clone(),
            line: 5,
        }));
        self.pending.push(Op::HeapSet(
            iter,
            Node {
                type_name: "range_iterator".into(),
                kind: 0,
                text: String::new(),
                items: vec![],
                attrs: None,
                truncated: false,
            },
        ));
        self.pending.push(Op::Bind {
            scope: Scope::Locals,
            name: ".0".into(),
            value: iter,
        });
        self.emit(EventKind::Call, lc.clone(), 5, None);
        self.emit(EventKind::Line, lc.clone(), 5, None);
        let mut values = Vec::with_capacity(self.n as usize);
        let mut under: Option<ObjAddr> = None;
        for k in 0..self.n {
            let a = self.new_int(k);
            self.take_int(a, k);
            if let Some(old) = under.replace(a) {
                self.drop_ref(old);
            }
            self.pending.push(Op::Bind {
                scope: Scope::Locals,
                name: "_".into(),
                value: a,
            });
            let v = self.rand() % 10_001;
            let va = self.new_int(v);
            values.push((va, v));
            self.emit(EventKind::Line, lc.clone(), 5, None);
        }
        let list = ObjAddr(self.new_int(100_001).0);
        for &(a, v) in &values {
            self.take_int(a, v);
        }
        self.pending.push(Op::HeapSet(
            list,
            Node {
                type_name: self.list_t.clone(),
                kind: 2,
                text: String::new(),
                items: values.iter().map(|&(a, _)| a).collect(),
                attrs: None,
                truncated: false,
            },
        ));
        self.emit(EventKind::Return, lc, 5, Some(list));
        // Back in the module: the comprehension's frame and locals are gone,
        // `a` is rebound and the previous round's list dies.
        if let Some(u) = under {
            self.drop_ref(u);
        }
        self.pending.push(Op::HeapDel(iter));
        self.free.push(iter.0);
        for name in [".0", "_"] {
            self.pending.push(Op::Unbind {
                scope: Scope::Locals,
                name: name.into(),
            });
        }
        if self.list.0 != 0 {
            self.pending.push(Op::HeapDel(self.list));
            self.free.push(self.list.0);
            for (a, _) in std::mem::take(&mut self.values) {
                self.drop_ref(a);
            }
        }
        self.pending.push(Op::Bind {
            scope: Scope::Globals,
            name: "a".into(),
            value: list,
        });
        self.list = list;
        self.values = values;
    }

    /// One inner pass (`for j` over the unsorted part), queued as steps.
    fn pass(&mut self, i: u64) {
        self.line(7);
        for j in 0..self.n - 1 - i {
            self.bind_int("j", j);
            self.line(8);
            let (j, k) = (j as usize, j as usize + 1);
            if self.values[j].1 > self.values[k].1 {
                self.line(9);
                self.values.swap(j, k);
                self.pending.push(Op::HeapItems {
                    addr: self.list,
                    start: j as u32,
                    new: vec![self.values[j].0, self.values[k].0],
                    len: self.n as u32,
                });
            }
            self.line(7);
        }
        self.line(6);
    }

    fn advance(&mut self) {
        match self.walk {
            Walk::Start => {
                self.pending.push(Op::StackPush(FrameRec {
                    function: self.module.clone(),
                    file: self.file.clone(),
                    line: 0,
                }));
                self.emit(EventKind::Call, self.module.clone(), 0, None);
                self.line(1);
                let m = ObjAddr(self.new_int(100_002).0);
                self.pending.push(Op::HeapSet(
                    m,
                    Node {
                        type_name: "module".into(),
                        kind: 0,
                        text: String::new(),
                        items: vec![],
                        attrs: None,
                        truncated: false,
                    },
                ));
                self.pending.push(Op::Bind {
                    scope: Scope::Globals,
                    name: "random".into(),
                    value: m,
                });
                self.line(2);
                self.line(3);
                self.bind_int("n", self.n);
                self.walk = Walk::Round(0);
            }
            Walk::Round(r) => {
                self.line(4);
                self.bind_int("r", r);
                self.line(5);
                self.make_list();
                self.line(6);
                self.walk = Walk::Pass(r, 0);
            }
            Walk::Pass(r, i) => {
                self.bind_int("i", i);
                self.pass(i);
                self.walk = if i + 1 < self.n {
                    Walk::Pass(r, i + 1)
                } else {
                    Walk::Round(r + 1)
                };
            }
        }
    }
}

impl Iterator for BubbleSort {
    type Item = Vec<Op>;

    fn next(&mut self) -> Option<Vec<Op>> {
        while self.queue.is_empty() {
            self.advance();
        }
        self.queue.pop_front()
    }
}
