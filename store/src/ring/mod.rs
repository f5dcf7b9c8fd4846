//! The flight recorder (`--ring N`): the writer keeps the segments of the
//! last steps in memory, in blocks that each start at a whole state, and
//! lets the oldest block go once the blocks after it hold N steps. The file
//! is written whole (a new file renamed over the old one) when it is asked
//! for: at the end, at a snapshot (SIGUSR1), or when an exception leaves
//! the outermost frame of its thread. Disk and memory stay bounded whatever
//! the run's length (docs/store-format.md, "Ring files").

use crate::create::RecordingFile;
use crate::error::StoreError;
use crate::format::{encode_segment, SegKind};
use crate::model::State;
use crate::records::{ProgramEnd, RecordingEnd, RecordingHeader};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

mod file;
mod watch;

use file::encode_full_state;
use watch::ExitWatch;
pub(crate) use watch::Snapshots;
pub use watch::EXIT_SNAPSHOT_GAP;

/// The end record's reason in a file written while recording went on.
pub const SNAPSHOT_REASON: &str =
    "flight recording written while the program ran on (SIGUSR1, or an exception that left \
     the outermost frame of its thread); a later one replaces it";

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
    /// Segments of no step range (neither deltas nor checkpoints: what the
    /// whole recording needs, such as a file's text), kept for the life of
    /// the recording and written first.
    kept: Vec<Seg>,
    /// Bytes held by the blocks and `kept`.
    held: u64,
}

impl Ring {
    /// An empty ring; the first block starts at step 0.
    fn new(opts: RingOptions, checkpoint_every: u64) -> Ring {
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
            kept: Vec::new(),
            held: 0,
        }
    }

    /// Keep a sealed segment: steps and checkpoints in the newest block,
    /// any other segment for the whole recording.
    fn push(&mut self, kind: SegKind, first_step: u64, count: u32, bytes: Vec<u8>) {
        self.held += bytes.len() as u64;
        let seg = Seg {
            kind,
            first_step,
            count,
            bytes,
        };
        match (kind, self.blocks.back_mut()) {
            (
                SegKind::Deltas
                | SegKind::Times
                | SegKind::Postings
                | SegKind::Checkpoint
                | SegKind::DiffCheckpoint,
                Some(b),
            ) => b.segs.push(seg),
            _ => self.kept.push(seg),
        }
    }

    /// Whether a new block starts at step `step`, `anchor_every` steps
    /// after the newest block's first.
    fn anchor_due(&self, step: u64) -> bool {
        self.blocks
            .back()
            .is_some_and(|b| step - b.first >= self.anchor_every)
    }

    /// Start a block at step `step` from `state`, the state after it.
    fn start_block(
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
    fn trim(&mut self, next_step: u64) {
        let n = self.opts.steps.max(1);
        while self.blocks.len() > 1 && next_step - self.blocks[1].first >= n {
            if let Some(b) = self.blocks.pop_front() {
                let bytes: usize = b.anchor.iter().chain(&b.segs).map(|s| s.bytes.len()).sum();
                self.held -= bytes as u64;
            }
        }
    }

    /// Bytes held in memory.
    fn held(&self) -> u64 {
        self.held
    }

    /// The first step the ring holds.
    fn first(&self) -> u64 {
        self.blocks.front().map_or(0, |b| b.first)
    }
}

/// The writer's side of a flight recording: its ring, the file it
/// rewrites, and what asks for a write.
pub(crate) struct Flight {
    ring: Ring,
    file: RecordingFile,
    header: RecordingHeader,
    /// Exceptions leaving a thread's outermost frame ask for a snapshot.
    exits: ExitWatch,
    asked: Arc<Snapshots>,
    started: Instant,
}

impl Flight {
    /// A flight recording into `file` (which holds `header`), written when
    /// `asked` says so, at exits and at the end.
    pub(crate) fn new(
        opts: RingOptions,
        checkpoint_every: u64,
        file: RecordingFile,
        header: RecordingHeader,
        asked: Arc<Snapshots>,
    ) -> Flight {
        Flight {
            ring: Ring::new(opts, checkpoint_every),
            file,
            header,
            exits: ExitWatch::default(),
            asked,
            started: Instant::now(),
        }
    }

    /// Keep a sealed segment; returns the bytes held.
    pub(crate) fn push(&mut self, kind: SegKind, first_step: u64, count: u32, seg: Vec<u8>) -> u64 {
        self.ring.push(kind, first_step, count, seg);
        self.ring.held()
    }

    /// Look at the state after a step (for exceptions leaving a thread's
    /// outermost frame).
    pub(crate) fn see(&mut self, state: &State) {
        if let Some(meta) = &state.meta {
            self.exits.see(meta, state.stack.len());
        }
    }

    /// Whether a block starts at step `step`.
    pub(crate) fn anchor_due(&self, step: u64) -> bool {
        self.ring.anchor_due(step)
    }

    /// Start a block at `step` from `state` (the state after it) and let
    /// go of the blocks no longer needed; returns the bytes held. The
    /// caller's next checkpoint must be a key: the key of an older block may
    /// be let go before the block.
    pub(crate) fn start_block(
        &mut self,
        step: u64,
        state: &State,
        compressor: &mut zstd::bulk::Compressor<'static>,
        next_step: u64,
    ) -> Result<u64, StoreError> {
        self.ring.start_block(step, state, compressor)?;
        self.ring.trim(next_step);
        Ok(self.ring.held())
    }

    /// Whether a snapshot was asked for (a signal, an exception leaving its
    /// thread's outermost frame).
    pub(crate) fn snapshot_due(&mut self) -> bool {
        let asked = self.asked.take();
        self.exits.due() || asked
    }

    /// Write the file as it is while recording goes on (its end record says
    /// so); returns its length.
    pub(crate) fn write_snapshot(&mut self, next_step: u64) -> Result<u64, StoreError> {
        let end = RecordingEnd {
            end: ProgramEnd::StillRunning,
            reason: SNAPSHOT_REASON.into(),
            steps: next_step,
            threads: self.exits.threads(),
            duration_ms: self.started.elapsed().as_millis() as u64,
        };
        let len = self.write(Some(&end), next_step)?;
        self.exits.written();
        log::info!(target: "store", "flight recording {} written: steps {} to {}", self.file.path().display(), self.ring.first(), next_step.saturating_sub(1));
        Ok(len)
    }

    /// Write the file: complete with `end`, else without end record, index
    /// and footer; returns its length.
    pub(crate) fn write(
        &mut self,
        end: Option<&RecordingEnd>,
        next_step: u64,
    ) -> Result<u64, StoreError> {
        self.ring.trim(next_step);
        self.ring
            .write(&mut self.file, &self.header, end, next_step)
    }
}
