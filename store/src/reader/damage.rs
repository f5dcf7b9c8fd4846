//! What is left of a damaged recording. A scan stops at the first damaged
//! segment and keeps every step before it; an error met while reading
//! through the index says which steps come before the damage and names a
//! command that reads them (docs/store-format.md, "Damage").

use super::*;

/// Where the scan of a recording stopped at damage: the steps before it
/// are readable, the ones from `steps_before` on are lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged segment (or of the bytes after the footer).
    pub offset: u64,
    /// What was found there.
    pub what: String,
    /// The steps before the damage: steps `0..steps_before` are readable.
    pub steps_before: u64,
}

impl Reader {
    /// The damage the scan stopped at, if it did. A complete file read
    /// through its index has none here: a damaged segment there is found
    /// when it is read, and the error says which steps come before it.
    pub fn damage(&self) -> Option<&Damage> {
        self.damage.as_ref()
    }

    /// End the scan at damage found at `offset`: what came before stays.
    pub(super) fn stop_at_damage(&mut self, e: StoreError, offset: u64) {
        let what = match e {
            StoreError::Corrupt { what, .. } => what,
            other => other.to_string(),
        };
        log::warn!(
            "{}: damaged at byte {offset} ({what}); the {} steps before it are read",
            self.path.display(),
            self.step_count
        );
        self.damage = Some(Damage {
            offset,
            what,
            steps_before: self.step_count,
        });
        // Nothing after damage is trusted, and a refresh must not read it again.
        self.sealed = true;
    }

    /// Why step `s` read from the file cannot be applied: the op error
    /// without the recorder's "please report it" (a file, not the recorder,
    /// is at fault here).
    pub(super) fn unappliable(&self, e: StoreError, s: u64, offset: u64) -> StoreError {
        let why = match e {
            StoreError::BadOps { what, .. } => what,
            other => other.to_string(),
        };
        let e = StoreError::corrupt(format!("step {s} cannot be applied: {why}"), offset);
        self.lost_from(e, s)
    }

    /// `e`, met reading the segment that holds step `first` on, with advice
    /// naming the steps before it and a command that reads them.
    pub(super) fn lost_from(&self, e: StoreError, first: u64) -> StoreError {
        let advice = match first.checked_sub(1).filter(|&last| last >= self.first) {
            Some(last) => format!(
                "steps {} to {last} come before the damage and can be read, for instance with \
                 `hindsight steps {} --to {last}`",
                self.first,
                self.path.display()
            ),
            None => "no step comes before the damage; record the program again".to_string(),
        };
        e.with_advice(advice)
    }
}
