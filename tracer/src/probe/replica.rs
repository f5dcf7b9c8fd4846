//! The tracer's own copy of the shadow and its dirty flags as the last stop
//! that armed a frame left them. The steps the probe logs are decoded from
//! it (each step's words laid over it in turn) while the probe goes on
//! changing the shared shadow: the tracer decodes them on its own CPU while
//! the program runs, and at the next stop needs no rewinding of the shared
//! one (docs/probe.md).

use super::*;

/// Shadows longer than this are not copied: their logged steps are decoded
/// at the next stop, from the shared shadow rewound (a copy per stop would
/// cost more than it saves).
pub const REPLICA_MAX: usize = 1 << 20;

/// The copy, and whether reads of the shadow go to it.
#[derive(Debug, Default)]
pub(super) struct Replica {
    shadow: Vec<u8>,
    dirty: Vec<u8>,
    /// The copy was taken at the last stop that armed a frame.
    taken: bool,
    in_use: bool,
}

impl Replica {
    /// The copy's shadow and dirty flags while in use.
    pub(super) fn view(&self) -> Option<(&[u8], &[u8])> {
        self.in_use.then_some((&self.shadow[..], &self.dirty[..]))
    }

    pub(super) fn in_use(&self) -> bool {
        self.in_use
    }

    pub(super) fn shadow_mut(&mut self) -> &mut [u8] {
        &mut self.shadow
    }

    pub(super) fn dirty_mut(&mut self) -> &mut [u8] {
        &mut self.dirty
    }
}

impl Probe {
    /// Copy the shadow's bytes the plan places (and room for their dirty
    /// flags) as they are now, at the end of a stop that armed a frame.
    /// False (and no copy) when they are longer than [`REPLICA_MAX`].
    pub fn take_replica(&mut self) -> bool {
        let end = self
            .placed
            .iter()
            .map(|(r, at)| (at + r.len).next_multiple_of(CHUNK))
            .max()
            .unwrap_or(0);
        self.replica.taken = false;
        self.replica.in_use = false;
        if end > REPLICA_MAX || end > SHADOW_BYTES {
            return false;
        }
        let mut shadow = std::mem::take(&mut self.replica.shadow);
        shadow.clear();
        shadow.extend_from_slice(&self.ctx()[SHADOW..SHADOW + end]);
        self.replica.shadow = shadow;
        self.replica.dirty.clear();
        self.replica.dirty.resize(end / CHUNK, 0);
        self.replica.taken = true;
        true
    }

    /// Make reads and writes of the shadow and its dirty flags go to the
    /// copy (`on`), or to the shared memory again. Only with a copy taken.
    pub fn use_replica(&mut self, on: bool) {
        self.replica.in_use = on && self.replica.taken;
    }

    /// Forget the copy (the next stop takes another if it arms a frame).
    pub fn drop_replica(&mut self) {
        self.replica.taken = false;
        self.replica.in_use = false;
    }

    /// The dirty flags reads see: the copy's while it is in use.
    pub(super) fn dirty_view(&self) -> &[u8] {
        match self.replica.view() {
            Some((_, dirty)) => dirty,
            None => &self.ctx()[DIRTY..WATCH],
        }
    }

    /// Steps the probe has logged so far, read as the probe publishes them
    /// (while it runs): the entries before that count are complete.
    pub fn logged_now(&self) -> usize {
        let n = self.map.load_acquire(CODE_BYTES + OFF_LOG_N).unwrap_or(0);
        (n as usize).min(LOG_MAX)
    }

    /// Logged steps `from.0..upto` (entries from byte `from.1` of the log)
    /// appended to `out`, `from` moved past them. Stops at a damaged entry.
    pub fn read_logged(&self, from: &mut (usize, usize), upto: usize, out: &mut Vec<LoggedStep>) {
        self.read_entries(from, upto, DLOG_BYTES / 2, out);
    }

    /// [`Probe::read_logged`], entries ending by byte `used` of the log; a
    /// damaged entry ends the reading (the cursor then at `LOG_MAX`).
    pub(super) fn read_entries(
        &self,
        from: &mut (usize, usize),
        upto: usize,
        used: usize,
        out: &mut Vec<LoggedStep>,
    ) {
        let log = &self.ctx()[DLOG..DLOG + DLOG_BYTES];
        while from.0 < upto.min(LOG_MAX) {
            let Some((step, len)) = steplog::read_entry(log, from.1, used) else {
                log::warn!(target: "tracer::probe", "the probe's log is damaged at byte {}", from.1);
                from.0 = LOG_MAX;
                return;
            };
            out.push(step);
            from.0 += 1;
            from.1 += len;
        }
    }

    /// Empty the probe's log (at a stop: the thread that logs is stopped).
    pub fn clear_log(&mut self) {
        self.set_word(OFF_LOG_N, 0);
        self.set_word(OFF_DLOG_USED, 0);
        self.set_word(OFF_CUR_N, 0);
    }
}
