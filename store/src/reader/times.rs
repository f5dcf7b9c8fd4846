//! Each step's time (crate::times), from the times segment beside its
//! deltas segment; recordings of format 3 and older, and steps whose
//! segment has none, have no time.

use super::*;
use crate::times::decode_times;

impl Reader {
    /// The `CLOCK_MONOTONIC` nanoseconds at which step `n` happened, when
    /// the recording keeps them (a damaged times segment is logged and
    /// reads as none).
    pub fn time(&self, n: u64) -> Option<u64> {
        let i = self.times.partition_point(|t| t.first_step <= n);
        let ti = i.checked_sub(1)?;
        let t = self.times[ti];
        if n >= t.first_step + u64::from(t.count) {
            return None;
        }
        let k = (n - t.first_step) as usize;
        if let Some((ci, times)) = self.last_times.lock().ok().and_then(|g| g.clone()) {
            if ci == ti {
                return times.get(k).copied();
            }
        }
        let decoded = self
            .segment(t, SegKind::Times)
            .and_then(|raw| decode_times(&raw, t.count, t.offset));
        match decoded {
            Ok(times) => {
                let times = Arc::new(times);
                let got = times.get(k).copied();
                if let Ok(mut g) = self.last_times.lock() {
                    *g = Some((ti, times));
                }
                got
            }
            Err(e) => {
                log::warn!("{}: step times skipped: {e}", self.path.display());
                None
            }
        }
    }

    /// Whether the recording keeps the time of any step.
    pub fn has_times(&self) -> bool {
        !self.times.is_empty()
    }
}
