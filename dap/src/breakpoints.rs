//! Line breakpoints: what the client set per source file, matched to the
//! files the recording names (a recorded path may be relative to the
//! program's working directory, or reach the file through a link), and
//! whether a step of the recording ever ran each line (a breakpoint on a
//! line that never ran is unverified, with a message saying so).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};
use store::{EventKind, Reader, Step, StoreError};

use crate::cond::Condition;

/// Distinct (file, line) pairs kept from the launch's scan, at most.
const MAX_LINES_RAN: usize = 1_000_000;

/// One breakpoint.
#[derive(Debug, Clone)]
pub struct Breakpoint {
    /// The id the client knows it by.
    pub id: u64,
    /// Its condition, if it has one.
    pub condition: Option<Condition>,
}

/// Every breakpoint, by recorded file and line.
#[derive(Debug, Default)]
pub struct Breakpoints {
    /// The program's working directory (for relative recorded paths).
    cwd: PathBuf,
    /// The lines line steps ran, by recorded file.
    ran: HashMap<Arc<str>, HashSet<u32>>,
    /// The breakpoints of each source the client set, by its normalised path.
    by_source: HashMap<PathBuf, Vec<(u32, Breakpoint)>>,
    /// The same, by recorded file and line: what a motion looks up.
    active: HashMap<Arc<str>, HashMap<u32, Vec<Breakpoint>>>,
    next_id: u64,
}

impl Breakpoints {
    /// The breakpoints of a recording: reads which lines ran (one pass
    /// over the steps' metas).
    pub fn scan(reader: &Reader, cwd: &Path) -> Result<Breakpoints, StoreError> {
        let mut ran: HashMap<Arc<str>, HashSet<u32>> = HashMap::new();
        let mut kept = 0;
        if reader.step_count() > 0 {
            reader.scan_steps(Step(0), Step(reader.step_count() - 1), |s| {
                let m = &s.meta;
                if m.event == EventKind::Line && kept < MAX_LINES_RAN {
                    let lines = match ran.get_mut(m.file) {
                        Some(l) => l,
                        None => ran.entry(Arc::from(m.file)).or_default(),
                    };
                    if lines.insert(m.line) {
                        kept += 1;
                    }
                }
                Ok::<_, StoreError>(true)
            })?;
        }
        Ok(Breakpoints {
            cwd: cwd.to_path_buf(),
            ran,
            ..Breakpoints::default()
        })
    }

    /// Replace the breakpoints of the source at `path` with `lines`
    /// (line, condition); the `breakpoints` of the response, in order.
    pub fn set(&mut self, path: &str, lines: &[(u32, Option<String>)]) -> Vec<Value> {
        let key = normalise(&self.cwd, path);
        let files: Vec<Arc<str>> = self
            .ran
            .keys()
            .filter(|f| normalise(&self.cwd, f) == key)
            .cloned()
            .collect();
        let mut kept = Vec::new();
        let mut answers = Vec::new();
        for (line, condition) in lines {
            self.next_id += 1;
            let id = self.next_id;
            let parsed = match condition.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(c) => Condition::parse(c).map(Some),
            };
            let condition = match parsed {
                Ok(c) => c,
                Err(why) => {
                    answers.push(json!({"id": id, "verified": false, "line": line,
                        "message": format!("condition not understood: {why}")}));
                    continue;
                }
            };
            let ran = files.iter().any(|f| self.ran[f].contains(line));
            let mut answer = json!({"id": id, "verified": ran, "line": line});
            if !ran {
                answer["message"] = json!(if files.is_empty() {
                    "no step of the recording ran in this file"
                } else {
                    "no step of the recording ran this line"
                });
            }
            answers.push(answer);
            kept.push((*line, Breakpoint { id, condition }));
        }
        self.by_source.insert(key, kept);
        self.rebuild();
        answers
    }

    /// `active` from `by_source`.
    fn rebuild(&mut self) {
        self.active.clear();
        for file in self.ran.keys() {
            let key = normalise(&self.cwd, file);
            let Some(bps) = self.by_source.get(&key) else {
                continue;
            };
            let lines = self.active.entry(file.clone()).or_default();
            for (line, bp) in bps {
                lines.entry(*line).or_default().push(bp.clone());
            }
        }
    }

    /// The breakpoints at a recorded file's line.
    pub fn at(&self, file: &str, line: u32) -> Option<&[Breakpoint]> {
        self.active.get(file)?.get(&line).map(Vec::as_slice)
    }

    /// Whether any breakpoint is set.
    pub fn any(&self) -> bool {
        !self.active.is_empty()
    }
}

/// A path as a key: absolute (relative to `cwd`), links resolved where
/// the file exists.
pub fn normalise(cwd: &Path, path: &str) -> PathBuf {
    let p = cwd.join(path);
    p.canonicalize().unwrap_or(p)
}
