//! The checkpoint payload: a full [`State`] with its heap written as an
//! array of `[address, node]` pairs sorted by address, so that equal
//! states give equal bytes and neighbouring objects compress together
//! (a `HashMap`'s order is random and costs zstd about half its gain).

use crate::error::StoreError;
use crate::format::{from_msgpack, to_msgpack};
use crate::model::{FrameRec, Node, ObjAddr, State, StepMeta};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Serialize)]
struct CheckpointRef<'a> {
    meta: &'a Option<StepMeta>,
    stack: &'a [FrameRec],
    locals: &'a [(Arc<str>, ObjAddr)],
    globals: &'a [(Arc<str>, ObjAddr)],
    heap: Vec<(&'a ObjAddr, &'a Node)>,
}

#[derive(Deserialize)]
struct CheckpointOwned {
    meta: Option<StepMeta>,
    stack: Vec<FrameRec>,
    locals: Vec<(Arc<str>, ObjAddr)>,
    globals: Vec<(Arc<str>, ObjAddr)>,
    heap: Vec<(ObjAddr, Node)>,
}

/// Encode a state as a checkpoint payload (msgpack, before compression).
pub fn encode_checkpoint(state: &State) -> Result<Vec<u8>, StoreError> {
    let mut heap: Vec<(&ObjAddr, &Node)> = state.heap.iter().collect();
    heap.sort_unstable_by_key(|(a, _)| **a);
    to_msgpack(
        &CheckpointRef {
            meta: &state.meta,
            stack: &state.stack,
            locals: &state.locals,
            globals: &state.globals,
            heap,
        },
        "a checkpoint",
    )
}

/// Decode a checkpoint payload read at `offset`.
pub fn decode_checkpoint(raw: &[u8], offset: u64) -> Result<State, StoreError> {
    let c: CheckpointOwned = from_msgpack(raw, "a checkpoint", offset)?;
    Ok(State {
        meta: c.meta,
        stack: c.stack,
        locals: c.locals,
        globals: c.globals,
        heap: c.heap.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_states_give_equal_bytes() {
        let mut a = State::default();
        let mut b = State::default();
        for i in 0..100u64 {
            let n = Node {
                type_name: "int".into(),
                kind: 1,
                text: i.to_string(),
                items: vec![],
                attrs: None,
                truncated: false,
            };
            a.heap.insert(ObjAddr(i), n.clone());
            b.heap.insert(
                ObjAddr(99 - i),
                Node {
                    text: (99 - i).to_string(),
                    ..n
                },
            );
        }
        let ea = encode_checkpoint(&a).unwrap();
        assert_eq!(ea, encode_checkpoint(&b).unwrap());
        assert_eq!(decode_checkpoint(&ea, 0).unwrap(), a);
        assert!(decode_checkpoint(&ea[..ea.len() - 1], 0).is_err());
    }
}
