//! `last-write`: the step that was running when the value an expression
//! has at STEP was written.
//!
//! The expression is evaluated at STEP. Its names then belong to STEP's
//! frame (when one of them is a local there) or to its module (when all
//! are globals). The steps that *show* the expression are those of that
//! frame (the same thread, depth, function and file, since the frame's
//! last `call` step: a generator resumed counts as a new call) or of that
//! module (its file). Reading the steps up to STEP once, the last run of
//! showing steps with STEP's value starts at step F; the writer is F-1.
//! With the recording's step index the read starts in a window before
//! STEP instead (two segments back, eight times wider each time it
//! must), and skips the segments that change nothing the expression
//! reads (`skip.rs`): a run that starts at a change seen in the window
//! is the run a read from the first step finds, since what decides a
//! run (the showing step before, the gap since it, a new call) is all
//! after that change; a window in which the value does not change is
//! widened, up to the first step.
//! Between two showing steps other frames may run (a callee, a C call's
//! callback, another module): at those steps the expression is evaluated
//! with the names bound as the frame last showed them, over the heap of
//! the moment, so an item or attribute changed by a callee is found at the
//! callee's step (the writer is then that step minus one).

use std::cell::RefCell;
use std::sync::Arc;

use store::{EventKind, ObjAddr, State, Step, StepMeta};

use crate::error::QueryError;
use crate::eval::{eval, eval_scoped, lookup};
use crate::expr::Expr;
use crate::history::hash_computed;
use crate::replay::Replay;
use crate::skip::{use_index, walk, Interest};
use crate::value::Value;
use crate::watch::Look;

/// The answer of [`last_write`].
#[derive(Debug, Clone)]
pub struct LastWrite {
    /// The step that wrote the value (`None`: the recording's first step
    /// already shows it, so no recorded step wrote it).
    pub writer: Option<StepMeta>,
    /// The first step showing the value (continuously up to STEP).
    pub shown_from: u64,
    /// The value at STEP, and the state at STEP to render it.
    pub value: Value,
    /// The state at STEP.
    pub state: State,
    /// The value before the write, the step it was seen at and the state
    /// to render it; `None` when the expression had no value before (a
    /// name bound for the first time, a new call).
    pub before: Option<(u64, Value, State)>,
}

/// Bindings of the expression's names as a showing step had them.
#[derive(Debug, Clone, Default, PartialEq)]
struct Names {
    locals: Vec<(Arc<str>, ObjAddr)>,
    globals: Vec<(Arc<str>, ObjAddr)>,
}

impl Names {
    fn of(state: &State, names: &[&str]) -> Names {
        let mut out = Names::default();
        for n in names {
            if let Some((a, local)) = lookup(state, n) {
                let list = if local {
                    &mut out.locals
                } else {
                    &mut out.globals
                };
                list.push((Arc::from(*n), a));
            }
        }
        out
    }

    /// Evaluate `expr` in `state` with these bindings instead of the step's.
    fn eval_in(&self, expr: &Expr, state: &mut State) -> Option<Value> {
        let locals = std::mem::replace(&mut state.locals, self.locals.clone());
        let globals = std::mem::replace(&mut state.globals, self.globals.clone());
        let v = eval(expr, state).ok();
        state.locals = locals;
        state.globals = globals;
        v
    }
}

/// Which steps show the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// STEP's frame.
    Frame {
        thread: u32,
        depth: usize,
        function: Arc<str>,
        file: Arc<str>,
    },
    /// STEP's module.
    Module { file: Arc<str> },
}

impl Scope {
    fn shows(&self, state: &State) -> bool {
        let (Some(m), Some(top)) = (&state.meta, state.stack.last()) else {
            return false;
        };
        match self {
            Scope::Frame {
                thread,
                depth,
                function,
                file,
            } => {
                m.thread == *thread
                    && state.stack.len() == *depth
                    && top.function == *function
                    && top.file == *file
            }
            Scope::Module { file } => top.file == *file,
        }
    }
}

/// What the forward read keeps.
#[derive(Default)]
struct Run {
    /// The last showing step: its look (`None`: no value) and bindings.
    prev: Option<(Option<Look>, Names, u64)>,
    /// The look of the value between showing steps, and the step it last changed.
    gap: Option<(Look, u64)>,
    /// The current run of the last value: its first step, writer, and
    /// what was seen before it (step and bindings).
    start: u64,
    writer: Option<u64>,
    before: Option<(u64, Names)>,
    /// No step of the window was read yet: a run that starts at its
    /// first showing step may have started before the window.
    fresh: bool,
    /// The current run started at a change seen in the window (or a new
    /// call): it is the run a read from the first step finds.
    settled: bool,
}

/// The look of a value (its object's fingerprint, or a computed value's hash).
fn look(r: &mut Replay, v: &Value) -> Look {
    match v {
        Value::Obj(a) => r.watch.look(&r.state, *a),
        v => Look::computed(hash_computed(v)),
    }
}

/// Answer `last-write` for `expr` at `step`.
pub fn last_write(reader: &store::Reader, step: u64, expr: &Expr) -> Result<LastWrite, QueryError> {
    let at = reader.state(Step(step))?;
    let ev = eval_scoped(expr, &at).map_err(|err| QueryError::NoValue {
        expr: expr.to_string(),
        step,
        err,
    })?;
    let (Some(meta), Some(top)) = (&at.meta, at.stack.last()) else {
        return Err(QueryError::Usage(format!("step {step} has no frame")));
    };
    let scope = if ev.local {
        Scope::Frame {
            thread: meta.thread,
            depth: at.stack.len(),
            function: top.function.clone(),
            file: top.file.clone(),
        }
    } else {
        Scope::Module {
            file: top.file.clone(),
        }
    };
    let names = expr.names();
    // With the step index, the steps are read from a window before STEP,
    // widened until a change of the value is seen in it (so the run
    // found is the one the whole walk finds); else from the start.
    let windows = use_index() && reader.has_postings();
    let first = reader.first_step();
    // Two segments back at first (a thousand steps as recorded), eight
    // times wider each time.
    let seg = reader.segment_first(step).map_or(1, |f| step - f + 1);
    let mut span: u64 = seg.max(8) * 2;
    let run = loop {
        let from = if windows {
            step.saturating_sub(span).max(first)
        } else {
            first
        };
        let run = window(reader, from, step, expr, &names, &scope)?;
        if run.settled || from <= first {
            break run;
        }
        span = span.saturating_mul(8);
    };
    let writer = match run.writer {
        Some(w) => Some(reader.metas(Step(w), Step(w))?.remove(0)),
        None => None,
    };
    let before = match run.before {
        Some((b, bound)) => {
            let mut st = reader.state(Step(b))?;
            bound.eval_in(expr, &mut st).map(|v| (b, v, st))
        }
        None => None,
    };
    Ok(LastWrite {
        writer,
        shown_from: run.start,
        value: ev.value,
        state: at,
        before,
    })
}

/// Read steps `from` to `step` as [`last_write`] does (`from` the first
/// step, or a step after which a run that starts is found settled).
fn window(
    reader: &store::Reader,
    from: u64,
    step: u64,
    expr: &Expr,
    names: &[&str],
    scope: &Scope,
) -> Result<Run, QueryError> {
    let mut r = Replay::before(reader, from)?;
    let run = RefCell::new(Run {
        fresh: true,
        ..Run::default()
    });
    // What the showing steps, the gaps between them and the values
    // watched depend on: the segments that change none of it are skipped.
    let interest = |r: &Replay| {
        let mut i = Interest::of_expr(&r.state, expr, true);
        i.watched(&r.watch);
        if let Some((_, bound, _)) = &run.borrow().prev {
            // Between showing steps the expression is evaluated with the
            // names the frame last showed: unless they are the step's,
            // all they reach.
            if *bound != Names::of(&r.state, names) {
                for (_, a) in bound.locals.iter().chain(&bound.globals) {
                    i.reach(&r.state, *a);
                }
            }
        }
        Some(i)
    };
    walk(reader, from, step, &mut r, interest, |r, s| {
        let mut run = run.borrow_mut();
        let run = &mut *run;
        r.apply(s, |_| {})?;
        let t = s.meta.step.0;
        let new_call = matches!(&scope, Scope::Frame { .. })
            && s.meta.event == EventKind::Call
            && scope.shows(&r.state);
        if new_call {
            run.prev = None;
            run.gap = None;
            run.fresh = false;
        }
        if scope.shows(&r.state) {
            showing(r, run, expr, names, t);
        } else if let Some((_, bound, _)) = &run.prev {
            let bound = bound.clone();
            if let Some(v) = bound.eval_in(expr, &mut r.state) {
                let l = look(r, &v);
                if run.gap.is_none_or(|(g, _)| g != l) {
                    hold(r, l, run.gap.map(|g| g.0));
                    run.gap = Some((l, t));
                }
            }
        }
        Ok::<_, QueryError>(true)
    })?;
    Ok(run.into_inner())
}

/// Keep `new` watched (its fingerprint cached) and let `old` go.
fn hold(r: &mut Replay, new: Look, old: Option<Look>) {
    r.watch.hold(new.addr);
    if let Some(o) = old {
        r.watch.release(o.addr);
    }
}

/// A step that shows the expression: a new run starts when its value
/// differs from the last showing step's.
fn showing(r: &mut Replay, run: &mut Run, expr: &Expr, names: &[&str], t: u64) {
    let cur = eval(expr, &r.state).ok().map(|v| look(r, &v));
    let bound = Names::of(&r.state, names);
    let prev_look = run.prev.as_ref().and_then(|p| p.0);
    if run.prev.is_none() || prev_look != cur {
        if cur.is_some() {
            run.settled = !(run.fresh && run.prev.is_none());
            run.start = t;
            // Written between the last showing step and this one: by the
            // step before the value's last change seen in between, if the
            // value seen then is this one, else by the step just before.
            let w = match run.gap {
                Some((g, u)) if Some(g) == cur && u < t => u,
                _ => t,
            };
            run.writer = w.checked_sub(1);
            run.before = match &run.prev {
                Some((Some(_), b, s)) => Some((w.saturating_sub(1).max(*s), b.clone())),
                _ => None,
            };
        }
        if let Some(c) = cur {
            hold(r, c, prev_look);
        } else if let Some(p) = prev_look {
            r.watch.release(p.addr);
        }
    }
    if let Some((g, _)) = run.gap.take() {
        r.watch.release(g.addr);
    }
    run.fresh = false;
    run.prev = Some((cur, bound, t));
}
