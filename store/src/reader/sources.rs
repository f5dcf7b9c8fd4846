//! The source files a recording keeps (crate::sources), read on demand:
//! every source segment the table holds is decoded once, within a bound on
//! the text kept in memory, and looked up by the name the steps use.

use super::*;
use crate::sources::{SourceFile, MAX_SOURCES_BYTES, MAX_SOURCE_BYTES};

/// The largest source payload decoded: the text a writer keeps at most,
/// with room for the file's name and the reason.
const MAX_SOURCE_PAYLOAD: usize = MAX_SOURCE_BYTES as usize + (1 << 20);

/// The source files decoded so far, and how many segments they came from.
#[derive(Default)]
pub(super) struct SourceCache {
    read: usize,
    bytes: u64,
    files: Vec<Arc<SourceFile>>,
}

impl Reader {
    /// The source file `file` (a name as the steps give it) as the recorder
    /// kept it, `None` when the recording holds none of that name (made by
    /// an older hindsight, or a file no step names). A damaged source
    /// segment is skipped (it costs that file only).
    pub fn source(&self, file: &str) -> Option<Arc<SourceFile>> {
        let mut cache = self.source_cache.lock().ok()?;
        while cache.read < self.sources.len() {
            let s = self.sources[cache.read];
            cache.read += 1;
            if cache.bytes >= MAX_SOURCES_BYTES {
                continue;
            }
            let decoded = self.source_at(s);
            match decoded {
                Ok(src) => {
                    let len = src.text.as_ref().map_or(0, |t| t.len() as u64);
                    cache.bytes += len + src.file.len() as u64;
                    cache.files.push(Arc::new(src));
                }
                Err(e) => log::warn!("{}: source file skipped: {e}", self.path.display()),
            }
        }
        cache.files.iter().find(|f| f.file == file).cloned()
    }

    /// Decode the source segment `s`, refused before it is decompressed
    /// when it is larger than a writer makes one.
    fn source_at(&self, s: SegRef) -> Result<SourceFile, StoreError> {
        let mut fb = [0u8; FRAME_LEN as usize];
        read_exact(&self.file, s.offset, &mut fb, &self.path)?;
        let frame = parse_frame(&fb, s.offset)?;
        if frame.raw_len as usize > MAX_SOURCE_PAYLOAD {
            return Err(StoreError::corrupt(
                format!(
                    "a source segment of {} bytes, past the bound",
                    frame.raw_len
                ),
                s.offset,
            ));
        }
        let raw = self.segment(s, SegKind::Source)?;
        from_msgpack(&raw, "a source segment", s.offset)
    }

    /// The names of the source files the recording keeps.
    pub fn source_files(&self) -> Vec<String> {
        // Decoding them all is what a lookup of a name not kept does.
        let _ = self.source("");
        self.source_cache
            .lock()
            .map(|c| c.files.iter().map(|f| f.file.clone()).collect())
            .unwrap_or_default()
    }
}
