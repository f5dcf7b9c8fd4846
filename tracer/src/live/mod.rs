//! Changing a running program (`hindsight exec`, `hindsight reload`): take
//! hold of it as `attach` does, hold one thread at a line step
//! ([`halt`]), run a small Python wrapper there through the interpreter's
//! C API ([`pyrun`]): the user's code in that frame (`exec.py`), or a
//! function's code object replaced by its new source's (`reload.py`);
//! then let the program go. Nothing is recorded.
//!
//! Which interpreters: those `attach` takes (`ATTACH_MINORS`); the hook and
//! its removal are `attach`'s own, the wrapper runs on 3.8-3.13, and where
//! the frame's locals need writing back is decided by version
//! ([`pyrun::locals_need_write_back`]).

mod halt;
mod pyrun;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub use halt::{Place, Wanted};

use crate::record::error::RecordError;

/// The wrapper `exec` runs (`HS_FRAME`, `HS_CODE` filled in).
const EXEC_PY: &str = include_str!("exec.py");
/// The wrapper `reload` runs (`HS_MODULE`, `HS_FUNCTION` filled in).
const RELOAD_PY: &str = include_str!("reload.py");

/// Which program, where to hold it, and how hindsight is interrupted.
pub struct LiveConfig {
    /// The process.
    pub pid: i32,
    /// The interpreter's separate debug file, when it is stripped.
    pub debug_file: Option<PathBuf>,
    /// Which step to hold the program at.
    pub wanted: Wanted,
    /// Set (by hindsight's SIGINT/SIGTERM handler) to stop waiting for the
    /// step and let the program go; once the code runs, it runs to its end.
    pub stop: Arc<AtomicBool>,
    /// Whether the hook is the probe (as `attach`'s): with it, hindsight
    /// killed while it waits leaves the program running.
    pub probe: crate::probe::ProbeMode,
    /// Called once every thread is hooked and the wait for the step begins.
    pub on_waiting: Option<OnWaiting>,
}

/// Called once with what was found on attaching (as `attach`'s message).
pub type OnWaiting = Box<dyn FnOnce(&crate::record::Attached)>;

/// How the code ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    /// It ran to its end (`reload`: the code was replaced).
    Ok,
    /// It raised; `error` is the traceback.
    Raised,
    /// `reload` would not replace the code; `error` says why.
    Refused,
}

/// What running the code did.
#[derive(Debug, Clone)]
pub struct LiveOutcome {
    /// Where the program was held.
    pub place: Place,
    /// "CPython 3.11.7".
    pub interpreter: String,
    /// Whether it ran, raised, or was refused.
    pub status: LiveStatus,
    /// What the code wrote to `sys.stdout`.
    pub output: String,
    /// `exec`: the repr of an expression's value (`None` for statements and
    /// a value of None); `reload`: what was replaced.
    pub value: Option<String>,
    /// The traceback, or why `reload` refused.
    pub error: Option<String>,
}

/// `hindsight exec`: run `code` in the frame of the held step, with its
/// globals and locals (assignments to locals take effect in the frame).
pub fn exec(cfg: LiveConfig, code: &str) -> Result<LiveOutcome, RecordError> {
    run(cfg, true, |h| {
        Ok(EXEC_PY
            .replace("HS_FRAME", &h.frame.0.to_string())
            .replace("HS_CODE", &hex(code)))
    })
}

/// `hindsight reload`: give `module`'s `function` (dotted within the
/// module: `Class.method`) the code its source file now holds.
pub fn reload(cfg: LiveConfig, module: &str, function: &str) -> Result<LiveOutcome, RecordError> {
    run(cfg, false, |_| {
        Ok(RELOAD_PY
            .replace("HS_MODULE", &hex(module))
            .replace("HS_FUNCTION", &hex(function)))
    })
}

/// Hold the program, run the wrapper `source` makes, let it go.
fn run(
    mut cfg: LiveConfig,
    write_back: bool,
    source: impl FnOnce(&halt::Halted) -> Result<String, RecordError>,
) -> Result<LiveOutcome, RecordError> {
    let mut held = halt::halt(
        cfg.pid,
        cfg.debug_file.take(),
        &cfg.wanted,
        cfg.stop.clone(),
        cfg.probe,
        cfg.on_waiting.take(),
    )?;
    let ran = source(&held).and_then(|src| pyrun::run(&mut held, &src, write_back));
    let place = held.place.clone();
    let interpreter = format!("CPython {}", held.python().version);
    // Let go whatever happened; a failure to let go comes first.
    halt::let_go(held)?;
    let report = ran?.ok_or_else(|| {
        RecordError::Other(
            "the code ran but left no report (interrupted inside the program?)".into(),
        )
    })?;
    let parts = parse_report(&report).ok_or_else(|| {
        RecordError::Other("the report the code left in the program is malformed".into())
    })?;
    let [status, output, value, error] = parts;
    let status = match status.as_str() {
        "ok" => LiveStatus::Ok,
        "raised" => LiveStatus::Raised,
        "refused" => LiveStatus::Refused,
        _ => {
            return Err(RecordError::Other(format!(
                "the code could not be run in the program: {error}"
            )))
        }
    };
    Ok(LiveOutcome {
        place,
        interpreter,
        status,
        output,
        value: (!value.is_empty()).then_some(value),
        error: (!error.is_empty()).then_some(error),
    })
}

/// Text as lowercase hex, for `bytes.fromhex` in the wrapper (any text is
/// then a valid literal).
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The four `LEN:BYTES` fields of a report.
fn parse_report(mut data: &[u8]) -> Option<[String; 4]> {
    let mut out: [String; 4] = Default::default();
    for field in out.iter_mut() {
        let colon = data.iter().position(|&b| b == b':')?;
        let len: usize = std::str::from_utf8(&data[..colon]).ok()?.parse().ok()?;
        let rest = &data[colon + 1..];
        let bytes = rest.get(..len)?;
        *field = String::from_utf8_lossy(bytes).into_owned();
        data = &rest[len..];
    }
    data.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_parsed_and_bounded() {
        let r = parse_report(b"2:ok5:a:b:c0:4:x\n4:").expect("a report");
        assert_eq!(r[0], "ok");
        assert_eq!(r[1], "a:b:c");
        assert_eq!(r[2], "");
        assert_eq!(r[3], "x\n4:");
        assert!(parse_report(b"2:ok5:abc").is_none());
        assert!(parse_report(b"99999999999999999999:").is_none());
        assert!(parse_report(b"2:ok0:0:0:extra").is_none());
    }

    #[test]
    fn code_is_hex() {
        assert_eq!(hex("a'\n"), "61270a");
    }
}
