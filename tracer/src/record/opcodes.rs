//! `--granularity opcode`: making the frames of recorded code report
//! opcode events, as a tracer that sets `frame.f_trace_opcodes = True` in
//! the program would. Every version: the frame's `f_trace_opcodes`,
//! written at its first recorded event. 3.12: also the interpreter's
//! `f_opcode_trace_set`, set before `_PyEval_SetTrace` (`launch`). 3.13:
//! also `_PyEval_SetOpcodeTrace(frame, 1)`, called in the target once per
//! code object, after the stop's step is recorded (it instruments the
//! code's bytes in place, from the frame's next instruction on).

use std::collections::HashMap;
use std::sync::Arc;

use super::error::RecordError;
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::version::OpcodeTrace;
use crate::cpython::{CodeInfo, Python};
use crate::memory::Memory;
use crate::probe::prefetch::StopCache;
use crate::ptrace::Tracee;

/// What switches opcode events on, frame by frame.
#[derive(Default)]
pub(crate) struct OpcodeSwitch {
    /// 3.13: `_PyEval_SetOpcodeTrace` and the return trap of an inferior
    /// call of it.
    pub(crate) set_opcode_trace: Option<(RemoteAddr, RemoteAddr)>,
    /// The code objects `_PyEval_SetOpcodeTrace` was called for (the same
    /// `CodeInfo`: a code object freed and another made at its address is
    /// a new one).
    traced: HashMap<RemoteAddr, Arc<CodeInfo>>,
    /// The frame of this stop to call it for, once its step is recorded.
    pending: Option<RemoteAddr>,
}

impl OpcodeSwitch {
    /// At a recorded event of `frame` (running `code`): set its
    /// `f_trace_opcodes` unless it is set (read from the stop cache), and on
    /// 3.13 note the frame when its code object was not switched on yet.
    pub(crate) fn on_event(
        &mut self,
        py: &Python,
        tracee: &Tracee,
        cache: &mut StopCache,
        frame: RemoteAddr,
        code: &Arc<CodeInfo>,
    ) -> Result<(), RecordError> {
        let at = frame.at(py.layout.frame.f_trace_opcodes);
        let on = cache.mem(tracee.mem()).read_vec(at, 1).map(|b| b[0] != 0);
        if !matches!(on, Ok(true)) {
            tracee.mem().write(at, &[1])?;
            cache.forget();
        }
        if py.facts.tracing.opcode_trace == OpcodeTrace::PerCodeCall {
            let done = self
                .traced
                .get(&code.addr)
                .is_some_and(|c| Arc::ptr_eq(c, code));
            if !done {
                self.traced.insert(code.addr, code.clone());
                self.pending = Some(frame);
            }
        }
        Ok(())
    }

    /// After the stop's step: the inferior call noted by
    /// [`OpcodeSwitch::on_event`], in the stopped thread `tid`.
    pub(crate) fn after_stop(
        &mut self,
        tracee: &mut Tracee,
        tid: Tid,
        cache: &mut StopCache,
    ) -> Result<(), RecordError> {
        let (Some(frame), Some((func, ret_trap))) = (self.pending.take(), self.set_opcode_trace)
        else {
            return Ok(());
        };
        let rc = tracee
            .call_function(tid, func, &[frame.0, 1], ret_trap)
            .map_err(|e| RecordError::Other(format!("cannot switch opcode events on: {e}")))?;
        if rc as u32 != 0 {
            log::warn!(target: "tracer::record", "_PyEval_SetOpcodeTrace returned {}: no opcode steps in frame {frame}", rc as u32 as i32);
        }
        // The call ran in the target: what the stop cache holds is stale.
        cache.forget();
        Ok(())
    }
}
