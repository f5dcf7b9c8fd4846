//! CPython 3.11: `_PyInterpreterFrame`s behind the frame objects, code
//! objects with `localsplus` slot kinds and the PEP 657 location table,
//! dict keys with a kind and log2 sizes, and managed dicts (a values or a
//! dict pointer before the object header).

use super::{
    CodeFacts, CodeSlots, DictForm, DictKinds, Facts, FrameFacts, FrameModel, LineTable,
    ManagedDict, TypeFacts, ValuesOrder,
};

pub(super) fn facts() -> Facts {
    let base = super::v310::facts();
    Facts {
        types: TypeFacts {
            managed_dict: Some(1 << 4),
            ..base.types
        },
        dicts: DictForm::Kinded(DictKinds {
            general: 0,
            unicode: 1,
            split: 2,
            order: ValuesOrder::Prefix,
        }),
        managed_dict: ManagedDict::ValuesOrDict {
            values_before: 4,
            dict_before: 3,
        },
        code: CodeFacts {
            slots: CodeSlots::LocalsPlus,
            lines: LineTable::Locations,
            copy_free_vars: Some(149),
            opcodes: &super::opcodes::V311,
            ..base.code
        },
        frames: FrameFacts {
            model: FrameModel::InterpreterFrame,
            owned_by_generator: Some(1),
            ..base.frames
        },
        ..base
    }
}
