//! [`ProcMem`]: the live target's memory through `process_vm_readv` (batched,
//! tolerant of bad ranges) and writes through `process_vm_writev`, falling
//! back to ptrace word pokes for read-only pages such as code.

use std::io;

use crate::addr::{RemoteAddr, Tid};
use crate::memory::{MemError, Memory, ReadReq, MAX_READ};
use crate::sys::{self, RemoteIov, IOV_MAX};

/// The memory of a traced process.
#[derive(Debug, Clone)]
pub struct ProcMem {
    pid: i32,
}

/// `EFAULT`, the error of a short remote read.
fn efault() -> io::Error {
    io::Error::from_raw_os_error(libc::EFAULT)
}

impl ProcMem {
    /// Memory of process `pid` (the caller must be allowed to ptrace it).
    pub fn new(pid: i32) -> Self {
        ProcMem { pid }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Write bytes: `process_vm_writev` for writable data; for read-only
    /// pages (code) fall back to PTRACE_PEEKDATA/POKEDATA word
    /// read-modify-write through the main thread (which must be
    /// ptrace-stopped; see [`ProcMem::write_via`]).
    pub fn write(&self, addr: RemoteAddr, data: &[u8]) -> Result<(), MemError> {
        self.write_via(Tid(self.pid), addr, data)
    }

    /// [`ProcMem::write`], with the ptrace fallback going through thread
    /// `tid`, which must be ptrace-stopped.
    pub fn write_via(&self, tid: Tid, addr: RemoteAddr, data: &[u8]) -> Result<(), MemError> {
        let err = |source| MemError::Write {
            addr,
            len: data.len(),
            source,
        };
        if data.is_empty() {
            return Ok(());
        }
        if data.len() > MAX_READ {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write too large",
            )));
        }
        if addr.0.checked_add(data.len() as u64).is_none() {
            return Err(err(efault()));
        }
        // process_vm_writev honours page protections, so it stops at the
        // first read-only page: finish the rest with pokes.
        let done = match sys::vm_writev(self.pid, data, addr.0) {
            Ok(n) => n.min(data.len()),
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => 0,
            Err(e) => return Err(err(e)),
        };
        if done == data.len() {
            return Ok(());
        }
        poke_bytes(tid.0, addr.0 + done as u64, &data[done..]).map_err(err)
    }
}

/// Write `data` at `addr` by word read-modify-write with ptrace.
fn poke_bytes(tid: i32, addr: u64, data: &[u8]) -> io::Result<()> {
    let mut pos = 0usize;
    while pos < data.len() {
        let at = addr + pos as u64;
        let take = (data.len() - pos).min(8);
        let word = if take == 8 {
            0
        } else {
            // A partial word: keep the bytes we are not writing.
            sys::ptrace_peek(tid, at)?
        };
        let mut bytes = word.to_ne_bytes();
        bytes[..take].copy_from_slice(&data[pos..pos + take]);
        sys::ptrace_poke(tid, at, u64::from_ne_bytes(bytes))?;
        pos += take;
    }
    Ok(())
}

impl Memory for ProcMem {
    fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let len = buf.len();
        if len == 0 {
            return Ok(());
        }
        if len > MAX_READ {
            return Err(MemError::TooLarge {
                addr,
                len,
                limit: MAX_READ,
            });
        }
        let iov = [RemoteIov { base: addr.0, len }];
        match sys::vm_readv(self.pid, buf, &iov) {
            Ok(n) if n == len => Ok(()),
            Ok(_) => Err(MemError::Read {
                addr,
                len,
                source: efault(),
            }),
            Err(source) => Err(MemError::Read { addr, len, source }),
        }
    }

    fn read_batch(&self, reqs: &[ReadReq], out: &mut [u8], ok: &mut Vec<bool>) {
        ok.clear();
        ok.resize(reqs.len(), false);
        // Output offset of each request; requests that do not fit in `out`
        // (a caller bug) or are over the bound stay not-ok and zero.
        let mut iov: Vec<RemoteIov> = Vec::with_capacity(reqs.len().min(IOV_MAX));
        let mut i = 0usize;
        let mut off = 0usize;
        while i < reqs.len() {
            // Gather up to IOV_MAX consecutive requests into one call.
            iov.clear();
            let first = i;
            let start = off;
            let mut end = off;
            while i < reqs.len() && iov.len() < IOV_MAX {
                let r = reqs[i];
                let fits =
                    r.len <= MAX_READ && end.checked_add(r.len).is_some_and(|e| e <= out.len());
                if !fits {
                    break;
                }
                iov.push(RemoteIov {
                    base: r.addr.0,
                    len: r.len,
                });
                end += r.len;
                i += 1;
            }
            if iov.is_empty() {
                // reqs[i] cannot be served: zero what of it fits, skip it.
                let r = reqs[i];
                let stop = off.saturating_add(r.len).min(out.len());
                out[off.min(stop)..stop].fill(0);
                off = off.saturating_add(r.len);
                i += 1;
                continue;
            }
            let n = match sys::vm_readv(self.pid, &mut out[start..end], &iov) {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    // The process is gone: every range fails.
                    out[start..].fill(0);
                    return;
                }
                // Nothing was readable at the first range (EFAULT) or
                // another failure: zero bytes read, the first range is bad.
                Err(_) => 0,
            };
            // Requests wholly inside the first n bytes are good; the one the
            // read stopped in is bad; resume right after it.
            let mut pos = start;
            let mut k = first;
            while k < i {
                let len = reqs[k].len;
                if pos + len <= start + n {
                    ok[k] = true;
                    pos += len;
                    k += 1;
                } else {
                    out[pos..pos + len].fill(0);
                    pos += len;
                    k += 1;
                    break;
                }
            }
            i = k;
            off = pos;
        }
    }
}
