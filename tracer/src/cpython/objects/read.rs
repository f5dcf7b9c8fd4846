//! Small bounded readers over [`Memory`]: fields out of a byte buffer by
//! layout offset, C strings, and `str` objects as Rust text.
//!
//! A field's offset is a layout field, plain (`u32`) or of some versions only
//! (`Option<u32>`): the readers take both, and read nothing for `None`.

use std::sync::Arc;

use crate::addr::RemoteAddr;
use crate::memory::{MemError, Memory};

/// `u64` at byte `off` of `buf` (`None` when the field is absent or outside).
pub fn u64_at(buf: &[u8], off: impl Into<Option<u32>>) -> Option<u64> {
    let o = off.into()? as usize;
    let b = buf.get(o..o.checked_add(8)?)?;
    Some(u64::from_ne_bytes(b.try_into().ok()?))
}

/// `i64` at byte `off`.
pub fn i64_at(buf: &[u8], off: impl Into<Option<u32>>) -> Option<i64> {
    u64_at(buf, off).map(|v| v as i64)
}

/// `u32` at byte `off`.
pub fn u32_at(buf: &[u8], off: impl Into<Option<u32>>) -> Option<u32> {
    let o = off.into()? as usize;
    let b = buf.get(o..o.checked_add(4)?)?;
    Some(u32::from_ne_bytes(b.try_into().ok()?))
}

/// `u8` at byte `off`.
pub fn u8_at(buf: &[u8], off: impl Into<Option<u32>>) -> Option<u8> {
    buf.get(off.into()? as usize).copied()
}

/// A pointer at byte `off`.
pub fn ptr_at(buf: &[u8], off: impl Into<Option<u32>>) -> Option<RemoteAddr> {
    u64_at(buf, off).map(RemoteAddr)
}

/// Read `len` bytes at `addr`; if that fails (the object may end just before
/// an unmapped page), read the first `min` bytes instead.
pub fn read_upto(
    mem: &dyn Memory,
    addr: RemoteAddr,
    len: usize,
    min: usize,
) -> Result<Vec<u8>, MemError> {
    match mem.read_vec(addr, len) {
        Ok(v) => Ok(v),
        Err(e) if min >= len => Err(e),
        Err(_) => mem.read_vec(addr, min),
    }
}

/// A NUL-terminated C string of at most `max` bytes, read page by page.
pub fn c_string(mem: &dyn Memory, addr: RemoteAddr, max: usize) -> Result<String, MemError> {
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        let to_page = 4096 - (at.0 % 4096) as usize;
        let n = to_page.min(256).min(max - out.len());
        let chunk = mem.read_vec(at, n)?;
        if let Some(z) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..z]);
            return Ok(String::from_utf8_lossy(&out).into_owned());
        }
        out.extend_from_slice(&chunk);
        at = RemoteAddr(at.0.wrapping_add(n as u64));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Code points to Rust text; lone surrogates become U+FFFD.
pub fn chars_to_string(chars: &[u32]) -> Arc<str> {
    let s: String = chars
        .iter()
        .map(|&c| char::from_u32(c).unwrap_or('\u{fffd}'))
        .collect();
    Arc::from(s)
}
