//! `hindsight serve`: a local web page to travel through a recording
//! (docs/serve.md). [`Server`] listens and answers, [`App`] holds the open
//! recording and answers the JSON API, the page's files are built in
//! (`web/static/`, no build step). Reads the recording through `store` and
//! renders states through `values`, as the other readers do; histories come
//! from `query`.

mod api;
mod assets;
mod graph;
mod history;
pub mod http;
mod moves;
mod server;
mod source;

pub use api::{App, MAX_HISTORY};
pub use history::{history, HistoryEntry, HistoryError, HistoryList};
pub use moves::MAX_OUTER_FRAMES;
pub use server::{Server, MAX_CONNECTIONS};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source} (choose another --port, or 0 for a free one)")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}
