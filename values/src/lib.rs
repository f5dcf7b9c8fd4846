//! The values contract of docs/spec/values.md: what each recorded node's
//! `kind` means ([`kinds`]) and how a recorded state renders to JSON
//! ([`render`]) and to text ([`text`]). Readers of a recording use it without linking the
//! recorder.

pub mod atoms;
pub mod kinds;
pub mod render;
pub mod text;
