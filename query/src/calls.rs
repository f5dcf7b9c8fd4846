//! The shallow call profile of one function (`hindsight calls`): for each
//! call of it, its total time and the calls made directly inside it, their
//! times summed by callee, longest first. Built from the steps' events and
//! times alone: a `call` step opens a frame of its thread, a `return` step
//! closes it (a generator's each resumption is a call, each `yield` a
//! return, as the interpreter reports them).

use std::collections::{BTreeSet, HashMap};

use store::{EventKind, Reader, Step, StoreError};

/// One callee of a profiled call: its calls made directly inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callee {
    /// The function called, as steps name it.
    pub function: String,
    /// Its file.
    pub file: String,
    /// How many calls (resumptions, for a generator).
    pub calls: u64,
    /// Their times added up, in nanoseconds (an unfinished call counts up
    /// to the last step recorded).
    pub total_ns: u64,
}

/// One call of the profiled function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    /// Its `call` step.
    pub step: u64,
    /// Its `return` step (`None`: the recording ends inside it).
    pub end_step: Option<u64>,
    /// The thread that ran it.
    pub thread: u32,
    /// Its file.
    pub file: String,
    /// The line of its `call` step.
    pub line: u32,
    /// The time of its `call` step (`CLOCK_MONOTONIC` nanoseconds).
    pub start_ns: u64,
    /// From its `call` step to its `return` step (or to the last step
    /// recorded), in nanoseconds.
    pub total_ns: u64,
    /// Steps recorded from its `call` step to its `return` step, both
    /// included: each added its recording's cost to `total_ns`.
    pub steps: u64,
    /// The calls made directly inside it, summed by callee, longest first.
    pub callees: Vec<Callee>,
}

/// What [`calls`] found: a report per call of the function, in the order
/// the calls started, and the names of every function called in the
/// recording (for a name that matched none).
#[derive(Debug, Default)]
pub struct Calls {
    /// A report per call, in the order they started.
    pub reports: Vec<CallReport>,
    /// Every function a `call` step names.
    pub called: BTreeSet<String>,
}

/// A frame open on a thread's stack.
struct Open {
    function: String,
    file: String,
    /// Steps of its thread before it (its report's `steps` counts from it).
    before: u64,
    time: u64,
    /// The report this frame is the profiled call of.
    report: Option<usize>,
    /// The report of the profiled call this frame was called from directly.
    inside: Option<usize>,
}

/// What one step says, for [`Profiler::step`].
pub struct StepEvent<'a> {
    /// The step's number.
    pub step: u64,
    /// Its thread.
    pub thread: u32,
    /// Its event.
    pub event: EventKind,
    /// Its function, as steps name it.
    pub function: &'a str,
    /// Its file.
    pub file: &'a str,
    /// Its line.
    pub line: u32,
    /// Its time (`CLOCK_MONOTONIC` nanoseconds).
    pub time: u64,
}

/// Sums of one report's callees: (function, file) -> (calls, total).
type Sums = HashMap<(String, String), (u64, u64)>;

/// Frames kept open per thread at most (a recording whose returns never
/// come, such as one attached to a deep stack, cannot grow it past this).
const MAX_DEPTH: usize = 100_000;

/// Builds the reports of the calls of one function, step by step.
pub struct Profiler {
    name: String,
    stacks: HashMap<u32, Vec<Open>>,
    /// Steps seen per thread.
    counts: HashMap<u32, u64>,
    /// The calls of the function still running, by id.
    open: HashMap<usize, (CallReport, Sums)>,
    next_id: usize,
    /// Finished reports, kept for [`Profiler::finish`] unless live.
    done: Vec<CallReport>,
    live: bool,
    called: BTreeSet<String>,
    last: Option<(u64, u64)>,
}

impl Profiler {
    /// A profiler of the calls of the function named `name` that keeps
    /// every report for [`Profiler::finish`].
    pub fn new(name: &str) -> Profiler {
        Profiler {
            name: name.to_string(),
            stacks: HashMap::new(),
            counts: HashMap::new(),
            open: HashMap::new(),
            next_id: 0,
            done: Vec::new(),
            live: false,
            called: BTreeSet::new(),
            last: None,
        }
    }

    /// A profiler that hands each report out as its call ends, keeping
    /// none (memory stays bounded by the calls running).
    pub fn live(name: &str) -> Profiler {
        Profiler {
            live: true,
            ..Profiler::new(name)
        }
    }

    /// Follow one step; returns the report of the call a `return` step
    /// finished, if it finished one.
    pub fn step(&mut self, s: &StepEvent<'_>) -> Option<CallReport> {
        self.last = Some((s.step, s.time));
        let count = self.counts.entry(s.thread).or_default();
        let before = *count;
        *count += 1;
        let stack = self.stacks.entry(s.thread).or_default();
        match s.event {
            EventKind::Call => {
                if !self.called.contains(s.function) {
                    self.called.insert(s.function.to_string());
                }
                let inside = stack.last().and_then(|f| f.report);
                let report = (s.function == self.name).then(|| {
                    let id = self.next_id;
                    self.next_id += 1;
                    let r = CallReport {
                        step: s.step,
                        end_step: None,
                        thread: s.thread,
                        file: s.file.to_string(),
                        line: s.line,
                        start_ns: s.time,
                        total_ns: 0,
                        steps: 1,
                        callees: Vec::new(),
                    };
                    self.open.insert(id, (r, Sums::new()));
                    id
                });
                if stack.len() >= MAX_DEPTH {
                    let f = stack.remove(0);
                    if let Some(id) = f.report {
                        self.open.remove(&id);
                    }
                }
                stack.push(Open {
                    function: s.function.to_string(),
                    file: s.file.to_string(),
                    before,
                    time: s.time,
                    report,
                    inside,
                });
                None
            }
            EventKind::Return => {
                // A return with no call recorded (attached to a running
                // program, or the frame started before recorded code) closes
                // nothing.
                let f = stack.pop()?;
                let took = s.time.saturating_sub(f.time);
                if let Some((_, sums)) = f.inside.and_then(|i| self.open.get_mut(&i)) {
                    let e = sums.entry((f.function, f.file)).or_default();
                    e.0 += 1;
                    e.1 += took;
                }
                let (mut r, sums) = self.open.remove(&f.report?)?;
                r.end_step = Some(s.step);
                r.total_ns = took;
                r.steps = before + 1 - f.before;
                r.callees = sorted(&sums);
                if !self.live {
                    self.done.push(r.clone());
                }
                Some(r)
            }
            _ => None,
        }
    }

    /// The reports, in the order the calls started; calls still open
    /// counted up to the last step.
    pub fn finish(mut self) -> Calls {
        let (_, end) = self.last.unwrap_or_default();
        // Frames still open inside a profiled call count up to the end.
        for stack in self.stacks.values() {
            for f in stack {
                if let Some((_, sums)) = f.inside.and_then(|i| self.open.get_mut(&i)) {
                    let e = sums
                        .entry((f.function.clone(), f.file.clone()))
                        .or_default();
                    e.0 += 1;
                    e.1 += end.saturating_sub(f.time);
                }
            }
        }
        for stack in self.stacks.values() {
            for f in stack {
                if let Some((r, sums)) = f.report.and_then(|i| self.open.remove(&i)) {
                    let mut r = r;
                    let seen = self.counts.get(&r.thread).copied().unwrap_or(0);
                    r.steps = seen - f.before;
                    r.total_ns = end.saturating_sub(r.start_ns);
                    r.callees = sorted(&sums);
                    self.done.push(r);
                }
            }
        }
        self.done.sort_by_key(|r| r.step);
        Calls {
            reports: self.done,
            called: self.called,
        }
    }
}

/// Callees longest first (then by name, so equal times list the same way).
fn sorted(sums: &Sums) -> Vec<Callee> {
    let mut v: Vec<Callee> = sums
        .iter()
        .map(|((function, file), (calls, total))| Callee {
            function: function.clone(),
            file: file.clone(),
            calls: *calls,
            total_ns: *total,
        })
        .collect();
    v.sort_by(|a, b| {
        b.total_ns
            .cmp(&a.total_ns)
            .then_with(|| a.function.cmp(&b.function))
    });
    v
}

/// The calls of the function named `name` (as `steps` names it) in the
/// recording, from its steps' events and times. A step without a time
/// (none recorded) counts as happening at the time of the step before.
pub fn calls(reader: &Reader, name: &str) -> Result<Calls, StoreError> {
    let mut p = Profiler::new(name);
    let count = reader.step_count();
    let first = reader.first_step();
    if count <= first {
        return Ok(p.finish());
    }
    let mut prev = 0;
    reader.scan_steps(Step(first), Step(count - 1), |s| {
        let m = &s.meta;
        let time = reader.time(m.step.0).unwrap_or(prev);
        prev = time;
        p.step(&StepEvent {
            step: m.step.0,
            thread: m.thread,
            event: m.event,
            function: m.function,
            file: m.file,
            line: m.line,
            time,
        });
        Ok::<bool, StoreError>(true)
    })?;
    Ok(p.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(step: u64, event: EventKind, function: &str, time: u64) -> StepEvent<'_> {
        StepEvent {
            step,
            thread: 1,
            event,
            function,
            file: "a.py",
            line: 1,
            time,
        }
    }

    #[test]
    fn callees_are_summed_and_sorted_longest_first() {
        use EventKind::*;
        let mut p = Profiler::new("f");
        let steps = [
            ev(0, Call, "<module>", 0),
            ev(1, Call, "f", 10),
            ev(2, Call, "fast", 11),
            ev(3, Return, "fast", 12),
            ev(4, Call, "slow", 13),
            ev(5, Call, "deep", 14),
            ev(6, Return, "deep", 50),
            ev(7, Return, "slow", 60),
            ev(8, Call, "fast", 61),
            ev(9, Return, "fast", 63),
            ev(10, Return, "f", 70),
        ];
        let mut done = None;
        for s in &steps {
            done = p.step(s).or(done);
        }
        assert_eq!(done.map(|r| r.step), Some(1));
        let c = p.finish();
        let r = &c.reports[0];
        assert_eq!(
            (r.step, r.end_step, r.total_ns, r.steps),
            (1, Some(10), 60, 10)
        );
        let got: Vec<_> = r
            .callees
            .iter()
            .map(|c| (c.function.as_str(), c.calls, c.total_ns))
            .collect();
        // `deep` is not called directly inside `f`: shallow.
        assert_eq!(got, [("slow", 1, 47), ("fast", 2, 3)]);
    }

    #[test]
    fn an_unfinished_call_counts_to_the_last_step() {
        use EventKind::*;
        let mut p = Profiler::new("f");
        for s in [
            ev(0, Call, "f", 5),
            ev(1, Call, "g", 6),
            ev(2, Line, "g", 9),
        ] {
            p.step(&s);
        }
        let c = p.finish();
        assert_eq!(c.reports[0].end_step, None);
        assert_eq!(c.reports[0].total_ns, 4);
        assert_eq!(c.reports[0].callees[0].total_ns, 3);
    }
}
