//! Each step's time, `CLOCK_MONOTONIC` nanoseconds: a trapped step's is
//! the probe's time stamp counter when it was called for the step (or,
//! without the probe, the moment its stop is seen); a step the probe took
//! without a trap carries the counter it read then. The counter is
//! converted at each stop from the pair (counter, clock) read there by
//! the tracer, at a rate measured over the whole recording so far; the
//! times given out never go back (docs/store-format.md, "Times").

use crate::sys::{monotonic_ns, rdtsc};

/// A rate measured over less than this many nanoseconds is refined at
/// the start by waiting until it is this long.
const CALIBRATE_NS: u64 = 2_000_000;

/// Turns the probe's counter readings into times, never going back.
pub(crate) struct StepClock {
    /// Whether the counter runs at a constant rate on every core (the
    /// CPU says `constant_tsc` and `nonstop_tsc`); otherwise steps are
    /// timed at their stop.
    tsc: bool,
    /// The first (counter, clock) pair, the one of the stop before this
    /// one and the one of this stop.
    base: (u64, u64),
    prev: (u64, u64),
    now: (u64, u64),
    /// Nanoseconds per tick.
    rate: f64,
    /// The last time given out.
    last: u64,
}

impl StepClock {
    /// A clock measured from now (a 2 ms wait when the counter is used).
    pub(crate) fn new() -> StepClock {
        let tsc = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| {
            c.lines()
                .find(|l| l.starts_with("flags"))
                .is_some_and(|l| l.contains(" constant_tsc") && l.contains(" nonstop_tsc"))
        });
        let base = (rdtsc(), monotonic_ns());
        let mut c = StepClock {
            tsc,
            base,
            prev: base,
            now: base,
            rate: 0.0,
            last: 0,
        };
        if tsc {
            while monotonic_ns() - base.1 < CALIBRATE_NS {
                std::hint::spin_loop();
            }
            c.stop();
        }
        c
    }

    /// A stop is seen: read the pair the steps it reports are converted
    /// with.
    pub(crate) fn stop(&mut self) {
        self.prev = self.now;
        self.now = (rdtsc(), monotonic_ns());
        let (dt, dn) = (
            self.now.0.wrapping_sub(self.base.0),
            self.now.1.saturating_sub(self.base.1),
        );
        if self.tsc && dt > 0 && dt < 1 << 62 && dn >= CALIBRATE_NS {
            self.rate = dn as f64 / dt as f64;
        }
    }

    /// The time of a step whose counter reading was `tsc`, taken since
    /// the stop before this one (`None`: the time of this stop). Not
    /// before the last time given out, not after this stop.
    pub(crate) fn at(&mut self, tsc: Option<u64>) -> u64 {
        let t = match tsc {
            Some(c) if self.tsc && self.rate > 0.0 && self.prev.0 <= c && c <= self.now.0 => {
                let back = (self.now.0 - c) as f64 * self.rate;
                self.now.1.saturating_sub(back as u64)
            }
            _ => self.now.1,
        };
        let t = t
            .clamp(self.last.min(self.now.1), self.now.1)
            .max(self.last);
        self.last = t;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_never_go_back_and_stay_before_the_stop() {
        let mut c = StepClock::new();
        c.stop();
        let first = c.at(None);
        let early = c.at(Some(c.prev.0));
        assert!(early >= first);
        let mid = rdtsc();
        c.stop();
        let t = c.at(Some(mid));
        assert!(t >= early && t <= c.now.1);
        // A reading from after the stop is the stop's time.
        assert_eq!(c.at(Some(u64::MAX)), c.now.1);
    }
}
