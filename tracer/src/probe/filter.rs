//! The probe's file filter: names of files the recorder does not record,
//! in a table of the probe's context, so that the events of their code
//! (calls, returns, exceptions, lines of frames entered before) return in
//! the target without a trap. The recorder adds a name the first time it
//! traps on code from that file and finds it is not recorded; the probe
//! answers from the name's bytes alone (probe.c, `filtered_out`), so the
//! answer is the one the recorder's filter gave for that very name.
//!
//! The table is written only while a thread is stopped at the trap, which
//! it reaches holding the GIL: no other thread can be in the probe then.

use symbols::Layout;

use super::layout::*;
use super::Probe;

/// FNV-1a (64 bits) of a name: its slot in the table. The same function as
/// probe.c's `fnv1a`.
pub(crate) fn filter_hash(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The offsets the probe follows from a frame to its file's name, from
/// the interpreter's layout; `None` when one it needs is missing.
fn offsets(layout: &Layout) -> Option<[(usize, u64); 8]> {
    let (via, code) = match layout.frame.f_frame {
        // 3.11+: the frame object points at the interpreter's frame.
        Some(f_frame) => (u64::from(f_frame), layout.iframe.f_code?),
        None => (NO_FIELD as u64, layout.frame.f_code?),
    };
    let o = &layout.objects;
    let bit = |b: u32| -> Option<u64> { (b < 32).then(|| 1u64 << b) };
    let ascii_mask = bit(o.unicode_state_compact_bit)? | bit(o.unicode_state_ascii_bit)?;
    Some([
        (OFF_F_FRAME, via),
        (OFF_F_CODE, u64::from(code)),
        (OFF_CO_FILENAME, u64::from(layout.code.co_filename)),
        (OFF_F_TRACE_LINES, u64::from(layout.frame.f_trace_lines)),
        (OFF_STR_STATE, u64::from(o.unicode_state)),
        (OFF_STR_ASCII_MASK, ascii_mask),
        (OFF_STR_LENGTH, u64::from(o.unicode_length)),
        (OFF_STR_DATA, u64::from(o.ascii_size)),
    ])
}

impl Probe {
    /// Turn the file filter on for an interpreter of `layout`; false (and
    /// off) when the layout lacks an offset it follows.
    pub fn enable_filter(&mut self, layout: &Layout) -> bool {
        let Some(offsets) = offsets(layout) else {
            log::info!(target: "tracer::probe", "file filter off: the layout lacks an offset it needs");
            return false;
        };
        for (off, v) in offsets {
            self.set_word(off, v);
        }
        self.set_word(OFF_FILTER_ON, 1);
        true
    }

    /// Put `name` (a file whose code is not recorded) in the filter's table;
    /// false when it cannot go there (not ASCII, too long, no free slot
    /// near its hash): its events keep trapping.
    pub fn filter_out(&mut self, name: &str) -> bool {
        let bytes = name.as_bytes();
        if self.word(OFF_FILTER_ON) == 0
            || !name.is_ascii()
            || bytes.is_empty()
            || bytes.len() > FILTER_NAME_MAX
        {
            return false;
        }
        let h = filter_hash(bytes);
        for i in 0..FILTER_PROBES as u64 {
            let slot = ((h.wrapping_add(i)) % FILTER_SLOTS as u64) as usize;
            let at = FILTER + slot * FILTER_SLOT_BYTES;
            let len = self.word(at) as usize;
            if len == bytes.len() && &self.ctx()[at + 8..at + 8 + len] == bytes {
                return true;
            }
            if len == 0 {
                // The name first, then its length: a slot is never seen
                // with a length and another name's bytes.
                self.ctx_mut()[at + 8..at + 8 + bytes.len()].copy_from_slice(bytes);
                self.set_word(at, bytes.len() as u64);
                return true;
            }
        }
        false
    }

    /// Events the filter answered without a trap so far.
    pub fn filtered(&self) -> u64 {
        self.word(OFF_SKIPPED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_of_known_strings() {
        // The published FNV-1a 64-bit test vectors.
        assert_eq!(filter_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(filter_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(filter_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
