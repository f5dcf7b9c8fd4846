//! Skimming a deltas payload for its steps' metas, as a stream: each step's
//! first op (its `Op::Step`) is copied out and decoded, every other op is
//! skipped byte by byte without being kept, and a compressed payload is
//! decompressed as it is read. Listing steps (`steps`, `visits`, `info`)
//! then costs a few buffers, not the payload (up to 1 GiB, and up to 32768
//! times its compressed size) nor its nodes.
//!
//! The walk of a msgpack value counts the values it still owes instead of
//! recursing, so no nesting in the file can exhaust the stack, and it never
//! allocates for a length read from the file.

use crate::bounds::MAX_TEXT;
use std::io::{self, BufRead, Read};

/// The largest first op kept: an `Op::Step` holds two strings of at most
/// [`MAX_TEXT`] bytes and a few numbers.
const MAX_FIRST_OP: u64 = 2 * MAX_TEXT as u64 + 4096;

/// zstd windows above this are refused (2^24 = 16 MiB; the writer's level
/// 3 uses at most 2^21): a frame may ask its decoder for a window of 2 GiB.
const MAX_WINDOW_LOG: u32 = 24;

/// Why a payload could not be skimmed.
#[derive(Debug, thiserror::Error)]
pub enum SkimError {
    /// The bytes are not what a deltas payload holds.
    #[error("{0}")]
    Malformed(String),
    /// The stream failed (zstd reported damage, or the payload ended early).
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn bad(what: impl Into<String>) -> SkimError {
    SkimError::Malformed(what.into())
}

/// Reads at most `left` bytes of a payload, counting them.
struct Bounded<R> {
    inner: R,
    left: u64,
}

/// A msgpack value of one byte (positive and negative fixints, nil, booleans).
fn single(m: u8) -> bool {
    matches!(m, 0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3)
}

impl<R: BufRead> Bounded<R> {
    /// The buffered bytes, at least one (an early end is an error).
    fn buffered(&mut self) -> Result<&[u8], SkimError> {
        if self.left == 0 {
            return Err(bad("the payload is longer than its frame says"));
        }
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            return Err(SkimError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(buf)
    }

    fn take(&mut self, n: usize) {
        self.inner.consume(n);
        self.left -= n as u64;
    }

    fn byte(&mut self) -> Result<u8, SkimError> {
        let b = self.buffered()?[0];
        self.take(1);
        Ok(b)
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<(), SkimError> {
        if buf.len() as u64 > self.left {
            return Err(bad("the payload is longer than its frame says"));
        }
        self.inner.read_exact(buf)?;
        self.left -= buf.len() as u64;
        Ok(())
    }

    /// Skip a run of up to `max` one-byte values at once (a node's items
    /// are mostly one run): how many were skipped.
    fn skip_singles(&mut self, max: u64) -> Result<u64, SkimError> {
        let buf = self.buffered()?;
        let n = buf
            .iter()
            .take(max.min(buf.len() as u64) as usize)
            .take_while(|&&b| single(b))
            .count();
        self.take(n);
        Ok(n as u64)
    }

    fn be(&mut self, n: usize) -> Result<u64, SkimError> {
        let mut b = [0u8; 8];
        self.exact(&mut b[8 - n..])?;
        Ok(u64::from_be_bytes(b))
    }

    /// Pass `n` bytes on to `keep` (or drop them), never holding more than
    /// a small buffer of them at once.
    fn pass(&mut self, mut n: u64, keep: &mut Option<&mut Vec<u8>>) -> Result<(), SkimError> {
        if n > self.left {
            return Err(bad("a value runs past the end of the payload"));
        }
        if let Some(out) = keep.as_deref() {
            if out.len() as u64 + n > MAX_FIRST_OP {
                return Err(bad(format!(
                    "a step's Op::Step is longer than {MAX_FIRST_OP} bytes"
                )));
            }
        }
        while n > 0 {
            let buf = self.buffered()?;
            let k = n.min(buf.len() as u64) as usize;
            if let Some(out) = keep.as_deref_mut() {
                out.extend_from_slice(&buf[..k]);
            }
            self.take(k);
            n -= k as u64;
        }
        Ok(())
    }

    /// A big-endian length of `n` bytes, copied into `keep` when given.
    fn length(&mut self, n: usize, keep: &mut Option<&mut Vec<u8>>) -> Result<u64, SkimError> {
        let v = self.be(n)?;
        if let Some(out) = keep.as_deref_mut() {
            out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
        }
        Ok(v)
    }

    /// Walk one msgpack value, copying its bytes into `keep` when given.
    fn value(&mut self, mut keep: Option<&mut Vec<u8>>) -> Result<(), SkimError> {
        // Values still owed: each array or map adds its elements.
        let mut owed: u64 = 1;
        while owed > 0 {
            if keep.is_none() && owed > 1 {
                owed -= self.skip_singles(owed - 1)?;
            }
            owed -= 1;
            let m = self.byte()?;
            if let Some(out) = keep.as_deref_mut() {
                if out.len() as u64 >= MAX_FIRST_OP {
                    return Err(bad(format!(
                        "a step's Op::Step is longer than {MAX_FIRST_OP} bytes"
                    )));
                }
                out.push(m);
            }
            let (children, body) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (2 * u64::from(m & 0x0f), 0),
                0x90..=0x9f => (u64::from(m & 0x0f), 0),
                0xa0..=0xbf => (0, u64::from(m & 0x1f)),
                0xcc | 0xd0 => (0, 1),
                0xcd | 0xd1 | 0xd4 => (0, 2),
                0xd5 => (0, 3),
                0xca | 0xce | 0xd2 => (0, 4),
                0xd6 => (0, 5),
                0xcb | 0xcf | 0xd3 => (0, 8),
                0xd7 => (0, 9),
                0xd8 => (0, 17),
                // str8/bin8, str16/bin16, str32/bin32: a length, then bytes.
                0xd9 | 0xc4 => (0, self.length(1, &mut keep)?),
                0xda | 0xc5 => (0, self.length(2, &mut keep)?),
                0xdb | 0xc6 => (0, self.length(4, &mut keep)?),
                // ext8/16/32: a length, then a type byte and the bytes.
                0xc7 => (0, self.length(1, &mut keep)? + 1),
                0xc8 => (0, self.length(2, &mut keep)? + 1),
                0xc9 => (0, self.length(4, &mut keep)? + 1),
                // array16/32, map16/32: a count of values, or of pairs.
                0xdc => (self.length(2, &mut keep)?, 0),
                0xdd => (self.length(4, &mut keep)?, 0),
                0xde => (2 * self.length(2, &mut keep)?, 0),
                0xdf => (2 * self.length(4, &mut keep)?, 0),
                0xc1 => return Err(bad("the reserved msgpack marker 0xc1")),
            };
            // Every value owed takes at least a byte: more than are left
            // is damage, found before anything is read for them.
            owed = owed.saturating_add(children);
            if owed > self.left {
                return Err(bad("a list announces more values than the payload holds"));
            }
            self.pass(body, &mut keep)?;
        }
        Ok(())
    }
}

/// The first op of each of a deltas payload's `count` steps, as msgpack
/// bytes (empty for a step with no ops). `stored` is the payload as stored,
/// decompressed as it is read when `zstd` (to exactly `raw_len` bytes).
pub fn first_ops(
    stored: &[u8],
    zstd: bool,
    raw_len: u32,
    count: u32,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), SkimError>,
) -> Result<(), SkimError> {
    let inner: Box<dyn BufRead + '_> = if zstd {
        let mut d = zstd::stream::read::Decoder::with_buffer(stored)?;
        d.window_log_max(MAX_WINDOW_LOG)?;
        // Values are read from a buffer: one zstd call per 64 KiB, not per value.
        Box::new(io::BufReader::with_capacity(1 << 16, d.single_frame()))
    } else {
        Box::new(stored)
    };
    let mut r = Bounded {
        inner,
        left: u64::from(raw_len),
    };
    let mut head = [0u8; 5];
    r.exact(&mut head)?;
    if head != crate::format::array32_prefix(count) {
        return Err(bad("deltas segment without its step count"));
    }
    let mut op = Vec::new();
    for i in 0..u64::from(count) {
        let m = r.byte()?;
        let ops = match m {
            0x90..=0x9f => u64::from(m & 0x0f),
            0xdc => r.be(2)?,
            0xdd => r.be(4)?,
            _ => return Err(bad(format!("step {i} of the segment is not a list of ops"))),
        };
        if ops > r.left {
            return Err(bad("a step announces more ops than the payload holds"));
        }
        op.clear();
        if ops > 0 {
            r.value(Some(&mut op))?;
        }
        for _ in 1..ops {
            r.value(None)?;
        }
        each(i, &op)?;
    }
    if r.left != 0 {
        return Err(bad(format!(
            "{} bytes after the last step of the payload",
            r.left
        )));
    }
    // The frame's length must be the payload's: nothing may follow it.
    let mut probe = [0u8; 1];
    if r.inner.read(&mut probe)? != 0 {
        return Err(bad("the payload is longer than its frame says"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Node, ObjAddr, Op, Step, StepMeta};

    fn meta(n: u64) -> Op {
        Op::Step(StepMeta {
            step: Step(n),
            event: EventKind::Line,
            thread: 1,
            file: "f.py".into(),
            function: "<module>".into(),
            line: 1,
            position: None,
            value: Some(ObjAddr(9)),
            instruction: None,
        })
    }

    fn payload(steps: &[Vec<Op>]) -> Vec<u8> {
        let mut raw = crate::format::array32_prefix(steps.len() as u32).to_vec();
        for s in steps {
            raw.extend(rmp_serde::to_vec(s).unwrap());
        }
        raw
    }

    #[test]
    fn first_ops_come_out_and_the_rest_is_skipped() {
        let node = Node {
            type_name: "list".into(),
            kind: 2,
            text: "x".repeat(70_000),
            items: vec![ObjAddr(u64::MAX); 70_000],
            attrs: Some(vec![("a".into(), ObjAddr(1))]),
            truncated: false,
        };
        let steps = vec![
            vec![meta(0), Op::HeapSet(ObjAddr(1), node), Op::StackTruncate(0)],
            vec![meta(1)],
            vec![],
        ];
        let raw = payload(&steps);
        let z = zstd::bulk::compress(&raw, 3).unwrap();
        for (stored, zstd) in [(&raw, false), (&z, true)] {
            let mut got = Vec::new();
            first_ops(stored, zstd, raw.len() as u32, 3, |_, b| {
                got.push(if b.is_empty() {
                    None
                } else {
                    Some(rmp_serde::from_slice::<Op>(b).unwrap())
                });
                Ok(())
            })
            .unwrap();
            assert_eq!(got, vec![Some(meta(0)), Some(meta(1)), None]);
            // A frame length one byte off either way is refused.
            for len in [raw.len() - 1, raw.len() + 1] {
                assert!(first_ops(stored, zstd, len as u32, 3, |_, _| Ok(())).is_err());
            }
        }
    }

    #[test]
    fn announced_lengths_are_not_trusted() {
        // A step of 2^32-1 ops, a string of 4 GiB, an array of 4 G values:
        // refused from what is left, without allocating.
        let cases: [&[u8]; 3] = [
            &[0xdd, 0xff, 0xff, 0xff, 0xff],
            &[0x91, 0xdb, 0xff, 0xff, 0xff, 0xff],
            &[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01],
        ];
        // (and a first op of a million one-byte values is cut at its bound)
        for body in cases {
            let mut raw = crate::format::array32_prefix(1).to_vec();
            raw.extend_from_slice(body);
            let e = first_ops(&raw, false, raw.len() as u32, 1, |_, _| Ok(())).unwrap_err();
            assert!(matches!(e, SkimError::Malformed(_)), "{e}");
        }
    }
}
