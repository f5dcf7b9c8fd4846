//! Decoding a step the probe logged without a trap: the shadow, put back
//! by the recorder as it was at that step (`probe/steplog.rs`), answers the
//! decoders' reads as a stop's would, and the objects the probe copied at
//! that step and before answer reads of their own bytes. Nothing is read
//! from the target (it has moved on since). A read that neither holds (a
//! word the armed stop did not read, so not recorded) is refused and
//! counted: the log cannot say what it held then.

use super::{Inner, Span, StopCache, NOT_SHADOW};
use crate::addr::RemoteAddr;
use crate::memory::Words;
use crate::probe::{Capture, Log, LoggedStep, Probe, CHUNK};

/// The replay under way: the objects copied so far (sorted by address, the
/// latest copy of an address replacing the one before), the shadow offsets
/// of the position words (read, though not watched), and the dirty flags
/// the probe left, put back at the end.
#[derive(Default)]
pub(super) struct Replay {
    pub active: bool,
    caps: Vec<Capture>,
    pos: [usize; 2],
    saved_dirty: Vec<u8>,
    chunks: usize,
    saved_pos: [u64; 2],
    pub misses: u64,
    /// The steps are decoded from the probe's copy of the shadow
    /// ([`StopCache::take_replica`]), not from the shared one rewound.
    live: bool,
}

impl StopCache {
    /// Take the probe's log of the steps taken without a trap since the
    /// last stop, into `out`.
    pub fn take_log(&self, out: &mut Log) {
        if let Some(p) = self.inner.borrow_mut().probe.as_mut() {
            p.take_log(out);
        }
    }

    /// Before the logged steps of `log` are decoded: put the shadow back as
    /// it was at the last stop (every word the log recorded), keeping what
    /// the steps and the trapping refresh left (the position words at
    /// `pos`, the dirty flags) for [`StopCache::replay_finish`]. False when
    /// there is no probe or a position word is not in the shadow.
    pub fn replay_start(&self, log: &Log, pos: [RemoteAddr; 2]) -> bool {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        let Some(p) = s.probe.as_mut() else {
            return false;
        };
        let Some((p0, p1, chunks)) = positions(p, pos) else {
            return false;
        };
        let r = &mut s.replay;
        r.live = false;
        r.caps.clear();
        r.pos = [p0, p1];
        r.chunks = chunks;
        r.saved_pos = [
            p.shadow_word(p0).unwrap_or(0),
            p.shadow_word(p1).unwrap_or(0),
        ];
        r.saved_dirty.clear();
        r.saved_dirty.extend_from_slice(p.dirty_flags(chunks));
        p.rewind(&log.trap);
        for step in log.steps.iter().rev() {
            p.rewind(&step.words);
        }
        true
    }

    /// At the end of a stop that armed a frame (its line steps' position
    /// words at `pos`): copy the shadow, so that the steps the probe logs
    /// can be decoded from the copy while the program runs on (each laid
    /// over it in turn). False (no copy) where that cannot be done: the
    /// steps are then decoded at the next stop, from the shadow rewound.
    pub fn take_replica(&self, pos: [RemoteAddr; 2]) -> bool {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        let Some(p) = s.probe.as_mut() else {
            return false;
        };
        let Some((p0, p1, chunks)) = positions(p, pos) else {
            return false;
        };
        if !p.take_replica() {
            return false;
        }
        let r = &mut s.replay;
        r.caps.clear();
        r.pos = [p0, p1];
        r.chunks = chunks;
        r.live = true;
        true
    }

    /// Steps the probe has logged since the last stop, as far as it has
    /// published them.
    pub fn logged_now(&self) -> usize {
        self.inner
            .borrow()
            .probe
            .as_ref()
            .map_or(0, |p| p.logged_now())
    }

    /// Logged steps from `from` (count, byte) up to `upto`, into `out`.
    pub fn read_logged(&self, from: &mut (usize, usize), upto: usize, out: &mut Vec<LoggedStep>) {
        if let Some(p) = self.inner.borrow().probe.as_ref() {
            p.read_logged(from, upto, out);
        }
    }

    /// The logged steps decoded from the copy are all recorded: forget the
    /// copy and the objects copied, and empty the probe's log (at a stop).
    pub fn replay_finish_live(&self) {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        s.replay.caps.clear();
        s.replay.active = false;
        s.replay.live = false;
        if let Some(p) = s.probe.as_mut() {
            p.use_replica(false);
            p.drop_replica();
            p.clear_log();
        }
    }

    /// Make the shadow (the shared one rewound, or the copy) that of the
    /// logged step `step` (the steps before it made already) and begin a
    /// stop that reads it.
    pub fn replay_begin(&self, step: &LoggedStep) {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        let Some(p) = s.probe.as_mut() else {
            return;
        };
        let r = &mut s.replay;
        p.use_replica(r.live);
        p.replay(&step.words);
        p.set_shadow_word(r.pos[0], step.pos[0]);
        p.set_shadow_word(r.pos[1], step.pos[1]);
        let dirty = p.dirty_flags_mut(r.chunks);
        dirty.fill(0);
        for w in &step.words {
            if let Some(d) = dirty.get_mut(w.off / CHUNK) {
                *d = 1;
            }
        }
        for c in &step.caps {
            match r.caps.binary_search_by_key(&c.addr.0, |x| x.addr.0) {
                Ok(k) => r.caps[k] = c.clone(),
                Err(k) => r.caps.insert(k, c.clone()),
            }
        }
        r.active = true;
        // A stop of its own: what changed since the previous one (the last
        // stop, or the step before) is what this step's words say.
        s.stops += 1;
        s.was_fresh = s.fresh;
        s.fresh = true;
        s.spans.clear();
        s.buf.clear();
        s.touched.clear();
        s.notes.clear();
        for (k, (r, at)) in p.placed().0.iter().enumerate() {
            s.spans.push(Span {
                addr: r.addr.0,
                len: r.len,
                at: *at,
                placed: k as u32,
            });
        }
    }

    /// The logged step is decoded.
    pub fn replay_end(&self) {
        let mut g = self.inner.borrow_mut();
        g.replay.active = false;
        g.spans.clear();
        if let Some(p) = g.probe.as_mut() {
            p.use_replica(false);
        }
    }

    /// Every logged step is decoded: the shadow, its dirty flags and the
    /// position words back as the trapping refresh left them.
    pub fn replay_finish(&self, log: &Log) {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        let Some(p) = s.probe.as_mut() else {
            return;
        };
        let r = &mut s.replay;
        p.replay(&log.trap);
        p.set_shadow_word(r.pos[0], r.saved_pos[0]);
        p.set_shadow_word(r.pos[1], r.saved_pos[1]);
        let n = r.saved_dirty.len();
        p.dirty_flags_mut(n).copy_from_slice(&r.saved_dirty);
        r.caps.clear();
        r.active = false;
    }

    /// The memory a logged step's decode reads: this cache over one that
    /// refuses every read (the target has moved on since: what the log and
    /// the shadow do not hold is not there).
    pub fn logged_mem(&self) -> super::CachedMem<'_> {
        self.mem(&LogOnly)
    }

    /// The target address of the shadow word at `off`, and whether it is a
    /// slot ([`Probe::word_at`]).
    pub fn word_at(&self, off: usize) -> Option<(RemoteAddr, bool)> {
        self.inner.borrow().probe.as_ref()?.word_at(off)
    }

    /// Reads of logged steps that neither the log nor the copies held.
    pub fn replay_misses(&self) -> u64 {
        self.inner.borrow().replay.misses
    }
}

/// The shadow offsets of the two position words at `pos`, and the chunks
/// the plan's ranges take; `None` when a word is not in the shadow.
fn positions(p: &Probe, pos: [RemoteAddr; 2]) -> Option<(usize, usize, usize)> {
    let placed = p.placed().0;
    let at = |a: u64| {
        let i = placed.partition_point(|(r, _)| r.addr.0 <= a);
        let (r, off) = placed.get(i.checked_sub(1)?)?;
        (a + 8 <= r.addr.0 + r.len as u64).then(|| off + (a - r.addr.0) as usize)
    };
    let chunks = placed
        .iter()
        .map(|(r, off)| (off + r.len).div_ceil(CHUNK))
        .max()
        .unwrap_or(0);
    Some((at(pos[0].0)?, at(pos[1].0)?, chunks))
}

impl Inner {
    /// The bytes of `[addr, addr + len)` at the logged step being decoded,
    /// where they are all the shadow's (every word read by the armed stop,
    /// no copied object among them): what [`Inner::replay_read`] would
    /// copy, without the copy. `None` where it would take them elsewhere.
    pub(super) fn replay_view(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let end = addr.checked_add(len as u64)?;
        let caps = &self.replay.caps;
        let j = caps.partition_point(|c| c.addr.0 < end);
        for c in caps[..j].iter().rev() {
            if c.addr.0 + (crate::probe::CAP_OBJ_MAX as u64) < addr {
                break;
            }
            if c.addr.0 + c.objlen as u64 > addr {
                return None;
            }
        }
        let (sp, off) = self.span_of(addr, len)?;
        let p = self.probe.as_ref()?;
        if sp.placed == NOT_SHADOW || !p.all_watched(off, len) {
            return None;
        }
        p.shadow().get(off..off + len)
    }

    /// The bytes of `[addr, addr + buf.len())` at the logged step being
    /// decoded, into `buf`: from the copy of the object they start in, else
    /// from the shadow where the armed stop read every word of them; with
    /// the bytes of every copied object inside laid over either. A copy's
    /// bytes past its object (the window it was copied with) are what they
    /// were at the step it was made: an object made there since (another
    /// freed in its place) and copied at a later step has its own, newer
    /// copy, which wins. False when neither holds them.
    pub(super) fn replay_read(&mut self, addr: u64, buf: &mut [u8]) -> bool {
        let len = buf.len();
        let Some(end) = addr.checked_add(len as u64) else {
            return false;
        };
        let mut ok = false;
        {
            let caps = &self.replay.caps;
            let i = caps.partition_point(|c| c.addr.0 <= addr);
            if let Some(c) = i.checked_sub(1).map(|k| &caps[k]) {
                let off = (addr - c.addr.0) as usize;
                if off < c.objlen && off + len <= c.bytes.len() {
                    buf.copy_from_slice(&c.bytes[off..off + len]);
                    ok = true;
                }
            }
        }
        ok = ok
            || match (self.span_of(addr, len), &self.probe) {
                (Some((sp, off)), Some(p)) if sp.placed != NOT_SHADOW => {
                    let pos = self.replay.pos;
                    let held = p.all_watched(off, len)
                        || (off / 8..(off + len).div_ceil(8))
                            .all(|w| p.all_watched(w * 8, 8) || pos.contains(&(w * 8)));
                    if held {
                        buf.copy_from_slice(&p.shadow()[off..off + len]);
                    }
                    held
                }
                _ => false,
            };
        if !ok {
            return false;
        }
        // Copied objects inside the range: their bytes at this step.
        let caps = &self.replay.caps;
        let j = caps.partition_point(|c| c.addr.0 < end);
        for c in caps[..j].iter().rev() {
            let (a, b) = (c.addr.0.max(addr), (c.addr.0 + c.objlen as u64).min(end));
            if c.addr.0 + (crate::probe::CAP_OBJ_MAX as u64) < addr {
                break;
            }
            if a < b {
                let (src, dst) = ((a - c.addr.0) as usize, (a - addr) as usize);
                let n = (b - a) as usize;
                buf[dst..dst + n].copy_from_slice(&c.bytes[src..src + n]);
            }
        }
        true
    }

    /// Whether every word of `[addr, addr + len)` is one the armed stop
    /// read (so one the log recorded every change of).
    pub(super) fn replay_watched(&self, addr: u64, len: usize) -> bool {
        match (self.span_of(addr, len), &self.probe) {
            (Some((sp, off)), Some(p)) if sp.placed != NOT_SHADOW => p.all_watched(off, len),
            _ => false,
        }
    }

    /// What the decoders said of words they read: kept for the probe's
    /// masks when the stop arms a frame (`arming.rs`).
    pub(super) fn note(&mut self, addr: u64, len: usize, what: Words) {
        if self.probe.is_some() && !self.replay.active && self.notes.len() < MAX_NOTES {
            self.notes.push((addr, len, what));
        }
    }
}

/// Notes kept at most per stop (past it the rest are dropped: their words
/// then make a step trap, as unknown words do).
pub(super) const MAX_NOTES: usize = 1 << 16;

/// The memory behind a logged step's reads ([`StopCache::logged_mem`]).
struct LogOnly;

impl crate::memory::Memory for LogOnly {
    fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), crate::memory::MemError> {
        Err(crate::memory::MemError::Read {
            addr,
            len: buf.len(),
            source: std::io::Error::other("a logged step reads only the probe's log"),
        })
    }

    fn read_batch(&self, reqs: &[crate::memory::ReadReq], out: &mut [u8], ok: &mut Vec<bool>) {
        out.fill(0);
        ok.clear();
        ok.resize(reqs.len(), false);
    }
}
