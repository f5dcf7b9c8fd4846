//! Step metas without the heap: listing steps (`steps`, `visits`, `info`)
//! decodes each step's `Op::Step` and skips its other ops without keeping
//! them, so a segment of huge nodes costs its raw bytes, not their decoded
//! copies.

use super::*;

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
        let raw = self.segment(d, SegKind::Deltas).map_err(lost)?;
        let body = raw
            .strip_prefix(&array32_prefix(d.count)[..])
            .ok_or_else(|| {
                lost(StoreError::corrupt(
                    "deltas segment without its step count",
                    d.offset,
                ))
            })?;
        let mut de = rmp_serde::Deserializer::new(body);
        // The count is the frame's, checked against the bytes as they are read.
        let mut metas = Vec::with_capacity((d.count as usize).min(1 << 16));
        for s in d.first_step..d.first_step + u64::from(d.count) {
            let first = decode_scope(MAX_STATE_BYTES, || FirstOp::deserialize(&mut de));
            match first {
                Ok(FirstOp(Some(Op::Step(mut m)))) => {
                    m.step = Step(s);
                    metas.push(m);
                }
                Ok(_) => return Err(self.bad_step(s)),
                Err(e) => {
                    let e =
                        StoreError::corrupt(format!("step {s} does not decode ({e})"), d.offset);
                    return Err(self.lost_from(e, s));
                }
            }
        }
        let metas = Arc::new(metas);
        if let Ok(mut g) = self.last_metas.lock() {
            *g = Some((di, metas.clone()));
        }
        Ok(metas[i].clone())
    }
}
