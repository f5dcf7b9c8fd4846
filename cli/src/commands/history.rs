//! `hindsight history FILE NAME`: the steps at which NAME got bound or its
//! value changed, with the value.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use store::{ObjAddr, State, Step};
use values::render;

use crate::out;
use crate::recording::{store_error, Recording};

/// What NAME is bound to at one step: the object and its repr. A change of
/// either is a change of value (a mutation keeps the id, a rebinding to an
/// equal value keeps the repr).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Binding {
    addr: ObjAddr,
    repr: String,
}

/// NAME in the current frame's locals, else in its globals.
fn lookup(state: &State, name: &str) -> Option<ObjAddr> {
    let find = |names: &[(std::sync::Arc<str>, ObjAddr)]| {
        names
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, a)| *a)
    };
    find(&state.locals).or_else(|| find(&state.globals))
}

/// Tracks one name across consecutive states and says when it changed.
struct Tracker<'a> {
    name: &'a str,
    previous: Option<Binding>,
}

impl Tracker<'_> {
    /// The new binding when NAME at this step is bound and differs from the
    /// step before (being unbound in between counts as a change).
    fn step(&mut self, state: &State) -> Option<Binding> {
        let now = lookup(state, self.name).map(|addr| Binding {
            addr,
            repr: render::repr(state, addr),
        });
        let changed = now.is_some() && now != self.previous;
        self.previous = now;
        if changed {
            self.previous.clone()
        } else {
            None
        }
    }
}

pub fn history(file: &Path, name: &str) -> Result<i32> {
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(None, None)? else {
        return Ok(0);
    };
    let states = rec
        .reader
        .states(Step(from), Step(to))
        .map_err(|e| store_error(file, e))?;
    let mut tracker = Tracker {
        name,
        previous: None,
    };
    let mut o = out::stdout();
    for state in states {
        let state = state.map_err(|e| store_error(file, e))?;
        let Some(b) = tracker.step(&state) else {
            continue;
        };
        if let Some(m) = &state.meta {
            writeln!(
                o,
                "{} {}:{} {} {name} = {}",
                m.step.0, m.file, m.line, m.function, b.repr
            )?;
        }
    }
    o.flush()?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use store::Node;

    fn int(state: &mut State, addr: u64, text: &str) {
        state.heap.insert(
            ObjAddr(addr),
            Node {
                type_name: Arc::from("int"),
                kind: values::kinds::ATOM,
                text: text.into(),
                items: vec![],
                attrs: None,
                truncated: false,
            },
        );
    }

    #[test]
    fn bound_changed_unbound_rebound() {
        let mut t = Tracker {
            name: "x",
            previous: None,
        };
        let mut s = State::default();
        int(&mut s, 1, "1");
        int(&mut s, 2, "2");
        assert_eq!(t.step(&s), None, "unbound: nothing");
        s.globals.push((Arc::from("x"), ObjAddr(1)));
        assert_eq!(t.step(&s).map(|b| b.repr), Some("1".into()), "bound");
        assert_eq!(t.step(&s), None, "unchanged");
        // A local of the same name shadows the global.
        s.locals.push((Arc::from("x"), ObjAddr(2)));
        assert_eq!(t.step(&s).map(|b| b.repr), Some("2".into()));
        // Same id, new repr (a mutation).
        int(&mut s, 2, "3");
        assert_eq!(t.step(&s).map(|b| b.repr), Some("3".into()));
        // Unbound, then bound again to the same object: a change.
        s.locals.clear();
        s.globals.clear();
        assert_eq!(t.step(&s), None);
        s.globals.push((Arc::from("x"), ObjAddr(1)));
        assert_eq!(t.step(&s).map(|b| b.addr), Some(ObjAddr(1)));
    }
}
