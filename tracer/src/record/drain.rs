//! Recording the steps the probe took without a trap: decoded from its
//! log at the next stop (the shared shadow rewound to each of them), or,
//! with a second CPU, while the program runs on (from the tracer's copy of
//! the shadow, each step's words laid over it in turn: docs/probe.md).

use std::time::{Duration, Instant};

use store::{EventKind, Step, StepMeta, Writer};

use super::error::RecordError;
use super::recorder::{Recorder, StepSink};
use super::session::Session;
use crate::addr::RemoteAddr;
use crate::cpython::LineWatch;
use crate::probe::{LoggedStep, LOG_MAX};
use crate::ptrace::Polled;

/// Logged steps decoded at most between two looks for a stop of the
/// program, while it runs.
const LIVE_BATCH: usize = 16;

impl Recorder {
    /// Record the steps the probe took without a trap since the last stop
    /// (line steps of the armed frame: the last step's state at another
    /// line, or, where the probe logged changed words, the state decoded
    /// from the shadow put back as it was then). Call at every stop before
    /// its own step, and at the end.
    pub(crate) fn drain_trapless(&mut self, writer: &Writer) -> Result<(), RecordError> {
        if self.live.replica && self.armed.is_some() {
            // Decoded from the copy: those the program ran meanwhile are
            // recorded already; the rest now (the program is stopped).
            let r = self.drain_replica(writer, LOG_MAX);
            self.live.finish(&self.cache);
            self.armed = None;
            return r.map(|_| ());
        }
        let Some((watch, thread, frame)) = self.armed.take() else {
            return Ok(());
        };
        let mut log = std::mem::take(&mut self.log);
        self.cache.take_log(&mut log);
        log::debug!(target: "tracer::delta", "{} steps logged, {} words changed by the trapping step", log.steps.len(), log.trap.len());
        if log::log_enabled!(target: "tracer::delta", log::Level::Debug) {
            if let Some(p) = self.cache.probe_mut().as_ref() {
                p.log_trap_words(&log.trap);
            }
        }
        let replays = log.steps.iter().any(|s| !s.words.is_empty());
        let r = if replays && self.cache.replay_start(&log, watch.at) {
            let r = self.decode_logged(writer, &log.steps, &watch, thread, frame);
            self.cache.replay_finish(&log);
            r
        } else if replays {
            log::warn!(target: "tracer::record", "{} steps logged by the probe cannot be decoded (its position words are not in the shadow)", log.steps.len());
            Ok(())
        } else {
            self.decode_logged(writer, &log.steps, &watch, thread, frame)
        };
        self.log = log;
        r
    }

    /// Record the logged steps `steps`, in order.
    fn decode_logged(
        &mut self,
        writer: &Writer,
        steps: &[LoggedStep],
        watch: &LineWatch,
        thread: u32,
        frame: RemoteAddr,
    ) -> Result<(), RecordError> {
        for step in steps {
            let time = self.clock.at(Some(step.tsc));
            if !step.words.is_empty() {
                self.cache.replay_begin(step);
                let r = match self.quick_step(writer, step, watch, (thread, frame), time) {
                    Ok(true) => {
                        self.quick_counts.0 += 1;
                        Ok(())
                    }
                    Ok(false) => {
                        self.quick_counts.1 += 1;
                        self.replay_step(writer, thread, frame, time)
                    }
                    Err(e) => Err(e),
                };
                self.cache.replay_end();
                r?;
                continue;
            }
            let meta = self.logged_meta(watch, step, thread);
            let mut ops = Vec::with_capacity(3);
            self.differ.line_step(meta, &mut ops);
            writer.send_at(ops, Some(time))?;
            self.steps += 1;
        }
        Ok(())
    }

    /// The meta of the logged line step `step` of `thread`, in the armed
    /// frame `watch` tells the position of.
    pub(super) fn logged_meta(
        &self,
        watch: &LineWatch,
        step: &LoggedStep,
        thread: u32,
    ) -> StepMeta {
        let code = watch.code();
        let (line, position) = watch.position(step.pos);
        StepMeta {
            step: Step(self.steps),
            event: EventKind::Line,
            thread,
            file: code.file.clone(),
            function: code.function.clone(),
            line,
            position,
            value: None,
            instruction: None,
        }
    }

    /// The frame whose line steps the probe may take without a trap.
    pub(crate) fn armed_frame(&self) -> Option<RemoteAddr> {
        self.armed.as_ref().map(|a| a.2)
    }

    /// Decode one logged step that changed words (the stop cache reads the
    /// shadow as it was then) and record it.
    fn replay_step(
        &mut self,
        writer: &Writer,
        thread: u32,
        frame: RemoteAddr,
        time: u64,
    ) -> Result<(), RecordError> {
        let line = self.decoder.python().facts.tracing.line;
        self.decoder.begin_stop(thread, line);
        let cached = self.cache.logged_mem();
        let mut st = StepSink {
            decoder: &mut self.decoder,
            differ: &mut self.differ,
            steps: &mut self.steps,
            writer,
            time,
        };
        st.record_at(&cached, thread, frame, line, RemoteAddr::NULL, None)
    }

    /// While the program runs: record up to a batch of the steps the probe
    /// logged since the last look. Whether there were any.
    pub(crate) fn drain_live(&mut self, writer: &Writer) -> Result<bool, RecordError> {
        if !self.live.replica || self.armed.is_none() {
            return Ok(false);
        }
        self.drain_replica(writer, LIVE_BATCH)
    }

    /// Record up to `max` more of the logged steps, decoded from the copy
    /// of the shadow. Whether there were any.
    fn drain_replica(&mut self, writer: &Writer, max: usize) -> Result<bool, RecordError> {
        let Some((watch, thread, frame)) = self.armed.clone() else {
            return Ok(false);
        };
        let upto = self
            .cache
            .logged_now()
            .min(self.live.cursor.0.saturating_add(max));
        if upto <= self.live.cursor.0 {
            return Ok(false);
        }
        let mut steps = std::mem::take(&mut self.live.buf);
        steps.clear();
        self.cache
            .read_logged(&mut self.live.cursor, upto, &mut steps);
        let r = self.decode_logged(writer, &steps, &watch, thread, frame);
        self.live.buf = steps;
        r.map(|_| true)
    }
}

/// How long the loop looks for logged steps and stops without finding
/// either before it waits for a stop instead (the program may be blocked,
/// or running code that logs nothing).
const LIVE_IDLE: Duration = Duration::from_micros(200);

/// While the probe logs steps without a trap (and a second CPU lets them be
/// decoded beside the program): record them as they come, looking for a
/// stop between batches. `Polled::Nothing` once none came for
/// [`LIVE_IDLE`] (the caller then waits for a stop).
pub(super) fn drain_while_running(
    s: &mut Session,
    waker: Option<i32>,
) -> Result<Polled, RecordError> {
    let mut idle: Option<Instant> = None;
    while s.rec.live.replica {
        match s.tracee.poll(waker)? {
            Polled::Nothing => {}
            found => return Ok(found),
        }
        match s.rec.drain_live(&s.writer) {
            Ok(true) => {
                idle = None;
                continue;
            }
            Ok(false) => {}
            Err(e) => {
                // The next stop records them, or says why it cannot.
                log::debug!(target: "tracer::record", "logged steps not decoded yet: {e}");
                break;
            }
        }
        let now = Instant::now();
        if now.duration_since(*idle.get_or_insert(now)) > LIVE_IDLE {
            break;
        }
        std::hint::spin_loop();
    }
    Ok(Polled::Nothing)
}
