//! The recording writer: the recorder queues each step's ops in a bounded
//! inbox (crate::inbox) without waking anyone; a thread polls it every
//! [`POLL`], applies the steps to a running state, packs them into deltas
//! segments, writes a checkpoint every K steps, and on finish the end
//! record, the index and the footer. Segments are written whole, one
//! `write` each, as soon as they are sealed, so a reader (or a crash) always
//! sees a prefix of complete segments plus at most one torn one.
//!
//! A failed write (a full disk, a file size limit) or a state past the
//! readers' bound stops the recording there ([`Writer::stopped`]): the
//! torn segment is cut off, the steps that come after are dropped, and at
//! the finish the end record, the index and the footer are written if they
//! still fit, with a reason that says where the recording was cut
//! ([`crate::CUT`]). The file keeps every step written before.

use crate::apply::apply_counted;
use crate::bounds::Budget;
use crate::checkpoint::encode_checkpoint;
use crate::create::{CreateOptions, RecordingFile};
use crate::error::StoreError;
use crate::format::{array32_prefix, encode_segment, to_msgpack, IndexEntry, SegKind, ZSTD_LEVEL};
use crate::inbox::{inbox, Consumer, End, Producer};
use crate::model::{Op, State, Step};
use crate::observe::{StepObserver, Watch};
use crate::records::{RecordingEnd, RecordingHeader, WriteSummary, CUT};
use crate::ring::{Flight, RingOptions, Snapshots};
use crate::sources::SourceFile;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A deltas segment is sealed once its uncompressed ops reach this size.
pub const SEGMENT_TARGET_BYTES: usize = 256 * 1024;
/// A deltas segment is sealed (and so visible to readers) at most this long
/// after the writer thread took its first step from the inbox.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// The writer thread takes the queued steps at least this often. Sending a
/// step wakes nobody (a wake-up per step costs the recorder a system call
/// and, on its CPU, context switches), so a step reaches the file at most
/// `POLL + FLUSH_INTERVAL` after [`Writer::send`].
pub const POLL: Duration = Duration::from_millis(10);

/// How the writer lays out the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// A full checkpoint after every this many steps (K); `state(n)` applies
    /// at most K-1 steps of deltas to a checkpoint. 0 is taken as 1.
    pub checkpoint_every: u64,
    /// Steps the inbox holds before [`Writer::send`] blocks (the writer
    /// thread is woken early when it holds half of them). 0 is taken as 1.
    pub channel_capacity: usize,
    /// Every this many checkpoints one is a key (full, standalone) checkpoint;
    /// the others are diff checkpoints compressed against the last key.
    /// 0 or 1: every checkpoint is a key.
    pub key_every: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            checkpoint_every: 500,
            channel_capacity: 4096,
            key_every: 32,
        }
    }
}

/// Writes one recording file from a background thread.
pub struct Writer {
    path: PathBuf,
    tx: Option<Producer<Vec<Op>, RecordingEnd>>,
    thread: Option<JoinHandle<Result<WriteSummary, StoreError>>>,
    steps: AtomicU64,
    bytes: Arc<AtomicU64>,
    failure: Arc<Stopped>,
    /// Source files to write before the steps sent after them.
    sources: Arc<Mutex<Vec<SourceFile>>>,
    /// Who follows the steps as they are sent ([`Writer::observe`]).
    watch: Watch,
    /// When a flight recording is to be written ([`Writer::ask_snapshot`]).
    snapshots: Arc<Snapshots>,
}

impl Writer {
    /// Create the file (mode 0600, replacing only a recording or an empty
    /// file: [`RecordingFile::create`]), write the header, and start the
    /// writer thread behind a bounded inbox.
    pub fn create(
        path: &Path,
        header: RecordingHeader,
        opts: WriterOptions,
    ) -> Result<Writer, StoreError> {
        Writer::create_with_init(path, header, opts, Box::new(|| {}))
    }

    /// [`Writer::create`], running `init` first thing on the writer thread.
    /// The thread inherits the caller's CPU affinity; a recorder pinned to
    /// the traced program's CPU uses `init` to move the writer elsewhere, so
    /// compressing and writing never compete with the program for its CPU.
    pub fn create_with_init(
        path: &Path,
        header: RecordingHeader,
        opts: WriterOptions,
        init: Box<dyn FnOnce() + Send>,
    ) -> Result<Writer, StoreError> {
        let file = RecordingFile::create(path, &header, CreateOptions::default())?;
        Writer::start(file, opts, init, None)
    }

    /// Write into `file`, created earlier with a header that said less
    /// (the recorder creates the file before it knows the interpreter):
    /// the header is replaced by `header` first, then as
    /// [`Writer::create_with_init`].
    pub fn create_on(
        mut file: RecordingFile,
        header: RecordingHeader,
        opts: WriterOptions,
        init: Box<dyn FnOnce() + Send>,
    ) -> Result<Writer, StoreError> {
        file.set_header(&header)?;
        Writer::start(file, opts, init, None)
    }

    /// A flight recorder ([`RingOptions`]) at `path`: as
    /// [`Writer::create`], keeping only the last steps, and writing the
    /// file whole at the end and at each snapshot
    /// ([`Writer::ask_snapshot`]).
    pub fn create_ring(
        path: &Path,
        header: RecordingHeader,
        opts: WriterOptions,
        ring: RingOptions,
    ) -> Result<Writer, StoreError> {
        let file = RecordingFile::create(path, &header, CreateOptions::default())?;
        Writer::start(file, opts, Box::new(|| {}), Some((ring, header)))
    }

    /// A flight recorder writing into `file`, as [`Writer::create_on`].
    pub fn create_ring_on(
        mut file: RecordingFile,
        header: RecordingHeader,
        opts: WriterOptions,
        ring: RingOptions,
        init: Box<dyn FnOnce() + Send>,
    ) -> Result<Writer, StoreError> {
        file.set_header(&header)?;
        Writer::start(file, opts, init, Some((ring, header)))
    }

    /// Start the writer thread on a file that holds its header.
    fn start(
        file: RecordingFile,
        opts: WriterOptions,
        init: Box<dyn FnOnce() + Send>,
        ring: Option<(RingOptions, RecordingHeader)>,
    ) -> Result<Writer, StoreError> {
        let snapshots = Arc::new(Snapshots::default());
        let (file, path, written, flight) = match ring {
            None => {
                let (file, path, written) = file.into_parts();
                (file, path, written, None)
            }
            Some((ring, header)) => {
                // The ring's file is written whole, by the flight, each time;
                // the writer's own handle is never written through.
                let handle = file.handle()?;
                let path = file.path().to_path_buf();
                let every = opts.checkpoint_every.max(1);
                let flight = Flight::new(ring, every, file, header, snapshots.clone());
                (handle, path, 0, Some(Box::new(flight)))
            }
        };
        let path = path.as_path();
        let bytes = Arc::new(AtomicU64::new(written));
        let failure = Arc::new(Stopped::default());
        let sources = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = inbox(opts.channel_capacity);
        let compressor =
            zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|e| StoreError::Encode {
                what: "the zstd compressor".into(),
                cause: e.to_string(),
            })?;
        let sealer = Sealer {
            file,
            flight,
            path: path.to_path_buf(),
            offset: written,
            compressor,
            index: Vec::new(),
            state: State::default(),
            budget: Budget::new(),
            pending: Vec::new(),
            pending_first: 0,
            pending_count: 0,
            pending_since: None,
            next_step: 0,
            since_checkpoint: 0,
            every: opts.checkpoint_every.max(1),
            key_every: opts.key_every.max(1),
            since_key: 0,
            key_compressor: None,
            bytes: bytes.clone(),
            written_steps: 0,
            stopped: failure.clone(),
            cut: None,
            sources: sources.clone(),
        };
        let fail = failure.clone();
        let thread = std::thread::Builder::new()
            .name("hindsight-store".into())
            .spawn(move || {
                init();
                let mut rx = rx;
                let r = sealer.run(&mut rx);
                if let Err(e) = &r {
                    log::error!("recording writer stopped: {e}");
                    fail.set(e.to_string());
                }
                // Only now fail the sends, so they can report the cause.
                drop(rx);
                r
            })
            .map_err(|e| StoreError::io("starting the recording writer thread", e))?;
        Ok(Writer {
            path: path.to_path_buf(),
            tx: Some(tx),
            thread: Some(thread),
            steps: AtomicU64::new(0),
            bytes,
            failure,
            sources,
            watch: Watch::default(),
            snapshots,
        })
    }

    /// A flight recorder: write the file now, holding the ring as it is
    /// (the steps the writer has taken), and go on recording. The writer
    /// thread does it within [`POLL`]. Nothing for a recording of every step.
    pub fn ask_snapshot(&self) {
        self.snapshots.ask();
    }

    /// A flight recorder: write the file whenever `flag` is found set (and
    /// clear it), as [`Writer::ask_snapshot`]. For a signal handler
    /// (`hindsight` sets it on SIGUSR1). Only the first flag given is kept.
    pub fn snapshot_on(&self, flag: Arc<std::sync::atomic::AtomicBool>) {
        self.snapshots.watch(flag);
    }

    /// Queue one step's ops (the first must be `Op::Step` with the next step
    /// number, counting from 0). A push under an uncontended lock that wakes
    /// nobody, except every half inbox; blocks while the inbox is full, so a
    /// slow disk slows the recorder and memory stays bounded. Meant for one
    /// producer thread.
    pub fn send(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let expected = self.steps.load(Ordering::Relaxed);
        match ops.first() {
            Some(Op::Step(meta)) if meta.step.0 == expected => {}
            Some(Op::Step(meta)) => {
                return Err(StoreError::BadOps {
                    step: expected,
                    what: format!(
                        "step number {} sent where step {expected} was expected (steps count from 0, one by one)",
                        meta.step.0
                    ),
                })
            }
            _ => {
                return Err(StoreError::BadOps {
                    step: expected,
                    what: "the first op is not Op::Step".into(),
                })
            }
        }
        let tx = self.tx.as_ref().ok_or_else(|| self.gone())?;
        self.watch.see(&ops);
        tx.push(ops).map_err(|_| self.gone())?;
        self.steps.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Keep the text of a source file in the recording: written as a source
    /// segment before any step sent after this call (so before the first
    /// step that names it, when called before that step's
    /// [`Writer::send`]). Each file once: the writer does not check.
    pub fn keep_source(&self, source: SourceFile) {
        if let Ok(mut s) = self.sources.lock() {
            s.push(source);
        }
    }

    /// Call `observer` with every step sent from now on, on the sending
    /// thread, before the step is queued ([`StepObserver`]).
    pub fn observe(&mut self, observer: StepObserver) {
        self.watch.set(observer);
    }

    /// Whether the observer asked the recording to stop (it returned
    /// `false`); the recorder ends the recording as at a bound.
    pub fn stop_asked(&self) -> bool {
        self.watch.stop_asked()
    }

    /// Why the writer stopped writing (a failed write, a state past the
    /// bound), once it has: the steps sent from then on are dropped, and
    /// the recorder should stop recording. A load of a flag until then.
    pub fn stopped(&self) -> Option<String> {
        self.failure.get()
    }

    /// Steps accepted and bytes written so far, for a progress line.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.steps.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    /// Write what is queued, then the end record, the index and the footer,
    /// and wait for the writer thread. `end.steps` is replaced by the number
    /// of steps written.
    pub fn finish(mut self, end: RecordingEnd) -> Result<WriteSummary, StoreError> {
        // If the thread is gone, its result below says why.
        if let Some(tx) = self.tx.take() {
            tx.close(End::Finish(end));
        }
        self.join()
    }

    fn join(&mut self) -> Result<WriteSummary, StoreError> {
        // Dropping the producer closes the inbox (End::Dropped) unless
        // finish closed it already.
        self.tx = None;
        match self.thread.take() {
            Some(t) => match t.join() {
                Ok(r) => r,
                Err(_) => Err(StoreError::WriterGone {
                    cause: format!(
                        "the writer thread for {} panicked (a bug; please report it)",
                        self.path.display()
                    ),
                }),
            },
            None => Err(self.gone()),
        }
    }

    fn gone(&self) -> StoreError {
        let cause = self
            .failure
            .get()
            .unwrap_or_else(|| "the writer thread has ended".into());
        StoreError::WriterGone { cause }
    }
}

impl Drop for Writer {
    /// Not finished: write every queued step so the file stays readable
    /// (it has no end record, so readers report it incomplete).
    fn drop(&mut self) {
        if self.thread.is_some() {
            if let Err(e) = self.join() {
                log::warn!("recording {} left incomplete: {e}", self.path.display());
            }
        }
    }
}

/// Why the writer thread stopped writing, once it has.
#[derive(Default)]
struct Stopped {
    /// Set once `cause` is: read at every step, without a lock.
    flag: AtomicBool,
    cause: Mutex<Option<String>>,
}

impl Stopped {
    fn set(&self, cause: String) {
        if let Ok(mut c) = self.cause.lock() {
            c.get_or_insert(cause);
        }
        self.flag.store(true, Ordering::Release);
    }

    fn get(&self) -> Option<String> {
        if !self.flag.load(Ordering::Acquire) {
            return None;
        }
        self.cause.lock().ok().and_then(|c| c.clone())
    }
}

/// The writer thread's state.
struct Sealer {
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
}

impl Sealer {
    fn run(mut self, rx: &mut Consumer<Vec<Op>, RecordingEnd>) -> Result<WriteSummary, StoreError> {
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
            for ops in batch.drain(..) {
                // Once cut, the steps are dropped as they come.
                if self.cut.is_none() {
                    let r = self.step(ops);
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

    fn step(&mut self, mut ops: Vec<Op>) -> Result<(), StoreError> {
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
        if let Err(e) = apply_counted(&mut self.state, ops, &mut self.budget) {
            self.pending.truncate(mark);
            return Err(e);
        }
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
        self.pending.clear();
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
        if kind == SegKind::Deltas {
            self.written_steps = first_step + u64::from(count);
        }
        Ok(())
    }

    fn summary(&self) -> WriteSummary {
        WriteSummary {
            steps: self.next_step.min(self.written_steps),
            bytes: self.offset,
            cut: self.cut.clone(),
        }
    }
}
