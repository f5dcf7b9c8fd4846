//! What the DAP tests compare with: where each motion must stop, computed
//! from the recording's own states (`hindsight dump`), and a stop's
//! answers checked against `hindsight state REC N --json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::client::Client;
use crate::common::{run_with_timeout, HINDSIGHT_TIMEOUT};

pub fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

fn run(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let mut cmd = Command::new(hindsight());
    cmd.args(args);
    let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `hindsight state REC N --json`.
pub fn state(rec: &Path, n: u64) -> Value {
    let out = run(&[
        "state".as_ref(),
        rec.as_os_str(),
        n.to_string().as_ref(),
        "--json".as_ref(),
    ]);
    serde_json::from_slice(&out).unwrap()
}

/// Every state of the recording, from `hindsight dump`.
pub fn dump(rec: &Path) -> Vec<Value> {
    let out = run(&["dump".as_ref(), rec.as_os_str()]);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Where each motion must go, from the states alone.
pub struct Expect {
    pub states: Vec<Value>,
}

impl Expect {
    pub fn depth(&self, n: usize) -> usize {
        self.states[n]["stack"].as_array().unwrap().len()
    }
    pub fn thread(&self, n: usize) -> &Value {
        &self.states[n]["thread"]
    }
    pub fn last(&self) -> usize {
        self.states.len() - 1
    }
    pub fn forward(&self, pos: usize, f: impl Fn(usize) -> bool) -> usize {
        (pos + 1..self.states.len())
            .find(|n| f(*n))
            .unwrap_or(self.last())
    }
    pub fn backward(&self, pos: usize, f: impl Fn(usize) -> bool) -> usize {
        (0..pos).rev().find(|n| f(*n)).unwrap_or(0)
    }
    pub fn next(&self, pos: usize) -> usize {
        self.forward(pos, |n| {
            self.thread(n) == self.thread(pos) && self.depth(n) <= self.depth(pos)
        })
    }
    pub fn step_in(&self, pos: usize) -> usize {
        self.forward(pos, |n| self.thread(n) == self.thread(pos))
    }
    pub fn step_out(&self, pos: usize) -> usize {
        self.forward(pos, |n| {
            self.thread(n) == self.thread(pos) && self.depth(n) < self.depth(pos)
        })
    }
    pub fn step_back(&self, pos: usize) -> usize {
        self.backward(pos, |n| {
            self.thread(n) == self.thread(pos) && self.depth(n) <= self.depth(pos)
        })
    }
    /// The last step before `pos` of the frame at stack index `index`.
    pub fn frame_step(&self, pos: usize, index: usize) -> Option<usize> {
        for n in (0..pos).rev() {
            if self.thread(n) != self.thread(pos) {
                continue;
            }
            if self.depth(n) == index + 1 {
                return Some(n);
            }
            if self.depth(n) < index + 1 {
                return None;
            }
        }
        None
    }
}

/// The step a `stopped` event names (`description`: "step N...").
pub fn stopped_step(e: &Value) -> usize {
    let d = e["body"]["description"]
        .as_str()
        .expect("a stopped event says its step");
    let digits: String = d
        .trim_start_matches("step ")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// Every value of a state by id, through attributes: what an object is now.
fn reprs_by_id(values: &Value, out: &mut std::collections::HashMap<String, String>) {
    for v in values.as_object().into_iter().flat_map(|m| m.values()) {
        out.insert(
            v["id"].as_str().unwrap_or("").to_string(),
            v["repr"].as_str().unwrap_or("").to_string(),
        );
        if let Some(attrs) = v.get("attrs") {
            reprs_by_id(attrs, out);
        }
    }
}

/// The stop's answers against `hindsight state REC N --json`: the stack,
/// every frame's locals (outer frames: the names of their last step), the
/// globals, and the attributes of an instance.
pub fn check_stop(c: &mut Client, rec: &Path, exp: &Expect, n: usize) {
    let st = state(rec, n as u64);
    let thread = st["thread"].as_u64().unwrap();
    let trace = c.ok("stackTrace", json!({"threadId": thread}));
    let frames = trace["stackFrames"].as_array().unwrap();
    let stack = st["stack"].as_array().unwrap();
    assert_eq!(frames.len(), stack.len(), "step {n}: {trace}");
    assert_eq!(trace["totalFrames"], stack.len());
    let mut now = std::collections::HashMap::new();
    reprs_by_id(&st["locals"], &mut now);
    reprs_by_id(&st["globals"], &mut now);
    for (f, s) in frames.iter().zip(stack.iter().rev()) {
        assert_eq!(f["name"], s["function"], "step {n}");
        assert_eq!(f["line"], s["line"], "step {n}");
        assert_eq!(f["source"]["path"], s["file"], "step {n}");
    }
    for (k, f) in frames.iter().enumerate() {
        let index = stack.len() - 1 - k;
        let scopes = c.ok("scopes", json!({"frameId": f["id"]}));
        let locals_ref = &scopes["scopes"][0]["variablesReference"];
        let vars =
            c.ok("variables", json!({"variablesReference": locals_ref}))["variables"].clone();
        let vars = vars.as_array().unwrap();
        let expected: Vec<(String, Value)> = if k == 0 {
            st["locals"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect()
        } else {
            match exp.frame_step(n, index) {
                Some(m) => exp.states[m]["locals"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect(),
                None => Vec::new(),
            }
        };
        let names: Vec<&str> = vars.iter().map(|v| v["name"].as_str().unwrap()).collect();
        let want: Vec<&str> = expected.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, want, "step {n}, frame {index}");
        for (v, (name, e)) in vars.iter().zip(&expected) {
            let id = e["id"].as_str().unwrap();
            match now.get(id) {
                Some(repr) => {
                    assert_eq!(v["value"], repr.as_str(), "step {n}, frame {index}, {name}")
                }
                // A caller's object the step does not reach: its parts may
                // have changed since the caller's step (the adapter shows
                // them as they are now; `d['k']` is checked by evaluate).
                None if k > 0 => {}
                None => panic!("step {n}: {name} is not in the state"),
            }
            assert_eq!(v["type"], e["type"], "step {n}, {name}");
            let attrs = e
                .get("attrs")
                .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()));
            if let (Some(attrs), true) = (attrs, k == 0) {
                let inner = c.ok(
                    "variables",
                    json!({"variablesReference": v["variablesReference"]}),
                );
                let got: Vec<(String, String)> = inner["variables"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| {
                        (
                            x["name"].as_str().unwrap().into(),
                            x["value"].as_str().unwrap().into(),
                        )
                    })
                    .collect();
                let want: Vec<(String, String)> = attrs
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(a, b)| (a.clone(), b["repr"].as_str().unwrap().into()))
                    .collect();
                assert_eq!(got, want, "step {n}: the attributes of {name}");
            }
        }
        let globals_ref = &scopes["scopes"][1]["variablesReference"];
        if k == 0 {
            let g = c.ok("variables", json!({"variablesReference": globals_ref}));
            let names: Vec<&str> = g["variables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap())
                .collect();
            let want: Vec<&str> = st["globals"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(names, want, "step {n}: globals");
        }
    }
}

/// Move with `command`; the step it stopped at, checked against `want`.
pub fn motion(c: &mut Client, command: &str, thread: &Value, want: usize, reason: &str) -> usize {
    c.ok(command, json!({"threadId": thread}));
    let e = c.event("stopped");
    let n = stopped_step(&e);
    assert_eq!(
        n, want,
        "{command} stopped at step {n}, the recording says {want}: {e}"
    );
    assert_eq!(e["body"]["reason"], reason, "{command}: {e}");
    n
}
