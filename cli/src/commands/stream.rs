//! `hindsight record --stream PATH|-`: each step's state as a JSON line
//! (the line `hindsight dump` prints for it) written as the step is
//! recorded, for tools that follow a program live. The recorder hands each
//! step's ops to a step observer, which queues a copy; a thread of its own
//! applies them to a running state, renders and writes it, flushing
//! whenever it has caught up. The queue is bounded: a reader slower than
//! the program slows the program, and no step is dropped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use anyhow::{anyhow, Result};
use store::{Op, State, StepObserver};
use values::render;

/// Steps queued for the streaming thread before the recorder waits.
const QUEUE: usize = 4096;

/// A stream being written: the observer to give the recorder, and the
/// thread to wait for once the recording ended.
pub struct Stream {
    thread: JoinHandle<Result<()>>,
}

/// Start streaming to `path` (`-`: standard output): the observer for
/// `RecordConfig::on_step`, and the stream to [`Stream::finish`].
pub fn start(path: &Path) -> Result<(StepObserver, Stream)> {
    let out: Box<dyn Write + Send> = if path == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        let f = File::create(path)
            .map_err(|e| anyhow!("cannot create the stream {}: {e}", path.display()))?;
        Box::new(f)
    };
    let (tx, rx) = sync_channel::<Vec<Op>>(QUEUE);
    let shown = path.to_path_buf();
    let thread = std::thread::Builder::new()
        .name("hindsight-stream".into())
        .spawn(move || write_all(rx, BufWriter::with_capacity(64 * 1024, out), &shown))
        .map_err(|e| anyhow!("cannot start the thread that writes the stream: {e}"))?;
    // A stream that can no longer be written (its reader went away) is
    // given up; the recording goes on.
    let observer: StepObserver = Box::new(move |ops: &[Op], _time: Option<u64>| {
        let _ = tx.send(ops.to_vec());
        true
    });
    Ok((observer, Stream { thread }))
}

impl Stream {
    /// Wait until every step is written (the recorder has dropped the
    /// observer, which ends the queue).
    pub fn finish(self) -> Result<()> {
        self.thread
            .join()
            .map_err(|_| anyhow!("the thread writing the stream panicked (a bug)"))?
    }
}

/// Apply, render and write each queued step; flush whenever the queue is
/// empty, so a reader sees each step as soon as the recorder sent it.
fn write_all(rx: Receiver<Vec<Op>>, mut out: impl Write, path: &Path) -> Result<()> {
    let mut state = State::default();
    let mut failed = false;
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(ops) = next.take() {
            if !failed {
                if let Err(e) = step(&mut state, ops, &mut out) {
                    log::warn!("the stream {} stopped: {e}", path.display());
                    failed = true;
                }
            }
            next = rx.try_recv().ok();
        }
        if !failed && out.flush().is_err() {
            failed = true;
        }
    }
    Ok(())
}

/// One step's line.
fn step(state: &mut State, ops: Vec<Op>, out: &mut impl Write) -> Result<()> {
    store::apply_owned(state, ops)?;
    serde_json::to_writer(&mut *out, &render::state_json(state))?;
    out.write_all(b"\n")?;
    Ok(())
}
