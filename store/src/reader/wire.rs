//! A bounded MessagePack cursor over a decompressed payload: reads the few
//! shapes rmp-serde writes for the ops (unsigned integers, strings, arrays,
//! one-entry maps for enum variants, nil, booleans) without allocating, and
//! skips any value without decoding it. The step scan (`scan.rs`) reads
//! metas and ops through it instead of deserializing every op: a query over
//! a million steps then costs what it reads, not an allocation per string.
//!
//! Every read is checked against the end of the buffer; a damaged payload
//! gives [`WireError`], never a panic.

/// A payload that does not hold what the cursor expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub &'static str);

/// Result of a cursor read.
pub type Wire<T> = Result<T, WireError>;

/// The deepest nesting [`Cursor::skip`] follows: the ops nest four deep
/// (step, op, node, attrs pair); anything far deeper is damage.
const MAX_NESTING: usize = 64;

/// A position in a MessagePack buffer.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes from `start` to the current position.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.buf[start.min(self.pos)..self.pos]
    }

    /// Whether every byte has been read.
    #[cfg(test)]
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn byte(&mut self) -> Wire<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(WireError("the payload ends inside a value"))?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self, n: usize) -> Wire<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError("a length runs past the end of the payload"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Wire<u64> {
        Ok(self
            .bytes(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn peek(&self) -> Wire<u8> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(WireError("the payload ends inside a value"))
    }

    /// Whether the next value is nil (consumed when it is).
    pub fn nil(&mut self) -> Wire<bool> {
        if self.peek()? == 0xc0 {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// A boolean.
    pub fn bool(&mut self) -> Wire<bool> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(WireError("expected a boolean")),
        }
    }

    /// A non-negative integer, in any of MessagePack's integer forms.
    pub fn uint(&mut self) -> Wire<u64> {
        let m = self.byte()?;
        let v = match m {
            0x00..=0x7f => u64::from(m),
            0xcc => self.be(1)?,
            0xcd => self.be(2)?,
            0xce => self.be(4)?,
            0xcf => self.be(8)?,
            0xd0..=0xd3 => {
                let n = 1usize << (m - 0xd0);
                let raw = self.be(n)?;
                let bits = 8 * n as u32;
                // Sign-extend and refuse negatives.
                if (bits < 64 && (raw >> (bits - 1)) & 1 == 1) || (bits == 64 && (raw as i64) < 0) {
                    return Err(WireError("expected an unsigned integer"));
                }
                raw
            }
            _ => return Err(WireError("expected an integer")),
        };
        Ok(v)
    }

    /// An integer that must fit a `u32`.
    pub fn u32(&mut self) -> Wire<u32> {
        u32::try_from(self.uint()?).map_err(|_| WireError("an integer is out of range"))
    }

    /// A string, borrowed from the payload.
    pub fn str(&mut self) -> Wire<&'a str> {
        let m = self.byte()?;
        let n = match m {
            0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return Err(WireError("expected a string")),
        };
        std::str::from_utf8(self.bytes(n)?).map_err(|_| WireError("a string is not UTF-8"))
    }

    /// An array's length.
    pub fn array(&mut self) -> Wire<u32> {
        let m = self.byte()?;
        Ok(match m {
            0x90..=0x9f => u32::from(m & 0x0f),
            0xdc => self.be(2)? as u32,
            0xdd => self.be(4)? as u32,
            _ => return Err(WireError("expected an array")),
        })
    }

    /// An array that must have exactly `n` items.
    pub fn array_of(&mut self, n: u32) -> Wire<()> {
        if self.array()? != n {
            return Err(WireError("an array has the wrong number of fields"));
        }
        Ok(())
    }

    /// An enum variant as rmp-serde writes it: a unit variant is its name,
    /// any other a one-entry map from its name to its value (left for the
    /// caller to read). Returns the name and whether a value follows.
    pub fn variant(&mut self) -> Wire<(&'a str, bool)> {
        match self.peek()? {
            0x81 => {
                self.pos += 1;
                Ok((self.str()?, true))
            }
            _ => Ok((self.str()?, false)),
        }
    }

    /// Skip one value of any type, without recursion.
    pub fn skip(&mut self) -> Wire<()> {
        // Values still to skip at each open level (on the stack: skipping
        // is the hot path of a scan).
        let mut pending = [0u64; MAX_NESTING];
        pending[0] = 1;
        let mut depth = 1usize;
        while depth > 0 {
            if pending[depth - 1] == 0 {
                depth -= 1;
                continue;
            }
            pending[depth - 1] -= 1;
            let m = self.byte()?;
            let (skip, nested): (usize, u64) = match m {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
                0x80..=0x8f => (0, 2 * u64::from(m & 0x0f)),
                0x90..=0x9f => (0, u64::from(m & 0x0f)),
                0xa0..=0xbf => (usize::from(m & 0x1f), 0),
                0xc4 | 0xd9 => (self.be(1)? as usize, 0),
                0xc5 | 0xda => (self.be(2)? as usize, 0),
                0xc6 | 0xdb => (self.be(4)? as usize, 0),
                0xc7 => (self.be(1)? as usize + 1, 0),
                0xc8 => (self.be(2)? as usize + 1, 0),
                0xc9 => (self.be(4)? as usize + 1, 0),
                0xca | 0xce | 0xd2 => (4, 0),
                0xcb | 0xcf | 0xd3 => (8, 0),
                0xcc | 0xd0 => (1, 0),
                0xcd | 0xd1 => (2, 0),
                0xd4 => (2, 0),
                0xd5 => (3, 0),
                0xd6 => (5, 0),
                0xd7 => (9, 0),
                0xd8 => (17, 0),
                0xdc => (0, self.be(2)?),
                0xdd => (0, self.be(4)?),
                0xde => (0, 2 * self.be(2)?),
                0xdf => (0, 2 * self.be(4)?),
                0xc1 => return Err(WireError("a reserved MessagePack marker")),
            };
            self.bytes(skip)?;
            if nested > 0 {
                // Each nested value takes at least a byte: a count larger
                // than what is left is damage, found before looping on it.
                if nested > (self.buf.len() - self.pos) as u64 {
                    return Err(WireError("a length runs past the end of the payload"));
                }
                if depth >= MAX_NESTING {
                    return Err(WireError("values nest too deep"));
                }
                pending[depth] = nested;
                depth += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_rmp_serde_writes() {
        let v: (u64, u32, String, Vec<u8>, Option<u8>, bool) =
            (u64::MAX, 70_000, "é".repeat(40), vec![1, 2, 3], None, true);
        let bytes = rmp_serde::to_vec(&v).unwrap();
        let mut c = Cursor::new(&bytes);
        c.array_of(6).unwrap();
        assert_eq!(c.uint().unwrap(), u64::MAX);
        assert_eq!(c.u32().unwrap(), 70_000);
        assert_eq!(c.str().unwrap(), "é".repeat(40));
        let start = c.pos();
        c.skip().unwrap();
        assert_eq!(c.since(start), &[0x93, 1, 2, 3]);
        assert!(c.nil().unwrap());
        assert!(c.bool().unwrap());
        assert!(c.at_end());
    }

    #[test]
    fn damage_is_an_error() {
        for bad in [
            &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
            &[0xd9, 10, b'a'],
            &[0xc1],
            &[0x92, 0x01],
        ] {
            assert!(Cursor::new(bad).skip().is_err(), "{bad:02x?}");
        }
        assert!(Cursor::new(&[0xd0, 0xff]).uint().is_err(), "negative");
        assert!(Cursor::new(&[0xa2, 0xff, 0xfe]).str().is_err(), "not UTF-8");
        let deep = vec![0x91u8; 1000];
        assert!(Cursor::new(&deep).skip().is_err());
    }
}
