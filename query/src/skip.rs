//! Walking steps with the recording's step index (`store::postings`):
//! a query says what its answer depends on at the step it has reached
//! (an [`Interest`]: names, the stack's shape, objects), and every deltas
//! segment whose postings name none of it is skipped without reading its
//! ops, since at each of its steps the query would see what it saw at the
//! step before. The replay then jumps to the state after the skipped
//! steps (a checkpoint, where segments are sealed) and goes on.
//!
//! A recording without an index (written before it existed), a segment
//! without postings (a flight recording's first step, the last steps of a
//! recording cut short) or with damaged ones (logged by the reader) is
//! walked step by step, as is everything with `HINDSIGHT_QUERY_FULL_WALK`
//! or `HINDSIGHT_QUERY_NO_INDEX` set.

use std::sync::Arc;

use store::{ObjAddr, PostingKey, Postings, Scope, State, Step, StepView, StoreError};

use crate::eval::eval;
use crate::expr::Expr;
use crate::replay::Replay;
use crate::value::Value;
use crate::watch::{full_walk, Fx, FxMap, Watch};
use values::kinds;

/// A set of addresses hashed with [`Fx`].
type AddrSet = std::collections::HashSet<ObjAddr, std::hash::BuildHasherDefault<Fx>>;

/// Objects an interest follows before it gives up and reads every step
/// (a name bound to something that reaches the whole heap).
const MAX_REACH: usize = 1 << 20;

/// Objects from which an interest is large: when a segment is touched,
/// the next ones are read without computing it, more of them each time.
const LARGE: usize = 4096;

/// The most segments read without computing a large interest.
const MAX_BACKOFF: u32 = 64;

/// What a query's answer depends on at the step reached: a step that
/// changes none of it shows the query nothing new.
#[derive(Default)]
pub struct Interest {
    /// Names, in either scope (a bind, unbind, or clear of their scope).
    names: Vec<Arc<str>>,
    /// The stack's frames and the running thread.
    frames: bool,
    /// Objects (any heap op on them).
    objects: AddrSet,
    /// Lists and tuples of which only some items matter: their indexes,
    /// and whether their length does.
    items: FxMap<ObjAddr, (Vec<u32>, bool)>,
    /// Gave up (too much reached): nothing is skipped.
    all: bool,
}

impl Interest {
    /// An interest in `names` and everything their values reach in
    /// `state`, and in the stack when `frames`.
    pub fn of_names(state: &State, names: &[&str], frames: bool) -> Interest {
        let mut i = Interest {
            names: names.iter().map(|n| Arc::from(*n)).collect(),
            frames,
            ..Interest::default()
        };
        for n in names {
            // Both scopes: a local may appear, hiding the global.
            for (name, a) in state.locals.iter().chain(&state.globals) {
                if &**name == *n {
                    i.reach(state, *a);
                }
            }
        }
        i
    }

    /// An interest in what `expr` evaluates to in `state`: its names, the
    /// objects its evaluation reads (of a list indexed by an int, only
    /// that item's slot), and everything its value and the values it
    /// compares or computes with reach; the stack when `frames`. When the
    /// expression does not evaluate, [`Interest::of_names`].
    pub fn of_expr(state: &State, expr: &Expr, frames: bool) -> Interest {
        let names = expr.names();
        let mut i = Interest {
            names: names.iter().map(|n| Arc::from(*n)).collect(),
            frames,
            ..Interest::default()
        };
        match i.follow(state, expr, true) {
            Some(()) => i,
            None => Interest::of_names(state, &names, frames),
        }
    }

    /// Add what the value of `e` depends on: its identity only (the
    /// bindings and slots that lead to it), or with `whole` everything
    /// it reaches. `None` when a part does not evaluate.
    fn follow(&mut self, state: &State, e: &Expr, whole: bool) -> Option<()> {
        match e {
            Expr::Name(_) | Expr::Lit(_) => {}
            Expr::Attr(base, _) => {
                self.follow(state, base, false)?;
                if let Value::Obj(a) = eval(base, state).ok()? {
                    self.object(a);
                }
            }
            Expr::Index(base, key) => {
                self.follow(state, base, false)?;
                self.follow(state, key, true)?;
                if let Value::Obj(a) = eval(base, state).ok()? {
                    let k = eval(key, state).ok()?.plain(state);
                    match (state.heap.get(&a), k) {
                        (Some(n), Value::Int(i))
                            if matches!(n.kind, kinds::LIST | kinds::TUPLE)
                                && !n.truncated
                                && i >= 0
                                && (i as usize) < n.items.len() =>
                        {
                            self.item(a, i as u32, false);
                        }
                        // A dict's lookup compares its keys' values.
                        _ => self.reach(state, a),
                    }
                }
            }
            Expr::Len(base) => {
                self.follow(state, base, false)?;
                if let Value::Obj(a) = eval(base, state).ok()? {
                    self.item(a, u32::MAX, true);
                }
                return Some(());
            }
            Expr::Compare(first, rest) => {
                self.follow(state, first, true)?;
                for (_, e) in rest {
                    self.follow(state, e, true)?;
                }
                return Some(());
            }
            Expr::Not(e) | Expr::Neg(e) => return self.follow(state, e, true),
            Expr::And(v) | Expr::Or(v) => {
                for e in v {
                    self.follow(state, e, true)?;
                }
                return Some(());
            }
            Expr::Arith(a, _, b) => {
                self.follow(state, a, true)?;
                return self.follow(state, b, true);
            }
        }
        if whole {
            if let Value::Obj(a) = eval(e, state).ok()? {
                self.reach(state, a);
            }
        }
        Some(())
    }

    /// Also item `i` of the list or tuple at `addr` (none: `u32::MAX`),
    /// and its length when `len`.
    fn item(&mut self, addr: ObjAddr, i: u32, len: bool) {
        let e = self.items.entry(addr).or_default();
        if i != u32::MAX {
            e.0.push(i);
        }
        e.1 |= len;
    }

    /// Also every object `addr` reaches in `state` (itself included).
    pub fn reach(&mut self, state: &State, addr: ObjAddr) {
        if self.all || !self.objects.insert(addr) {
            return;
        }
        let mut todo = vec![addr];
        while let Some(a) = todo.pop() {
            let Some(n) = state.heap.get(&a) else {
                continue;
            };
            let attrs = n.attrs.iter().flatten().map(|(_, v)| *v);
            for c in n.items.iter().copied().chain(attrs) {
                if self.objects.insert(c) {
                    todo.push(c);
                }
            }
            if self.objects.len() > MAX_REACH {
                self.all = true;
                return;
            }
        }
    }

    /// Also the object at `addr` alone.
    pub fn object(&mut self, addr: ObjAddr) {
        self.objects.insert(addr);
    }

    /// Also every node a watched value reaches (what its fingerprint and
    /// its marks of changes past a cut follow).
    pub fn watched(&mut self, watch: &Watch) {
        self.objects.extend(watch.owned());
    }

    /// Whether a step of the segment of `p` changes something of it.
    fn touched_by(&self, p: &Postings) -> bool {
        if self.all || (self.frames && p.has(&PostingKey::Frames)) {
            return true;
        }
        for scope in [Scope::Locals, Scope::Globals] {
            if !self.names.is_empty() && p.has(&PostingKey::Clear(scope)) {
                return true;
            }
            if self
                .names
                .iter()
                .any(|n| p.has(&PostingKey::Name(scope, n.clone())))
            {
                return true;
            }
        }
        let whole = if self.objects.len() < 64 {
            self.objects.iter().any(|a| p.has(&PostingKey::Object(*a)))
        } else {
            p.objects().any(|a| self.objects.contains(&a))
        };
        whole
            || self.items.iter().any(|(a, (idx, len))| {
                if !p.has(&PostingKey::Object(*a)) {
                    return false;
                }
                match p.items(*a) {
                    // Set or deleted whole.
                    None => true,
                    Some(ranges) => ranges
                        .iter()
                        .any(|r| (*len && r.resizes()) || idx.iter().any(|i| r.covers(*i))),
                }
            })
    }
}

/// Whether queries use the step index (not with `HINDSIGHT_QUERY_FULL_WALK`
/// or `HINDSIGHT_QUERY_NO_INDEX`, which read every step).
pub fn use_index() -> bool {
    static NO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    !full_walk() && !*NO.get_or_init(|| std::env::var_os("HINDSIGHT_QUERY_NO_INDEX").is_some())
}

/// Call `f` with the replay brought to each step from `from` to `to`
/// inclusive that may show something new (`f` applies the step to the
/// replay itself): after the first step, a deltas segment none of whose
/// steps change what `interest` says at the step reached is skipped
/// (`interest` returns `None` when nothing may be skipped there). `f`
/// returns `Ok(false)` to stop. The replay is not brought past skipped
/// steps at the end of the range.
pub fn walk<E: From<StoreError>>(
    reader: &store::Reader,
    from: u64,
    to: u64,
    r: &mut Replay,
    mut interest: impl FnMut(&Replay) -> Option<Interest>,
    mut f: impl FnMut(&mut Replay, &StepView<'_>) -> Result<bool, E>,
) -> Result<(), E> {
    if !use_index() || !reader.has_postings() {
        return reader.scan_steps(Step(from), Step(to), |s| f(r, s));
    }
    let mut n = from.max(reader.first_step());
    let mut started = false;
    // The interest at the step reached, until another step is read.
    let mut known: Option<Option<Interest>> = None;
    let mut skipped: Vec<ObjAddr> = Vec::new();
    let mut behind = false;
    let (mut read, mut passed) = (0u64, 0u64);
    // A large interest (a value of many nodes) that every segment touches
    // is computed again less often: segments read without looking.
    let (mut wait, mut backoff) = (0u32, 0u32);
    while n <= to {
        if started && wait > 0 {
            wait -= 1;
        } else if started {
            if let Some(p) = reader.postings_from(n).filter(|p| p.end() - 1 <= to) {
                let i = known.get_or_insert_with(|| interest(r));
                if i.as_ref().is_some_and(|i| !i.touched_by(&p)) {
                    skipped.extend(p.objects());
                    behind = true;
                    passed += u64::from(p.count);
                    backoff = 0;
                    n = p.end();
                    continue;
                }
                if i.as_ref().is_some_and(|i| i.objects.len() >= LARGE) {
                    backoff = (backoff * 2).clamp(1, MAX_BACKOFF);
                    wait = backoff;
                }
            }
        }
        if behind {
            let state = reader.state(Step(n - 1))?;
            r.jump(state, skipped.drain(..));
            behind = false;
        }
        let last = reader.segment_last(n).unwrap_or(to).min(to);
        let mut stopped = false;
        reader.scan_steps(Step(n), Step(last), |s| {
            started = true;
            known = None;
            read += 1;
            let go_on = f(r, s)?;
            stopped = !go_on;
            Ok::<_, E>(go_on)
        })?;
        if stopped {
            break;
        }
        n = last + 1;
    }
    log::debug!(target: "query", "step index: {passed} steps skipped, {read} read");
    Ok(())
}

/// Call `f` on each step from `from` to `to` inclusive of the deltas
/// segments whose postings `touched` says may matter (all of them
/// without an index), keeping no state: for a query that reads ops only.
pub fn scan_touching<E: From<StoreError>>(
    reader: &store::Reader,
    from: u64,
    to: u64,
    touched: impl Fn(&Postings) -> bool,
    mut f: impl FnMut(&StepView<'_>) -> Result<bool, E>,
) -> Result<(), E> {
    if !use_index() || !reader.has_postings() {
        return reader.scan_steps(Step(from), Step(to), f);
    }
    let mut n = from.max(reader.first_step());
    let (mut read, mut passed) = (0u64, 0u64);
    while n <= to {
        if let Some(p) = reader.postings_from(n).filter(|p| p.end() - 1 <= to) {
            if !touched(&p) {
                passed += u64::from(p.count);
                n = p.end();
                continue;
            }
        }
        let last = reader.segment_last(n).unwrap_or(to).min(to);
        let mut stopped = false;
        reader.scan_steps(Step(n), Step(last), |s| {
            read += 1;
            let go_on = f(s)?;
            stopped = !go_on;
            Ok::<_, E>(go_on)
        })?;
        if stopped {
            break;
        }
        n = last + 1;
    }
    log::debug!(target: "query", "step index: {passed} steps skipped, {read} read");
    Ok(())
}
