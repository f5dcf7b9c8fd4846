//! The commands that list steps, read from the step metas alone: `steps`
//! (a line per step) and `visits` (the line steps at which one source line
//! ran). When no step ran that line, `visits` says why: no recorded file
//! matches (status 2, with the closest recorded files), the file has no
//! such line (status 2), or the line is real but never ran (status 0, with
//! the nearest lines that did).

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use store::EventKind;

use crate::args::RangeArgs;
use crate::nodes::{insert_node, NodeFinder};
use crate::out;
use crate::recording::{meta_json, Recording, Threads};
use crate::suggest;

pub fn steps(file: &Path, range: RangeArgs, json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    // `--to` past the end means "to the end": the listing shows where it
    // stopped. (`--from` past the end is still an error: nothing to list.)
    let to = range.to.map(|t| t.min(rec.count().saturating_sub(1)));
    let Some((from, to)) = rec.range(range.from, to)? else {
        return Ok(0);
    };
    let threads = if json {
        Threads::Hidden
    } else {
        Threads::of(&rec)?
    };
    let mut o = out::stdout();
    let mut finder = NodeFinder::new(&rec.reader);
    rec.for_each_meta(from, to, |m| {
        if json {
            let mut step = meta_json(m);
            insert_node(&mut step, finder.node_json(m.file, m.event, m.position));
            rec.add_time(m.step.0, &mut step);
            serde_json::to_writer(&mut o, &step)?;
            o.write_all(b"\n")?;
        } else {
            out::line(&mut o, &threads.line(m))?;
        }
        Ok(())
    })?;
    o.flush()?;
    Ok(0)
}

/// Distinct recorded file names kept for messages, at most.
const MAX_FILES: usize = 10_000;

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

/// What the scan learned about the files matching PATH.
#[derive(Default)]
struct Seen {
    /// Recorded files that match.
    matching: BTreeSet<String>,
    /// Lines of those files at which a line step ran.
    lines: BTreeSet<u32>,
    /// Every recorded file (for the "closest files" message).
    files: HashSet<String>,
}

pub fn visits(file: &Path, location: &str) -> Result<i32> {
    let (path, line) = parse_location(location)?;
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(None, None)? else {
        bail!("no step ran `{location}`: {}", rec.holds());
    };
    let threads = Threads::of(&rec)?;
    let mut o = out::stdout();
    let mut seen = Seen::default();
    // The file of consecutive steps is mostly the same: match it once.
    let mut last: (String, bool) = (String::new(), false);
    rec.for_each_meta(from, to, |m| {
        if m.file != last.0 {
            last = (m.file.to_string(), path_matches(m.file, path));
            if seen.files.len() < MAX_FILES && !seen.files.contains(m.file) {
                seen.files.insert(m.file.to_string());
            }
            if last.1 {
                seen.matching.insert(m.file.to_string());
            }
        }
        if last.1 && m.event == EventKind::Line {
            seen.lines.insert(m.line);
            if m.line == line {
                out::line(&mut o, &threads.line(m))?;
            }
        }
        Ok(())
    })?;
    o.flush()?;
    if seen.matching.is_empty() {
        bail!(no_such_file(path, &seen.files));
    }
    if seen.lines.contains(&line) {
        return Ok(0);
    }
    let shown = seen.matching.iter().next().map_or(path, String::as_str);
    let source = seen.matching.iter().find_map(|f| source_lines(&rec, f));
    let ran = nearest(&seen.lines, line);
    if let Some(lines) = &source {
        if line == 0 || line as usize > lines.len() {
            bail!(
                "{shown} has no line {line} (it has {}){ran}",
                crate::out::count(lines.len() as u64, "line")
            );
        }
    }
    let what = match source.as_ref().and_then(|l| l.get(line as usize - 1)) {
        Some(text) if text.trim().is_empty() => " (a blank line: no code runs there)",
        Some(text) if text.trim_start().starts_with('#') => " (a comment: no code runs there)",
        _ => "",
    };
    let _ = writeln!(
        std::io::stderr(),
        "hindsight: {shown}:{line} never ran{what}{ran}"
    );
    Ok(0)
}

/// The error of a PATH no recorded step ran in, with the recorded files
/// whose names are closest to it.
fn no_such_file(path: &str, files: &HashSet<String>) -> String {
    let mut files: Vec<&String> = files.iter().collect();
    files.sort();
    let wanted = path.rsplit('/').next().unwrap_or(path);
    let close = suggest::closest(wanted, files.iter().copied(), |f: &String| {
        f.rsplit('/').next().unwrap_or(f)
    });
    let close: Vec<&str> = close.iter().map(|s| s.as_str()).collect();
    format!(
        "no recorded step ran in a file matching `{path}`; the recorded files closest to it: {}; \
         give the path as recorded, or its last components",
        close.join(", ")
    )
}

/// `; lines of it that ran nearest: 3 and 7` (or nothing when none ran).
fn nearest(lines: &BTreeSet<u32>, line: u32) -> String {
    let below = lines.range(..line).next_back();
    let above = lines.range(line..).next();
    match (below, above) {
        (Some(b), Some(a)) => format!("; the nearest lines of it that ran: {b} and {a}"),
        (Some(x), None) | (None, Some(x)) => format!("; the nearest line of it that ran: {x}"),
        (None, None) => "; no line step of it ran".to_string(),
    }
}

/// The lines of a recorded source file, when the recording keeps its text.
fn source_lines(rec: &Recording, recorded: &str) -> Option<Vec<String>> {
    let source = rec.reader.source(recorded)?;
    let text = source.text.as_ref()?;
    let mut lines: Vec<String> = source.lines().into_iter().map(str::to_string).collect();
    // A newline ends the last line; it does not start another.
    if text.ends_with('\n') {
        lines.pop();
    }
    Some(lines)
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

    #[test]
    fn nearest_lines() {
        let lines: BTreeSet<u32> = [2, 3, 9].into_iter().collect();
        assert_eq!(
            nearest(&lines, 5),
            "; the nearest lines of it that ran: 3 and 9"
        );
        assert_eq!(nearest(&lines, 1), "; the nearest line of it that ran: 2");
        assert_eq!(nearest(&BTreeSet::new(), 1), "; no line step of it ran");
    }

    #[test]
    fn closest_files_are_suggested() {
        let files: HashSet<String> = [
            "/usr/lib/python3.11/abc.py",
            "/p/nosuch_app.py",
            "/p/app.py",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let msg = no_such_file("nosuch.py", &files);
        assert!(msg.contains("closest to it: /p/nosuch_app.py, "), "{msg}");
    }
}
