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

use crate::create::{CreateOptions, RecordingFile};
use crate::error::StoreError;
use crate::format::ZSTD_LEVEL;
use crate::inbox::{inbox, End, Producer};
use crate::model::Op;
use crate::observe::{StepObserver, Watch};
use crate::records::{RecordingEnd, RecordingHeader, WriteSummary};
use crate::ring::{Flight, RingOptions, Snapshots};
use crate::sources::SourceFile;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

mod sealer;
use sealer::{Output, Sealer, Stopped};

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

/// One step as the inbox carries it: its ops and its time, if any.
pub(crate) type Sent = (Vec<Op>, Option<u64>);

/// Writes one recording file from a background thread.
pub struct Writer {
    path: PathBuf,
    tx: Option<Producer<Sent, RecordingEnd>>,
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
        let sealer = Sealer::new(
            Output {
                file,
                flight,
                path: path.to_path_buf(),
                written,
            },
            compressor,
            &opts,
            bytes.clone(),
            failure.clone(),
            sources.clone(),
        );
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
        self.send_at(ops, None)
    }

    /// [`Writer::send`] with the step's time: `CLOCK_MONOTONIC`
    /// nanoseconds (docs/store-format.md, "Times"). A deltas segment gets
    /// its times segment when each of its steps has a time.
    pub fn send_at(&self, ops: Vec<Op>, time: Option<u64>) -> Result<(), StoreError> {
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
        self.watch.see(&ops, time);
        tx.push((ops, time)).map_err(|_| self.gone())?;
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
