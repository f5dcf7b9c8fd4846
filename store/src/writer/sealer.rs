//! The writer's thread: a [`Sealer`] applies the steps it receives to a
//! running state, packs them into segments (deltas, checkpoints, sources),
//! writes them, and on finish the end record, the index and the footer; or
//! stops on a failed write and cuts the file back to its complete segments.

use super::{FLUSH_INTERVAL, POLL, SEGMENT_TARGET_BYTES};
use crate::apply::apply_counted;
use crate::bounds::Budget;
use crate::checkpoint::encode_checkpoint;
use crate::error::StoreError;
use crate::format::{array32_prefix, encode_segment, to_msgpack, IndexEntry, SegKind, ZSTD_LEVEL};
use crate::inbox::{Consumer, End};
use crate::model::{Op, State, Step};
use crate::postings::PostingsBuilder;
use crate::records::{RecordingEnd, WriteSummary, CUT};
use crate::ring::Flight;
use crate::sources::SourceFile;
use crate::times::encode_times;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where the sealer writes: the recording's file (or, for a flight
/// recording, its ring), its path, and the bytes already in it.
pub(super) struct Output {
    pub(super) file: File,
    pub(super) flight: Option<Box<Flight>>,
    pub(super) path: PathBuf,
    pub(super) written: u64,
}

/// Why the writer thread stopped writing, once it has.
#[derive(Default)]
pub(super) struct Stopped {
    /// Set once `cause` is: read at every step, without a lock.
    flag: AtomicBool,
    cause: Mutex<Option<String>>,
}

impl Stopped {
    pub(super) fn set(&self, cause: String) {
        if let Ok(mut c) = self.cause.lock() {
            c.get_or_insert(cause);
        }
        self.flag.store(true, Ordering::Release);
    }

    pub(super) fn get(&self) -> Option<String> {
        if !self.flag.load(Ordering::Acquire) {
            return None;
        }
        self.cause.lock().ok().and_then(|c| c.clone())
    }
}

/// The writer thread's state.
pub(super) struct Sealer {
    file: File,
    /// A flight recording's ring: sealed segments go there instead of
    /// `file`, which it writes whole when asked.
    flight: Option<Box<Flight>>,
    path: PathBuf,
    offset: u64,
    compressor: zstd::bulk::Compressor<'static>,
    index: Vec<IndexEntry>,
    /// The state after the last step received, for checkpoints.
    state: State,
    /// What `state` holds: the writer keeps it within the bound readers
    /// apply, so every file it writes reads back.
    budget: Budget,
    /// Encoded op lists of the steps not yet sealed.
    pending: Vec<u8>,
    /// Their times, while each of them has one (`times_whole`).
    pending_times: Vec<u64>,
    times_whole: bool,
    pending_first: u64,
    pending_count: u32,
    pending_since: Option<Instant>,
    next_step: u64,
    /// Steps received since the last checkpoint.
    since_checkpoint: u64,
    every: u64,
    /// A key checkpoint every this many checkpoints.
    key_every: u64,
    /// Checkpoints written since the last key checkpoint.
    since_key: u64,
    /// A compressor primed with the last key checkpoint's raw payload.
    key_compressor: Option<zstd::bulk::Compressor<'static>>,
    bytes: Arc<AtomicU64>,
    /// Steps held by the deltas segments written.
    written_steps: u64,
    /// Where the cause of a stop is told to the recorder.
    stopped: Arc<Stopped>,
    /// Why the recording was cut, once it was: nothing more is written
    /// but the end, index and footer.
    cut: Option<String>,
    /// Source files kept since the last batch ([`Writer::keep_source`]).
    sources: Arc<Mutex<Vec<SourceFile>>>,
    /// The step index of the pending steps (crate::postings).
    postings: PostingsBuilder,
}

impl Sealer {
    /// The state of a writer thread that writes to `out`.
    pub(super) fn new(
        out: Output,
        compressor: zstd::bulk::Compressor<'static>,
        opts: &super::WriterOptions,
        bytes: Arc<AtomicU64>,
        stopped: Arc<Stopped>,
        sources: Arc<Mutex<Vec<SourceFile>>>,
    ) -> Sealer {
        Sealer {
            file: out.file,
            flight: out.flight,
            path: out.path,
            offset: out.written,
            compressor,
            index: Vec::new(),
            state: State::default(),
            budget: Budget::new(),
            pending: Vec::new(),
            pending_times: Vec::new(),
            times_whole: true,
            pending_first: 0,
            pending_count: 0,
            pending_since: None,
            next_step: 0,
            since_checkpoint: 0,
            every: opts.checkpoint_every.max(1),
            key_every: opts.key_every.max(1),
            since_key: 0,
            key_compressor: None,
            bytes,
            written_steps: 0,
            stopped,
            cut: None,
            sources,
            postings: PostingsBuilder::default(),
        }
    }

    pub(super) fn run(
        mut self,
        rx: &mut Consumer<super::Sent, RecordingEnd>,
    ) -> Result<WriteSummary, StoreError> {
        // Swapped with the inbox on every take, so both keep their allocations.
        let mut batch = Vec::new();
        loop {
            let mut deadline = Instant::now() + POLL;
            if let Some(since) = self.pending_since {
                deadline = deadline.min(since + FLUSH_INTERVAL);
            }
            let end = rx.take(&mut batch, deadline);
            // Taken after the batch: a source kept before a step was sent is
            // here when that step is, and is written before it.
            if self.cut.is_none() {
                let r = self.write_sources();
                self.stop_on(r);
            }
            for (ops, time) in batch.drain(..) {
                // Once cut, the steps are dropped as they come.
                if self.cut.is_none() {
                    let r = self.step(ops, time);
                    self.stop_on(r);
                }
            }
            match end {
                Some(End::Finish(end)) => return self.finish(end),
                Some(End::Dropped) => {
                    // Dropped without finish: keep everything received readable.
                    if self.cut.is_none() {
                        let r = self.seal();
                        self.stop_on(r);
                    }
                    if let Some(f) = &mut self.flight {
                        self.offset = f.write(None, self.next_step)?;
                        self.bytes.store(self.offset, Ordering::Relaxed);
                    }
                    return Ok(self.summary());
                }
                None => {}
            }
            self.snapshot_if_asked()?;
            if self
                .pending_since
                .is_some_and(|t| t.elapsed() >= FLUSH_INTERVAL)
            {
                let r = self.seal();
                self.stop_on(r);
            }
        }
    }

    fn step(&mut self, mut ops: Vec<Op>, time: Option<u64>) -> Result<(), StoreError> {
        // The step number is implied by the segment's first step; written as
        // 0 it no longer breaks zstd's matches between similar steps.
        let step = match ops.first_mut() {
            Some(Op::Step(meta)) => std::mem::replace(&mut meta.step, Step(0)),
            _ => Step(self.next_step),
        };
        let mark = self.pending.len();
        let encoded = rmp_serde::encode::write(&mut self.pending, &ops);
        if let Some(Op::Step(meta)) = ops.first_mut() {
            meta.step = step;
        }
        let at = self.pending_count;
        let cut = self.postings.before(at, &ops, &self.state);
        if let Err(e) = apply_counted(&mut self.state, ops, &mut self.budget) {
            self.pending.truncate(mark);
            self.postings.drop_step(at);
            return Err(e);
        }
        self.postings.after(at, cut, &self.state);
        if let Some(f) = &mut self.flight {
            f.see(&self.state);
        }
        encoded.map_err(|e| StoreError::Encode {
            what: format!("the ops of step {}", self.next_step),
            cause: e.to_string(),
        })?;
        if self.pending_count == 0 {
            self.pending_first = self.next_step;
            self.pending_since = Some(Instant::now());
            self.pending_times.clear();
            self.times_whole = true;
        }
        match time {
            Some(t) if self.times_whole => self.pending_times.push(t),
            _ => self.times_whole = false,
        }
        self.pending_count += 1;
        self.next_step += 1;
        self.since_checkpoint += 1;
        if self.since_checkpoint >= self.every {
            self.since_checkpoint = 0;
            self.seal()?;
            self.checkpoint()?;
        } else if self.pending.len() >= SEGMENT_TARGET_BYTES
            || self
                .pending_since
                .is_some_and(|t| t.elapsed() >= FLUSH_INTERVAL)
        {
            self.seal()?;
        }
        let step = self.next_step - 1;
        if self.flight.as_ref().is_some_and(|f| f.anchor_due(step)) {
            self.start_block(step)?;
        }
        Ok(())
    }

    /// A flight recorder: a new block of the ring starts at `step`, from
    /// the state after it; the blocks no longer needed are let go.
    fn start_block(&mut self, step: u64) -> Result<(), StoreError> {
        self.seal()?;
        let Some(f) = &mut self.flight else {
            return Ok(());
        };
        let held = f.start_block(step, &self.state, &mut self.compressor, self.next_step)?;
        // The block's checkpoints must not need a key of an older block,
        // which may be let go before it.
        self.key_compressor = None;
        self.bytes.store(held, Ordering::Relaxed);
        Ok(())
    }

    /// A flight recorder asked to write its file (a signal, an exception
    /// leaving its thread's outermost frame): write it, holding every step
    /// taken so far, and go on.
    fn snapshot_if_asked(&mut self) -> Result<(), StoreError> {
        if !self.flight.as_mut().is_some_and(|f| f.snapshot_due()) {
            return Ok(());
        }
        self.seal()?;
        if let Some(f) = &mut self.flight {
            self.offset = f.write_snapshot(self.next_step)?;
        }
        Ok(())
    }

    /// Write the source files kept since the last batch, one segment each.
    fn write_sources(&mut self) -> Result<(), StoreError> {
        let kept = match self.sources.lock() {
            Ok(mut s) => std::mem::take(&mut *s),
            Err(_) => return Ok(()),
        };
        for source in kept {
            let raw = to_msgpack(&source, "a source file")?;
            self.write(SegKind::Source, self.next_step, 0, &raw, true)?;
        }
        Ok(())
    }

    /// Write the state as a key checkpoint, or as a diff against the last key.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        let raw = encode_checkpoint(&self.state)?;
        let step = self.next_step - 1;
        if let (Some(mut c), true) = (self.key_compressor.take(), self.since_key < self.key_every) {
            let seg = encode_segment(SegKind::DiffCheckpoint, step, 1, &raw, Some(&mut c));
            self.key_compressor = Some(c);
            self.since_key += 1;
            return self.write_segment(SegKind::DiffCheckpoint, step, 1, seg?);
        }
        self.write(SegKind::Checkpoint, step, 1, &raw, true)?;
        self.since_key = 1;
        self.key_compressor = Some(
            zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, &raw).map_err(|e| {
                StoreError::Encode {
                    what: "the zstd compressor for diff checkpoints".into(),
                    cause: e.to_string(),
                }
            })?,
        );
        Ok(())
    }

    /// Write the pending steps as one deltas segment.
    fn seal(&mut self) -> Result<(), StoreError> {
        if self.pending_count == 0 {
            return Ok(());
        }
        let mut raw = Vec::with_capacity(5 + self.pending.len());
        raw.extend_from_slice(&array32_prefix(self.pending_count));
        raw.extend_from_slice(&self.pending);
        self.write(
            SegKind::Deltas,
            self.pending_first,
            self.pending_count,
            &raw,
            true,
        )?;
        if self.times_whole && self.pending_times.len() == self.pending_count as usize {
            // After its deltas: a file cut between the two has the steps
            // without their times, never times without steps.
            let raw = encode_times(&self.pending_times);
            self.write(
                SegKind::Times,
                self.pending_first,
                self.pending_count,
                &raw,
                true,
            )?;
        }
        // After its deltas (and times), as the times are.
        let raw = self.postings.take();
        self.write(
            SegKind::Postings,
            self.pending_first,
            self.pending_count,
            &raw,
            true,
        )?;
        self.pending.clear();
        self.pending_times.clear();
        self.pending_count = 0;
        self.pending_since = None;
        Ok(())
    }

    /// Stop recording on `r`'s error: cut the file back to its last
    /// complete segment and tell the recorder.
    fn stop_on(&mut self, r: Result<(), StoreError>) {
        let Err(e) = r else { return };
        if !matches!(e, StoreError::Io { .. }) {
            // A step refused (its state past the bound): the steps before
            // it are good, and the file can still take them.
            if let Err(e) = self.seal() {
                log::info!("{}: steps before the cut lost: {e}", self.path.display());
            }
        }
        let cause = e.to_string();
        log::info!("recording writer stopped: {cause}");
        if let Err(e) = self.rewind() {
            log::warn!(
                "{}: a torn segment is left at its end: {e}",
                self.path.display()
            );
        }
        self.pending.clear();
        self.pending_count = 0;
        self.pending_since = None;
        self.postings.clear();
        self.stopped.set(cause.clone());
        self.cut = Some(cause);
    }

    /// Truncate the file to its complete segments (a write that failed may
    /// have written part of one), and write from there.
    fn rewind(&mut self) -> std::io::Result<()> {
        self.file.set_len(self.offset)?;
        self.file.seek(SeekFrom::Start(self.offset)).map(|_| ())
    }

    /// Finish a recording that was cut: the end record says where and
    /// why, and with the index and the footer is written if it still fits
    /// (what does not fit is cut off again: the file then reads as
    /// incomplete, with every step written before).
    fn finish_cut(mut self, mut end: RecordingEnd, cause: &str) -> WriteSummary {
        let at = match self.written_steps {
            0 => "before its first step".to_string(),
            n => format!("after step {}", n - 1),
        };
        end.reason = format!("{CUT} {at}: {cause}; {}", end.reason);
        self.next_step = self.written_steps;
        if let Err(e) = self.write_end(end) {
            log::info!("{}: no room for the end record: {e}", self.path.display());
            let _ = self.rewind();
        }
        let _ = self.file.sync_data();
        self.summary()
    }

    fn finish(mut self, end: RecordingEnd) -> Result<WriteSummary, StoreError> {
        if self.cut.is_none() {
            let r = self.seal();
            self.stop_on(r);
        }
        if let Some(cause) = self.cut.clone() {
            return Ok(self.finish_cut(end, &cause));
        }
        let mark = (self.offset, self.index.len());
        if let Err(e) = self.write_end(end.clone()) {
            // Written again, saying it was cut: not twice.
            self.offset = mark.0;
            self.index.truncate(mark.1);
            self.stop_on(Err(e));
            let cause = self.cut.clone().unwrap_or_default();
            return Ok(self.finish_cut(end, &cause));
        }
        self.file
            .sync_data()
            .map_err(|e| StoreError::io(format!("syncing {}", self.path.display()), e))?;
        Ok(self.summary())
    }

    /// The end record, the index and the footer.
    fn write_end(&mut self, mut end: RecordingEnd) -> Result<(), StoreError> {
        end.steps = self.next_step;
        if let Some(f) = &mut self.flight {
            // The ring's file is written whole, its end included.
            self.offset = f.write(Some(&end), self.next_step)?;
            self.bytes.store(self.offset, Ordering::Relaxed);
            return Ok(());
        }
        let raw = to_msgpack(&end, "the end record")?;
        let end_offset = self.offset;
        self.write(SegKind::End, self.next_step, 0, &raw, true)?;
        let raw = to_msgpack(&self.index, "the index")?;
        let index_offset = self.offset;
        self.write(SegKind::Index, self.next_step, 0, &raw, true)?;
        let mut footer = Vec::with_capacity(16);
        footer.extend_from_slice(&index_offset.to_le_bytes());
        footer.extend_from_slice(&end_offset.to_le_bytes());
        self.write(SegKind::Footer, self.next_step, 0, &footer, false)
    }

    fn write(
        &mut self,
        kind: SegKind,
        first_step: u64,
        count: u32,
        raw: &[u8],
        compress: bool,
    ) -> Result<(), StoreError> {
        let seg = encode_segment(
            kind,
            first_step,
            count,
            raw,
            compress.then_some(&mut self.compressor),
        )?;
        self.write_segment(kind, first_step, count, seg)
    }

    /// Append an encoded segment and note it in the index.
    fn write_segment(
        &mut self,
        kind: SegKind,
        first_step: u64,
        count: u32,
        seg: Vec<u8>,
    ) -> Result<(), StoreError> {
        if let Some(f) = &mut self.flight {
            let held = f.push(kind, first_step, count, seg);
            self.bytes.store(held, Ordering::Relaxed);
            self.wrote(kind, first_step, count);
            return Ok(());
        }
        self.file
            .write_all(&seg)
            .map_err(|e| StoreError::io(format!("writing {}", self.path.display()), e))?;
        if kind != SegKind::Index && kind != SegKind::Footer {
            self.index.push(IndexEntry {
                kind: kind as u8,
                first_step,
                count,
                offset: self.offset,
                stored_len: (seg.len() - crate::format::FRAME_LEN as usize) as u32,
            });
        }
        self.offset += seg.len() as u64;
        self.bytes.store(self.offset, Ordering::Relaxed);
        self.wrote(kind, first_step, count);
        Ok(())
    }

    /// A segment is written (or held by the ring): the steps of a deltas
    /// segment are the recording's.
    fn wrote(&mut self, kind: SegKind, first_step: u64, count: u32) {
        if kind == SegKind::Deltas {
            self.written_steps = first_step + u64::from(count);
        }
    }

    fn summary(&self) -> WriteSummary {
        WriteSummary {
            steps: self.next_step.min(self.written_steps),
            bytes: self.offset,
            cut: self.cut.clone(),
        }
    }
}
