//! Writing a flight recording's file: the ring segment, the first block's
//! whole state as the ops of one step, every block's segments, and (when
//! the recording is complete) the end record, the index and the footer,
//! into a new file renamed over the old one.

use super::{Ring, RingRecord, Seg};
use crate::create::RecordingFile;
use crate::error::StoreError;
use crate::format::{
    array32_prefix, encode_segment, to_msgpack, IndexEntry, SegKind, FRAME_LEN, RING_FORMAT_VERSION,
};
use crate::model::{FrameRec, Node, ObjAddr, Scope, State, StepMeta};
use crate::records::{RecordingEnd, RecordingHeader};
use serde::Serialize;
use std::fs::File;
use std::io::Write;
use std::sync::Arc;

impl Ring {
    /// Write what the ring holds as a whole file in place of `file`'s:
    /// preamble, ring segment, the first block's full state, every block's
    /// segments, and with `end` the end record, the index and the footer.
    /// Returns the file's size.
    pub(crate) fn write(
        &self,
        file: &mut RecordingFile,
        header: &RecordingHeader,
        end: Option<&RecordingEnd>,
        next_step: u64,
    ) -> Result<u64, StoreError> {
        let record = RingRecord {
            capacity: self.opts.steps.max(1),
            anchor_every: self.anchor_every,
        };
        let raw = to_msgpack(&record, "the ring record")?;
        let ring_seg = Seg {
            kind: SegKind::Ring,
            first_step: self.first(),
            count: 0,
            bytes: encode_segment(SegKind::Ring, self.first(), 0, &raw, None)?,
        };
        let first_anchor = self.blocks.front().and_then(|b| b.anchor.as_ref());
        let segs = std::iter::once(&ring_seg)
            .chain(&self.kept)
            .chain(first_anchor)
            .chain(self.blocks.iter().flat_map(|b| &b.segs));
        let path = file.path().to_path_buf();
        file.rewrite(header, RING_FORMAT_VERSION, |out: &mut File, start: u64| {
            let io = |e| StoreError::io(format!("writing {}", path.display()), e);
            let mut offset = start;
            let mut index = Vec::new();
            for s in segs {
                out.write_all(&s.bytes).map_err(io)?;
                index.push(IndexEntry {
                    kind: s.kind as u8,
                    first_step: s.first_step,
                    count: s.count,
                    offset,
                    stored_len: (s.bytes.len() as u64 - FRAME_LEN) as u32,
                });
                offset += s.bytes.len() as u64;
            }
            let Some(end) = end else {
                return Ok(offset);
            };
            let mut end = end.clone();
            end.steps = next_step;
            let raw = to_msgpack(&end, "the end record")?;
            let end_seg = encode_segment(SegKind::End, next_step, 0, &raw, None)?;
            index.push(IndexEntry {
                kind: SegKind::End as u8,
                first_step: next_step,
                count: 0,
                offset,
                stored_len: (end_seg.len() as u64 - FRAME_LEN) as u32,
            });
            let end_offset = offset;
            out.write_all(&end_seg).map_err(io)?;
            offset += end_seg.len() as u64;
            let raw = to_msgpack(&index, "the index")?;
            let index_seg = encode_segment(SegKind::Index, next_step, 0, &raw, None)?;
            let index_offset = offset;
            out.write_all(&index_seg).map_err(io)?;
            offset += index_seg.len() as u64;
            let mut footer = Vec::with_capacity(16);
            footer.extend_from_slice(&index_offset.to_le_bytes());
            footer.extend_from_slice(&end_offset.to_le_bytes());
            let footer_seg = encode_segment(SegKind::Footer, next_step, 0, &footer, None)?;
            out.write_all(&footer_seg).map_err(io)?;
            Ok(offset + footer_seg.len() as u64)
        })
    }
}

/// One op of a full state, borrowed: encodes as the [`crate::Op`] variant
/// of the same name (rmp-serde writes a variant by its name).
#[derive(Serialize)]
enum OpRef<'a> {
    Step(&'a StepMeta),
    StackPush(&'a FrameRec),
    Bind {
        scope: Scope,
        name: &'a Arc<str>,
        value: ObjAddr,
    },
    HeapSet(&'a ObjAddr, &'a Node),
}

/// A state as one step's ops applied to the empty state (what a deltas
/// segment holds, with the step number written as 0): its meta, the heap
/// by address, the stack, the locals and the globals. The raw payload of a
/// deltas segment of that one step.
pub(super) fn encode_full_state(state: &State) -> Result<Vec<u8>, StoreError> {
    let Some(meta) = &state.meta else {
        return Err(StoreError::Encode {
            what: "the first state of a ring block".into(),
            cause: "the state has no step".into(),
        });
    };
    let mut meta = meta.clone();
    meta.step = crate::model::Step(0);
    let mut heap: Vec<(&ObjAddr, &Node)> = state.heap.iter().collect();
    heap.sort_unstable_by_key(|(a, _)| **a);
    let mut ops: Vec<OpRef<'_>> = Vec::with_capacity(
        1 + heap.len() + state.stack.len() + state.locals.len() + state.globals.len(),
    );
    ops.push(OpRef::Step(&meta));
    ops.extend(heap.into_iter().map(|(a, n)| OpRef::HeapSet(a, n)));
    ops.extend(state.stack.iter().map(OpRef::StackPush));
    for (scope, names) in [
        (Scope::Locals, &state.locals),
        (Scope::Globals, &state.globals),
    ] {
        ops.extend(names.iter().map(|(name, value)| OpRef::Bind {
            scope,
            name,
            value: *value,
        }));
    }
    let mut raw = array32_prefix(1).to_vec();
    rmp_serde::encode::write(&mut raw, &ops).map_err(|e| StoreError::Encode {
        what: "the first state of a ring block".into(),
        cause: e.to_string(),
    })?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, Op, Step};

    #[test]
    fn a_full_state_applies_to_the_empty_state() {
        let mut s = State {
            meta: Some(StepMeta {
                step: Step(7),
                event: EventKind::Line,
                thread: 1,
                file: "a.py".into(),
                function: "f".into(),
                line: 3,
                position: None,
                value: Some(ObjAddr(2)),
                instruction: None,
            }),
            stack: vec![FrameRec {
                function: "f".into(),
                file: "a.py".into(),
                line: 3,
            }],
            locals: vec![("x".into(), ObjAddr(1))],
            globals: vec![("g".into(), ObjAddr(2)), ("h".into(), ObjAddr(1))],
            ..State::default()
        };
        for a in [1, 2] {
            s.heap.insert(
                ObjAddr(a),
                Node {
                    type_name: "int".into(),
                    kind: 1,
                    text: a.to_string(),
                    items: vec![],
                    attrs: None,
                    truncated: false,
                },
            );
        }
        let raw = encode_full_state(&s).unwrap();
        let steps: Vec<Vec<Op>> = rmp_serde::from_slice(&raw).unwrap();
        let mut ops = steps.into_iter().next().unwrap();
        if let Some(Op::Step(m)) = ops.first_mut() {
            assert_eq!(m.step, Step(0));
            m.step = Step(7);
        }
        let mut back = State::default();
        crate::apply(&mut back, &ops).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn anchors_come_every_so_many_steps() {
        let o = super::super::RingOptions { steps: 10 };
        assert_eq!(o.anchor_every(500), 500);
        assert_eq!(
            super::super::RingOptions { steps: 80_000 }.anchor_every(500),
            10_000
        );
        assert_eq!(super::super::RingOptions { steps: 0 }.anchor_every(0), 1);
    }
}
