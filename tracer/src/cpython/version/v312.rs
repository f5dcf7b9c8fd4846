//! CPython 3.12: ints with `lv_tag`, one tagged word for a managed dict or
//! its values, C-stack shim frames, inlined comprehensions' hidden locals
//! (PEP 709), and `sys.settrace` built on `sys.monitoring`.

use super::{
    CodeFacts, Facts, FrameFacts, IntFacts, IntSign, LvTag, ManagedDict, SlotKinds, TracingFacts,
};

pub(super) fn facts() -> Facts {
    let base = super::v311::facts();
    Facts {
        ints: IntFacts {
            sign: IntSign::Tag(LvTag {
                sign_mask: 3,
                negative: 2,
                size_shift: 3,
            }),
            ..base.ints
        },
        managed_dict: ManagedDict::Tagged { before: 3 },
        code: CodeFacts {
            kinds: SlotKinds {
                hidden: Some(0x10),
                ..base.code.kinds
            },
            opcodes: &super::opcodes::V312,
            ..base.code
        },
        frames: FrameFacts {
            owned_by_cstack: Some(3),
            ..base.frames
        },
        tracing: TracingFacts {
            on_monitoring: true,
            opcode_trace: super::OpcodeTrace::InterpFlag,
            ..base.tracing
        },
        ..base
    }
}
