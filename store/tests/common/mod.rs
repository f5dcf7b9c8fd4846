//! Test helpers: a small deterministic RNG, a generator of random but valid
//! step op lists, and a way to write a recording from them.

#![allow(dead_code)]

use std::path::Path;
use store::{
    apply, EventKind, FrameRec, Node, ObjAddr, Op, Position, ProgramEnd, RecordingEnd,
    RecordingHeader, Scope, State, Step, StepMeta, Writer, WriterOptions,
};

/// xorshift64*: deterministic, no dependencies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

pub fn header() -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "app.py".into()],
        cwd: "/tmp".into(),
        pid: 4242,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: "/usr/lib/libpython3.11.so.1.0".into(),
        mode: "record".into(),
        started_unix_ms: 1_700_000_000_000,
        recorder: "hindsight 0.1.0".into(),
    }
}

pub fn end() -> RecordingEnd {
    RecordingEnd {
        end: ProgramEnd::Exited(0),
        reason: "program exited".into(),
        steps: 0,
        threads: vec![4242],
        duration_ms: 12,
    }
}

const NAMES: [&str; 6] = ["a", "b", "i", "xs", "self", "total"];
const FILES: [&str; 2] = ["/src/app.py", "/src/lib.py"];

fn node(rng: &mut Rng, addrs: &[ObjAddr]) -> Node {
    let n_items = rng.below(5) as usize;
    let items = (0..n_items)
        .map(|_| {
            if addrs.is_empty() {
                ObjAddr(0)
            } else {
                addrs[rng.below(addrs.len() as u64) as usize]
            }
        })
        .collect();
    Node {
        type_name: ["int", "list", "str", "app.Point"][rng.below(4) as usize].into(),
        kind: rng.below(8) as u8,
        text: format!("{}", rng.below(1000)),
        items,
        attrs: (rng.below(4) == 0).then(|| vec![("x".into(), ObjAddr(rng.below(50) * 16))]),
        truncated: rng.below(10) == 0,
    }
}

/// Random ops for step `n`, valid against `state` (the state before it).
pub fn random_step(rng: &mut Rng, state: &State, n: u64) -> Vec<Op> {
    let mut ops = vec![Op::Step(StepMeta {
        step: Step(n),
        event: [
            EventKind::Call,
            EventKind::Line,
            EventKind::Return,
            EventKind::Exception,
        ][rng.below(4) as usize],
        thread: 4242 + rng.below(2) as u32,
        file: FILES[rng.below(2) as usize].into(),
        function: "f".into(),
        line: rng.below(100) as u32 + 1,
        position: (rng.below(2) == 0).then(|| Position {
            line: 3,
            end_line: 3,
            col: rng.below(10) as u32,
            end_col: 20,
        }),
        value: (rng.below(3) == 0).then(|| ObjAddr(rng.below(50) * 16)),
        instruction: None,
    })];
    let mut heap: Vec<ObjAddr> = state.heap.keys().copied().collect();
    heap.sort();
    // Item counts of the nodes changed by this step so far (HeapItems may
    // only write items, or keep items that are there).
    let mut lens: std::collections::HashMap<ObjAddr, usize> = std::collections::HashMap::new();
    for _ in 0..rng.below(6) {
        let op = match rng.below(9) {
            0 => Op::StackTruncate(rng.below(state.stack.len() as u64 + 2) as u32),
            1 => Op::StackPush(FrameRec {
                function: format!("fn{}", rng.below(5)).into(),
                file: FILES[rng.below(2) as usize].into(),
                line: rng.below(100) as u32,
            }),
            2 if rng.below(4) == 0 => Op::ClearScope(if rng.below(2) == 0 {
                Scope::Locals
            } else {
                Scope::Globals
            }),
            3 => Op::Unbind {
                scope: Scope::Locals,
                name: NAMES[rng.below(6) as usize].into(),
            },
            4 | 5 => {
                let a = ObjAddr(rng.below(50) * 16);
                if !heap.contains(&a) {
                    heap.push(a);
                }
                let n = node(rng, &heap);
                lens.insert(a, n.items.len());
                Op::HeapSet(a, n)
            }
            6 if !heap.is_empty() => {
                let a = heap[rng.below(heap.len() as u64) as usize];
                let had = *lens
                    .entry(a)
                    .or_insert_with(|| state.heap.get(&a).map_or(0, |n| n.items.len()));
                let start = rng.below(had as u64 + 1) as usize;
                let new: Vec<ObjAddr> = (0..rng.below(3))
                    .map(|_| ObjAddr(rng.below(50) * 16))
                    .collect();
                let len = rng.below(had.max(start + new.len()) as u64 + 1) as usize;
                lens.insert(a, len);
                Op::HeapItems {
                    addr: a,
                    start: start as u32,
                    new,
                    len: len as u32,
                }
            }
            7 if !heap.is_empty() => {
                let a = heap[rng.below(heap.len() as u64) as usize];
                heap.retain(|x| *x != a);
                lens.remove(&a);
                Op::HeapDel(a)
            }
            _ => Op::Bind {
                scope: if rng.below(3) == 0 {
                    Scope::Globals
                } else {
                    Scope::Locals
                },
                name: NAMES[rng.below(6) as usize].into(),
                value: ObjAddr(rng.below(50) * 16),
            },
        };
        ops.push(op);
    }
    ops
}

/// `steps` random steps and the state after each.
pub fn random_recording(seed: u64, steps: u64) -> (Vec<Vec<Op>>, Vec<State>) {
    let mut rng = Rng(seed | 1);
    let mut state = State::default();
    let mut all_ops = Vec::new();
    let mut states = Vec::new();
    for n in 0..steps {
        let ops = random_step(&mut rng, &state, n);
        apply(&mut state, &ops).expect("generated ops are valid");
        all_ops.push(ops);
        states.push(state.clone());
    }
    (all_ops, states)
}

/// Write `ops` to `path` with checkpoints every `k` steps; finish it or not.
pub fn write(path: &Path, ops: &[Vec<Op>], k: u64, finish: bool) {
    let w = Writer::create(
        path,
        header(),
        WriterOptions {
            checkpoint_every: k,
            channel_capacity: 16,
            key_every: 4,
        },
    )
    .unwrap();
    for (i, o) in ops.iter().enumerate() {
        // A source file now and then, as the recorder keeps them.
        if i % 97 == 0 {
            w.keep_source(store::SourceFile {
                file: format!("/src/m{i}.py"),
                text: Some(format!("x = {i}\n").repeat(1 + i % 7)),
                missing: String::new(),
            });
        }
        w.send(o.clone()).unwrap();
    }
    if finish {
        let s = w.finish(end()).unwrap();
        assert_eq!(s.steps, ops.len() as u64);
    }
}
