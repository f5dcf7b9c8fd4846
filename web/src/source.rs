//! The source files the page shows: the text the recording keeps of each
//! file its steps name (never the program's files, which may have changed
//! since). Only files a step or a frame the server has answered for names
//! are answered (the page asks for no other); when the recording holds no
//! text of one, the answer says why instead of failing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};
use store::SourceFile;
/// File names remembered at most (a recording names few).
const MAX_KNOWN: usize = 100_000;

/// The file names the server has answered for.
#[derive(Default)]
pub struct Known {
    files: Mutex<HashSet<String>>,
}

impl Known {
    /// Remember `file` (up to [`MAX_KNOWN`] names).
    pub fn add(&self, file: &str) {
        if let Ok(mut f) = self.files.lock() {
            if f.len() < MAX_KNOWN && !f.contains(file) {
                f.insert(file.to_string());
            }
        }
    }

    /// Whether `file` was named by an answer.
    pub fn contains(&self, file: &str) -> bool {
        self.files.lock().is_ok_and(|f| f.contains(file))
    }
}

/// `{"file", "path", "available": true, "lines": [...]}`, or
/// `"available": false` with `"reason"`: the text the recording kept of
/// `file` (a name as the steps give it; `path` is where it was, a relative
/// name under `cwd`). The program's files are never read again: they may
/// have changed since the recording, or be a FIFO.
pub fn source_json(file: &str, cwd: &str, kept: Option<&SourceFile>) -> Value {
    let shown = resolve(file, cwd).display().to_string();
    match kept {
        Some(SourceFile { text: Some(_), .. }) => {
            let lines = kept.map(SourceFile::lines).unwrap_or_default();
            json!({"file": file, "path": shown, "available": true, "lines": lines})
        }
        Some(s) => {
            json!({"file": file, "path": shown, "available": false, "reason": s.missing})
        }
        None => json!({
            "file": file,
            "path": shown,
            "available": false,
            "reason": format!(
                "the recording does not keep the text of {file} (it was made by a hindsight \
                 older than format 3, which did not keep source files)"
            )
        }),
    }
}

fn resolve(file: &str, cwd: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new(cwd).join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_or_a_reason() {
        let kept = SourceFile {
            file: "a.py".into(),
            text: Some("x = 1\r\ny = 2\n".into()),
            missing: String::new(),
        };
        let s = source_json("a.py", "/w", Some(&kept));
        assert_eq!(s["available"], true);
        assert_eq!(s["path"], "/w/a.py");
        assert_eq!(s["lines"], json!(["x = 1", "y = 2", ""]));
        let fifo = SourceFile {
            file: "/p".into(),
            text: None,
            missing: "/p is not a regular file".into(),
        };
        let s = source_json("/p", "/w", Some(&fifo));
        assert_eq!(s["available"], false);
        assert_eq!(s["reason"], "/p is not a regular file");
        let s = source_json("b.py", "/w", None);
        assert!(s["reason"].as_str().unwrap().contains("older"));
    }

    #[test]
    fn known_files() {
        let k = Known::default();
        k.add("/a.py");
        assert!(k.contains("/a.py"));
        assert!(!k.contains("/etc/passwd"));
    }
}
