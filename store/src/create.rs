//! Creating a recording file without harming what is at its path, and so
//! that a file with its header is there at every moment from then on.
//!
//! - A recording holds the program's variables (secrets included): it is
//!   created with mode 0600 unless asked otherwise.
//! - What is at the path is replaced only when it is a recording or an empty
//!   file; anything else needs `force`. A directory or a special file
//!   (device, FIFO, socket) is never replaced. A symbolic link at the last
//!   component is never followed: with `force` the link itself is replaced.
//! - The file is written under a temporary name in the same directory and
//!   renamed into place with its header written, so a kill at any moment
//!   leaves the old file or a new one that opens, never an empty or
//!   half-written one; where nothing was at the path, the rename refuses
//!   to replace anything that appeared meanwhile (`RENAME_NOREPLACE`).
//! - [`RecordingFile::set_header`] replaces the header the same way (a
//!   recorder creates the file before it knows the interpreter, and writes
//!   the full header once it does, before the first step).

use crate::error::StoreError;
use crate::format::{encode_preamble_of, FORMAT_VERSION, MAGIC};
use crate::records::RecordingHeader;
use nix::errno::Errno;
use nix::fcntl::{renameat2, OFlag, RenameFlags};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How a new recording file is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateOptions {
    /// The file's permission bits, exactly (the umask does not apply: they
    /// were asked for). Default 0o600.
    pub mode: u32,
    /// Replace a file that is not a recording, or a symbolic link itself.
    pub force: bool,
}

impl Default for CreateOptions {
    fn default() -> CreateOptions {
        CreateOptions {
            mode: 0o600,
            force: false,
        }
    }
}

/// A recording file at its path, holding its preamble and header and
/// nothing else yet.
#[derive(Debug)]
pub struct RecordingFile {
    file: File,
    path: PathBuf,
    /// Bytes written: the preamble with the header.
    len: u64,
    /// Device and inode: the path is checked to be this file before the
    /// header is replaced.
    id: (u64, u64),
    mode: u32,
}

/// What the path holds before the file is created.
enum Existing {
    Nothing,
    Replaceable,
}

impl RecordingFile {
    /// Create the recording at `path` holding the preamble of `header`
    /// (whose `format_version` is filled in).
    pub fn create(
        path: &Path,
        header: &RecordingHeader,
        opts: CreateOptions,
    ) -> Result<RecordingFile, StoreError> {
        let existing = check_path(path, opts.force)?;
        let preamble = preamble(header)?;
        let (file, temp) = write_temp(path, &preamble, opts.mode)?;
        let placed = match existing {
            Existing::Nothing => rename_noreplace(&temp, path),
            Existing::Replaceable => std::fs::rename(&temp, path),
        };
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&temp);
            return Err(match e.kind() {
                std::io::ErrorKind::AlreadyExists => refused(
                    path,
                    "appeared while the recording was being created; not replaced",
                ),
                _ => StoreError::io(format!("creating {}", path.display()), e),
            });
        }
        let id = file_id(&file, path)?;
        Ok(RecordingFile {
            file,
            path: path.to_path_buf(),
            len: preamble.len() as u64,
            id,
            mode: opts.mode,
        })
    }

    /// Replace the header (before anything else is written): a new file
    /// with the new header is renamed over this one, so the path holds one
    /// complete header or the other at every moment.
    pub fn set_header(&mut self, header: &RecordingHeader) -> Result<(), StoreError> {
        let preamble = preamble(header)?;
        let (file, temp) = write_temp(&self.path, &preamble, self.mode)?;
        self.place(file, temp, "while recording started")?;
        self.len = preamble.len() as u64;
        Ok(())
    }

    /// Replace the whole file, as [`RecordingFile::set_header`] replaces
    /// the header: a new file (format `version`, `header`, then what `body`
    /// writes after the preamble, given its offset; it returns the file's
    /// length) is renamed over this one, so the path holds one complete
    /// file or the other at every moment (a flight recording is written
    /// this way each time it is written).
    pub(crate) fn rewrite(
        &mut self,
        header: &RecordingHeader,
        version: u32,
        body: impl FnOnce(&mut File, u64) -> Result<u64, StoreError>,
    ) -> Result<u64, StoreError> {
        let preamble = preamble_of(header, version)?;
        let (mut file, temp) = write_temp(&self.path, &preamble, self.mode)?;
        let written = body(&mut file, preamble.len() as u64).and_then(|len| {
            file.sync_data()
                .map_err(|e| StoreError::io(format!("writing {}", self.path.display()), e))?;
            Ok(len)
        });
        let len = match written {
            Ok(len) => len,
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        };
        self.place(file, temp, "while recording")?;
        self.len = len;
        Ok(len)
    }

    /// Rename `temp` (holding `file`) over the path, if the path still
    /// holds this recording (else the error says it was replaced `when`).
    fn place(&mut self, file: File, temp: PathBuf, when: &str) -> Result<(), StoreError> {
        let still_ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.id && m.file_type().is_file());
        if !still_ours {
            let _ = std::fs::remove_file(&temp);
            return Err(refused(
                &self.path,
                &format!("was replaced by something else {when}; not touched"),
            ));
        }
        if let Err(e) = std::fs::rename(&temp, &self.path) {
            let _ = std::fs::remove_file(&temp);
            return Err(StoreError::io(
                format!("writing {}", self.path.display()),
                e,
            ));
        }
        self.id = file_id(&file, &self.path)?;
        self.file = file;
        Ok(())
    }

    /// Another handle on the file as it is now.
    pub(crate) fn handle(&self) -> Result<File, StoreError> {
        self.file
            .try_clone()
            .map_err(|e| StoreError::io(format!("opening {}", self.path.display()), e))
    }

    /// The path the file was created at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove the file, if the path still holds it (a start that failed
    /// before anything was recorded leaves nothing behind).
    pub fn remove(self) {
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// The open file, positioned after the header, and its length.
    pub(crate) fn into_parts(self) -> (File, PathBuf, u64) {
        (self.file, self.path, self.len)
    }
}

fn preamble(header: &RecordingHeader) -> Result<Vec<u8>, StoreError> {
    preamble_of(header, FORMAT_VERSION)
}

fn preamble_of(header: &RecordingHeader, version: u32) -> Result<Vec<u8>, StoreError> {
    let mut header = header.clone();
    header.format_version = version;
    encode_preamble_of(&header, version)
}

fn refused(path: &Path, why: &str) -> StoreError {
    StoreError::Refused {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// What is at `path`, refusing what must not be replaced.
fn check_path(path: &Path, force: bool) -> Result<Existing, StoreError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(StoreError::io(format!("looking at {}", path.display()), e)),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return if force {
            Ok(Existing::Replaceable)
        } else {
            Err(refused(
                path,
                "is a symbolic link; a recording is never written through one (give the \
                 real path, or pass --force to replace the link itself)",
            ))
        };
    }
    if kind.is_dir() {
        return Err(refused(
            path,
            "is a directory; give a file name for the recording",
        ));
    }
    if !kind.is_file() {
        return Err(refused(
            path,
            "is not a regular file (a device, FIFO or socket); give another path",
        ));
    }
    if force || meta.len() == 0 || starts_with_magic(path) {
        return Ok(Existing::Replaceable);
    }
    Err(refused(
        path,
        "exists and is not a hindsight recording; it was left as it is (pass --force to \
         replace it, or give another path)",
    ))
}

/// Whether the regular file at `path` starts with the recording magic.
fn starts_with_magic(path: &Path) -> bool {
    let mut head = [0u8; 8];
    OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head == MAGIC
}

/// A new file next to `path`, under a name of its own, holding `bytes`,
/// with exactly `mode`.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> Result<(File, PathBuf), StoreError> {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| "recording".into(), |n| n.to_string_lossy().into_owned());
    let io = |what: &str, e| StoreError::io(format!("{what} {}", path.display()), e);
    loop {
        let temp = dir.join(format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode & 0o7777)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC).bits())
            .open(&temp);
        let mut file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io("creating", e)),
        };
        let written = file
            .set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
            .and_then(|()| file.write_all(bytes));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io("writing", e));
        }
        return Ok((file, temp));
    }
}

/// Rename `from` to `to` unless something is at `to`. Where the file
/// system has no `RENAME_NOREPLACE`, a hard link does the same.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    match renameat2(None, from, None, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
            std::fs::hard_link(from, to)?;
            std::fs::remove_file(from)
        }
        Err(e) => Err(std::io::Error::from(e)),
    }
}

fn file_id(file: &File, path: &Path) -> Result<(u64, u64), StoreError> {
    file.metadata()
        .map(|m| (m.dev(), m.ino()))
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn header() -> RecordingHeader {
        RecordingHeader {
            format_version: 0,
            program: vec!["python3".into()],
            cwd: "/".into(),
            pid: 0,
            interpreter: String::new(),
            interpreter_path: String::new(),
            mode: "record".into(),
            started_unix_ms: 0,
            recorder: "test".into(),
        }
    }

    fn mode_of(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_with_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.hsr");
        let f = RecordingFile::create(&p, &header(), CreateOptions::default()).unwrap();
        assert_eq!(mode_of(&p), 0o600);
        assert_eq!(std::fs::read(&p).unwrap()[..8], MAGIC);
        drop(f);
        let opts = CreateOptions {
            mode: 0o640,
            force: false,
        };
        // A recording is replaced, with the mode asked for.
        RecordingFile::create(&p, &header(), opts).unwrap();
        assert_eq!(mode_of(&p), 0o640);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn other_files_links_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "precious").unwrap();
        let e = RecordingFile::create(&other, &header(), CreateOptions::default()).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read(&other).unwrap(), b"precious");
        // A link to it: refused, and with force the link is replaced, not
        // its target.
        let link = dir.path().join("link.hsr");
        symlink(&other, &link).unwrap();
        let e = RecordingFile::create(&link, &header(), CreateOptions::default()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let force = CreateOptions {
            force: true,
            ..CreateOptions::default()
        };
        RecordingFile::create(&link, &header(), force).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"precious");
        assert!(!std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // Force replaces a file that is not a recording.
        RecordingFile::create(&other, &header(), force).unwrap();
        assert_eq!(std::fs::read(&other).unwrap()[..8], MAGIC);
        // Never a directory, even with force; an empty file is replaced.
        assert!(RecordingFile::create(dir.path(), &header(), force).is_err());
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        RecordingFile::create(&empty, &header(), CreateOptions::default()).unwrap();
    }

    #[test]
    fn the_header_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.hsr");
        let mut f = RecordingFile::create(&p, &header(), CreateOptions::default()).unwrap();
        let before = std::fs::read(&p).unwrap();
        let mut h = header();
        h.interpreter = "CPython 3.11.7".into();
        f.set_header(&h).unwrap();
        let after = std::fs::read(&p).unwrap();
        assert_ne!(before, after);
        assert_eq!(after.len() as u64, f.len);
        assert_eq!(mode_of(&p), 0o600);
        // Replaced by someone else meanwhile: not touched.
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "theirs").unwrap();
        assert!(f.set_header(&header()).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"theirs");
        f.remove();
        assert_eq!(std::fs::read(&p).unwrap(), b"theirs");
    }
}
