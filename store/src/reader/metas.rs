//! Step metas without the heap: listing steps (`steps`, `visits`, `info`)
//! decodes each step's `Op::Step` and skips its other ops without keeping
//! them, so a segment of huge nodes costs its raw bytes, not their decoded
//! copies.

use super::*;
use crate::format::{read_stored, FLAG_ZSTD};
use crate::skim::{first_ops, SkimError};

/// The metas of one deltas segment, by its index in the segment table.
pub(super) type Metas = Arc<Vec<StepMeta>>;

impl Reader {
    /// The meta of step `n` (which must be held).
    pub(super) fn step_meta(&self, n: u64) -> Result<StepMeta, StoreError> {
        let di = self.delta_index(n).ok_or_else(|| self.missing(n))?;
        let d = self.deltas[di];
        let i = (n - d.first_step) as usize;
        if let Some((ci, metas)) = self.last_metas.lock().ok().and_then(|g| g.clone()) {
            if ci == di {
                return Ok(metas[i].clone());
            }
        }
        let lost = |e| self.lost_from(e, d.first_step);
        let (frame, stored) =
            read_stored(&self.file, d.offset, self.file_len, &self.path).map_err(lost)?;
        if frame.kind != SegKind::Deltas
            || frame.first_step != d.first_step
            || frame.count != d.count
        {
            let e = StoreError::corrupt(
                format!("expected a Deltas segment for step {}", d.first_step),
                d.offset,
            );
            return Err(lost(e));
        }
        // The count is the frame's, checked against the bytes as they are read.
        let mut metas = Vec::with_capacity((d.count as usize).min(1 << 16));
        let zstd = frame.flags & FLAG_ZSTD != 0;
        let skimmed = first_ops(&stored, zstd, frame.raw_len, d.count, |i, op| {
            let s = d.first_step + i;
            let decoded = decode_scope(MAX_STATE_BYTES, || rmp_serde::from_slice::<Op>(op));
            match decoded {
                Ok(Op::Step(mut m)) => {
                    m.step = Step(s);
                    metas.push(m);
                    Ok(())
                }
                Ok(_) => Err(SkimError::Malformed(format!(
                    "step {s} does not start with its Op::Step"
                ))),
                Err(e) if op.is_empty() => {
                    Err(SkimError::Malformed(format!("step {s} has no ops ({e})")))
                }
                Err(e) => Err(SkimError::Malformed(format!(
                    "step {s} does not decode ({e})"
                ))),
            }
        });
        if let Err(e) = skimmed {
            let s = d.first_step + metas.len() as u64;
            let e = StoreError::corrupt(format!("a deltas segment: {e}"), d.offset);
            return Err(self.lost_from(e, s));
        }
        let metas = Arc::new(metas);
        if let Ok(mut g) = self.last_metas.lock() {
            *g = Some((di, metas.clone()));
        }
        Ok(metas[i].clone())
    }
}
