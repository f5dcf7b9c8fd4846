//! Opening a recording and the checks every reading command shares: step
//! ranges, and the one-line and JSON forms of a step's meta data.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde_json::{json, Value};
use store::{Reader, Step, StepMeta, StoreError};

/// How many metas are read at once: bounds memory on long recordings.
pub const META_CHUNK: u64 = 65_536;

/// An open recording and the path it was opened from (for messages).
pub struct Recording {
    pub path: PathBuf,
    pub reader: Reader,
}

impl Recording {
    /// Open any recording, complete or not.
    pub fn open(path: &Path) -> Result<Recording> {
        if !path.exists() {
            bail!(
                "{} does not exist; pass the path of a recording made by `hindsight record`",
                path.display()
            );
        }
        if path.is_dir() {
            bail!(
                "{} is a directory, not a recording; pass the .hsr file",
                path.display()
            );
        }
        let reader = Reader::open(path).map_err(|e| store_error(path, e))?;
        Ok(Recording {
            path: path.to_path_buf(),
            reader,
        })
    }

    /// Steps readable in the file.
    pub fn count(&self) -> u64 {
        self.reader.step_count()
    }

    /// Fail unless `step` is held by the recording.
    pub fn check_step(&self, step: u64) -> Result<()> {
        let count = self.count();
        if step >= count {
            bail!("step {step} is out of range: {}", self.holds());
        }
        Ok(())
    }

    /// "FILE holds steps 0 to N" (or "FILE holds no steps"), for messages.
    pub fn holds(&self) -> String {
        let count = self.count();
        let incomplete = match (self.reader.is_complete(), self.reader.damage()) {
            (_, Some(d)) if d.steps_before == count && !self.reader.is_complete() => {
                " (the rest is damaged; `hindsight info` says where)"
            }
            (true, _) => "",
            (false, _) => " (incomplete)",
        };
        if count == 0 {
            format!("{} holds no steps{incomplete}", self.path.display())
        } else {
            format!(
                "{} holds steps 0 to {}{incomplete}",
                self.path.display(),
                count - 1
            )
        }
    }

    /// `--from A --to B` resolved against the recording: `None` when it
    /// holds no steps (nothing to print), an error when out of range.
    pub fn range(&self, from: Option<u64>, to: Option<u64>) -> Result<Option<(u64, u64)>> {
        let count = self.count();
        if let Some(s) = from.into_iter().chain(to).find(|s| *s >= count) {
            bail!("step {s} is out of range: {}", self.holds());
        }
        if count == 0 {
            return Ok(None);
        }
        let (from, to) = (from.unwrap_or(0), to.unwrap_or(count - 1));
        if from > to {
            bail!("--from {from} is after --to {to}; give the first step first");
        }
        Ok(Some((from, to)))
    }

    /// Call `f` on every step's meta in `from..=to`, in order, reading them
    /// in bounded chunks.
    pub fn for_each_meta(
        &self,
        from: u64,
        to: u64,
        mut f: impl FnMut(&StepMeta) -> Result<()>,
    ) -> Result<()> {
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(META_CHUNK - 1));
            let metas = self
                .reader
                .metas(Step(start), Step(end))
                .map_err(|e| store_error(&self.path, e))?;
            for m in &metas {
                f(m)?;
            }
            if end == u64::MAX {
                break;
            }
            start = end + 1;
        }
        Ok(())
    }
}

/// A store error with the file's name in front, unless it names it already.
pub fn store_error(path: &Path, e: StoreError) -> anyhow::Error {
    let name = path.display().to_string();
    if e.to_string().contains(&name) {
        anyhow::Error::new(e)
    } else {
        anyhow::Error::new(e).context(name)
    }
}

/// `STEP EVENT FILE:LINE FUNCTION`.
pub fn meta_line(m: &StepMeta) -> String {
    format!(
        "{} {} {}:{} {}",
        m.step.0,
        m.event.as_str(),
        m.file,
        m.line,
        m.function
    )
}

/// A step's meta as JSON, keys named as in docs/spec/values.md.
pub fn meta_json(m: &StepMeta) -> Value {
    let position = match m.position {
        Some(p) => {
            json!({"line": p.line, "end_line": p.end_line, "col": p.col, "end_col": p.end_col})
        }
        None => Value::Null,
    };
    json!({
        "step": m.step.0,
        "event": m.event.as_str(),
        "thread": m.thread,
        "file": &*m.file,
        "function": &*m.function,
        "line": m.line,
        "position": position,
    })
}
