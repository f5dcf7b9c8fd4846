//! `--profile NAME`: record only the calls and returns of the function
//! NAME and of the calls made directly inside it (shallow: what its callees
//! call is not recorded). Every call and return of recorded code still
//! stops the program (lines do not: `--profile` records at call
//! granularity); a stack of frames per thread says whether one is NAME's
//! or called directly by NAME's.

use std::collections::HashMap;

use crate::addr::RemoteAddr;

/// Frames kept per thread at most (a program whose returns never come
/// cannot grow it past this: the oldest are let go).
const MAX_DEPTH: usize = 100_000;

/// A frame on a thread's stack, as call and return events show it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    frame: RemoteAddr,
    /// It runs NAME.
    target: bool,
    /// It was called directly by a frame that runs NAME.
    inside: bool,
}

/// Which call and return events of recorded code are steps.
#[derive(Debug)]
pub(crate) struct ProfileFilter {
    name: String,
    stacks: HashMap<u32, Vec<Entry>>,
}

impl ProfileFilter {
    /// The filter of the calls of the function named `name` (as steps name
    /// it).
    pub(crate) fn new(name: &str) -> ProfileFilter {
        ProfileFilter {
            name: name.to_string(),
            stacks: HashMap::new(),
        }
    }

    /// A call event of `frame` running `function` on `thread`: whether it
    /// is recorded.
    pub(crate) fn call(&mut self, thread: u32, frame: RemoteAddr, function: &str) -> bool {
        let stack = self.stacks.entry(thread).or_default();
        let inside = stack.last().is_some_and(|e| e.target);
        let target = function == self.name;
        if stack.len() >= MAX_DEPTH {
            stack.remove(0);
        }
        stack.push(Entry {
            frame,
            target,
            inside,
        });
        target || inside
    }

    /// A return event of `frame` running `function`: whether it is
    /// recorded. A frame whose call was not seen (it started before the
    /// recording) is recorded when it runs NAME.
    pub(crate) fn ret(&mut self, thread: u32, frame: RemoteAddr, function: &str) -> bool {
        let stack = self.stacks.entry(thread).or_default();
        match stack.iter().rposition(|e| e.frame == frame) {
            Some(i) => {
                let e = stack[i];
                // Frames above it left without a return seen (they cannot
                // run on once their caller returned).
                stack.truncate(i);
                e.target || e.inside
            }
            None => function == self.name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_function_and_its_direct_callees_are_recorded() {
        let mut p = ProfileFilter::new("f");
        let a = |n| RemoteAddr(n);
        assert!(!p.call(1, a(1), "<module>"));
        assert!(p.call(1, a(2), "f"));
        assert!(p.call(1, a(3), "g"));
        assert!(!p.call(1, a(4), "h"));
        assert!(!p.ret(1, a(4), "h"));
        assert!(p.ret(1, a(3), "g"));
        // Another thread's stack is its own.
        assert!(!p.call(2, a(5), "g"));
        assert!(p.ret(1, a(2), "f"));
        assert!(!p.call(1, a(6), "g"));
        assert!(p.ret(1, a(9), "f"));
    }
}
