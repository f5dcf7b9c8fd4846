//! CPython 3.9: as 3.8 in everything DWARF does not say (its changes, such
//! as `tracing_possible` moving into the interpreter state, are struct
//! layout, read from DWARF).

use super::{CodeFacts, Facts};

pub(super) fn facts() -> Facts {
    let base = super::v38::facts();
    Facts {
        code: CodeFacts {
            opcodes: &super::opcodes::V39,
            ..base.code
        },
        ..base
    }
}
