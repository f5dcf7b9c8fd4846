//! The step index (crate::postings): the postings of the deltas segment
//! a query is at, read when asked. An index that is absent (an older
//! recording, the last steps of a recording cut short) or damaged is no
//! error: the query reads the steps instead, and a damaged one is said
//! once in the log.

use super::*;
use crate::postings::{decode_postings, Postings};
use std::sync::atomic::Ordering;

impl Reader {
    /// Whether the recording has a step index (format 5 and later).
    pub fn has_postings(&self) -> bool {
        !self.postings.is_empty()
    }

    /// The postings of the deltas segment that starts at step `n`; `None`
    /// when no segment starts there, it has no postings, or they are
    /// damaged (logged once per reader).
    pub fn postings_from(&self, n: u64) -> Option<Postings> {
        let i = self.postings.partition_point(|p| p.first_step < n);
        let p = *self.postings.get(i).filter(|p| p.first_step == n)?;
        let read = self
            .segment(p, SegKind::Postings)
            .and_then(|raw| decode_postings(&raw, p.first_step, p.count, p.offset));
        match read {
            Ok(postings) => Some(postings),
            Err(e) => {
                if !self.postings_damaged.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "{}: step index not used where damaged ({e}); those steps are read instead",
                        self.path.display()
                    );
                }
                None
            }
        }
    }

    /// The first step of the deltas segment that holds step `n`.
    pub fn segment_first(&self, n: u64) -> Option<u64> {
        Some(self.deltas[self.delta_index(n)?].first_step)
    }

    /// The last step of the deltas segment that holds step `n`.
    pub fn segment_last(&self, n: u64) -> Option<u64> {
        let d = self.deltas[self.delta_index(n)?];
        Some(d.first_step + u64::from(d.count) - 1)
    }
}
