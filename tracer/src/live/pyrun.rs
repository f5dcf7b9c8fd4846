//! Running Python source in the held thread ([`super::halt`]), by inferior
//! calls of CPython's C API: the thread is inside CPython's call of the
//! trace function and holds the GIL, so it may run Python code there, as a
//! pdb breakpoint does. The source runs with the frame's globals and a
//! fresh dict of its own as locals, and leaves its report, a `bytes`, in
//! that dict under [`REPORT_NAME`]. Whatever happens, nothing is left set:
//! the thread's exception state is saved before and put back after, the
//! dict and the memory hindsight asked for are freed.

use crate::addr::RemoteAddr;
use crate::cpython::Python;
use crate::memory::Memory;
use crate::ptrace::inferior::InferiorError;
use crate::ptrace::TraceError;
use crate::record::error::RecordError;

use super::halt::Halted;

/// The name the wrapper binds its report to, in its locals.
pub(crate) const REPORT_NAME: &str = "__hs_report";

/// Bound on the report read back (the wrapper cuts the output it keeps
/// well below it).
const MAX_REPORT: u64 = 8 << 20;

/// `Py_file_input`: `PyRun_StringFlags` runs statements.
const PY_FILE_INPUT: u64 = 257;

/// Scratch bytes in front of the source: three out-pointers of
/// `PyErr_Fetch`, then the report's name.
const SCRATCH: u64 = 64;

/// Run after the code faulted: the wrapper's `sys.stdout` swap undone
/// (`exec.py` keeps the program's own in `_saved`).
const AFTER_FAULT: &str =
    "import sys as _s\ntry:\n    _s.stdout = _saved\nexcept NameError:\n    pass\n";

/// The C API functions called, each found in the interpreter's symbols.
struct Api {
    raw_malloc: RemoteAddr,
    raw_free: RemoteAddr,
    err_fetch: RemoteAddr,
    err_restore: RemoteAddr,
    err_clear: RemoteAddr,
    get_globals: RemoteAddr,
    dict_new: RemoteAddr,
    dict_get: RemoteAddr,
    run_string: RemoteAddr,
    dec_ref: RemoteAddr,
    bytes_as_string: RemoteAddr,
    bytes_size: RemoteAddr,
    thread_state_get: RemoteAddr,
    /// 3.8-3.12: `PyFrame_LocalsToFast`, which makes what was assigned to
    /// `frame.f_locals` the frame's locals. `None` from 3.13 on, where
    /// `f_locals` is a proxy that writes through (PEP 667) and the
    /// function does nothing.
    locals_to_fast: Option<RemoteAddr>,
}

impl Api {
    fn of(py: &Python, write_back: bool) -> Result<Api, RecordError> {
        let need = |name: &str| crate::record::error::need_symbol(py, name);
        Ok(Api {
            raw_malloc: need("PyMem_RawMalloc")?,
            raw_free: need("PyMem_RawFree")?,
            err_fetch: need("PyErr_Fetch")?,
            err_restore: need("PyErr_Restore")?,
            err_clear: need("PyErr_Clear")?,
            get_globals: need("PyEval_GetGlobals")?,
            dict_new: need("PyDict_New")?,
            dict_get: need("PyDict_GetItemString")?,
            run_string: need("PyRun_StringFlags")?,
            dec_ref: need("Py_DecRef")?,
            bytes_as_string: need("PyBytes_AsString")?,
            bytes_size: need("PyBytes_Size")?,
            thread_state_get: need("PyThreadState_Get")?,
            locals_to_fast: if write_back && locals_need_write_back(py) {
                Some(need("PyFrame_LocalsToFast")?)
            } else {
                None
            },
        })
    }
}

/// Whether what is assigned to `frame.f_locals` reaches the frame only
/// through `PyFrame_LocalsToFast` (before PEP 667, CPython 3.13).
pub(crate) fn locals_need_write_back(py: &Python) -> bool {
    (py.version.major, py.version.minor) < (3, 13)
}

/// Run `source` in the held thread; the report it left (`None` when it
/// left none: the wrapper itself failed). With `write_back`, the held
/// frame's `f_locals` are written back to its locals afterwards (3.8-3.12).
pub(crate) fn run(
    h: &mut Halted,
    source: &str,
    write_back: bool,
) -> Result<Option<Vec<u8>>, RecordError> {
    let api = Api::of(h.python(), write_back)?;
    if source.as_bytes().contains(&0) {
        return Err(RecordError::Other("the code holds a NUL byte".into()));
    }
    let ret_trap = h.tracee.entry_point()?;
    let mut call = Caller {
        h,
        ret_trap,
        source_len: source.len() as u64,
    };
    let size = SCRATCH + source.len() as u64 + 1 + AFTER_FAULT.len() as u64 + 1;
    let buf = RemoteAddr(call.call(api.raw_malloc, &[size])?);
    if buf.is_null() {
        return Err(RecordError::Other(format!(
            "the program could not allocate {size} bytes for the code"
        )));
    }
    let result = run_in(&mut call, &api, buf, source);
    // The memory is freed whatever happened, unless the thread is lost.
    if !matches!(result, Err(Lost::Thread(_))) {
        let _ = call.call(api.raw_free, &[buf.0]);
    }
    result.map_err(Lost::into_error)
}

/// Why a run failed.
enum Lost {
    /// An inferior call did not come back as a call: the thread was put
    /// back as it was, nothing more is called in it.
    Thread(RecordError),
    /// The call faulted and was abandoned (the thread's registers put
    /// back): the thread's frame state is to be put back too, then the
    /// cleanup calls run.
    Fault(RecordError),
    /// Something else (the target's memory), after which the cleanup calls
    /// still run.
    Other(RecordError),
}

impl Lost {
    fn into_error(self) -> RecordError {
        match self {
            Lost::Thread(e) | Lost::Fault(e) | Lost::Other(e) => e,
        }
    }
}

fn run_in(
    call: &mut Caller,
    api: &Api,
    buf: RemoteAddr,
    source: &str,
) -> Result<Option<Vec<u8>>, Lost> {
    let other = |e: crate::memory::MemError| Lost::Other(e.into());
    let mut scratch = [0u8; SCRATCH as usize];
    scratch[24..24 + REPORT_NAME.len()].copy_from_slice(REPORT_NAME.as_bytes());
    let mem = call.h.tracee.mem();
    mem.write(buf, &scratch).map_err(other)?;
    let mut text = source.as_bytes().to_vec();
    text.push(0);
    text.extend_from_slice(AFTER_FAULT.as_bytes());
    text.push(0);
    mem.write(buf.at(SCRATCH as u32), &text).map_err(other)?;
    // Whatever error state the thread had is kept aside, and back after.
    call.lost(api.err_fetch, &[buf.0, buf.0 + 8, buf.0 + 16])?;
    let ran = run_saved(call, api, buf);
    let mem = call.h.tracee.mem();
    let saved = [buf, buf.at(8), buf.at(16)].map(|a| mem.read_u64(a).unwrap_or(0));
    if !matches!(ran, Err(Lost::Thread(_))) {
        call.lost(api.err_restore, &saved)?;
    }
    ran
}

/// The run between saving and restoring the error state.
fn run_saved(call: &mut Caller, api: &Api, buf: RemoteAddr) -> Result<Option<Vec<u8>>, Lost> {
    let globals = call.lost(api.get_globals, &[])?;
    if globals == 0 {
        return Err(Lost::Other(RecordError::Other(
            "the held frame has no globals".into(),
        )));
    }
    let ns = call.lost(api.dict_new, &[])?;
    if ns == 0 {
        call.lost(api.err_clear, &[])?;
        return Err(Lost::Other(RecordError::Other(
            "the program could not make a dict for the code".into(),
        )));
    }
    let src = buf.0 + SCRATCH;
    let state = FrameState::save(call, api)?;
    let res = match call.lost(api.run_string, &[src, PY_FILE_INPUT, globals, ns, 0]) {
        Err(Lost::Fault(e)) => {
            // The fix-up follows the source in the buffer.
            let fix = src + call.source_len + 1;
            after_fault(call, api, &state, fix, globals, ns)?;
            return Err(Lost::Other(e));
        }
        r => r?,
    };
    if res == 0 {
        // The wrapper catches everything; this is a failure of the wrapper
        // itself (a KeyboardInterrupt between two of its statements).
        call.lost(api.err_clear, &[])?;
    } else {
        call.lost(api.dec_ref, &[res])?;
    }
    let report = read_report(call, api, ns, buf.0 + 24);
    if let Some(to_fast) = api.locals_to_fast {
        let frame = call.h.frame.0;
        call.lost(to_fast, &[frame, 0])?;
    }
    call.lost(api.dec_ref, &[ns])?;
    report
}

/// After a fault of the code: the thread's frame state back as it was at
/// its line, the program's `sys.stdout` back, the dict freed.
fn after_fault(
    call: &mut Caller,
    api: &Api,
    state: &FrameState,
    fix: u64,
    globals: u64,
    ns: u64,
) -> Result<(), Lost> {
    state
        .restore(call.h.tracee.mem())
        .map_err(|e| Lost::Other(e.into()))?;
    call.lost(api.err_clear, &[])?;
    let res = call.lost(api.run_string, &[fix, PY_FILE_INPUT, globals, ns, 0])?;
    if res == 0 {
        call.lost(api.err_clear, &[])?;
    } else {
        call.lost(api.dec_ref, &[res])?;
    }
    call.lost(api.dec_ref, &[ns])?;
    Ok(())
}

/// The words of the held thread's state that say which frame runs (3.8-3.10
/// `frame`, 3.10-3.12 `cframe`, 3.13 `current_frame`) and whether it is
/// tracing: what a call abandoned inside the interpreter leaves pointing
/// at frames that are gone.
struct FrameState {
    words: Vec<(RemoteAddr, u64)>,
    tracing: (RemoteAddr, u32),
}

impl FrameState {
    fn save(call: &mut Caller, api: &Api) -> Result<FrameState, Lost> {
        let tstate = RemoteAddr(call.lost(api.thread_state_get, &[])?);
        let rt = &call.h.python().layout.runtime;
        let offsets: Vec<u32> = [rt.ts_frame, rt.ts_cframe, rt.ts_current_frame]
            .into_iter()
            .flatten()
            .collect();
        let tracing_at = tstate.at(rt.ts_tracing);
        let mem = call.h.tracee.mem();
        let other = |e: crate::memory::MemError| Lost::Other(e.into());
        let mut words = Vec::new();
        for off in offsets {
            let at = tstate.at(off);
            words.push((at, mem.read_u64(at).map_err(other)?));
        }
        let mut b = [0u8; 4];
        mem.read(tracing_at, &mut b).map_err(other)?;
        Ok(FrameState {
            words,
            tracing: (tracing_at, u32::from_ne_bytes(b)),
        })
    }

    fn restore(
        &self,
        mem: &crate::memory::procmem::ProcMem,
    ) -> Result<(), crate::memory::MemError> {
        for (at, v) in &self.words {
            mem.write(*at, &v.to_ne_bytes())?;
        }
        mem.write(self.tracing.0, &self.tracing.1.to_ne_bytes())
    }
}

/// The report the wrapper left in `ns`, if any.
fn read_report(call: &mut Caller, api: &Api, ns: u64, name: u64) -> Result<Option<Vec<u8>>, Lost> {
    let rep = call.lost(api.dict_get, &[ns, name])?;
    if rep == 0 {
        return Ok(None);
    }
    let data = call.lost(api.bytes_as_string, &[rep])?;
    let size = call.lost(api.bytes_size, &[rep])?;
    if data == 0 || size as i64 <= 0 {
        call.lost(api.err_clear, &[])?;
        return Ok(None);
    }
    let n = size.min(MAX_REPORT) as usize;
    let mut out = vec![0u8; n];
    call.h
        .tracee
        .mem()
        .read(RemoteAddr(data), &mut out)
        .map_err(|e| Lost::Other(e.into()))?;
    Ok(Some(out))
}

/// Inferior calls in the held thread while the others run.
struct Caller<'a> {
    h: &'a mut Halted,
    ret_trap: RemoteAddr,
    /// The length of the source in the scratch buffer.
    source_len: u64,
}

impl Caller<'_> {
    fn call(&mut self, func: RemoteAddr, args: &[u64]) -> Result<u64, RecordError> {
        self.lost(func, args).map_err(Lost::into_error)
    }

    fn lost(&mut self, func: RemoteAddr, args: &[u64]) -> Result<u64, Lost> {
        let tid = self.h.place.thread;
        let trap = self.h.hooked.trap;
        let returning = self.h.returning;
        let mut others = |t: &mut crate::ptrace::Tracee, stop| -> Result<(), TraceError> {
            Halted::answer_other(t, trap, returning, stop)
        };
        self.h
            .tracee
            .call_function_among(tid, func, args, self.ret_trap, &mut others)
            .map_err(|e| match e {
                InferiorError::Fault { sig, .. } => Lost::Fault(RecordError::Other(format!(
                    "the code made the program's thread fault (signal {sig}) inside a C \
                     function; the call was abandoned, the signal not delivered, and the \
                     thread put back at its line with its frames and sys.stdout as they \
                     were: the program runs on, but what that C code held or half wrote \
                     (a lock, an object) may stay so"
                ))),
                InferiorError::Ended(how, _) => Lost::Thread(RecordError::Other(format!(
                    "the program ended ({how}) while the code ran"
                ))),
                other => Lost::Thread(RecordError::Other(other.to_string())),
            })
    }
}
