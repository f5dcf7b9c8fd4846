//! The flight recorder's side of the writer (`--ring N`): the segments of
//! the last steps are kept in memory, in blocks that each start at a full
//! state, and the oldest block is let go once the blocks after it hold N
//! steps. The file is written whole (a new file renamed over the old one)
//! when it is asked for: at the end, at a snapshot (SIGUSR1), or when an
//! exception leaves the outermost frame of its thread. Disk and memory stay
//! bounded whatever the run's length (docs/store-format.md, "Ring files").

use crate::create::RecordingFile;
use crate::error::StoreError;
use crate::format::{
    array32_prefix, encode_segment, to_msgpack, IndexEntry, SegKind, FRAME_LEN, RING_FORMAT_VERSION,
};
use crate::model::EventKind;
use crate::model::{FrameRec, Node, ObjAddr, Scope, State, StepMeta};
use crate::records::{RecordingEnd, RecordingHeader};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The end record's reason in a file written while recording went on.
pub const SNAPSHOT_REASON: &str =
    "flight recording written while the program ran on (SIGUSR1, or an exception that left \
     the outermost frame of its thread); a later one replaces it";

/// Snapshots that an exception leaving a thread's outermost frame asks
/// for are written at most this often (a server whose handlers raise, each
/// caught by the standard library, would otherwise rewrite the file at
/// every request); the end of the recording writes the file anyway.
pub const EXIT_SNAPSHOT_GAP: Duration = Duration::from_secs(1);

/// Threads followed by [`ExitWatch`] at most; past it the watch starts over.
const MAX_WATCHED_THREADS: usize = 4096;

/// How a flight recording keeps its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingOptions {
    /// Keep at least the last this many steps (N). 0 is taken as 1.
    pub steps: u64,
}

impl RingOptions {
    /// Steps between two full states the ring may start at: at least the
    /// writer's checkpoint interval (a full state costs what a checkpoint
    /// costs), and an eighth of N (so that at most nine full states are
    /// held, whatever N).
    pub fn anchor_every(&self, checkpoint_every: u64) -> u64 {
        checkpoint_every.max(1).max(self.steps.max(1).div_ceil(8))
    }
}

/// What a ring file says of itself: the payload of its ring segment (kind 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingRecord {
    /// The N of `--ring N`: the file keeps at least the last N steps.
    pub capacity: u64,
    /// Steps between the full states the ring may start at: it keeps at
    /// most `capacity + anchor_every - 1` steps.
    pub anchor_every: u64,
}

/// An encoded segment (frame and payload) and what its index entry says.
struct Seg {
    kind: SegKind,
    first_step: u64,
    count: u32,
    bytes: Vec<u8>,
}

/// The steps from one full state to the next.
struct Block {
    /// The step whose state the block starts from.
    first: u64,
    /// That state as the ops of step `first` from the empty state (a
    /// deltas segment of one step); `None` for the block that starts at
    /// step 0, from the empty state.
    anchor: Option<Seg>,
    /// Deltas (steps `first + 1 ..`, or `0 ..` for the first block) and
    /// checkpoints, in file order.
    segs: Vec<Seg>,
}

/// The blocks held in memory.
pub(crate) struct Ring {
    opts: RingOptions,
    anchor_every: u64,
    blocks: VecDeque<Block>,
    /// Bytes held by the blocks.
    held: u64,
}

impl Ring {
    /// An empty ring; the first block starts at step 0.
    pub(crate) fn new(opts: RingOptions, checkpoint_every: u64) -> Ring {
        let mut blocks = VecDeque::new();
        blocks.push_back(Block {
            first: 0,
            anchor: None,
            segs: Vec::new(),
        });
        Ring {
            opts,
            anchor_every: opts.anchor_every(checkpoint_every),
            blocks,
            held: 0,
        }
    }

    /// Keep a sealed segment in the newest block.
    pub(crate) fn push(&mut self, kind: SegKind, first_step: u64, count: u32, bytes: Vec<u8>) {
        self.held += bytes.len() as u64;
        if let Some(b) = self.blocks.back_mut() {
            b.segs.push(Seg {
                kind,
                first_step,
                count,
                bytes,
            });
        }
    }

    /// Whether a new block starts at step `step`, `anchor_every` steps
    /// after the newest block's first.
    pub(crate) fn anchor_due(&self, step: u64) -> bool {
        self.blocks
            .back()
            .is_some_and(|b| step - b.first >= self.anchor_every)
    }

    /// Start a block at step `step` from `state`, the state after it.
    pub(crate) fn start_block(
        &mut self,
        step: u64,
        state: &State,
        compressor: &mut zstd::bulk::Compressor<'static>,
    ) -> Result<(), StoreError> {
        let raw = encode_full_state(state)?;
        let bytes = encode_segment(SegKind::Deltas, step, 1, &raw, Some(compressor))?;
        self.held += bytes.len() as u64;
        self.blocks.push_back(Block {
            first: step,
            anchor: Some(Seg {
                kind: SegKind::Deltas,
                first_step: step,
                count: 1,
                bytes,
            }),
            segs: Vec::new(),
        });
        Ok(())
    }

    /// Let go of the oldest blocks that the newer ones make unneeded: what
    /// is kept still holds at least N steps of the `next_step` recorded.
    pub(crate) fn trim(&mut self, next_step: u64) {
        let n = self.opts.steps.max(1);
        while self.blocks.len() > 1 && next_step - self.blocks[1].first >= n {
            if let Some(b) = self.blocks.pop_front() {
                let bytes: usize = b.anchor.iter().chain(&b.segs).map(|s| s.bytes.len()).sum();
                self.held -= bytes as u64;
            }
        }
    }

    /// Bytes held in memory.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// The first step the ring holds.
    pub(crate) fn first(&self) -> u64 {
        self.blocks.front().map_or(0, |b| b.first)
    }

    /// Write what the ring holds as a whole file in place of `file`'s:
    /// preamble, ring segment, the first block's full state, every block's
    /// segments, and with `end` the end record, the index and the footer.
    /// Returns the file's size.
    pub(crate) fn write(
        &self,
        file: &mut RecordingFile,
        header: &RecordingHeader,
        end: Option<&RecordingEnd>,
        next_step: u64,
    ) -> Result<u64, StoreError> {
        let record = RingRecord {
            capacity: self.opts.steps.max(1),
            anchor_every: self.anchor_every,
        };
        let raw = to_msgpack(&record, "the ring record")?;
        let ring_seg = Seg {
            kind: SegKind::Ring,
            first_step: self.first(),
            count: 0,
            bytes: encode_segment(SegKind::Ring, self.first(), 0, &raw, None)?,
        };
        let first_anchor = self.blocks.front().and_then(|b| b.anchor.as_ref());
        let segs = std::iter::once(&ring_seg)
            .chain(first_anchor)
            .chain(self.blocks.iter().flat_map(|b| &b.segs));
        let path = file.path().to_path_buf();
        file.rewrite(header, RING_FORMAT_VERSION, |out: &mut File, start: u64| {
            let io = |e| StoreError::io(format!("writing {}", path.display()), e);
            let mut offset = start;
            let mut index = Vec::new();
            for s in segs {
                out.write_all(&s.bytes).map_err(io)?;
                index.push(IndexEntry {
                    kind: s.kind as u8,
                    first_step: s.first_step,
                    count: s.count,
                    offset,
                    stored_len: (s.bytes.len() as u64 - FRAME_LEN) as u32,
                });
                offset += s.bytes.len() as u64;
            }
            let Some(end) = end else {
                return Ok(offset);
            };
            let mut end = end.clone();
            end.steps = next_step;
            let raw = to_msgpack(&end, "the end record")?;
            let end_seg = encode_segment(SegKind::End, next_step, 0, &raw, None)?;
            index.push(IndexEntry {
                kind: SegKind::End as u8,
                first_step: next_step,
                count: 0,
                offset,
                stored_len: (end_seg.len() as u64 - FRAME_LEN) as u32,
            });
            let end_offset = offset;
            out.write_all(&end_seg).map_err(io)?;
            offset += end_seg.len() as u64;
            let raw = to_msgpack(&index, "the index")?;
            let index_seg = encode_segment(SegKind::Index, next_step, 0, &raw, None)?;
            let index_offset = offset;
            out.write_all(&index_seg).map_err(io)?;
            offset += index_seg.len() as u64;
            let mut footer = Vec::with_capacity(16);
            footer.extend_from_slice(&index_offset.to_le_bytes());
            footer.extend_from_slice(&end_offset.to_le_bytes());
            let footer_seg = encode_segment(SegKind::Footer, next_step, 0, &footer, None)?;
            out.write_all(&footer_seg).map_err(io)?;
            Ok(offset + footer_seg.len() as u64)
        })
    }
}

/// Who asks the writer thread to write a flight recording now.
#[derive(Default)]
pub(crate) struct Snapshots {
    asked: AtomicBool,
    signal: OnceLock<Arc<AtomicBool>>,
}

impl Snapshots {
    /// Ask for a snapshot.
    pub(crate) fn ask(&self) {
        self.asked.store(true, Ordering::SeqCst);
    }

    /// Also take a snapshot whenever `flag` is set (a signal handler's).
    pub(crate) fn watch(&self, flag: Arc<AtomicBool>) {
        let _ = self.signal.set(flag);
    }

    /// Whether a snapshot was asked for since the last call.
    pub(crate) fn take(&self) -> bool {
        let signal = self
            .signal
            .get()
            .is_some_and(|f| f.swap(false, Ordering::SeqCst));
        self.asked.swap(false, Ordering::SeqCst) | signal
    }
}

/// Finds the steps at which an exception leaves the outermost frame its
/// thread has run (an `exception` step, then the same frame's `return`:
/// the interpreter's report of a frame ended by an exception): the
/// program's death by an exception nothing caught, or a thread's.
#[derive(Default)]
pub(crate) struct ExitWatch {
    /// Per thread: the smallest stack depth of its steps, and its last
    /// step's event and depth.
    threads: HashMap<u32, (usize, EventKind, usize)>,
    pending: bool,
    last_written: Option<Instant>,
}

impl ExitWatch {
    /// Look at a step: its meta and the depth of its stack.
    pub(crate) fn see(&mut self, meta: &StepMeta, depth: usize) {
        if self.threads.len() >= MAX_WATCHED_THREADS && !self.threads.contains_key(&meta.thread) {
            self.threads.clear();
        }
        let t = self
            .threads
            .entry(meta.thread)
            .or_insert((depth, meta.event, usize::MAX));
        let left = meta.event == EventKind::Return
            && t.1 == EventKind::Exception
            && t.2 == depth
            && depth <= t.0;
        t.0 = t.0.min(depth);
        (t.1, t.2) = (meta.event, depth);
        if left {
            log::debug!(target: "store", "an exception left the outermost frame of thread {} at step {}", meta.thread, meta.step.0);
            self.pending = true;
        }
    }

    /// Whether a snapshot is due for an exception seen (at most one per
    /// [`EXIT_SNAPSHOT_GAP`]; one not yet due stays pending).
    pub(crate) fn due(&mut self) -> bool {
        if !self.pending
            || self
                .last_written
                .is_some_and(|t| t.elapsed() < EXIT_SNAPSHOT_GAP)
        {
            return false;
        }
        self.pending = false;
        true
    }

    /// A snapshot was written now.
    pub(crate) fn written(&mut self) {
        self.last_written = Some(Instant::now());
    }

    /// The threads that ran steps, in order.
    pub(crate) fn threads(&self) -> Vec<u32> {
        let mut t: Vec<u32> = self.threads.keys().copied().collect();
        t.sort_unstable();
        t
    }
}

/// One op of a full state, borrowed: encodes as the [`crate::Op`] variant
/// of the same name (rmp-serde writes a variant by its name).
#[derive(Serialize)]
enum OpRef<'a> {
    Step(&'a StepMeta),
    StackPush(&'a FrameRec),
    Bind {
        scope: Scope,
        name: &'a Arc<str>,
        value: ObjAddr,
    },
    HeapSet(&'a ObjAddr, &'a Node),
}

/// A state as one step's ops applied to the empty state (what a deltas
/// segment holds, with the step number written as 0): its meta, the heap
/// by address, the stack, the locals and the globals. The raw payload of a
/// deltas segment of that one step.
fn encode_full_state(state: &State) -> Result<Vec<u8>, StoreError> {
    let Some(meta) = &state.meta else {
        return Err(StoreError::Encode {
            what: "the first state of a ring block".into(),
            cause: "the state has no step".into(),
        });
    };
    let mut meta = meta.clone();
    meta.step = crate::model::Step(0);
    let mut heap: Vec<(&ObjAddr, &Node)> = state.heap.iter().collect();
    heap.sort_unstable_by_key(|(a, _)| **a);
    let mut ops: Vec<OpRef<'_>> = Vec::with_capacity(
        1 + heap.len() + state.stack.len() + state.locals.len() + state.globals.len(),
    );
    ops.push(OpRef::Step(&meta));
    ops.extend(heap.into_iter().map(|(a, n)| OpRef::HeapSet(a, n)));
    ops.extend(state.stack.iter().map(OpRef::StackPush));
    for (scope, names) in [
        (Scope::Locals, &state.locals),
        (Scope::Globals, &state.globals),
    ] {
        ops.extend(names.iter().map(|(name, value)| OpRef::Bind {
            scope,
            name,
            value: *value,
        }));
    }
    let mut raw = array32_prefix(1).to_vec();
    rmp_serde::encode::write(&mut raw, &ops).map_err(|e| StoreError::Encode {
        what: "the first state of a ring block".into(),
        cause: e.to_string(),
    })?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Op, Step};

    #[test]
    fn a_full_state_applies_to_the_empty_state() {
        let mut s = State {
            meta: Some(StepMeta {
                step: Step(7),
                event: EventKind::Line,
                thread: 1,
                file: "a.py".into(),
                function: "f".into(),
                line: 3,
                position: None,
                value: Some(ObjAddr(2)),
            }),
            stack: vec![FrameRec {
                function: "f".into(),
                file: "a.py".into(),
                line: 3,
            }],
            locals: vec![("x".into(), ObjAddr(1))],
            globals: vec![("g".into(), ObjAddr(2)), ("h".into(), ObjAddr(1))],
            ..State::default()
        };
        for a in [1, 2] {
            s.heap.insert(
                ObjAddr(a),
                Node {
                    type_name: "int".into(),
                    kind: 1,
                    text: a.to_string(),
                    items: vec![],
                    attrs: None,
                    truncated: false,
                },
            );
        }
        let raw = encode_full_state(&s).unwrap();
        let steps: Vec<Vec<Op>> = rmp_serde::from_slice(&raw).unwrap();
        let mut ops = steps.into_iter().next().unwrap();
        if let Some(Op::Step(m)) = ops.first_mut() {
            assert_eq!(m.step, Step(0));
            m.step = Step(7);
        }
        let mut back = State::default();
        crate::apply(&mut back, &ops).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn anchors_come_every_so_many_steps() {
        let o = RingOptions { steps: 10 };
        assert_eq!(o.anchor_every(500), 500);
        assert_eq!(RingOptions { steps: 80_000 }.anchor_every(500), 10_000);
        assert_eq!(RingOptions { steps: 0 }.anchor_every(0), 1);
    }
}
