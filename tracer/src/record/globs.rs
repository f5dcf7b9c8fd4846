//! The globs of `--include` and `--exclude`: shell-style, with the
//! semantics of Python's `fnmatch` (what a Python user expects), compiled
//! with globset.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// Compile a shell-style glob with the semantics of Python's `fnmatch`:
/// `*` matches any run of characters (slashes included), `?` one
/// character, `[...]` a class (`[!...]` negated); a `[` that is never
/// closed and a backslash are literal. globset is told so: no literal
/// separator, no backslash escapes, unclosed classes allowed. Runs of `*`
/// become one `*` first: next to a `/`, globset gives `**` a meaning of its
/// own (`/a/**/b` would match `/a/b`), where in fnmatch it is just `*`.
/// Where globset differs and is kept: `{a,b}` is an alternation, a reversed
/// range such as `[z-a]` is an error, and `?` or a class matches one byte,
/// so not a non-ASCII character (non-ASCII literals match as ever).
fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    let mut collapsed = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        if !(c == '*' && collapsed.ends_with('*')) {
            collapsed.push(c);
        }
    }
    GlobBuilder::new(&collapsed)
        .literal_separator(false)
        .backslash_escape(false)
        .allow_unclosed_class(true)
        .build()
}

/// The globs compiled into one set; one that does not compile (say `[z-a]`
/// or an unclosed `{`) is reported and matches nothing.
pub(crate) fn glob_set(patterns: &[String]) -> GlobSet {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        match glob(p) {
            Ok(g) => {
                set.add(g);
            }
            Err(e) => log::warn!(target: "tracer::filter", "ignoring the glob {p:?}: {e}"),
        }
    }
    set.build().unwrap_or_else(|e| {
        log::warn!(target: "tracer::filter", "ignoring the globs {patterns:?}: {e}");
        GlobSet::empty()
    })
}

/// Whether `text` matches the glob `pattern` (see [`glob`] for the
/// syntax); an invalid pattern matches nothing.
#[cfg(test)]
fn glob_match(pattern: &str, text: &str) -> bool {
    glob(pattern).is_ok_and(|g| g.compile_matcher().is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.py", "/a/b/c.py"));
        assert!(glob_match("/a/*/c.py", "/a/x/y/c.py"));
        assert!(!glob_match("*.py", "/a/b/c.pyc"));
        assert!(glob_match("/a/?.py", "/a/b.py"));
        assert!(glob_match("/a/[bc].py", "/a/c.py"));
        assert!(!glob_match("/a/[!bc].py", "/a/c.py"));
        assert!(glob_match("/a/[.py", "/a/[.py"));
        assert!(glob_match("**", ""));
        assert!(!glob_match("a", ""));
    }

    #[test]
    fn globs_as_fnmatch() {
        // `**` is `*`, even between slashes.
        assert!(!glob_match("/a/**/b.py", "/a/b.py"));
        assert!(glob_match("/a/**/b.py", "/a/x/y/b.py"));
        assert!(glob_match("**/b.py", "/a/b.py"));
        // A backslash is a character like any other.
        assert!(glob_match("/a/\\*", "/a/\\x"));
        assert!(!glob_match("/a/\\*", "/a/x"));
        // An invalid glob matches nothing.
        assert!(!glob_match("/a/[z-a]", "/a/b"));
    }
}
