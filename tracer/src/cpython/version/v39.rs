//! CPython 3.9: as 3.8 in everything DWARF does not say (its changes, such
//! as `tracing_possible` moving into the interpreter state, are struct
//! layout, read from DWARF).

use super::Facts;

pub(super) fn facts() -> Facts {
    super::v38::facts()
}
