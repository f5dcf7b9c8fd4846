//! Reads shared by the calls of one stop: `Decoder::frame_code` and the
//! snapshot that follows it read the same frame, interpreter frame and code
//! header; the second call gets them from here instead of the target.

use std::cell::RefCell;

use crate::addr::RemoteAddr;
use crate::mem::{MemError, Memory, ReadReq};

/// Bound on the reads kept for one stop (frame_code makes three).
const MAX_KEPT: usize = 8;
/// Bound on one kept read's size.
const MAX_KEPT_LEN: usize = 8192;

/// The reads made at one stop, for the frame they were made for.
#[derive(Default)]
pub(crate) struct StopReads {
    frame: Option<RemoteAddr>,
    reads: RefCell<Vec<(RemoteAddr, Vec<u8>)>>,
}

impl StopReads {
    /// Start recording the reads made for `frame` (forgetting older ones).
    pub fn begin(&mut self, frame: RemoteAddr) {
        self.frame = Some(frame);
        self.reads.get_mut().clear();
    }

    /// Forget everything: the target ran, or was written to.
    pub fn forget(&mut self) {
        self.frame = None;
        self.reads.get_mut().clear();
    }

    /// Whether the reads kept were made for `frame` at this stop.
    pub fn is_for(&self, frame: RemoteAddr) -> bool {
        self.frame == Some(frame)
    }
}

/// [`Memory`] that keeps its reads in a [`StopReads`] (`record`) or answers
/// reads of exactly the same range from it (replay).
pub(crate) struct StopMem<'a> {
    pub inner: &'a dyn Memory,
    pub kept: &'a StopReads,
    pub record: bool,
}

impl Memory for StopMem<'_> {
    fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), MemError> {
        if self.record {
            self.inner.read(addr, buf)?;
            let mut reads = self.kept.reads.borrow_mut();
            if reads.len() < MAX_KEPT && buf.len() <= MAX_KEPT_LEN {
                reads.push((addr, buf.to_vec()));
            }
            return Ok(());
        }
        let reads = self.kept.reads.borrow();
        match reads
            .iter()
            .find(|(a, d)| *a == addr && d.len() == buf.len())
        {
            Some((_, d)) => {
                buf.copy_from_slice(d);
                Ok(())
            }
            None => self.inner.read(addr, buf),
        }
    }

    fn read_batch(&self, reqs: &[ReadReq], out: &mut [u8], ok: &mut Vec<bool>) {
        self.inner.read_batch(reqs, out, ok)
    }
}
