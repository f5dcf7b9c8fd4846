//! The page's files (web/static/), built into the binary: `hindsight
//! serve` needs nothing beside it, and there is no build step but cargo's.

/// The content type and bytes of the page's file at `path`, if it is one.
pub fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/" | "/index.html" => (
            "text/html; charset=utf-8",
            include_bytes!("../static/index.html"),
        ),
        "/app.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("../static/app.js"),
        ),
        "/draw.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("../static/draw.js"),
        ),
        "/style.css" => (
            "text/css; charset=utf-8",
            include_bytes!("../static/style.css"),
        ),
        _ => return None,
    })
}
