//! The sources a client shows: the text the recording keeps of each file
//! its steps name. A frame's `source` carries a `sourceReference` for a
//! file the recording keeps, so the client asks for its text (the `source`
//! request) instead of reading the program's file, which may have changed
//! since the recording, or be a FIFO.

use std::path::Path;

use serde_json::{json, Value};
use store::Reader;

use super::{Answer, Server};

/// A frame's `source`: its name, a path the client can open (not for code
/// that has no file: `<string>`, `<stdin>`), and the reference of the text
/// the recording keeps, if it keeps one.
pub(super) fn source(reader: &Reader, cwd: &Path, file: &str) -> Value {
    let name = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    let mut v = json!({ "name": name });
    if !file.starts_with('<') {
        v["path"] = json!(cwd.join(file));
    }
    if let Some(r) = reference(reader, file) {
        v["sourceReference"] = json!(r);
    }
    v
}

/// The reference of `file`'s kept text: its place among the kept files, from 1.
fn reference(reader: &Reader, file: &str) -> Option<usize> {
    reader.source(file)?.text.as_ref()?;
    let i = reader.source_files().iter().position(|f| f == file)?;
    Some(i + 1)
}

impl Server<'_> {
    /// `source`: the kept text of the file `sourceReference` (or
    /// `source.path`) names.
    pub(super) fn source_request(&mut self, args: &Value) -> Answer {
        let l = self.loaded()?;
        let files = l.reader.source_files();
        let reference = args
            .get("sourceReference")
            .or_else(|| args.pointer("/source/sourceReference"))
            .and_then(Value::as_u64)
            .filter(|&r| r > 0);
        let path = args.pointer("/source/path").and_then(Value::as_str);
        let file = match (reference, path) {
            (Some(r), _) => usize::try_from(r - 1).ok().and_then(|i| files.get(i)),
            (None, Some(p)) => files
                .iter()
                .find(|f| f.as_str() == p || l.cwd.join(f.as_str()) == Path::new(p)),
            (None, None) => return Err("source needs sourceReference or source.path".into()),
        };
        let Some(file) = file else {
            return Err("the recording keeps no text of that source".into());
        };
        let kept = l
            .reader
            .source(file)
            .ok_or_else(|| format!("the recording keeps no text of {file}"))?;
        match &kept.text {
            Some(text) => Ok((
                json!({"content": text, "mimeType": "text/x-python"}),
                Vec::new(),
            )),
            None => Err(format!(
                "the recording keeps no text of {file}: {}",
                kept.missing
            )),
        }
    }
}
