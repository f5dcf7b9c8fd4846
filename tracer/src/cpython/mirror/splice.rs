//! Item splices: the smallest `HeapItems` op that turns a container's
//! recorded items into its new ones, and when a splice is worth sending
//! instead of the whole node, for the heap mirror's ops.

use store::{Node, ObjAddr, Op};
use values::kinds;

/// Whether `new` differs from `old` in its items alone, where a splice is
/// cheaper than sending the node again.
pub(crate) fn items_only_change(old: &Node, new: &Node) -> bool {
    old.kind == new.kind
        && matches!(
            new.kind,
            kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET
        )
        && old.type_name == new.type_name
        && old.text == new.text
        && old.attrs == new.attrs
        && old.truncated == new.truncated
        && new.items.len() >= 8
}

/// Common prefix and suffix lengths of two item lists (never overlapping).
pub(crate) fn common_ends(old: &[ObjAddr], new: &[ObjAddr]) -> (usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, suffix)
}

/// The smallest single splice turning `old` into `new`: the changed middle
/// between the common prefix and the common suffix.
pub(crate) fn items_op(addr: ObjAddr, old: &[ObjAddr], new: &[ObjAddr]) -> Option<Op> {
    if old == new {
        return None;
    }
    let (prefix, suffix) = common_ends(old, new);
    if old.len() == new.len() {
        // Same length: overwrite the changed middle.
        return Some(Op::HeapItems {
            addr,
            start: prefix as u32,
            new: new[prefix..new.len() - suffix].to_vec(),
            len: new.len() as u32,
        });
    }
    // Different lengths (appends, cuts, insertions or removals in the
    // middle): everything after the common prefix is sent again.
    Some(Op::HeapItems {
        addr,
        start: prefix as u32,
        new: new[prefix..].to_vec(),
        len: new.len() as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_items(items: &mut Vec<ObjAddr>, op: &Op) {
        if let Op::HeapItems {
            start, new, len, ..
        } = op
        {
            let start = *start as usize;
            if items.len() < start + new.len() {
                items.resize(start + new.len(), ObjAddr(0));
            }
            items[start..start + new.len()].copy_from_slice(new);
            items.resize(*len as usize, ObjAddr(0));
        }
    }

    #[test]
    fn item_splices() {
        let a = |v: &[u64]| v.iter().map(|&x| ObjAddr(x)).collect::<Vec<_>>();
        let cases = [
            (a(&[1, 2, 3, 4]), a(&[1, 3, 2, 4])),
            (a(&[1, 2, 3]), a(&[1, 2, 3, 4, 5])),
            (a(&[1, 2, 3, 4]), a(&[1, 2])),
            (a(&[1, 2, 3, 4]), a(&[1, 9, 2, 3, 4])),
            (a(&[1, 2, 3, 4]), a(&[1, 3, 4])),
            (a(&[1, 2]), a(&[])),
            (a(&[]), a(&[7])),
        ];
        for (old, new) in cases {
            let mut items = old.clone();
            if let Some(op) = items_op(ObjAddr(1), &old, &new) {
                apply_items(&mut items, &op);
            }
            assert_eq!(items, new, "{old:?} -> {new:?}");
        }
    }
}
