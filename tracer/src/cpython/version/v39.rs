//! CPython 3.9: as 3.8 in everything DWARF does not say (its changes, such
//! as `tracing_possible` moving into the interpreter state, are struct
//! layout, read from DWARF), but for `_PyEval_SetTrace(tstate, func, arg)`,
//! which every change of a trace function now goes through, and its
//! opcodes.

use super::{CodeFacts, Facts, TracingFacts};

pub(super) fn facts() -> Facts {
    let base = super::v38::facts();
    Facts {
        tracing: TracingFacts {
            set_trace: "_PyEval_SetTrace",
            set_trace_takes_tstate: true,
            ..base.tracing
        },
        code: CodeFacts {
            opcodes: &super::opcodes::V39,
            ..base.code
        },
        ..base
    }
}
