//! Second looks at a program `attach` hooked by writes where C frames carry
//! `use_tracing` (CPython 3.10-3.11). `_PyEval_EvalFrameDefault` copies the
//! flag from the current C frame into its own when it starts, before it
//! makes its own the current one, and back into the older one when it
//! ends, after it made that one current again. A thread stopped for the
//! hook between those two lines loses what hindsight wrote: the frame it
//! enters, or the frame it returns to, runs untraced, and every frame after
//! it (about one attach in 30 to a loop of tiny calls on 3.10).
//!
//! So a moment after the program runs again, and a few times more, every
//! thread is stopped again for a look ([`Tracee::pause_all`], which keeps
//! any stop a thread makes meanwhile for the stop loop), and a thread state
//! whose current C frame lost the flag gets it again
//! ([`threads::retrace_all`]). Writing while the threads run is not safe: a
//! C frame that stopped being current is a stale slot of the C stack. A
//! look can land in the same window again, so the looks go on until
//! [`QUIET`] in a row found every thread state tracing.
//!
//! [`Tracee::pause_all`]: crate::ptrace::Tracee::pause_all

use std::time::{Duration, Instant};

use super::session::{Hooked, Origin};
use crate::interp::threads;
use crate::ptrace::{TraceError, Tracee};

/// When the first look comes after the program runs again; each look that
/// finds nothing lost doubles the wait for the next.
const FIRST: Duration = Duration::from_millis(20);

/// Looks in a row that find every thread state tracing before they end.
const QUIET: u32 = 4;

/// Bound on looks in all (a thread lost again and again).
const MAX_LOOKS: u32 = 16;

/// The looks still to take at a recording.
pub(crate) struct Looks {
    /// When the next is due; `None`: no more.
    next: Option<Instant>,
    /// Looks in a row that found nothing lost.
    quiet: u32,
    /// Looks taken.
    taken: u32,
}

impl Looks {
    /// The looks at a program hooked as `h` says, which runs again from
    /// `now`: none unless it was seized and hooked by writes on a version
    /// whose C frames carry `use_tracing`.
    pub(crate) fn of(h: &Hooked, now: Instant) -> Looks {
        let needed = matches!(h.origin, Origin::Seized { monitoring: None })
            && h.python.layout.runtime.cframe_use_tracing.is_some();
        Looks {
            next: needed.then(|| now + FIRST),
            quiet: 0,
            taken: 0,
        }
    }

    /// When the next look is due.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Take the next look at `tracee`, hooked as `h` says, if it is due at
    /// `now`; when the next one is due.
    pub(crate) fn take(
        &mut self,
        tracee: &mut Tracee,
        h: &Hooked,
        now: Instant,
    ) -> Result<Option<Instant>, TraceError> {
        if self.next.is_none_or(|t| t > now) {
            return Ok(self.next);
        }
        let paused = tracee.pause_all()?;
        let lost = threads::retrace_all(tracee.mem(), &h.python.layout, h.runtime, h.hook_fn);
        tracee.resume_paused(&paused)?;
        self.taken += 1;
        log::debug!(target: "tracer::attach", "look {} at {} paused threads' states, lost tracing: {lost:?}", self.taken, paused.len());
        match lost {
            Ok(0) => self.quiet += 1,
            Ok(n) => {
                log::info!(target: "tracer::attach", "{n} thread state(s) had lost tracing as they were hooked: switched on again");
                self.quiet = 0;
            }
            Err(e) => {
                log::warn!(target: "tracer::attach", "a thread state's tracing not looked at again: {e}");
                self.quiet += 1;
            }
        }
        self.next = (self.quiet < QUIET && self.taken < MAX_LOOKS)
            .then(|| now + FIRST * 2u32.pow(self.quiet));
        Ok(self.next)
    }
}
