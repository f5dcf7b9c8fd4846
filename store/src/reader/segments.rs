//! Rebuilding states from segments: load a checkpoint (a key, or a diff
//! against one), read a deltas segment's steps, and apply them, each read
//! bounded and checked.

use super::{KeyRef, Ops, Reader, SegRef};
use crate::apply::apply_counted;
use crate::bounds::{decode_scope, Budget, SegmentOps, StepOps, MAX_STATE_BYTES};
use crate::checkpoint::decode_checkpoint;
use crate::error::StoreError;
use crate::format::{array32_prefix, from_msgpack, read_segment_with, SegKind};
use crate::model::{Op, State, Step};
use serde::Deserialize;
use std::sync::Arc;

impl Reader {
    pub(super) fn load_checkpoint(&self, c: SegRef) -> Result<State, StoreError> {
        let raw = match c.key {
            None => self.segment(c, SegKind::Checkpoint)?,
            Some(k) => {
                let dict = self.key_raw(k)?;
                self.segment_with(c, SegKind::DiffCheckpoint, Some(&dict))?
            }
        };
        let state = decode_checkpoint(&raw, c.offset)?;
        match &state.meta {
            Some(m) if m.step.0 == c.first_step => Ok(state),
            _ => Err(StoreError::corrupt(
                format!(
                    "the checkpoint for step {} holds another step",
                    c.first_step
                ),
                c.offset,
            )),
        }
    }

    /// Apply the ops of steps `from..=to` to `state` (which `budget`
    /// counts), decoding each step's ops as it is applied (no per-segment op
    /// vectors; stops at `to`). Used to go from a checkpoint to a step.
    pub(super) fn apply_stream(
        &self,
        state: &mut State,
        budget: &mut Budget,
        from: u64,
        to: u64,
    ) -> Result<(), StoreError> {
        let mut n = from;
        while n <= to {
            let di = self.delta_index(n).ok_or_else(|| self.missing(n))?;
            let d = self.deltas[di];
            let raw = self
                .segment(d, SegKind::Deltas)
                .map_err(|e| self.lost_from(e, d.first_step))?;
            let body = raw
                .strip_prefix(&array32_prefix(d.count)[..])
                .ok_or_else(|| {
                    let e = StoreError::corrupt("deltas segment without its step count", d.offset);
                    self.lost_from(e, d.first_step)
                })?;
            let mut de = rmp_serde::Deserializer::new(body);
            let seg_end = d.first_step + u64::from(d.count);
            for s in d.first_step..seg_end.min(to + 1) {
                let StepOps(mut ops) =
                    decode_scope(MAX_STATE_BYTES, || StepOps::deserialize(&mut de)).map_err(
                        |e| {
                            let e = StoreError::corrupt(
                                format!("step {s} does not decode ({e})"),
                                d.offset,
                            );
                            self.lost_from(e, s)
                        },
                    )?;
                if s >= n {
                    set_step(&mut ops, s);
                    apply_counted(state, ops, budget)
                        .map_err(|e| self.unappliable(e, s, d.offset))?;
                }
            }
            n = seg_end;
        }
        Ok(())
    }

    pub(super) fn missing(&self, n: u64) -> StoreError {
        let e = StoreError::corrupt(format!("no segment holds step {n}"), self.scanned_to);
        self.lost_from(e, n)
    }

    /// Apply the ops of steps `from..=to` to `state` (which `budget`
    /// counts) from the cached decoded segment: for stepping forward one
    /// step at a time.
    pub(super) fn apply_range(
        &self,
        state: &mut State,
        budget: &mut Budget,
        from: u64,
        to: u64,
    ) -> Result<(), StoreError> {
        let mut n = from;
        while n <= to {
            let (ops, i) = self.step_ops(n)?;
            let seg_last = n + (ops.len() - i) as u64 - 1;
            let last = seg_last.min(to);
            for (k, step_ops) in ops[i..=i + (last - n) as usize].iter().enumerate() {
                let s = n + k as u64;
                apply_counted(state, step_ops.clone(), budget).map_err(|e| {
                    let off = self.delta_index(s).map_or(0, |d| self.deltas[d].offset);
                    self.unappliable(e, s, off)
                })?;
            }
            n = last + 1;
        }
        Ok(())
    }

    pub(super) fn delta_index(&self, n: u64) -> Option<usize> {
        let i = self.deltas.partition_point(|d| d.first_step <= n);
        i.checked_sub(1)
            .filter(|&i| n < self.deltas[i].first_step + u64::from(self.deltas[i].count))
    }

    /// The decoded ops of the deltas segment holding step `n`, and `n`'s index in it.
    pub(super) fn step_ops(&self, n: u64) -> Result<(Ops, usize), StoreError> {
        let di = self.delta_index(n).ok_or_else(|| self.missing(n))?;
        let d = self.deltas[di];
        let i = (n - d.first_step) as usize;
        if let Some((ci, ops)) = self.last_ops.lock().ok().and_then(|g| g.clone()) {
            if ci == di {
                return Ok((ops, i));
            }
        }
        let lost = |e| self.lost_from(e, d.first_step);
        let raw = self.segment(d, SegKind::Deltas).map_err(lost)?;
        let SegmentOps(mut ops) = from_msgpack(&raw, "a deltas segment", d.offset).map_err(lost)?;
        for (k, step_ops) in ops.iter_mut().enumerate() {
            set_step(step_ops, d.first_step + k as u64);
        }
        if ops.len() != d.count as usize {
            return Err(lost(StoreError::corrupt(
                format!(
                    "deltas segment holds {} steps, its frame says {}",
                    ops.len(),
                    d.count
                ),
                d.offset,
            )));
        }
        let ops = Arc::new(ops);
        if let Ok(mut g) = self.last_ops.lock() {
            *g = Some((di, ops.clone()));
        }
        Ok((ops, i))
    }

    /// The raw payload of a key checkpoint (cached: consecutive queries
    /// mostly share their key).
    pub(super) fn key_raw(&self, k: KeyRef) -> Result<Arc<Vec<u8>>, StoreError> {
        if let Some((off, raw)) = self.key_cache.lock().ok().and_then(|g| g.clone()) {
            if off == k.offset {
                return Ok(raw);
            }
        }
        let s = SegRef {
            first_step: k.first_step,
            count: 1,
            offset: k.offset,
            key: None,
        };
        let raw = Arc::new(self.segment(s, SegKind::Checkpoint)?);
        if let Ok(mut g) = self.key_cache.lock() {
            *g = Some((k.offset, raw.clone()));
        }
        Ok(raw)
    }

    /// Read a segment the table points at and check it is the one expected.
    pub(super) fn segment(&self, s: SegRef, kind: SegKind) -> Result<Vec<u8>, StoreError> {
        self.segment_with(s, kind, None)
    }

    /// [`Reader::segment`], with a diff checkpoint's dictionary.
    pub(super) fn segment_with(
        &self,
        s: SegRef,
        kind: SegKind,
        dict: Option<&[u8]>,
    ) -> Result<Vec<u8>, StoreError> {
        let (frame, raw) =
            read_segment_with(&self.file, s.offset, self.file_len, &self.path, dict)?;
        if frame.kind != kind || frame.first_step != s.first_step || frame.count != s.count {
            return Err(StoreError::corrupt(
                format!("expected a {kind:?} segment for step {}", s.first_step),
                s.offset,
            ));
        }
        Ok(raw)
    }
}

/// Give a step read from a deltas segment its number, which the file does
/// not hold (version 2 writes 0; version 1 wrote the same number).
pub(super) fn set_step(ops: &mut [Op], n: u64) {
    if let Some(Op::Step(meta)) = ops.first_mut() {
        meta.step = Step(n);
    }
}
