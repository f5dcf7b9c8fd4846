//! What the server answers (docs/serve.md): the page's files, and the JSON
//! API over one open recording: its info, one state at a time, step metas
//! for a range, the source of a recorded file, the moves (next and
//! previous visit of a line, step out) and a name's history.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use store::{Reader, Step, StoreError};
use values::render;

use crate::assets::asset;
use crate::graph;
use crate::history::{history, HistoryError};
use crate::http::{Request, Response};
use crate::moves;
use crate::source::{source_json, Known};

/// Step metas answered per request at most.
pub const MAX_STEPS_PER_REQUEST: u64 = 2000;
/// History entries answered at most.
pub const MAX_HISTORY: usize = 10_000;
/// Characters of a history entry's value answered at most.
const MAX_HISTORY_VALUE: usize = 1000;
/// Names whose history is kept after it was asked for.
const HISTORY_CACHE: usize = 16;

/// The outer frames answered last (`/api/frames/N`).
#[derive(Clone)]
struct FramesMemo {
    step: u64,
    thread: u32,
    /// The outer frames' functions and files.
    outer: Vec<(Arc<str>, Arc<str>)>,
    answer: Arc<Value>,
}

/// One open recording and what the server remembers about it.
pub struct App {
    reader: Reader,
    path: PathBuf,
    known: Known,
    histories: Mutex<Vec<(String, Arc<Value>)>>,
    frames_memo: Mutex<Option<FramesMemo>>,
}

impl App {
    /// Serve `reader` (opened from `path`).
    pub fn new(reader: Reader, path: &Path) -> App {
        App {
            reader,
            path: path.to_path_buf(),
            known: Known::default(),
            histories: Mutex::new(Vec::new()),
            frames_memo: Mutex::new(None),
        }
    }

    /// The answer to one request.
    pub fn handle(&self, req: &Request) -> Response {
        if let Some((content_type, body)) = asset(&req.path) {
            return Response {
                status: 200,
                content_type,
                body: body.to_vec(),
            };
        }
        let Some(api) = req.path.strip_prefix("/api/") else {
            return Response::error(404, &format!("no page at {}", req.path));
        };
        let (route, arg) = api.split_once('/').unwrap_or((api, ""));
        let result = match (route, arg) {
            ("info", "") => Ok(self.info()),
            ("state", n) => self.step_arg(n).and_then(|n| self.state(n)),
            ("view", n) => self.step_arg(n).and_then(|n| self.view(n)),
            ("steps", "") => self.steps(req),
            ("source", "") => self.source(req),
            ("next-visit", n) => self
                .step_arg(n)
                .and_then(|n| self.moved(moves::next_visit(&self.reader, n))),
            ("previous-visit", n) => self
                .step_arg(n)
                .and_then(|n| self.moved(moves::previous_visit(&self.reader, n))),
            ("step-out", n) => self.step_arg(n).and_then(|n| self.step_out(n)),
            ("frames", n) => self.step_arg(n).and_then(|n| self.frames(n)),
            ("history", "") => self.history(req),
            _ => Err(Response::error(404, &format!("no API at {}", req.path))),
        };
        match result {
            Ok(v) => Response::json(200, &v),
            Err(r) => r,
        }
    }

    /// A step number from the path, held by the recording.
    fn step_arg(&self, s: &str) -> Result<u64, Response> {
        let n: u64 = s
            .parse()
            .map_err(|_| Response::error(400, &format!("`{s}` is not a step number")))?;
        self.check(n)?;
        Ok(n)
    }

    fn check(&self, n: u64) -> Result<(), Response> {
        let count = self.reader.step_count();
        let first = self.reader.first_step();
        if n >= count || n < first {
            let holds = match count {
                c if c <= first => "the recording holds no steps".to_string(),
                c => format!("the recording holds steps {first} to {}", c - 1),
            };
            return Err(Response::error(
                404,
                &format!("step {n} is out of range: {holds}"),
            ));
        }
        Ok(())
    }

    /// A store error as a 500 that says what failed.
    fn failed(&self, e: StoreError) -> Response {
        Response::error(500, &format!("{}: {e}", self.path.display()))
    }

    fn info(&self) -> Value {
        let h = self.reader.header();
        let end = self.reader.end();
        json!({
            "file": self.path.display().to_string(),
            "program": h.program,
            "cwd": h.cwd,
            "interpreter": h.interpreter,
            "mode": h.mode,
            "steps": self.reader.step_count(),
            "first": self.reader.first_step(),
            "threads": end.map(|e| json!(e.threads)),
            "complete": end.is_some(),
            "ended": end.map(|e| json!(e.reason)),
        })
    }

    /// The state at `n`, as `hindsight state FILE N --json` prints it.
    fn state(&self, n: u64) -> Result<Value, Response> {
        let state = self.reader.state(Step(n)).map_err(|e| self.failed(e))?;
        for f in &state.stack {
            self.known.add(&f.file);
        }
        Ok(render::state_json(&state))
    }

    /// The state at `n` and the objects the page draws.
    fn view(&self, n: u64) -> Result<Value, Response> {
        let state = self.reader.state(Step(n)).map_err(|e| self.failed(e))?;
        for f in &state.stack {
            self.known.add(&f.file);
        }
        Ok(json!({"state": render::state_json(&state), "objects": graph::objects(&state)}))
    }

    /// `?from=A&to=B`: the metas of steps A to B (at most
    /// [`MAX_STEPS_PER_REQUEST`]; `to` past the end means the end).
    fn steps(&self, req: &Request) -> Result<Value, Response> {
        let count = self.reader.step_count();
        let num = |k: &str| -> Result<Option<u64>, Response> {
            req.param(k)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        Response::error(400, &format!("{k}=`{v}` is not a step number"))
                    })
                })
                .transpose()
        };
        let from = num("from")?.unwrap_or(self.reader.first_step());
        self.check(from)?;
        let to = num("to")?
            .unwrap_or(u64::MAX)
            .min(count - 1)
            .min(from + MAX_STEPS_PER_REQUEST - 1);
        if to < from {
            return Err(Response::error(400, "`to` is before `from`"));
        }
        let metas = self
            .reader
            .metas(Step(from), Step(to))
            .map_err(|e| self.failed(e))?;
        // Each step's time, as `hindsight steps --json` shows it.
        let first = self.reader.time(self.reader.first_step());
        let steps: Vec<Value> = metas
            .iter()
            .map(|m| {
                self.known.add(&m.file);
                let mut v = render::meta_json(m);
                let t = self.reader.time(m.step.0);
                let elapsed = match (t, first) {
                    (Some(t), Some(f)) => json!(t.saturating_sub(f) as f64 / 1e9),
                    _ => Value::Null,
                };
                if let Value::Object(o) = &mut v {
                    o.insert("time_ns".into(), json!(t));
                    o.insert("elapsed".into(), elapsed);
                }
                v
            })
            .collect();
        Ok(json!({ "steps": steps }))
    }

    /// `?file=PATH`: a recorded file's source (only a file some answer named).
    fn source(&self, req: &Request) -> Result<Value, Response> {
        let Some(file) = req.param("file") else {
            return Err(Response::error(400, "give the file: /api/source?file=PATH"));
        };
        if !self.known.contains(file) {
            return Err(Response::error(
                403,
                &format!(
                    "{file} is not a file of a step the page was shown; ask for a state first"
                ),
            ));
        }
        let kept = self.reader.source(file);
        Ok(source_json(
            file,
            &self.reader.header().cwd,
            kept.as_deref(),
        ))
    }

    fn moved(&self, r: Result<Option<u64>, StoreError>) -> Result<Value, Response> {
        let step = r.map_err(|e| self.failed(e))?;
        Ok(json!({ "step": step }))
    }

    fn step_out(&self, n: u64) -> Result<Value, Response> {
        let state = self.reader.state(Step(n)).map_err(|e| self.failed(e))?;
        self.moved(moves::step_out(&self.reader, n, state.stack.len()))
    }

    /// The locals of the outer frames of step `n`: for each, as of the last
    /// step at which it ran (it has been waiting for its callee since).
    fn frames(&self, n: u64) -> Result<Value, Response> {
        let state = self.reader.state(Step(n)).map_err(|e| self.failed(e))?;
        let thread = state.meta.as_ref().map_or(0, |m| m.thread);
        let outer: Vec<(Arc<str>, Arc<str>)> = state
            .stack
            .iter()
            .take(state.stack.len().saturating_sub(1))
            .map(|f| (f.function.clone(), f.file.clone()))
            .collect();
        // Stepping within a frame: the outer frames are those of the step
        // answered last, looked up again only when they may have run since.
        let last = self.frames_memo.lock().ok().and_then(|m| m.clone());
        if let Some(m) = last.filter(|m| m.thread == thread && m.outer == outer) {
            let (a, b) = (m.step.min(n), m.step.max(n));
            let same = moves::stays_deep(&self.reader, a, b, thread, outer.len() + 1)
                .map_err(|e| self.failed(e))?;
            if same {
                // Measured from here on: the next step is close by.
                if let Ok(mut memo) = self.frames_memo.lock() {
                    *memo = Some(FramesMemo {
                        step: n,
                        ..m.clone()
                    });
                }
                return Ok((*m.answer).clone());
            }
        }
        let answer = self.look_up_frames(n, &state)?;
        if let Ok(mut memo) = self.frames_memo.lock() {
            *memo = Some(FramesMemo {
                step: n,
                thread,
                outer,
                answer: Arc::new(answer.clone()),
            });
        }
        Ok(answer)
    }

    fn look_up_frames(&self, n: u64, state: &store::State) -> Result<Value, Response> {
        let steps =
            moves::outer_steps(&self.reader, n, &state.stack).map_err(|e| self.failed(e))?;
        let mut frames = Vec::new();
        for (i, m) in steps.iter().enumerate() {
            let f = &state.stack[i];
            let mut frame = json!({"depth": i + 1, "function": &*f.function, "step": m});
            if i + 1 + moves::MAX_OUTER_FRAMES < state.stack.len() {
                frame["skipped"] = json!(true);
            }
            if let Some(m) = m {
                let then = self.reader.state(Step(*m)).map_err(|e| self.failed(e))?;
                let mut budget = render::Budget::new();
                let locals: serde_json::Map<String, Value> = then
                    .locals
                    .iter()
                    .map(|(name, a)| {
                        (
                            name.to_string(),
                            render::value_json_in(&then, *a, 1, &mut budget),
                        )
                    })
                    .collect();
                frame["locals"] = Value::Object(locals);
            }
            frames.push(frame);
        }
        Ok(json!({ "frames": frames }))
    }

    /// `?name=NAME` (or an expression): the steps at which its value changed.
    fn history(&self, req: &Request) -> Result<Value, Response> {
        let name = req.param("name").unwrap_or("").trim();
        if name.is_empty() {
            return Err(Response::error(
                400,
                "give the name: /api/history?name=NAME",
            ));
        }
        if let Some(v) = self.cached(name) {
            return Ok((*v).clone());
        }
        let list = history(&self.reader, name, MAX_HISTORY).map_err(|e| match e {
            HistoryError::Request(m) => Response::error(400, &m),
            HistoryError::NotFound(m) => Response::error(404, &m),
            HistoryError::Store(e) => self.failed(e),
        })?;
        let entries: Vec<Value> = list
            .entries
            .iter()
            .map(|e| {
                json!({"step": e.step, "file": e.file, "line": e.line, "function": e.function,
                       "value": cut(&e.value), "past_cut": e.past_cut})
            })
            .collect();
        let v = Arc::new(json!({"name": name, "entries": entries, "more": list.more}));
        if let Ok(mut c) = self.histories.lock() {
            if c.len() >= HISTORY_CACHE {
                c.remove(0);
            }
            c.push((name.to_string(), v.clone()));
        }
        Ok((*v).clone())
    }

    fn cached(&self, name: &str) -> Option<Arc<Value>> {
        let c = self.histories.lock().ok()?;
        c.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }
}

/// A history value cut at [`MAX_HISTORY_VALUE`] characters (`...` where cut).
fn cut(value: &str) -> String {
    match value.char_indices().nth(MAX_HISTORY_VALUE) {
        Some((i, _)) => format!("{}...", &value[..i]),
        None => value.to_string(),
    }
}
