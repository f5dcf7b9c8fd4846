//! Signals hindsight caught for the program it records: the CLI's signal
//! handling reports them ([`PassOn::caught`]); the stop loop passes them on
//! (`command`) and wakes for them (`waker`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Signals hindsight caught that belong to the program it records: the
/// caller's signal handling reports each with [`PassOn::caught`] (from any
/// thread); `record` passes it on to the program, unless the program got
/// it by itself (a signal to the whole process group).
#[derive(Debug, Default)]
pub struct PassOn {
    caught: Mutex<Vec<(i32, Instant)>>,
    any: AtomicBool,
}

impl PassOn {
    /// Nothing caught yet.
    pub fn new() -> PassOn {
        PassOn::default()
    }

    /// hindsight caught signal `sig`, now.
    pub fn caught(&self, sig: i32) {
        self.lock().push((sig, Instant::now()));
        self.any.store(true, Ordering::SeqCst);
    }

    /// Whether a signal was caught since the last [`PassOn::take`].
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::SeqCst)
    }

    /// The signals caught since the last call, and when.
    pub(crate) fn take(&self) -> Vec<(i32, Instant)> {
        let mut caught = self.lock();
        self.any.store(false, Ordering::SeqCst);
        std::mem::take(&mut *caught)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(i32, Instant)>> {
        self.caught.lock().unwrap_or_else(|p| p.into_inner())
    }
}
