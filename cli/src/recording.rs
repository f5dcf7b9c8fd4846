//! Opening a recording and the checks every reading command shares: step
//! ranges, and the one-line and JSON forms of a step's meta data.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};
use store::{MetaView, Reader, Step, StoreError};

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
        let reader = Reader::open(path).map_err(|e| match e {
            // Nothing of a file that does not open can be read by any
            // command: say so instead of pointing at another one.
            StoreError::Corrupt { .. } => anyhow!(
                "{}: {e}; no command can read this file (a recording cut short by a crash or a \
                 kill stays readable; this one is damaged, or cut inside its header): record \
                 the program again",
                path.display()
            ),
            e => store_error(path, e),
        })?;
        Ok(Recording {
            path: path.to_path_buf(),
            reader,
        })
    }

    /// One past the last step readable in the file.
    pub fn count(&self) -> u64 {
        self.reader.step_count()
    }

    /// The first step the file holds: 0, or a flight recording's first.
    pub fn first(&self) -> u64 {
        self.reader.first_step()
    }

    /// Fail unless `step` is held by the recording.
    pub fn check_step(&self, step: u64) -> Result<()> {
        let count = self.count();
        if step >= count || step < self.first() {
            bail!("step {step} is {}: {}", self.outside(step), self.holds());
        }
        Ok(())
    }

    /// Why a step the file does not hold is not there.
    fn outside(&self, step: u64) -> &'static str {
        if step < self.first() {
            "not in this flight recording (the steps before its first were let go while the program ran)"
        } else {
            "out of range"
        }
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
        if count <= self.first() {
            format!("{} holds no steps{incomplete}", self.path.display())
        } else {
            format!(
                "{} holds steps {} to {}{incomplete}",
                self.path.display(),
                self.first(),
                count - 1
            )
        }
    }

    /// `--from A --to B` resolved against the recording: `None` when it
    /// holds no steps (nothing to print), an error when out of range.
    pub fn range(&self, from: Option<u64>, to: Option<u64>) -> Result<Option<(u64, u64)>> {
        let count = self.count();
        let first = self.first();
        if let Some(s) = from
            .into_iter()
            .chain(to)
            .find(|s| *s >= count || *s < first)
        {
            bail!("step {s} is {}: {}", self.outside(s), self.holds());
        }
        if count <= first {
            return Ok(None);
        }
        let (from, to) = (from.unwrap_or(first), to.unwrap_or(count - 1));
        if from > to {
            bail!("--from {from} is after --to {to}; give the first step first");
        }
        Ok(Some((from, to)))
    }

    /// Call `f` on every step's meta in `from..=to`, in order, read
    /// straight from the deltas (no state is rebuilt; memory stays that of
    /// one segment).
    pub fn for_each_meta(
        &self,
        from: u64,
        to: u64,
        mut f: impl FnMut(&MetaView<'_>) -> Result<()>,
    ) -> Result<()> {
        self.reader
            .scan_steps(Step(from), Step(to), |s| f(&s.meta).map(|()| true))
            .map_err(|e| self.with_path(e))
    }

    /// Put step `step`'s time into a JSON object: `time_ns`, the
    /// `CLOCK_MONOTONIC` nanoseconds at which it happened, and `elapsed`,
    /// the seconds from the first step the recording holds (both null when
    /// the recording keeps no time for it).
    pub fn add_time(&self, step: u64, v: &mut Value) {
        let t = self.reader.time(step);
        let first = self.reader.time(self.reader.first_step());
        let elapsed = match (t, first) {
            (Some(t), Some(f)) => json!(t.saturating_sub(f) as f64 / 1e9),
            _ => Value::Null,
        };
        if let Value::Object(o) = v {
            o.insert("time_ns".into(), json!(t));
            o.insert("elapsed".into(), elapsed);
        }
    }

    /// An error of this recording with its path in front (see [`store_error`]).
    pub fn with_path(&self, e: anyhow::Error) -> anyhow::Error {
        match e.downcast::<StoreError>() {
            Ok(se) => store_error(&self.path, se),
            Err(e) => e,
        }
    }
}

/// A store error with the file's name in front, unless it names it already.
/// Damage met while reading a step of a file that opened: `info` still
/// reads the file, and the steps before the damage are still readable.
pub fn store_error(path: &Path, e: StoreError) -> anyhow::Error {
    let name = path.display().to_string();
    if let StoreError::Corrupt { .. } = e {
        return anyhow!(
            "{name}: {e}; `hindsight info {name}` still reads what the file holds, and the \
             steps before the damage can still be read with `hindsight state`"
        );
    }
    if e.to_string().contains(&name) {
        anyhow::Error::new(e)
    } else {
        anyhow::Error::new(e).context(name)
    }
}

/// Whether step lines name their thread: only when more than one thread
/// ran steps (most programs have one; then it is noise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// One thread: `STEP EVENT FILE:LINE FUNCTION`.
    Hidden,
    /// Several: the line ends in ` [thread TID]`.
    Shown,
}

impl Threads {
    /// From the end record's thread list, or (a recording without one) from
    /// the steps themselves.
    pub fn of(rec: &Recording) -> Result<Threads> {
        let many = match rec.reader.end() {
            Some(end) => end.threads.len() > 1,
            None if rec.count() <= rec.first() => false,
            None => {
                let mut first = None;
                let mut many = false;
                rec.reader
                    .scan_steps(Step(rec.first()), Step(rec.count() - 1), |s| {
                        let t = *first.get_or_insert(s.meta.thread);
                        many = t != s.meta.thread;
                        Ok::<_, anyhow::Error>(!many)
                    })
                    .map_err(|e| rec.with_path(e))?;
                many
            }
        };
        Ok(if many {
            Threads::Shown
        } else {
            Threads::Hidden
        })
    }

    /// A step's line in this form.
    pub fn line(self, m: &MetaView<'_>) -> String {
        match self {
            Threads::Hidden => meta_line(m),
            Threads::Shown => format!("{} [thread {}]", meta_line(m), m.thread),
        }
    }
}

/// `STEP EVENT FILE:LINE FUNCTION`, and on an opcode step
/// ` INSTRUCTION@OFFSET`.
pub fn meta_line(m: &MetaView<'_>) -> String {
    let line = format!(
        "{} {} {}:{} {}",
        m.step.0,
        m.event.as_str(),
        m.file,
        m.line,
        m.function
    );
    match m.instruction {
        Some((name, offset)) => format!("{line} {name}@{offset}"),
        None => line,
    }
}

/// A step's meta as JSON, keys named as in docs/spec/values.md.
pub fn meta_json(m: &MetaView<'_>) -> Value {
    let position = match m.position {
        Some(p) => {
            json!({"line": p.line, "end_line": p.end_line, "col": p.col, "end_col": p.end_col})
        }
        None => Value::Null,
    };
    let mut out = json!({
        "step": m.step.0,
        "event": m.event.as_str(),
        "thread": m.thread,
        "file": m.file,
        "function": m.function,
        "line": values::render::line_json(m.event, m.line),
        "position": position,
    });
    if let (Some((name, offset)), Value::Object(o)) = (m.instruction, &mut out) {
        o.insert(
            "instruction".into(),
            json!({"name": name, "offset": offset}),
        );
    }
    out
}
