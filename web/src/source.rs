//! The source files the page shows, read from disk at the path the
//! recording names. Only files a step or a frame the server has answered
//! for names are read (the page asks for no other), so the server is not a
//! way to read any file of the machine; and when one cannot be read the
//! answer says why instead of failing.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{json, Value};

/// Source files larger than this are not shown.
pub const MAX_SOURCE_BYTES: u64 = 16 << 20;
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
/// `"available": false` with `"reason"`. A relative recorded name (3.8
/// records `app.py` for `python3 app.py`) is read relative to `cwd`.
pub fn source_json(file: &str, cwd: &str) -> Value {
    let path = resolve(file, cwd);
    let shown = path.display().to_string();
    match read(file, &path) {
        Ok(text) => {
            let lines: Vec<&str> = text
                .split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect();
            json!({"file": file, "path": shown, "available": true, "lines": lines})
        }
        Err(reason) => json!({"file": file, "path": shown, "available": false, "reason": reason}),
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

/// The file's text, or why it cannot be shown.
fn read(file: &str, path: &Path) -> Result<String, String> {
    if file.starts_with('<') && file.ends_with('>') {
        return Err(format!(
            "{file} is code that was not read from a file (given with -c, read from stdin, \
             or compiled from a string): its source is not on disk"
        ));
    }
    let f = std::fs::File::open(path).map_err(|e| {
        format!(
            "{} cannot be read ({e}): it moved, or the recording was made on another machine",
            path.display()
        )
    })?;
    let meta = f
        .metadata()
        .map_err(|e| format!("{} cannot be read ({e})", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(format!(
            "{} is larger than {} MiB: not shown",
            path.display(),
            MAX_SOURCE_BYTES >> 20
        ));
    }
    let mut bytes = Vec::new();
    f.take(MAX_SOURCE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{} cannot be read ({e})", path.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_or_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\r\ny = 2\n").unwrap();
        let cwd = dir.path().to_str().unwrap();
        let s = source_json("a.py", cwd);
        assert_eq!(s["available"], true);
        assert_eq!(s["lines"], json!(["x = 1", "y = 2", ""]));
        let s = source_json("/nonexistent/b.py", cwd);
        assert_eq!(s["available"], false);
        assert!(s["reason"].as_str().unwrap().contains("another machine"));
        let s = source_json("<string>", cwd);
        assert!(s["reason"].as_str().unwrap().contains("-c"));
        assert_eq!(source_json(cwd, "/")["available"], false, "a directory");
    }

    #[test]
    fn known_files() {
        let k = Known::default();
        k.add("/a.py");
        assert!(k.contains("/a.py"));
        assert!(!k.contains("/etc/passwd"));
    }
}
