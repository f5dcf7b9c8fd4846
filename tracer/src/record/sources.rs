//! The source files a recording keeps: the text of each recorded file is
//! read once, at the first step that names it (the program stopped at its
//! trap, so the file is the one that is running), and handed to the writer
//! before that step. Only regular files are read, without blocking and
//! within bounds: a FIFO, `/dev/stdin` or a device named as a program's
//! file is never opened for reading.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use store::{SourceFile, Writer, MAX_SOURCES_BYTES, MAX_SOURCE_BYTES};

/// The files kept so far in one recording.
pub(crate) struct Sources {
    /// What a relative file name is relative to: the interpreter's working
    /// directory when recording began.
    cwd: PathBuf,
    seen: HashSet<Arc<str>>,
    /// The file of the last step: most steps name it again (no hashing).
    last: Option<Arc<str>>,
    /// Text kept so far, against [`MAX_SOURCES_BYTES`].
    kept: u64,
}

impl Sources {
    /// Nothing kept yet; relative names are read under `cwd`.
    pub(crate) fn new(cwd: &Path) -> Sources {
        Sources {
            cwd: cwd.to_path_buf(),
            seen: HashSet::new(),
            last: None,
            kept: 0,
        }
    }

    /// A step names `file`: the first time, keep its text in the recording.
    pub(crate) fn first_use(&mut self, file: &Arc<str>, writer: &Writer) {
        if self.last.as_ref().is_some_and(|l| Arc::ptr_eq(l, file)) {
            return;
        }
        self.last = Some(file.clone());
        if !self.seen.insert(file.clone()) {
            return;
        }
        let left = MAX_SOURCES_BYTES.saturating_sub(self.kept);
        let source = read_source(file, &self.cwd, left);
        self.kept += source.text.as_ref().map_or(0, |t| t.len() as u64);
        writer.keep_source(source);
    }
}

/// The source file `file` (relative to `cwd` when relative) as a recording
/// keeps it: its text when it is a regular file of at most
/// [`MAX_SOURCE_BYTES`] (and `left`), else why not.
pub(crate) fn read_source(file: &str, cwd: &Path, left: u64) -> SourceFile {
    let (text, missing) = match read_text(file, cwd, left) {
        Ok(text) => (Some(text), String::new()),
        Err(why) => (None, why),
    };
    log::debug!(target: "tracer::record", "source {file}: {}", if missing.is_empty() { "kept" } else { &missing });
    SourceFile {
        file: file.to_string(),
        text,
        missing,
    }
}

fn read_text(file: &str, cwd: &Path, left: u64) -> Result<String, String> {
    if file.starts_with('<') && file.ends_with('>') {
        return Err(format!(
            "{file} is code that was not read from a file (given with -c, read from stdin, or \
             compiled from a string)"
        ));
    }
    let path = cwd.join(file);
    // A device's name (/dev/stdin is hindsight's own stdin here) says
    // nothing of what the program read.
    if path.starts_with("/dev") || path.starts_with("/proc") {
        return Err(format!("{} is a device, not a source file", path.display()));
    }
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(&path)
        .map_err(|e| format!("{} could not be read when recorded: {e}", path.display()))?;
    let meta = f
        .metadata()
        .map_err(|e| format!("{} could not be read when recorded: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a regular file (a FIFO, a device, a directory): not read",
            path.display()
        ));
    }
    let max = MAX_SOURCE_BYTES.min(left);
    if meta.len() > max {
        return Err(format!(
            "{} is larger than {} MiB: its text was not kept",
            path.display(),
            MAX_SOURCE_BYTES >> 20
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{} could not be read when recorded: {e}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{} grew past {} MiB while read: its text was not kept",
            path.display(),
            MAX_SOURCE_BYTES >> 20
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "x = 1\n").unwrap();
        let s = read_source("a.py", dir.path(), u64::MAX);
        assert_eq!(s.text.as_deref(), Some("x = 1\n"));
        assert!(s.missing.is_empty());
        let fifo = dir.path().join("fifo.py");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Would block without O_NONBLOCK: nobody writes to it.
            let s = read_source(fifo.to_str().unwrap(), Path::new("/"), u64::MAX);
            assert_eq!(s.text, None);
            assert!(s.missing.contains("not a regular file"), "{}", s.missing);
        }
        let s = read_source("/dev/stdin", Path::new("/"), u64::MAX);
        assert_eq!(s.text, None);
        let s = read_source("<string>", dir.path(), u64::MAX);
        assert!(s.missing.contains("-c"));
        let s = read_source("a.py", dir.path(), 3);
        assert_eq!(s.text, None, "past what is left of the bound");
        let s = read_source("missing.py", dir.path(), u64::MAX);
        assert!(s.missing.contains("could not be read"));
    }
}
