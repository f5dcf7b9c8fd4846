//! `hindsight steps` (a line per step) and `hindsight visits` (the steps at
//! which one source line ran).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use store::EventKind;

use crate::args::RangeArgs;
use crate::out;
use crate::recording::{meta_json, meta_line, Recording};

/// Most recorded file names listed when a `visits` path matches none.
const MAX_FILES_SHOWN: usize = 8;

pub fn steps(file: &Path, range: RangeArgs, json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(range.from, range.to)? else {
        return Ok(0);
    };
    let mut o = out::stdout();
    rec.for_each_meta(from, to, |m| {
        if json {
            serde_json::to_writer(&mut o, &meta_json(m))?;
            o.write_all(b"\n")?;
        } else {
            out::line(&mut o, &meta_line(m))?;
        }
        Ok(())
    })?;
    o.flush()?;
    Ok(0)
}

/// `PATH:LINE` split at the last colon.
fn parse_location(location: &str) -> Result<(&str, u32)> {
    let parsed = location
        .rsplit_once(':')
        .and_then(|(path, line)| Some((path, line.trim().parse::<u32>().ok()?)))
        .filter(|(path, _)| !path.is_empty());
    match parsed {
        Some(p) => Ok(p),
        None => bail!("expected PATH:LINE such as app.py:12, got `{location}`"),
    }
}

/// Whether a recorded file is the one the user named: the same absolute
/// path, or (for a relative one) a suffix of the path at a `/` boundary.
fn path_matches(recorded: &str, wanted: &str) -> bool {
    if wanted.starts_with('/') {
        return recorded == wanted;
    }
    let wanted = wanted.strip_prefix("./").unwrap_or(wanted);
    recorded == wanted
        || (recorded.len() > wanted.len()
            && recorded.ends_with(wanted)
            && recorded.as_bytes()[recorded.len() - wanted.len() - 1] == b'/')
}

pub fn visits(file: &Path, location: &str) -> Result<i32> {
    let (path, line) = parse_location(location)?;
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(None, None)? else {
        return Ok(0);
    };
    let mut o = out::stdout();
    let mut any_file = false;
    let mut files: BTreeSet<String> = BTreeSet::new();
    rec.for_each_meta(from, to, |m| {
        if !path_matches(&m.file, path) {
            if files.len() < MAX_FILES_SHOWN {
                files.insert(m.file.to_string());
            }
            return Ok(());
        }
        any_file = true;
        if m.event == EventKind::Line && m.line == line {
            out::line(&mut o, &meta_line(m))?;
        }
        Ok(())
    })?;
    o.flush()?;
    if !any_file {
        let names: Vec<_> = files.into_iter().collect();
        bail!(
            "no recorded step ran in a file matching `{path}` (recorded files include: {}); give the path as recorded, or its last components",
            names.join(", ")
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(parse_location("app.py:12").unwrap(), ("app.py", 12));
        assert_eq!(parse_location("/a/b:c.py:3").unwrap(), ("/a/b:c.py", 3));
        assert!(parse_location("app.py").is_err());
        assert!(parse_location(":3").is_err());
        assert!(parse_location("app.py:x").is_err());
        assert!(parse_location("app.py:-1").is_err());
    }

    #[test]
    fn suffix_matching() {
        assert!(path_matches("/x/y/app.py", "app.py"));
        assert!(path_matches("/x/y/app.py", "y/app.py"));
        assert!(path_matches("/x/y/app.py", "./app.py"));
        assert!(path_matches("/x/y/app.py", "/x/y/app.py"));
        assert!(!path_matches("/x/y/myapp.py", "app.py"));
        assert!(!path_matches("/x/y/app.py", "/y/app.py"));
        assert!(!path_matches("/x/y/app.py", "other.py"));
    }
}
