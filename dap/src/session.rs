//! One debug session: the request loop, the answers and events, and what
//! is known between requests (the recording once launched, the
//! breakpoints, the step the session is stopped at).

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use store::{ProgramEnd, Reader};

use crate::breakpoints::Breakpoints;
use crate::inspect::Stop;
use crate::wire::{self, WireError};
use crate::Launcher;

mod launch;
mod motion;
mod sources;

/// What a request handler hands back: the response body, and the events
/// to send after the response.
type Answer = Result<(Value, Vec<(&'static str, Value)>), String>;

/// A breakpoint as the client asks for it: line and condition.
type Requested = (u32, Option<String>);

/// The recording being replayed.
pub(crate) struct Loaded {
    pub(crate) reader: Reader,
    /// The program's working directory (where relative recorded paths are).
    pub(crate) cwd: PathBuf,
    /// A recording made for this session, removed at its end.
    pub(crate) temporary: Option<PathBuf>,
    pub(crate) breakpoints: Breakpoints,
    /// Where the session is stopped, once it has stopped.
    pub(crate) stop: Option<Stop>,
    /// The session reached the end and said so (`terminated`).
    pub(crate) ended: bool,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(p) = &self.temporary {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The adapter's side of one session.
pub struct Server<'a> {
    out: &'a mut dyn Write,
    seq: i64,
    launcher: Option<Box<dyn Launcher>>,
    pub(crate) loaded: Option<Loaded>,
    /// Breakpoints set before the recording was loaded: (path, lines).
    pending: Vec<(String, Vec<Requested>)>,
    configured: bool,
    stop_on_entry: bool,
    done: bool,
}

impl<'a> Server<'a> {
    /// A server answering on `out`; `launcher` records programs (without
    /// one, `launch` takes recordings only).
    pub fn new(out: &'a mut dyn Write, launcher: Option<Box<dyn Launcher>>) -> Server<'a> {
        Server {
            out,
            seq: 0,
            launcher,
            loaded: None,
            pending: Vec::new(),
            configured: false,
            stop_on_entry: false,
            done: false,
        }
    }

    /// Answer messages from `input` until `disconnect` or its end.
    pub fn run(&mut self, input: &mut dyn BufRead) -> io::Result<()> {
        while !self.done {
            match wire::read_message(input) {
                Ok(Some(msg)) => self.handle(&msg)?,
                Ok(None) => break,
                Err(WireError::Malformed(why)) => {
                    log::warn!(target: "dap", "malformed message: {why}");
                    let r = json!({"type": "response", "request_seq": 0, "success": false,
                        "command": "", "message": format!("malformed message: {why}")});
                    self.send(r)?;
                }
                Err(WireError::Io(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn send(&mut self, mut msg: Value) -> io::Result<()> {
        self.seq += 1;
        msg["seq"] = json!(self.seq);
        wire::write_message(self.out, &msg)
    }

    pub(crate) fn event(&mut self, name: &str, body: Value) -> io::Result<()> {
        self.send(json!({"type": "event", "event": name, "body": body}))
    }

    /// Answer one message.
    fn handle(&mut self, msg: &Value) -> io::Result<()> {
        let request_seq = msg.get("seq").and_then(Value::as_i64).unwrap_or(0);
        let command = msg.get("command").and_then(Value::as_str).unwrap_or("");
        if msg.get("type").and_then(Value::as_str) != Some("request") || command.is_empty() {
            let r = json!({"type": "response", "request_seq": request_seq, "success": false,
                "command": command, "message": "not a request: a request has \"type\": \"request\" and a \"command\""});
            return self.send(r);
        }
        let empty = json!({});
        let args = msg.get("arguments").unwrap_or(&empty);
        log::debug!(target: "dap", "request {command}");
        let answer = self.dispatch(command, args);
        let mut r = json!({"type": "response", "request_seq": request_seq, "command": command});
        let events = match answer {
            Ok((body, events)) => {
                r["success"] = json!(true);
                r["body"] = body;
                events
            }
            Err(message) => {
                r["success"] = json!(false);
                r["message"] = json!(message);
                Vec::new()
            }
        };
        self.send(r)?;
        for (name, body) in events {
            self.event(name, body)?;
        }
        Ok(())
    }

    fn dispatch(&mut self, command: &str, args: &Value) -> Answer {
        match command {
            "initialize" => Ok((capabilities(), Vec::new())),
            "launch" => self.launch(args),
            "setBreakpoints" => self.set_breakpoints(args),
            "setExceptionBreakpoints" => Ok((json!({"breakpoints": []}), Vec::new())),
            "configurationDone" => {
                self.configured = true;
                self.first_stop()
            }
            "threads" => self.threads(),
            "stackTrace" => self.stack_trace(args),
            "scopes" => self.scopes(args),
            "variables" => self.variables(args),
            "evaluate" => self.evaluate(args),
            "source" => self.source_request(args),
            "continue" | "next" | "stepIn" | "stepOut" | "stepBack" | "reverseContinue" => {
                self.motion(command)
            }
            "pause" => Ok((json!({}), Vec::new())),
            "disconnect" | "terminate" => {
                self.done = command == "disconnect";
                let events = if command == "terminate" {
                    vec![("terminated", json!({}))]
                } else {
                    Vec::new()
                };
                Ok((json!({}), events))
            }
            other => Err(format!(
                "hindsight's debug adapter does not support the request `{other}` (docs/dap.md lists the requests it answers)"
            )),
        }
    }

    fn set_breakpoints(&mut self, args: &Value) -> Answer {
        let Some(path) = args.pointer("/source/path").and_then(Value::as_str) else {
            return Err("setBreakpoints needs source.path".into());
        };
        let mut lines = Vec::new();
        for bp in args
            .get("breakpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let line = bp.get("line").and_then(Value::as_u64).unwrap_or(0);
            let condition = bp
                .get("condition")
                .and_then(Value::as_str)
                .map(str::to_string);
            lines.push((u32::try_from(line).unwrap_or(u32::MAX), condition));
        }
        if lines.is_empty() {
            // The older form: a list of line numbers.
            for l in args
                .get("lines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                lines.push((
                    l.as_u64().and_then(|l| u32::try_from(l).ok()).unwrap_or(0),
                    None,
                ));
            }
        }
        let answers = match self.loaded.as_mut() {
            Some(l) => l.breakpoints.set(path, &lines),
            None => {
                // Not launched yet: kept, and verified at launch.
                self.pending.retain(|(p, _)| p != path);
                self.pending.push((path.to_string(), lines.clone()));
                lines
                    .iter()
                    .map(|(line, _)| json!({"verified": false, "line": line, "message": "the recording is not loaded yet"}))
                    .collect()
            }
        };
        Ok((json!({"breakpoints": answers}), Vec::new()))
    }

    fn loaded(&mut self) -> Result<&mut Loaded, String> {
        self.loaded
            .as_mut()
            .ok_or_else(|| "no recording is loaded: send launch first".to_string())
    }

    fn threads(&mut self) -> Answer {
        let l = self.loaded()?;
        let mut ids: Vec<u32> = match l.reader.end() {
            Some(end) if !end.threads.is_empty() => end.threads.clone(),
            _ => vec![
                l.reader
                    .metas(
                        store::Step(l.reader.first_step()),
                        store::Step(l.reader.first_step()),
                    )
                    .map_err(|e| e.to_string())?[0]
                    .thread,
            ],
        };
        if let Some(stop) = &l.stop {
            if !ids.contains(&stop.thread()) {
                ids.push(stop.thread());
            }
        }
        let pid = l.reader.header().pid;
        let threads: Vec<Value> = ids
            .iter()
            .map(|t| {
                let name = if *t == pid {
                    "main thread".to_string()
                } else {
                    format!("thread {t}")
                };
                json!({"id": t, "name": name})
            })
            .collect();
        Ok((json!({"threads": threads}), Vec::new()))
    }

    fn stopped(&mut self) -> Result<(&Reader, &mut Stop, &Path), String> {
        let l = self.loaded()?;
        match l.stop.as_mut() {
            Some(stop) => Ok((&l.reader, stop, &l.cwd)),
            None => Err("the session has not stopped yet: send configurationDone".into()),
        }
    }

    fn stack_trace(&mut self, args: &Value) -> Answer {
        let thread = args.get("threadId").and_then(Value::as_u64);
        let start = args.get("startFrame").and_then(Value::as_u64).unwrap_or(0) as usize;
        let levels = args
            .get("levels")
            .and_then(Value::as_u64)
            .filter(|l| *l > 0);
        let (reader, stop, cwd) = self.stopped()?;
        if thread.is_some_and(|t| t != u64::from(stop.thread())) {
            // Only the thread that ran the step has its stack recorded.
            return Ok((json!({"stackFrames": [], "totalFrames": 0}), Vec::new()));
        }
        let state = &stop.state;
        let depth = state.stack.len();
        let mut frames = Vec::new();
        for (i, f) in state.stack.iter().enumerate().rev() {
            let mut frame = json!({"id": i + 1, "name": &*f.function, "line": f.line, "column": 1,
                "source": sources::source(reader, cwd, &f.file)});
            if i + 1 == depth {
                if let Some(p) = state
                    .meta
                    .as_ref()
                    .and_then(|m| m.position)
                    .filter(|p| p.line == f.line)
                {
                    frame["column"] = json!(p.col + 1);
                    frame["endLine"] = json!(p.end_line);
                    frame["endColumn"] = json!(p.end_col + 1);
                }
            }
            frames.push(frame);
        }
        let end = levels.map_or(frames.len(), |l| {
            start.saturating_add(l as usize).min(frames.len())
        });
        let shown: Vec<Value> = frames.into_iter().take(end).skip(start).collect();
        Ok((
            json!({"stackFrames": shown, "totalFrames": depth}),
            Vec::new(),
        ))
    }

    fn scopes(&mut self, args: &Value) -> Answer {
        let index = frame_index(args)?;
        let (reader, stop, _) = self.stopped()?;
        check_frame(stop, index)?;
        let body = stop.scopes(reader, index).map_err(|e| e.to_string())?;
        Ok((body, Vec::new()))
    }

    fn variables(&mut self, args: &Value) -> Answer {
        let reference = args
            .get("variablesReference")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let start = args.get("start").and_then(Value::as_u64).unwrap_or(0) as usize;
        let count = args
            .get("count")
            .and_then(Value::as_u64)
            .filter(|c| *c > 0)
            .map(|c| c as usize);
        let filter = args.get("filter").and_then(Value::as_str);
        let (_, stop, _) = self.stopped()?;
        Ok((stop.variables(reference, start, count, filter)?, Vec::new()))
    }

    fn evaluate(&mut self, args: &Value) -> Answer {
        let expression = args.get("expression").and_then(Value::as_str).unwrap_or("");
        let index = match args.get("frameId") {
            Some(_) => Some(frame_index(args)?),
            None => None,
        };
        let (reader, stop, _) = self.stopped()?;
        if let Some(i) = index {
            check_frame(stop, i)?;
        }
        Ok((stop.evaluate(reader, expression, index)?, Vec::new()))
    }
}

/// The stack index (0 the outermost) of a request's `frameId`.
fn frame_index(args: &Value) -> Result<usize, String> {
    args.get("frameId")
        .and_then(Value::as_u64)
        .and_then(|f| usize::try_from(f).ok())
        .and_then(|f| f.checked_sub(1))
        .ok_or_else(|| "frameId is not one of this stop's frames".to_string())
}

/// Fail unless the stop's stack has a frame at `index`.
fn check_frame(stop: &Stop, index: usize) -> Result<(), String> {
    if index < stop.state.stack.len() {
        Ok(())
    } else {
        Err(format!(
            "frameId {} is not one of this stop's frames",
            index + 1
        ))
    }
}

/// The exit code `exited` reports: the program's status.
pub(crate) fn exit_code(reader: &Reader) -> i64 {
    match reader.end().map(|e| e.end) {
        Some(ProgramEnd::Exited(c)) => i64::from(c),
        Some(ProgramEnd::Signaled(s)) => 128 + i64::from(s),
        _ => 0,
    }
}

/// The capabilities `initialize` answers with.
fn capabilities() -> Value {
    json!({
        "supportsConfigurationDoneRequest": true,
        "supportsStepBack": true,
        "supportsConditionalBreakpoints": true,
        "supportsEvaluateForHovers": true,
        "supportsTerminateRequest": true,
        "supportsHitConditionalBreakpoints": false,
        "supportsFunctionBreakpoints": false,
        "supportsSetVariable": false,
        "supportsRestartRequest": false,
        "supportsGotoTargetsRequest": false,
        "supportsStepInTargetsRequest": false,
        "supportsDelayedStackTraceLoading": true,
        "exceptionBreakpointFilters": [],
    })
}
