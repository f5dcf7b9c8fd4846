//! Reading a recording: find its segments (from the index of a complete
//! file, or by scanning frames when the writer is still running or was
//! killed), and rebuild the state at any step from the nearest checkpoint
//! plus deltas.

use crate::bounds::{decode_scope, Budget, MAX_STATE_BYTES};
use crate::error::StoreError;
use crate::format::{
    check_crc, decode_payload, from_msgpack, le_u64, parse_frame, read_exact, read_preamble,
    read_segment, read_up_to, Frame, IndexEntry, SegKind, FOOTER_PAYLOAD_LEN, FRAME_LEN,
};
use crate::model::{Op, State, Step, StepMeta};
use crate::records::{RecordingEnd, RecordingHeader};
use crate::ring::RingRecord;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

mod damage;
mod locate;
mod metas;
mod postings;
pub mod scan;
mod segments;
mod sources;
mod times;
mod wire;

pub use damage::Damage;

/// Where one segment is.
#[derive(Debug, Clone, Copy)]
struct SegRef {
    first_step: u64,
    count: u32,
    offset: u64,
    /// A diff checkpoint's key checkpoint.
    key: Option<KeyRef>,
}

/// Where a diff checkpoint's key checkpoint is.
#[derive(Debug, Clone, Copy)]
struct KeyRef {
    first_step: u64,
    offset: u64,
}

/// The decoded ops of one deltas segment.
type Ops = Arc<Vec<Vec<Op>>>;

/// Reads one recording file. Cheap queries are answered from an in-memory
/// segment table; states are rebuilt from checkpoints and deltas.
pub struct Reader {
    file: File,
    path: PathBuf,
    /// The file length covered by the segment table.
    file_len: u64,
    header: RecordingHeader,
    end: Option<RecordingEnd>,
    deltas: Vec<SegRef>,
    checkpoints: Vec<SegRef>,
    /// The source segments (crate::sources).
    sources: Vec<SegRef>,
    source_cache: Mutex<sources::SourceCache>,
    /// The times segments (crate::times), in step order.
    times: Vec<SegRef>,
    /// The times of the times segment read last, by its index.
    last_times: Mutex<Option<(usize, Arc<Vec<u64>>)>>,
    /// The postings segments (crate::postings), each beside the deltas
    /// segment of the same steps, in step order.
    postings: Vec<SegRef>,
    /// A postings segment was found unusable (said once in the log).
    postings_damaged: std::sync::atomic::AtomicBool,
    step_count: u64,
    /// A flight recording's ring segment, and the first step it holds
    /// (the steps before it were let go); 0 for other recordings.
    ring: Option<RingRecord>,
    first: u64,
    /// Where a scan resumes (after the last good segment).
    scanned_to: u64,
    /// The footer was read, or the scan stopped at damage: nothing more
    /// will be read.
    sealed: bool,
    /// Where the scan stopped at damage (steps from there on are lost).
    damage: Option<Damage>,
    /// The last key (full) checkpoint added, for the diff checkpoints after it.
    last_key: Option<KeyRef>,
    last_ops: Mutex<Option<(usize, Ops)>>,
    /// The metas of the deltas segment read last for its metas alone.
    last_metas: Mutex<Option<(usize, metas::Metas)>>,
    /// The raw payload of the key checkpoint read last, by offset: the
    /// dictionary of the diff checkpoints that follow it.
    key_cache: Mutex<Option<(u64, Arc<Vec<u8>>)>>,
}

impl Reader {
    /// Open a recording: complete, still being written, or left by a killed
    /// writer (every complete segment is read; a torn last one is ignored).
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        let file = File::open(path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        let file_len = file_len(&file, path)?;
        let (header, data_start) = read_preamble(&file, file_len, path)?;
        let mut r = Reader {
            file,
            path: path.to_path_buf(),
            file_len,
            header,
            end: None,
            deltas: Vec::new(),
            checkpoints: Vec::new(),
            sources: Vec::new(),
            source_cache: Mutex::default(),
            times: Vec::new(),
            last_times: Mutex::default(),
            postings: Vec::new(),
            postings_damaged: Default::default(),
            step_count: 0,
            ring: None,
            first: 0,
            scanned_to: data_start,
            sealed: false,
            damage: None,
            last_key: None,
            last_ops: Mutex::new(None),
            last_metas: Mutex::new(None),
            key_cache: Mutex::new(None),
        };
        let index_error = match r.read_index(data_start) {
            Ok(true) => return Ok(r),
            Ok(false) => None,
            Err(e) => Some(e),
        };
        r.deltas.clear();
        r.checkpoints.clear();
        r.sources.clear();
        r.times.clear();
        r.postings.clear();
        r.end = None;
        r.step_count = 0;
        r.ring = None;
        r.first = 0;
        r.last_key = None;
        r.scanned_to = data_start;
        r.sealed = false;
        r.scan()?;
        // Said only when the scan worked: otherwise the scan's error is the
        // one message the user gets.
        if let Some(e) = index_error {
            log::warn!(
                "{}: index unusable ({e}); read by scanning the segments instead",
                path.display()
            );
        }
        Ok(r)
    }

    /// Pick up segments appended since opening (a recording still being
    /// written). Returns whether new steps became readable.
    pub fn refresh(&mut self) -> Result<bool, StoreError> {
        if self.sealed {
            return Ok(false);
        }
        let before = self.step_count;
        self.file_len = file_len(&self.file, &self.path)?;
        self.scan()?;
        Ok(self.step_count > before)
    }

    /// The header written when recording started.
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The end record; `None` while the recording is being written or if
    /// its writer was killed.
    pub fn end(&self) -> Option<&RecordingEnd> {
        self.end.as_ref()
    }

    /// Whether the recording was finished properly.
    pub fn is_complete(&self) -> bool {
        self.end.is_some()
    }

    /// One past the last step readable: steps are numbered
    /// `first_step()..step_count()` (from 0 unless it is a flight recording).
    pub fn step_count(&self) -> u64 {
        self.step_count
    }

    /// The first step the file holds: 0, or for a flight recording
    /// (`--ring`) the first step of its ring, the steps before it having
    /// been let go while the program ran. Steps keep their numbers.
    pub fn first_step(&self) -> u64 {
        self.first
    }

    /// A flight recording's ring record (`None` for a recording of every step).
    pub fn ring(&self) -> Option<&RingRecord> {
        self.ring.as_ref()
    }

    /// The size of the file as read.
    pub fn file_size(&self) -> u64 {
        self.file_len
    }

    /// The full state after step `step`.
    pub fn state(&self, step: Step) -> Result<State, StoreError> {
        self.counted_state(step).map(|(state, _)| state)
    }

    /// The state after step `step` and what it holds. A damaged checkpoint
    /// costs time, not steps: the one before it is used instead.
    fn counted_state(&self, step: Step) -> Result<(State, Budget), StoreError> {
        self.check(step)?;
        let n = step.0;
        let mut before = self.checkpoints.partition_point(|c| c.first_step <= n);
        let (mut state, from) = loop {
            let Some(i) = before.checked_sub(1) else {
                // A ring's first step builds its whole state from the empty one.
                break (State::default(), self.first);
            };
            let c = self.checkpoints[i];
            match self.load_checkpoint(c) {
                Ok(state) => break (state, c.first_step + 1),
                Err(e @ StoreError::Corrupt { .. }) => {
                    log::warn!(
                        "{}: {e}; starting from an earlier checkpoint",
                        self.path.display()
                    );
                    before = i;
                }
                Err(e) => return Err(e),
            }
        };
        let mut budget = Budget::of(&state);
        if from <= n {
            self.apply_stream(&mut state, &mut budget, from, n)?;
        }
        Ok((state, budget))
    }

    /// Every step's meta data from `from` to `to` inclusive, in order.
    pub fn metas(&self, from: Step, to: Step) -> Result<Vec<StepMeta>, StoreError> {
        self.iter_metas(from, to)?.collect()
    }

    /// Like [`Reader::metas`], one at a time (no memory proportional to the range).
    pub fn iter_metas(
        &self,
        from: Step,
        to: Step,
    ) -> Result<impl Iterator<Item = Result<StepMeta, StoreError>> + '_, StoreError> {
        self.check(to)?;
        if from <= to {
            self.check(from)?;
        }
        Ok((from.0..=to.0).map(move |n| self.step_meta(n)))
    }

    /// The ops recorded for one step (what changed at that step).
    pub fn ops(&self, step: Step) -> Result<Vec<Op>, StoreError> {
        self.check(step)?;
        let (ops, i) = self.step_ops(step.0)?;
        Ok(ops[i].clone())
    }

    /// The states from `from` to `to` inclusive, built one step at a time.
    pub fn states(
        &self,
        from: Step,
        to: Step,
    ) -> Result<impl Iterator<Item = Result<State, StoreError>> + '_, StoreError> {
        self.check(to)?;
        if from <= to {
            self.check(from)?;
        }
        let mut current: Option<(State, Budget)> = None;
        let mut next = from.0;
        let mut failed = false;
        Ok(std::iter::from_fn(move || {
            if failed || next > to.0 {
                return None;
            }
            let n = next;
            next += 1;
            let r = match current.as_mut() {
                None => self
                    .counted_state(Step(n))
                    .map(|c| current.insert(c).0.clone()),
                Some((s, b)) => self.apply_range(s, b, n, n).map(|()| s.clone()),
            };
            failed = r.is_err();
            Some(r)
        }))
    }

    /// Call `f` with the state at every step from `from` to `to` inclusive,
    /// without cloning states (faster than [`Reader::states`] for dumps).
    /// `f` returns `false` to stop early.
    pub fn for_each_state(
        &self,
        from: Step,
        to: Step,
        mut f: impl FnMut(&State) -> bool,
    ) -> Result<(), StoreError> {
        self.check(to)?;
        if from > to {
            return Ok(());
        }
        let (mut state, mut budget) = self.counted_state(from)?;
        if !f(&state) {
            return Ok(());
        }
        for n in from.0 + 1..=to.0 {
            self.apply_range(&mut state, &mut budget, n, n)?;
            if !f(&state) {
                break;
            }
        }
        Ok(())
    }

    fn check(&self, step: Step) -> Result<(), StoreError> {
        let outside = step.0 < self.first || step.0 >= self.step_count;
        if outside && self.ring.is_some() && self.step_count > self.first {
            return Err(StoreError::NotInRing {
                step,
                first: self.first,
                last: self.step_count - 1,
            });
        }
        if step.0 >= self.step_count {
            return Err(StoreError::StepOutOfRange {
                step,
                count: self.step_count,
            });
        }
        Ok(())
    }
}

pub(super) fn file_len(file: &File, path: &Path) -> Result<u64, StoreError> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| StoreError::io(format!("reading the size of {}", path.display()), e))
}
