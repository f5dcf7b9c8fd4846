//! The source files a recording keeps: the text of each file its steps
//! name, written once (a source segment, kind 8) before the first step
//! that names it, so that queries show the lines that ran without reading
//! the program's files again (they may have changed, moved, or be a FIFO).

use serde::{Deserialize, Serialize};

/// The most text kept of one source file; a larger file is kept without
/// its text (`missing` says so).
pub const MAX_SOURCE_BYTES: u64 = 4 << 20;
/// The most source text one recording keeps, all files together; files
/// past it are kept without their text.
pub const MAX_SOURCES_BYTES: u64 = 64 << 20;

/// One source file, as the recorder found it at its first use: the payload
/// of a source segment (MessagePack `[file, text, missing]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// The file as the steps name it (`StepMeta::file`).
    pub file: String,
    /// Its text (invalid UTF-8 replaced), or `None` when it was not read.
    pub text: Option<String>,
    /// Why there is no text (not a regular file, too large, unreadable,
    /// code that was not read from a file); empty when there is.
    pub missing: String,
}

impl SourceFile {
    /// Line `line` (1-based) of the text, without its line ending.
    pub fn line(&self, line: u32) -> Option<&str> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        let l = self.text.as_deref()?.split('\n').nth(idx)?;
        Some(l.strip_suffix('\r').unwrap_or(l))
    }

    /// Every line of the text, without line endings (the last one empty
    /// when the text ends with a newline, as `str::split` gives it).
    pub fn lines(&self) -> Vec<&str> {
        self.text
            .as_deref()
            .map(|t| {
                t.split('\n')
                    .map(|l| l.strip_suffix('\r').unwrap_or(l))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_a_kept_file() {
        let s = SourceFile {
            file: "a.py".into(),
            text: Some("one\r\ntwo\nthree".into()),
            missing: String::new(),
        };
        assert_eq!(s.line(1), Some("one"));
        assert_eq!(s.line(3), Some("three"));
        assert_eq!(s.line(4), None);
        assert_eq!(s.line(0), None);
        assert_eq!(s.lines(), ["one", "two", "three"]);
        let none = SourceFile { text: None, ..s };
        assert_eq!(none.line(1), None);
        assert!(none.lines().is_empty());
    }
}
