//! Whether and how the steps the probe logs are decoded while the program
//! runs: where the tracer is pinned (beside the program, or on its CPU),
//! and the state of that decoding between two stops (`drain.rs` decodes).

use crate::addr::RemoteAddr;
use crate::probe::prefetch::StopCache;

/// Set (to anything), logged steps are decoded while the program runs, by
/// the tracer on another CPU. Not the default: on a busy machine the traps
/// between CPUs cost more than the decoding beside the program saves
/// (docs/benchmarks.md).
pub const LIVE_KNOB: &str = "HINDSIGHT_LIVE_DRAIN";

/// Where the tracer runs while the program runs on `cpu`: on another CPU
/// when logged steps may be decoded beside the program (the tracer is then
/// pinned there; true returned), else on `cpu` itself, where a trap's round
/// trip is shortest. Says once, on stderr, when no other CPU is there.
pub(crate) fn pin_tracer(cpu: usize, delta: bool) -> bool {
    let other = if delta && std::env::var_os(LIVE_KNOB).is_some() {
        let other = crate::sys::other_cpu(cpu);
        if other.is_none() {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                log::warn!(target: "tracer::record", "one CPU available: the steps the probe logs are decoded while the program waits, not beside it (slower)");
            });
        }
        other
    } else {
        None
    };
    crate::sys::pin_current_thread(other.unwrap_or(cpu));
    other.is_some()
}

/// The decoding of logged steps while the program runs.
#[derive(Default)]
pub(crate) struct LiveDrain {
    /// Whether it may happen at all (asked for with [`LIVE_KNOB`], and a
    /// second CPU there).
    pub(crate) allowed: bool,
    /// The stop that armed a frame copied the shadow: its logged steps are
    /// decoded from the copy.
    pub(crate) replica: bool,
    /// Logged steps recorded so far since that stop: how many, and where
    /// the next one starts in the log.
    pub(super) cursor: (usize, usize),
    /// Kept: no allocation per look.
    pub(super) buf: Vec<crate::probe::LoggedStep>,
}

impl LiveDrain {
    /// A stop armed a frame whose line steps' position words are at `pos`:
    /// copy the shadow, if decoding while the program runs is allowed.
    pub(super) fn armed(&mut self, cache: &StopCache, pos: [RemoteAddr; 2]) {
        self.cursor = (0, 0);
        self.replica = self.allowed && cache.take_replica(pos);
    }

    /// Every step logged since the arming stop is recorded (at a stop).
    pub(super) fn finish(&mut self, cache: &StopCache) {
        cache.replay_finish_live();
        self.replica = false;
        self.cursor = (0, 0);
    }
}
