//! The per-step work of the stop loop: a [`Recorder`] turns each trap into
//! a step (its stop cache, decoder, differ and filter).

use store::{EventKind, Instruction, Step, StepMeta, Writer};

use super::beside::LiveDrain;
use super::clock::StepClock;
use super::config::Granularity;
use super::diff::Differ;
use super::error::RecordError;
use super::filter::FileFilter;
use super::opcodes::OpcodeSwitch;
use super::profile::ProfileFilter;
use super::sources::Sources;
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::{Decoder, LineWatch};
use crate::interp::hook;
use crate::memory::{Memory, ReadReq};
use crate::probe::prefetch::StopCache;
use crate::probe::Log;
use crate::ptrace::{TraceError, Tracee};

/// Bytes read at the frame object of a trap, with the stop's plan: the
/// head of a `PyFrameObject` of every supported version.
const FRAME_PREFETCH: usize = 512;

/// The per-step work, kept apart from the stop loop.
pub(crate) struct Recorder {
    pub(crate) decoder: Decoder,
    pub(crate) differ: Differ,
    pub(crate) filter: FileFilter,
    pub(crate) granularity: Granularity,
    pub(crate) steps: u64,
    pub(crate) threads: Vec<u32>,
    /// What the previous stop read, read again in one call at each stop.
    pub(crate) cache: StopCache,
    /// The trap returns by itself ([`Tracee::prepare_returning_trap`]);
    /// otherwise its `return 0` is performed by setting registers.
    pub(crate) returning: bool,
    /// Steps recorded at most (`--max-steps`): bounds the steps the probe
    /// may take without a trap.
    pub(crate) max_steps: Option<u64>,
    /// Whether the probe may take steps without a trap at all.
    pub(crate) trapless_allowed: bool,
    /// Whether those steps may change slots and immutable objects (the
    /// recorder then decodes them from the probe's log).
    pub(crate) delta_allowed: bool,
    /// The frame the probe may take line steps of without a trap, since
    /// the last recorded step, the thread running it, and the frame.
    pub(super) armed: Option<(LineWatch, u32, RemoteAddr)>,
    /// The probe's log of those steps (kept: no allocation).
    pub(super) log: Log,
    /// Decoding those steps while the program runs.
    pub(crate) live: LiveDrain,
    /// How many types the probe was told it may copy objects of.
    cap_types: usize,
    /// The first step at which the program's own trace function replaced
    /// hindsight's in some thread (it could not run from the probe), and
    /// why: said in the recording's end.
    pub(crate) own_trace_lost: Option<(u64, &'static str)>,
    /// The source files kept in the recording so far.
    pub(crate) sources: Sources,
    /// `--granularity opcode`: what makes frames report opcode events.
    pub(crate) opcodes: OpcodeSwitch,
    /// Each step's time.
    pub(crate) clock: StepClock,
    /// `--profile NAME`: which calls and returns are steps.
    pub(crate) profile: Option<ProfileFilter>,
    /// Whether logged steps that only move slots to atoms are recorded from
    /// their words (`quick.rs`).
    pub(crate) quick: bool,
    pub(super) quick_scratch: super::quick::scratch::QuickScratch,
    /// Logged steps that changed words: recorded quick, decoded whole.
    pub(crate) quick_counts: (u64, u64),
}

impl Recorder {
    /// A recorder with nothing recorded yet.
    pub(crate) fn new(
        decoder: Decoder,
        filter: FileFilter,
        granularity: Granularity,
        threads: Vec<u32>,
        returning: bool,
    ) -> Recorder {
        Recorder {
            decoder,
            differ: Differ::new(),
            filter,
            granularity,
            steps: 0,
            threads,
            cache: StopCache::new(),
            returning,
            max_steps: None,
            trapless_allowed: false,
            delta_allowed: false,
            armed: None,
            log: Log::default(),
            live: LiveDrain::default(),
            cap_types: 0,
            own_trace_lost: None,
            sources: Sources::new(std::path::Path::new("/")),
            opcodes: OpcodeSwitch::default(),
            clock: StepClock::new(),
            profile: None,
            quick: super::quick::scratch::quick_allowed(),
            quick_scratch: Default::default(),
            quick_counts: (0, 0),
        }
    }

    /// After a recorded step of `frame`: let the probe take its next line
    /// steps without a trap while nothing the step read changes (or only
    /// slots and immutable objects, where that is allowed).
    fn arm(&mut self, frame: RemoteAddr, tid: Tid) {
        self.armed = None;
        if !self.trapless_allowed || self.granularity != Granularity::Line {
            return;
        }
        let Some(watch) = self.decoder.line_watch() else {
            return;
        };
        let budget = self
            .max_steps
            .map_or(u64::MAX, |m| m.saturating_sub(self.steps));
        if self.cache.arm(frame, watch.at, budget) {
            self.live.armed(&self.cache, watch.at);
            self.armed = Some((watch.clone(), tid.0 as u32, frame));
            if self.delta_allowed {
                self.tell_capture_types();
            }
        }
    }

    /// Tell the probe the types it may copy objects of, when more of them
    /// are known (cached) than it was told.
    fn tell_capture_types(&mut self) {
        // Every stop that arms comes here: once all four are told, nothing
        // more can be.
        if self.cap_types >= crate::cpython::CAPTURE_TYPES {
            return;
        }
        let types = self.decoder.capture_types();
        if types.len() > self.cap_types {
            self.cap_types = types.len();
            let py = self.decoder.python();
            let ob_type = py.layout.object.ob_type as usize;
            let t = &py.types;
            let guards = [t.int, t.bool_, t.float, t.none, t.complex, t.str_, t.bytes];
            if let Some(p) = self.cache.probe_mut().as_mut() {
                p.set_capture(true, ob_type, &types, &guards);
            }
        }
    }

    /// A new thread appeared: its thread state is linked already, so hook it
    /// before it runs, then let both threads go on.
    pub(crate) fn on_new_thread(
        &mut self,
        tracee: &mut Tracee,
        parent: Tid,
        tid: Tid,
        runtime: RemoteAddr,
        trap: RemoteAddr,
    ) -> Result<(), TraceError> {
        self.threads.push(tid.0 as u32);
        let layout = &self.decoder.python().layout;
        let mut probe = self.cache.probe_mut();
        if let Err(e) = crate::interp::threads::hook_all(
            tracee.mem(),
            layout,
            runtime,
            trap,
            probe.as_mut(),
            None,
        ) {
            log::warn!(target: "tracer::record", "new thread {tid} not hooked: {e}");
        }
        tracee.resume(tid, None)?;
        tracee.resume(parent, None)
    }

    /// Thread `tid` stopped for signal `sig`: when it is a fault of the
    /// probe (a planned page gone), recover it; true then (the signal is
    /// not the program's and is not delivered).
    pub(crate) fn probe_fault(
        &mut self,
        tracee: &mut Tracee,
        tid: Tid,
        sig: i32,
    ) -> Result<bool, TraceError> {
        if sig != libc::SIGSEGV && sig != libc::SIGBUS {
            return Ok(false);
        }
        let mut probe = self.cache.probe_mut();
        let Some(p) = probe.as_mut() else {
            return Ok(false);
        };
        let mut regs = tracee.regs(tid)?;
        p.recover(tracee, tid, &mut regs)
    }

    /// Before detaching: the probe's trap becomes a `nop`.
    pub(crate) fn disarm_probe(&mut self) {
        if let Some(p) = self.cache.probe_mut().as_mut() {
            p.disarm();
        }
    }

    /// A thread stopped in the trap: start this stop's read cache and make
    /// the trace function return 0: nothing to do for a returning trap,
    /// else registers set (its return address is read with the rest of the
    /// stop's reads, in the cache's one call).
    pub(crate) fn answer_trap(
        &mut self,
        tracee: &mut Tracee,
        tid: Tid,
        regs: &mut crate::ptrace::Regs,
    ) -> Result<(), TraceError> {
        // The frame object the trace function got: new at a call event, so
        // not in the plan; read with it.
        let frame = ReadReq {
            addr: RemoteAddr(regs.rsi),
            len: FRAME_PREFETCH.min((4096 - regs.rsi % 4096) as usize),
        };
        self.cache.begin_with(tracee.mem(), Some(frame));
        if self.returning {
            return Ok(());
        }
        let ret = self
            .cache
            .mem(tracee.mem())
            .read_ptr(RemoteAddr(regs.rsp))
            .map_err(TraceError::from);
        match ret {
            Ok(ret) => tracee.return_to(tid, regs, 0, ret),
            Err(e) => {
                self.cache.end();
                Err(e)
            }
        }
    }

    /// Turn one trap (the trace function's arguments) into a step, if its
    /// event and file are recorded; ends the stop begun by
    /// [`Recorder::answer_trap`].
    pub(crate) fn on_trap(
        &mut self,
        tracee: &mut Tracee,
        writer: &Writer,
        tid: Tid,
        frame: RemoteAddr,
        what: i32,
        arg: RemoteAddr,
    ) -> Result<(), RecordError> {
        let r = self.on_trap_cached(tracee, writer, tid, frame, what, arg);
        self.cache.end();
        if let Ok(true) = r {
            self.arm(frame, tid);
        }
        self.opcodes.after_stop(tracee, tid, &mut self.cache)?;
        r.map(|_| ())
    }

    /// Whether a step was recorded.
    fn on_trap_cached(
        &mut self,
        tracee: &Tracee,
        writer: &Writer,
        tid: Tid,
        frame: RemoteAddr,
        what: i32,
        arg: RemoteAddr,
    ) -> Result<bool, RecordError> {
        let Some(event) = event_kind(what) else {
            // Not a trace event we know (or not a call from the tracing machinery at all).
            return Ok(false);
        };
        let cached = self.cache.mem(tracee.mem());
        let mem: &dyn Memory = &cached;
        self.decoder.begin_stop(tid.0 as u32, what);
        let code = self.decoder.frame_code(mem, frame)?;
        let recorded = self.filter.accepts(&code.file);
        let own_trace = self
            .cache
            .probe_mut()
            .as_ref()
            .is_some_and(|p| p.chain_now().is_some());
        if event == EventKind::Call
            && (!recorded || self.granularity == Granularity::Call)
            && !own_trace
        {
            // Lines of this frame will never be steps: let CPython skip them
            // (unless the program's own trace function may want them).
            hook::disable_line_events(tracee.mem(), &self.decoder.python().layout, frame)?;
            self.cache.forget();
        }
        if !recorded {
            // The probe answers this file's next events itself.
            if let Some(p) = self.cache.probe_mut().as_mut() {
                p.filter_out(&code.file);
            }
        }
        if !recorded
            || (self.granularity == Granularity::Call
                && !matches!(event, EventKind::Call | EventKind::Return))
            || (event == EventKind::Opcode && self.granularity != Granularity::Opcode)
        {
            return Ok(false);
        }
        if let Some(p) = &mut self.profile {
            let t = tid.0 as u32;
            let kept = match event {
                EventKind::Call => p.call(t, frame, &code.function),
                EventKind::Return => p.ret(t, frame, &code.function),
                _ => false,
            };
            if !kept {
                return Ok(false);
            }
        }
        // Its text goes into the recording before its first step (the
        // steps the probe takes without a trap are of a frame trapped first).
        self.sources.first_use(&code.file, writer);
        let mut instruction = None;
        if event == EventKind::Opcode {
            instruction = self.decoder.step_instruction(mem, frame)?;
            if instruction.is_none() {
                return Ok(false);
            }
        } else if self.granularity == Granularity::Opcode {
            let py = self.decoder.python();
            self.opcodes
                .on_event(py, tracee, &mut self.cache, frame, &code)?;
        }
        let trap_tsc = self.cache.probe_mut().as_ref().map(|p| p.trap_tsc());
        let time = self.clock.at(trap_tsc);
        let cached = self.cache.mem(tracee.mem());
        let mut st = StepSink {
            decoder: &mut self.decoder,
            differ: &mut self.differ,
            steps: &mut self.steps,
            writer,
            time,
        };
        st.record_at(&cached, tid.0 as u32, frame, what, arg, instruction)?;
        Ok(true)
    }

    /// What the tracer thread, the stop cache and the probe did, in the log.
    pub(crate) fn log_counts(&mut self) {
        let (quick, whole) = self.quick_counts;
        log::info!(target: "tracer::record", "logged steps that changed words: {quick} quick, {whole} decoded whole");
        if let Some((user, system)) = crate::sys::thread_cpu_times() {
            log::info!(target: "tracer::record", "tracer thread CPU: user {:.2} s, system {:.2} s", user.as_secs_f64(), system.as_secs_f64());
        }
        let (hits, misses) = self.cache.counts();
        let refused = self.cache.replay_misses();
        if refused > 0 {
            // Mostly a decoder's first, wider try (a window cut by a page end),
            // which it makes again narrower: not an error by itself.
            log::info!(target: "tracer::record", "{refused} reads of steps decoded from the probe's log found nothing there");
        }
        let (ranges, bytes, pages) = self.cache.plan_size();
        log::info!(target: "tracer::record", "stop cache: {hits} reads answered, {misses} missed; last plan {ranges} ranges, {bytes} bytes, {pages} pages");
        if let Some(p) = self.cache.probe_mut().as_ref() {
            let (calls, faults, trapless) = p.counts();
            log::info!(target: "tracer::probe", "probe: {calls} calls, {trapless} steps without a trap, {faults} faults recovered");
            log::info!(target: "tracer::probe", "probe log: {} steps with changed words, decoded from the log; {} words of freed objects changed without a trap", p.deltas(), p.loose());
            log::info!(target: "tracer::probe", "probe filter: {} events of unrecorded files without a trap", p.filtered());
            log::info!(target: "tracer::probe", "probe opcode filter: {} opcode events of instructions that are not steps without a trap", p.opcodes_skipped());
        }
    }
}

pub(crate) fn event_kind(what: i32) -> Option<EventKind> {
    match what {
        0 => Some(EventKind::Call),
        1 => Some(EventKind::Exception),
        2 => Some(EventKind::Line),
        3 => Some(EventKind::Return),
        7 => Some(EventKind::Opcode),
        _ => None,
    }
}

/// What records one decoded step: the decoder, the differ, the count of
/// steps and the writer (apart from the recorder's stop cache, which the
/// memory being read borrows).
pub(super) struct StepSink<'a> {
    pub(super) decoder: &'a mut Decoder,
    pub(super) differ: &'a mut Differ,
    pub(super) steps: &'a mut u64,
    pub(super) writer: &'a Writer,
    /// The step's time.
    pub(super) time: u64,
}

impl StepSink<'_> {
    /// Decode the state at a trace-function call and send its step (an
    /// opcode step's instruction given).
    pub(super) fn record_at(
        &mut self,
        mem: &dyn Memory,
        thread: u32,
        frame: RemoteAddr,
        what: i32,
        arg: RemoteAddr,
        instruction: Option<Instruction>,
    ) -> Result<(), RecordError> {
        let mut heap_ops = Vec::new();
        let snap = self
            .decoder
            .snapshot_ops(mem, frame, what, arg, &mut heap_ops)?;
        let meta = StepMeta {
            step: Step(*self.steps),
            event: snap.event,
            thread,
            file: snap.file.clone(),
            function: snap.function.clone(),
            line: snap.line,
            position: snap.position,
            value: snap.value,
            instruction,
        };
        let mut ops = Vec::with_capacity(16 + heap_ops.len());
        self.differ.diff_with_heap_ops(
            meta,
            &snap.stack,
            &snap.locals,
            &snap.globals,
            &mut heap_ops,
            &mut ops,
        );
        self.writer.send_at(ops, Some(self.time))?;
        *self.steps += 1;
        Ok(())
    }
}
