//! The top frame's position (line and columns) as a function of the two
//! words of the frame CPython moves as it runs, for line steps the probe
//! takes without a trap: where a stop finds nothing else changed, the state
//! is the previous step's at another position, and these words are all the
//! probe logs. The same functions make the position at every stop.

use std::sync::Arc;

use store::Position;

use super::CodeInfo;
use crate::addr::RemoteAddr;

/// How a frame of this interpreter says where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LineForm {
    /// 3.11+: word 0 is `prev_instr` (`instr_ptr`); the frame object's
    /// `f_lineno` is the int at byte `lineno` of word 1.
    Instr { lineno: u32 },
    /// 3.8-3.10: `f_lasti` at byte `lasti` of word 0 (counting bytes when
    /// `bytes`), `f_lineno` at byte `lineno` of word 1.
    Lasti {
        lasti: u32,
        lineno: u32,
        bytes: bool,
    },
}

/// Where the top frame's position is read from, at the step it was found.
#[derive(Debug, Clone)]
pub struct LineWatch {
    /// The two 8-byte aligned words the position is made of.
    pub at: [RemoteAddr; 2],
    code: Arc<CodeInfo>,
    form: LineForm,
}

impl LineWatch {
    /// The watch of a frame running `code` whose position words are at
    /// `at` (offsets of their ints within are in `form`).
    pub(crate) fn new(at: [RemoteAddr; 2], code: Arc<CodeInfo>, form: LineForm) -> LineWatch {
        LineWatch { at, code, form }
    }

    /// The frame's code object.
    pub fn code(&self) -> &Arc<CodeInfo> {
        &self.code
    }

    /// The line and position the frame is at when its two words are `words`.
    pub fn position(&self, words: [u64; 2]) -> (u32, Option<Position>) {
        match self.form {
            LineForm::Instr { lineno } => {
                let lasti = self.code.lasti(RemoteAddr(words[0]));
                instr_position(&self.code, int_at(words[1], lineno), lasti)
            }
            LineForm::Lasti {
                lasti,
                lineno,
                bytes,
            } => {
                let lasti = code_units(int_at(words[0], lasti) as i64, bytes);
                (
                    lasti_line(&self.code, int_at(words[1], lineno), lasti),
                    None,
                )
            }
        }
    }
}

/// The int at byte `at` (0 or 4) of a little-endian word.
fn int_at(word: u64, at: u32) -> i32 {
    (word >> (8 * (at % 8))) as u32 as i32
}

/// 3.11+: the line (`f_lineno` while CPython maintains it, else the line
/// table's) and the columns of the instruction at code unit `lasti`.
pub(crate) fn instr_position(code: &CodeInfo, lineno: i32, lasti: i64) -> (u32, Option<Position>) {
    let line = if lineno > 0 {
        lineno as u32
    } else {
        code.line_at(lasti)
    };
    let position = u32::try_from(lasti)
        .ok()
        .and_then(|u| code.lines.entry(u))
        .and_then(|e| {
            Some(Position {
                line: e.line?,
                end_line: e.end_line?,
                col: e.col?,
                end_col: e.end_col?,
            })
        });
    (line, position)
}

/// 3.8-3.10: `f_lasti` in code units (3.8-3.9 count bytes).
pub(crate) fn code_units(raw_lasti: i64, bytes: bool) -> i64 {
    if bytes && raw_lasti >= 0 {
        raw_lasti / 2
    } else {
        raw_lasti
    }
}

/// 3.8-3.10 `PyFrame_GetLineNumber`: `f_lineno` while CPython maintains it
/// (3.8-3.9 under a trace function; 3.10 during the trace call), else the
/// line table.
pub(crate) fn lasti_line(code: &CodeInfo, lineno: i32, lasti: i64) -> u32 {
    if lineno > 0 {
        lineno as u32
    } else {
        code.line_at(lasti)
    }
}
