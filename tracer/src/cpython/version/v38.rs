//! CPython 3.8: the base every later version is stated against. The
//! `PyFrameObject` is the frame and counts `f_lasti` in bytes, the line
//! table is `co_lnotab`, dicts are sized by `dk_size`, an `int`'s sign is
//! its size's, and there are no managed dicts. Flag bits, kinds and trace
//! codes given here hold in every supported version unless one says
//! otherwise.

use super::{
    CodeFacts, CodeSlots, DictForm, Facts, FrameFacts, FrameModel, IntFacts, IntSign, LineTable,
    ManagedDict, SlotKinds, StrFacts, TracingFacts, TypeFacts,
};

pub(super) fn facts() -> Facts {
    Facts {
        types: TypeFacts {
            heap_type: 1 << 9,
            base_exc_subclass: 1 << 30,
            type_subclass: 1 << 31,
            managed_dict: None,
            inline_values: None,
            t_object_ex: 16,
        },
        ints: IntFacts {
            digit_bits: 30,
            sign: IntSign::SignedSize,
        },
        strs: StrFacts {
            kind_bits: 3,
            kinds: [1, 2, 4],
        },
        dicts: DictForm::Sized,
        managed_dict: ManagedDict::Absent,
        code: CodeFacts {
            slots: CodeSlots::NameTuples,
            lines: LineTable::Lnotab,
            optimized: 0x1,
            // 3.11's `co_localspluskinds` bits, which the 3.8-3.10 reader
            // gives the slots it makes.
            kinds: SlotKinds {
                local: 0x20,
                cell: 0x40,
                free: 0x80,
                hidden: None,
            },
            copy_free_vars: None,
            opcodes: &super::opcodes::V38,
        },
        frames: FrameFacts {
            model: FrameModel::FrameObject,
            lasti_in_bytes: true,
            owned_by_generator: None,
            owned_by_cstack: None,
            hidden_locals_proxy: false,
        },
        tracing: TracingFacts {
            call: 0,
            exception: 1,
            line: 2,
            return_: 3,
            on_monitoring: false,
            set_trace: "PyEval_SetTrace",
            set_trace_takes_tstate: false,
            opcode: 7,
            opcode_trace: super::OpcodeTrace::FrameFlag,
        },
    }
}
