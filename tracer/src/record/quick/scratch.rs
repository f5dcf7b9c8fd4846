//! What quick steps keep between steps (`super`): the knob that turns them
//! off, and the buffers each step sorts its words into, kept so that a
//! step allocates nothing.

use std::sync::Arc;

use store::ObjAddr;

use crate::addr::RemoteAddr;
use crate::cpython::ItemChange;

/// Set (to anything) to decode every logged step whole.
pub const NO_QUICK_KNOB: &str = "HINDSIGHT_NO_QUICK";

/// Whether quick steps are allowed in this process.
pub(crate) fn quick_allowed() -> bool {
    std::env::var_os(NO_QUICK_KNOB).is_none()
}

/// The slot changes of one logged step, sorted out.
#[derive(Default)]
pub(crate) struct QuickScratch {
    /// Local slots: (slot index, before, after).
    pub(super) locals: Vec<(usize, RemoteAddr, RemoteAddr)>,
    pub(super) items: Vec<ItemChange>,
    pub(super) news: Vec<RemoteAddr>,
    pub(super) olds: Vec<RemoteAddr>,
    pub(super) roots: Vec<RemoteAddr>,
    /// The changed words that are not slots.
    pub(super) words: Vec<RemoteAddr>,
    pub(super) copied: Vec<(RemoteAddr, usize)>,
    pub(super) bindings: Vec<(Arc<str>, ObjAddr)>,
}
