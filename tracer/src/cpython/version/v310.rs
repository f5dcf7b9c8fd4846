//! CPython 3.10: the PEP 626 line table (`co_linetable`), and `f_lasti`
//! counting code units instead of bytes.

use super::{CodeFacts, Facts, FrameFacts, LineTable};

pub(super) fn facts() -> Facts {
    let base = super::v39::facts();
    Facts {
        code: CodeFacts {
            lines: LineTable::Lines,
            opcodes: &super::opcodes::V310,
            ..base.code
        },
        frames: FrameFacts {
            lasti_in_bytes: false,
            ..base.frames
        },
        ..base
    }
}
