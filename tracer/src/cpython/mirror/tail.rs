//! What shows that a list cut at the item limit changed past the cut: a
//! list has no version tag (a dict's tells it, `keys::dict_tag`), so the
//! item pointers past the cut are read, in bounded chunks, and hashed with
//! its length ([`TailFp`]). A list keeps the same fingerprint exactly when
//! no item past the cut is another object and its length is the same (up
//! to [`MAX_TAIL_ITEMS`] items past the cut, [`MAX_TAIL_WALK_BYTES`] for
//! all the lists of a step; docs/store-format.md).
//!
//! Only lists longer than the cut pay, at each step they are visited: a
//! read of their pointers past the cut (which joins the next stop's plan,
//! so the probe refreshes it and a change there traps), and their hash
//! unless the memory says the words did not change since the previous
//! stop.

use crate::addr::RemoteAddr;
use crate::memory::Memory;

/// Items past the cut a list's fingerprint covers at most (1 MiB of
/// pointers): with the default cut, lists of up to 141,072 items are
/// compared whole; in a longer one, a change further on that leaves the
/// length as it was is not seen. Every byte of it is read, and compared by
/// the probe, at every step the list is visited: past this, recording a
/// program that holds a list of a million items took a hundred times as
/// long.
pub(super) const MAX_TAIL_ITEMS: usize = 1 << 17;
/// Bytes of pointers past the cut one walk reads at most, over all its
/// lists (two at the bound above); the lists visited after it is spent
/// have no fingerprint at that step and are not compared.
pub(super) const MAX_TAIL_WALK_BYTES: usize = 2 << 20;
/// One read of pointers past the cut: under the stop cache's bound on a
/// read it keeps (and plans again for the next stop).
const CHUNK_BYTES: usize = 512 << 10;

/// What a cut list's items past the cut were: its item array and length
/// (from its header), how many items its node shows, a hash of the
/// pointers past those, and the stop they were read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TailFp {
    pub items: u64,
    pub size: u64,
    pub shown: usize,
    pub hash: u128,
    pub serial: u64,
}

impl TailFp {
    /// Whether `self`, of this step, says the list changed past the cut
    /// since `old`: another length, or other pointers past the cut.
    pub fn changed_since(&self, old: &TailFp) -> bool {
        self.shown == old.shown && (self.size != old.size || self.hash != old.hash)
    }
}

/// A walk's reader of pointers past the cut: its budget and scratch.
#[derive(Default)]
pub(super) struct TailReader {
    spent: usize,
    scratch: Vec<u8>,
}

impl TailReader {
    /// A new walk: the budget is whole again.
    pub fn reset(&mut self) {
        self.spent = 0;
    }

    /// The fingerprint of the exact list whose header is `head` (type,
    /// length, item array) and whose node shows its first `shown` items,
    /// when it has items past them; `old`, the one of its last visit,
    /// stands when the memory tells those words are unchanged since.
    /// `None` when it has none, they could not be read, or the walk's
    /// budget is spent.
    pub fn fingerprint(
        &mut self,
        mem: &dyn Memory,
        head: [u64; 3],
        shown: usize,
        old: Option<TailFp>,
    ) -> Option<TailFp> {
        let size = head[1];
        let past = usize::try_from(size).ok()?.checked_sub(shown)?;
        if past == 0 {
            return None;
        }
        let bytes = past.min(MAX_TAIL_ITEMS) * 8;
        if self.spent + bytes > MAX_TAIL_WALK_BYTES {
            return None;
        }
        self.spent += bytes;
        let start = RemoteAddr(head[2]).offset(shown.checked_mul(8)? as u64)?;
        let serial = mem.stop_serial();
        if let Some(o) = old.filter(|o| o.items == head[2] && o.size == size && o.shown == shown) {
            if o.serial != 0 && mem.unchanged_since(o.serial, start, bytes) {
                return Some(TailFp { serial, ..o });
            }
        }
        let mut h = Hash128::new(size);
        let mut off = 0;
        while off < bytes {
            let len = CHUNK_BYTES.min(bytes - off);
            let at = start.offset(off as u64)?;
            if !mem.view(at, len, &mut self.scratch, &mut |d| h.words(d)) {
                return None;
            }
            off += len;
        }
        if self.scratch.capacity() > CHUNK_BYTES {
            self.scratch = Vec::new();
        }
        Some(TailFp {
            items: head[2],
            size,
            shown,
            hash: h.finish(),
            serial,
        })
    }
}

/// A 128-bit hash of a run of words: two independent multiply-rotate
/// lanes, so that two different runs of pointers agree by chance with a
/// probability far below any other error of the recording.
struct Hash128 {
    a: u64,
    b: u64,
}

impl Hash128 {
    fn new(seed: u64) -> Hash128 {
        Hash128 {
            a: seed ^ 0x243f_6a88_85a3_08d3,
            b: seed.rotate_left(32) ^ 0x1319_8a2e_0370_7344,
        }
    }

    fn words(&mut self, d: &[u8]) {
        for w in d.chunks_exact(8) {
            let w = u64::from_ne_bytes(w.try_into().unwrap_or_default());
            self.a = (self.a ^ w)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
            self.b = (self.b.wrapping_add(w) ^ (self.b >> 31)).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        }
    }

    fn finish(&self) -> u128 {
        let mix = |x: u64| {
            let x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
            x ^ (x >> 33)
        };
        (u128::from(mix(self.a)) << 64) | u128::from(mix(self.b ^ self.a.rotate_left(17)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::testmem::VecMem;

    /// A list's item array at 0x1000: `n` pointers.
    fn items(n: usize, f: impl Fn(usize) -> u64) -> Vec<u8> {
        (0..n).flat_map(|i| f(i).to_ne_bytes()).collect()
    }

    #[test]
    fn a_pointer_or_the_length_past_the_cut_changes_the_fingerprint() {
        let mut r = TailReader::default();
        let n = 30;
        let mem = VecMem::new(items(n, |i| 0x7000 + 16 * i as u64));
        let head = [1, n as u64, 0x1000];
        let a = r.fingerprint(&mem, head, 10, None).unwrap();
        assert_eq!(r.fingerprint(&mem, head, 10, Some(a)), Some(a), "the same");
        assert!(!a.changed_since(&a));
        // The last item another object.
        let mem2 = VecMem::new(items(n, |i| {
            if i == n - 1 {
                0x9990
            } else {
                0x7000 + 16 * i as u64
            }
        }));
        let b = r.fingerprint(&mem2, head, 10, Some(a)).unwrap();
        assert!(b.changed_since(&a));
        // An item before the cut is not this fingerprint's.
        let mem3 = VecMem::new(items(n, |i| {
            if i == 0 {
                0x9990
            } else {
                0x7000 + 16 * i as u64
            }
        }));
        assert!(!r
            .fingerprint(&mem3, head, 10, None)
            .unwrap()
            .changed_since(&a));
        // One more item.
        let mem4 = VecMem::new(items(n + 1, |i| 0x7000 + 16 * i as u64));
        let c = r
            .fingerprint(&mem4, [1, n as u64 + 1, 0x1000], 10, Some(a))
            .unwrap();
        assert!(c.changed_since(&a));
        // Nothing past the cut; unreadable.
        assert_eq!(r.fingerprint(&mem, [1, 10, 0x1000], 10, None), None);
        assert_eq!(r.fingerprint(&mem, [1, 10_000, 0x1000], 10, None), None);
    }

    #[test]
    fn a_walk_reads_a_bounded_amount() {
        let mut r = TailReader::default();
        let mem = VecMem::new(items(20, |i| i as u64));
        let head = [1, 20, 0x1000];
        r.spent = MAX_TAIL_WALK_BYTES - 8 * 10;
        assert!(r.fingerprint(&mem, head, 10, None).is_some());
        assert_eq!(r.fingerprint(&mem, head, 10, None), None, "spent");
        r.reset();
        assert!(r.fingerprint(&mem, head, 10, None).is_some());
    }
}
