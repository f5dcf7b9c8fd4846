//! A name's (or an expression's) history for the page: the steps at which
//! its value changed, found by `query::history` as `hindsight history`
//! finds them, at most a limit of them.

use query::{Expr, Filters, QueryError};
use store::{Reader, StoreError};

/// One step at which a name was bound or changed (as `hindsight history`
/// lists it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The step.
    pub step: u64,
    /// Its file.
    pub file: String,
    /// The line.
    pub line: u32,
    /// The function.
    pub function: String,
    /// The value, in the text form of docs/spec/values.md.
    pub value: String,
    /// It changed past the items the recording shows.
    pub past_cut: bool,
}

/// A name's history: at most `limit` entries, and whether there were more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryList {
    /// The entries, in step order.
    pub entries: Vec<HistoryEntry>,
    /// More steps changed it than were listed.
    pub more: bool,
}

/// Why a history has no answer.
#[derive(Debug)]
pub enum HistoryError {
    /// The request is wrong: the expression does not parse, or names
    /// nothing bound (the message says which).
    Request(String),
    /// The expression is fine but has no value in this recording.
    NotFound(String),
    /// The recording could not be read.
    Store(StoreError),
}

impl From<QueryError> for HistoryError {
    fn from(e: QueryError) -> HistoryError {
        match e {
            QueryError::Store(e) => HistoryError::Store(e),
            QueryError::Parse { .. } | QueryError::Usage(_) => HistoryError::Request(e.to_string()),
            _ => HistoryError::NotFound(e.to_string()),
        }
    }
}

impl From<StoreError> for HistoryError {
    fn from(e: StoreError) -> HistoryError {
        HistoryError::Store(e)
    }
}

/// The history of `src` (a name or an expression) in `reader`, at most
/// `limit` entries.
pub fn history(reader: &Reader, src: &str, limit: usize) -> Result<HistoryList, HistoryError> {
    let expr = Expr::parse(src).map_err(|e| QueryError::parse(src, e))?;
    let mut list = HistoryList::default();
    query::history(reader, &expr, &Filters::default(), |m, c, state| {
        if list.entries.len() >= limit {
            list.more = true;
            return Ok::<_, HistoryError>(false);
        }
        list.entries.push(HistoryEntry {
            step: m.step.0,
            file: m.file.to_string(),
            line: m.line,
            function: m.function.to_string(),
            value: c.value.text(state),
            past_cut: c.past_cut,
        });
        Ok(true)
    })?;
    Ok(list)
}
