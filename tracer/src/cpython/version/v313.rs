//! CPython 3.13: an instance's values inline after the object
//! (`Py_TPFLAGS_INLINE_VALUES`) and split values in a `PyDictValues`, a
//! plain dict pointer before the object, opcodes renumbered, and a class
//! body's `f_locals` a proxy while hidden locals are bound (PEP 667).

use super::{
    CodeFacts, DictForm, DictKinds, Facts, FrameFacts, ManagedDict, OpcodeTrace, TracingFacts,
    TypeFacts, ValuesOrder,
};

pub(super) fn facts() -> Facts {
    let base = super::v312::facts();
    Facts {
        types: TypeFacts {
            inline_values: Some(1 << 2),
            ..base.types
        },
        dicts: match base.dicts {
            DictForm::Kinded(kinds) => DictForm::Kinded(DictKinds {
                order: ValuesOrder::Header,
                ..kinds
            }),
            sized => sized,
        },
        managed_dict: ManagedDict::DictOrInline { dict_before: 3 },
        code: CodeFacts {
            copy_free_vars: Some(62),
            opcodes: &super::opcodes::V313,
            ..base.code
        },
        frames: FrameFacts {
            hidden_locals_proxy: true,
            ..base.frames
        },
        tracing: TracingFacts {
            opcode_trace: OpcodeTrace::PerCodeCall,
            ..base.tracing
        },
        ..base
    }
}
