//! The log of the steps the probe took without a trap since the last stop:
//! for each, the frame's position words, the watched words it changed
//! (where in the shadow, before, after) and the objects it copied (new
//! occupants of slots); and the words the trapping step changed. With it
//! the tracer puts the shadow back as it was at each logged step
//! ([`Probe::rewind`], [`Probe::replay`]) and decodes that step from it.

use super::*;

/// A watched word a step changed: its offset in the shadow, its value
/// before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordChange {
    /// Offset in the shadow (a multiple of 8).
    pub off: usize,
    /// The value before the step.
    pub old: u64,
    /// The value after it.
    pub new: u64,
}

/// An object the probe copied at a step (a slot pointed to it then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Its address.
    pub addr: RemoteAddr,
    /// The object's own length in bytes (`bytes` may go on past it: the
    /// tracer's window).
    pub objlen: usize,
    /// Its bytes at that step.
    pub bytes: Vec<u8>,
}

/// One step the probe took without a trap.
#[derive(Debug, Clone, Default)]
pub struct LoggedStep {
    /// The two words of the frame's position.
    pub pos: [u64; 2],
    /// The watched words it changed (none: only the position moved).
    pub words: Vec<WordChange>,
    /// The objects its new slot values point to.
    pub caps: Vec<Capture>,
    /// The time stamp counter when the probe was called for it.
    pub tsc: u64,
}

/// Everything the probe logged since the last stop.
#[derive(Debug, Default)]
pub struct Log {
    /// The steps, in order.
    pub steps: Vec<LoggedStep>,
    /// The watched words the trapping refresh changed (empty when no step
    /// was logged).
    pub trap: Vec<WordChange>,
}

/// A type whose objects the probe copies when a slot comes to point at one.
#[derive(Debug, Clone, Copy)]
pub struct CapType {
    /// The type object's address.
    pub addr: RemoteAddr,
    /// How the object's length is found.
    pub len: CapLen,
}

/// How the length of an object the probe copies is found.
#[derive(Debug, Clone, Copy)]
pub enum CapLen {
    /// Always this many bytes.
    Fixed(usize),
    /// `base` + 4 bytes a digit; the digit count is the absolute value of
    /// the signed word at `count` (3.8-3.11 ints).
    SignedDigits { base: usize, count: usize },
    /// `base` + 4 bytes a digit; the digit count is the word at `count`
    /// shifted right by `shift` (3.12+ ints).
    TagDigits {
        base: usize,
        count: usize,
        shift: u32,
    },
}

impl Probe {
    /// Let line steps change slots to objects of `types` (at most
    /// `CAP_TYPES_MAX`) and immutable objects' words without a trap, but
    /// for a word that held one of the types `guards` (the types of
    /// immutable objects: one changing means another kind of object took
    /// an old one's place); `on`
    /// false: only steps that change no watched word go without one.
    pub fn set_capture(
        &mut self,
        on: bool,
        ob_type: usize,
        types: &[CapType],
        guards: &[RemoteAddr],
    ) {
        self.set_word(OFF_CAP_ON, 0);
        for k in 0..GUARD_TYPES_MAX {
            let a = guards.get(k).map_or(0, |a| a.0);
            self.set_word(GUARD_TYPES + 8 * k, a);
        }
        self.set_word(OFF_OB_TYPE, ob_type as u64);
        for k in 0..CAP_TYPES_MAX {
            let e = CAP_TYPES + k * CAP_TYPE_BYTES;
            let words: [u64; 5] = match types.get(k).map(|t| (t.addr.0, t.len)) {
                Some((a, CapLen::Fixed(n))) => [a, 0, 0, n as u64, 0],
                Some((a, CapLen::SignedDigits { base, count })) => {
                    [a, 1, count as u64, base as u64, 0]
                }
                Some((a, CapLen::TagDigits { base, count, shift })) => {
                    [a, 2, count as u64, base as u64, shift as u64]
                }
                None => [0; 5],
            };
            for (i, w) in words.iter().enumerate() {
                self.set_word(e + 8 * i, *w);
            }
        }
        self.set_word(OFF_CAP_ON, on as u64);
    }

    /// The longest immutable object the stop read, from its start: a
    /// changed word of a freed one matters only where a watched word
    /// points that near before it (0: every such change traps).
    pub fn set_frozen_span(&mut self, span: usize) {
        self.set_word(OFF_FROZEN_SPAN, span as u64);
    }

    /// Words of freed immutable objects changed by steps taken without a
    /// trap so far.
    pub fn loose(&self) -> u64 {
        self.word(OFF_LOOSE)
    }

    /// Steps logged with changed words so far.
    pub fn deltas(&self) -> u64 {
        self.word(OFF_DELTAS)
    }

    /// The log since the last stop, into `out` (emptied first); the probe's
    /// log is emptied. Entries are bounded by the log's size: a damaged
    /// count ends the reading there.
    pub fn take_log(&mut self, out: &mut Log) {
        out.steps.clear();
        out.trap.clear();
        let n = (self.word(OFF_LOG_N) as usize).min(LOG_MAX);
        let used = (self.word(OFF_DLOG_USED) as usize).min(DLOG_BYTES / 2);
        self.read_entries(&mut (0, 0), n, used, &mut out.steps);
        if n > 0 {
            let log = &self.ctx()[DLOG..DLOG + DLOG_BYTES];
            let cur = (self.word(OFF_CUR_N) as usize).min(DLOG_BYTES / WORD_REC_BYTES);
            read_words(log, used + ENTRY_HDR, cur, &mut out.trap);
        }
        self.clear_log();
    }

    /// Put each word `changes` names back to its value before (in reverse
    /// order: a word changed twice ends at its first value).
    pub fn rewind(&mut self, changes: &[WordChange]) {
        for c in changes.iter().rev() {
            self.set_shadow_word(c.off, c.old);
        }
    }

    /// Give each word `changes` names its value after.
    pub fn replay(&mut self, changes: &[WordChange]) {
        for c in changes {
            self.set_shadow_word(c.off, c.new);
        }
    }

    /// The word at offset `off` of the shadow (a multiple of 8).
    pub fn shadow_word(&self, off: usize) -> Option<u64> {
        let b = self.shadow().get(off..off + 8)?;
        Some(u64::from_ne_bytes(b.try_into().ok()?))
    }

    /// Set the word at offset `off` of the shadow (outside it: ignored).
    pub fn set_shadow_word(&mut self, off: usize, v: u64) {
        if let Some(b) = self.shadow_mut().get_mut(off..off + 8) {
            b.copy_from_slice(&v.to_ne_bytes());
        }
    }

    /// The dirty flags of the shadow's first `chunks` chunks.
    pub fn dirty_flags(&self, chunks: usize) -> &[u8] {
        let d = self.dirty_view();
        &d[..chunks.min(d.len())]
    }

    /// The dirty flags of the shadow's first chunks, writable (a replayed
    /// step says what it changed there).
    pub fn dirty_flags_mut(&mut self, chunks: usize) -> &mut [u8] {
        if self.replica.in_use() {
            let d = self.replica.dirty_mut();
            let n = chunks.min(d.len());
            return &mut d[..n];
        }
        let end = (DIRTY + chunks).min(WATCH);
        &mut self.ctx_mut()[DIRTY..end]
    }

    /// Whether every word of `[at, at + len)` in the shadow is watched
    /// (read by the last stop that armed a frame).
    pub fn all_watched(&self, at: usize, len: usize) -> bool {
        if len == 0 {
            return true;
        }
        let watch = &self.ctx()[WATCH..SLOT];
        let (first, last) = (at / 8, (at + len).div_ceil(8));
        let bit = |w: usize| watch.get(w / 8).is_some_and(|b| b >> (w % 8) & 1 == 1);
        // Whole bytes of the mask (eight words) at a time between the ends.
        let (head, tail) = (
            first.next_multiple_of(8).min(last),
            (last / 8 * 8).max(first),
        );
        (first..head).all(bit)
            && watch
                .get(head / 8..tail / 8)
                .is_some_and(|b| b.iter().all(|&m| m == 0xff))
            && (tail..last).all(bit)
    }
}

/// The entry at `at` of the log (its first `used` bytes hold entries), and
/// its length.
pub(super) fn read_entry(log: &[u8], at: usize, used: usize) -> Option<(LoggedStep, usize)> {
    let word = |o: usize| -> Option<u64> {
        let b = log.get(at + o..at + o + 8)?;
        Some(u64::from_ne_bytes(b.try_into().ok()?))
    };
    let counts = word(16)?;
    let (nwords, ncaps) = ((counts & 0xffff_ffff) as usize, (counts >> 32) as usize);
    let len = word(24)? as usize;
    if len < ENTRY_HDR || at + len > used || nwords > len / WORD_REC_BYTES {
        return None;
    }
    let mut step = LoggedStep {
        pos: [word(0)?, word(8)?],
        tsc: word(32)?,
        ..LoggedStep::default()
    };
    read_words(log, at + ENTRY_HDR, nwords, &mut step.words);
    let mut c = at + ENTRY_HDR + nwords * WORD_REC_BYTES;
    for _ in 0..ncaps {
        let h = log.get(c..c + CAP_HDR_BYTES)?;
        let addr = u64::from_ne_bytes(h[..8].try_into().ok()?);
        let lens = u64::from_ne_bytes(h[8..].try_into().ok()?);
        let (n, objlen) = ((lens & 0xffff_ffff) as usize, (lens >> 32) as usize);
        let bytes = log.get(c + CAP_HDR_BYTES..c + CAP_HDR_BYTES + n)?;
        step.caps.push(Capture {
            addr: RemoteAddr(addr),
            objlen,
            bytes: bytes.to_vec(),
        });
        c += CAP_HDR_BYTES + n.next_multiple_of(8);
    }
    (c <= at + len).then_some((step, len))
}

/// `n` word records from `at` of the log into `out` (as many as it holds).
fn read_words(log: &[u8], at: usize, n: usize, out: &mut Vec<WordChange>) {
    for i in 0..n {
        let o = at + i * WORD_REC_BYTES;
        let Some(r) = log.get(o..o + WORD_REC_BYTES) else {
            return;
        };
        let w = |k: usize| u64::from_ne_bytes(r[8 * k..8 * k + 8].try_into().unwrap_or_default());
        out.push(WordChange {
            off: w(0) as usize,
            old: w(1),
            new: w(2),
        });
    }
}

impl Probe {
    /// The target address of the shadow word at `off`, and whether the
    /// stop that armed the frame read it as a slot (a pointer the decoders
    /// follow, [`Words::Slots`](crate::memory::Words)).
    pub fn word_at(&self, off: usize) -> Option<(RemoteAddr, bool)> {
        let (r, at) = self
            .placed
            .iter()
            .find(|(r, at)| *at <= off && off < at + r.len)?;
        let slot = self.ctx().get(SLOT + off / 64)? >> (off / 8 % 8) & 1 == 1;
        Some((RemoteAddr(r.addr.0 + (off - at) as u64), slot))
    }

    /// Log (debug, target `tracer::delta`) why a step trapped: each watched
    /// word it changed, its address and what the masks say of it.
    pub fn log_trap_words(&self, words: &[WordChange]) {
        for w in words {
            let bit = |m: usize| self.ctx()[m + w.off / 64] >> (w.off / 8 % 8) & 1 == 1;
            let addr = self
                .placed
                .iter()
                .find(|(r, at)| *at <= w.off && w.off < at + r.len)
                .map_or(0, |(r, at)| r.addr.0 + (w.off - at) as u64);
            log::debug!(target: "tracer::delta", "trap word {addr:#x} slot {} frozen {}: {:#x} -> {:#x}", bit(SLOT), bit(FROZEN), w.old, w.new);
            if bit(FROZEN) {
                let span = self.word(OFF_FROZEN_SPAN);
                for (r, at) in &self.placed {
                    for off in (*at..at + r.len).step_by(8) {
                        let watched = (self.ctx()[WATCH + off / 64]
                            & !self.ctx()[FROZEN + off / 64])
                            >> (off / 8 % 8)
                            & 1
                            == 1;
                        if !watched || off + 8 > SHADOW_BYTES {
                            continue;
                        }
                        let v = u64::from_le_bytes(
                            self.ctx()[SHADOW + off..SHADOW + off + 8]
                                .try_into()
                                .unwrap(),
                        );
                        if v <= addr && addr - v < span {
                            log::debug!(target: "tracer::delta", "  pointed at by {:#x} (span {span})", r.addr.0 + (off - at) as u64);
                        }
                    }
                }
            }
        }
    }
}
