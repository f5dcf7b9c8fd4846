//! Finding the segments of a recording: from the footer and index of a
//! complete file, or by scanning its frames one by one when the writer is
//! still running or was killed.

use super::*;
use crate::bounds::Charged;

impl Reader {
    /// Use the footer and index of a complete file. `Ok(false)`: there is no
    /// footer (incomplete file).
    pub(super) fn read_index(&mut self, data_start: u64) -> Result<bool, StoreError> {
        let footer_len = FRAME_LEN + FOOTER_PAYLOAD_LEN;
        if self.file_len < data_start + footer_len {
            return Ok(false);
        }
        let at = self.file_len - footer_len;
        let mut fb = [0u8; FRAME_LEN as usize];
        read_exact(&self.file, at, &mut fb, &self.path)?;
        let frame = match parse_frame(&fb, at) {
            Ok(f) if f.kind == SegKind::Footer => f,
            _ => return Ok(false),
        };
        let mut payload = [0u8; FOOTER_PAYLOAD_LEN as usize];
        read_exact(&self.file, at + FRAME_LEN, &mut payload, &self.path)?;
        if u64::from(frame.stored_len) != FOOTER_PAYLOAD_LEN || !check_crc(&fb, &frame, &payload) {
            return Ok(false);
        }
        let index_at = le_u64(&payload[0..8]);
        let end_at = le_u64(&payload[8..16]);
        let steps = frame.first_step;
        let (_, raw) = read_kind(&self.file, index_at, at, &self.path, SegKind::Index)?;
        let Charged(entries): Charged<IndexEntry> = from_msgpack(&raw, "the index", index_at)?;
        let (_, raw) = read_kind(&self.file, end_at, index_at, &self.path, SegKind::End)?;
        let end: RecordingEnd = from_msgpack(&raw, "the end record", end_at)?;
        let mut prev_end = data_start;
        for e in &entries {
            let bad = || StoreError::corrupt("the index does not match the segments", index_at);
            let kind = SegKind::from_u8(e.kind).ok_or_else(bad)?;
            if e.offset < prev_end {
                return Err(bad());
            }
            prev_end = e.offset.saturating_add(FRAME_LEN + u64::from(e.stored_len));
            if prev_end > index_at {
                return Err(bad());
            }
            self.add_segment(kind, e.first_step, e.count, e.offset)?;
        }
        if self.step_count != steps {
            return Err(StoreError::corrupt(
                format!(
                    "the index covers {} steps, the footer says {steps}",
                    self.step_count
                ),
                at,
            ));
        }
        self.end = Some(end);
        self.sealed = true;
        self.scanned_to = self.file_len;
        Ok(true)
    }

    /// Walk the segment frames from `scanned_to`, adding every complete
    /// segment; stop quietly at a torn last segment, and at the first
    /// damaged one with what came before it kept ([`Reader::damage`]).
    pub(super) fn scan(&mut self) -> Result<(), StoreError> {
        while self.scanned_to < self.file_len && !self.sealed {
            let off = self.scanned_to;
            match self.scan_one(off) {
                Ok(Some(end)) => self.scanned_to = end,
                Ok(None) => break,
                Err(e @ StoreError::Corrupt { .. }) => {
                    let at = match &e {
                        StoreError::Corrupt { offset, .. } => *offset,
                        _ => off,
                    };
                    self.stop_at_damage(e, at);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Read and add the segment at `off`; `Ok(None)` at a torn tail, else
    /// where the next segment starts.
    fn scan_one(&mut self, off: u64) -> Result<Option<u64>, StoreError> {
        let mut fb = [0u8; FRAME_LEN as usize];
        let got = read_up_to(&self.file, off, &mut fb, &self.path)?;
        if (got as u64) < FRAME_LEN {
            log::info!("{}: torn frame at {off} ignored", self.path.display());
            return Ok(None);
        }
        let frame = parse_frame(&fb, off)?;
        let end = off + frame.total_len();
        if end > self.file_len {
            log::info!("{}: torn segment at {off} ignored", self.path.display());
            return Ok(None);
        }
        let mut stored = vec![0u8; frame.stored_len as usize];
        read_exact(&self.file, off + FRAME_LEN, &mut stored, &self.path)?;
        if !check_crc(&fb, &frame, &stored) {
            if end == self.file_len {
                log::info!(
                    "{}: torn last segment at {off} ignored",
                    self.path.display()
                );
                return Ok(None);
            }
            return Err(StoreError::corrupt("segment CRC32 does not match", off));
        }
        match frame.kind {
            SegKind::End => {
                let raw = decode_payload(&frame, &stored, off)?;
                self.end = Some(from_msgpack(&raw, "the end record", off)?);
            }
            SegKind::Footer => {
                self.sealed = true;
                if end != self.file_len {
                    // Bytes appended to a finished file: every step is
                    // there, and the bytes are not read.
                    self.stop_at_damage(
                        StoreError::corrupt(
                            format!("{} bytes after the footer", self.file_len - end),
                            end,
                        ),
                        end,
                    );
                }
            }
            SegKind::Index => {}
            kind => self.add_segment(kind, frame.first_step, frame.count, off)?,
        }
        Ok(Some(end))
    }

    /// Add a checkpoint or deltas segment to the table, checking the order.
    fn add_segment(
        &mut self,
        kind: SegKind,
        first_step: u64,
        count: u32,
        offset: u64,
    ) -> Result<(), StoreError> {
        let mut s = SegRef {
            first_step,
            count,
            offset,
            key: None,
        };
        match kind {
            SegKind::Deltas => {
                if first_step != self.step_count || count == 0 {
                    return Err(StoreError::corrupt(
                        format!(
                            "deltas segment for steps from {first_step} where step {} was expected",
                            self.step_count
                        ),
                        offset,
                    ));
                }
                self.step_count =
                    self.step_count
                        .checked_add(u64::from(count))
                        .ok_or_else(|| {
                            StoreError::corrupt(
                                format!(
                                "deltas segment for steps from {first_step} beyond any step number"
                            ),
                                offset,
                            )
                        })?;
                self.deltas.push(s);
            }
            SegKind::Checkpoint | SegKind::DiffCheckpoint => {
                if kind == SegKind::DiffCheckpoint {
                    s.key = Some(self.last_key.ok_or_else(|| {
                        StoreError::corrupt(
                            format!("diff checkpoint for step {first_step} without a key checkpoint before it"),
                            offset,
                        )
                    })?);
                }
                let after_last =
                    !matches!(self.checkpoints.last(), Some(c) if c.first_step >= first_step);
                if first_step >= self.step_count || count != 1 || !after_last {
                    return Err(StoreError::corrupt(
                        format!("checkpoint for step {first_step} out of order"),
                        offset,
                    ));
                }
                self.checkpoints.push(s);
                if kind == SegKind::Checkpoint {
                    self.last_key = Some(KeyRef { first_step, offset });
                }
            }
            SegKind::Ring => {
                let first_segment =
                    self.deltas.is_empty() && self.checkpoints.is_empty() && self.ring.is_none();
                if !first_segment || count != 0 {
                    return Err(StoreError::corrupt(
                        "a ring segment that is not the first segment",
                        offset,
                    ));
                }
                let (_, raw) = read_kind(&self.file, offset, self.file_len, &self.path, kind)?;
                self.ring = Some(from_msgpack(&raw, "the ring record", offset)?);
                self.first = first_step;
                self.step_count = first_step;
            }
            SegKind::Source => self.sources.push(s),
            SegKind::Times => {
                // Beside its deltas segment, written after it.
                let after_last =
                    !matches!(self.times.last(), Some(t) if t.first_step >= first_step);
                if count == 0 || !after_last || first_step >= self.step_count {
                    return Err(StoreError::corrupt(
                        format!("times segment for step {first_step} out of order"),
                        offset,
                    ));
                }
                self.times.push(s);
            }
            SegKind::Postings => {
                // Beside its deltas segment, written after it. One that
                // does not match is not used (the steps are walked).
                let beside = self
                    .deltas
                    .last()
                    .is_some_and(|d| d.first_step == first_step && d.count == count)
                    && !matches!(self.postings.last(), Some(p) if p.first_step >= first_step);
                if beside {
                    self.postings.push(s);
                } else {
                    log::warn!(
                        "{}: the step index of steps from {first_step} is out of place and not used",
                        self.path.display()
                    );
                }
            }
            SegKind::End | SegKind::Index | SegKind::Footer => {}
        }
        Ok(())
    }
}

/// Read a segment of a given kind that must end before `limit`.
fn read_kind(
    file: &File,
    offset: u64,
    limit: u64,
    path: &Path,
    kind: SegKind,
) -> Result<(Frame, Vec<u8>), StoreError> {
    let (frame, raw) = read_segment(file, offset, limit, path)?;
    if frame.kind != kind {
        return Err(StoreError::corrupt(
            format!("expected the {kind:?} segment"),
            offset,
        ));
    }
    Ok((frame, raw))
}
