//! Test helpers for the ptrace tests: compile a small C program with `cc`
//! (non-PIE, so symbol addresses from `nm` are runtime addresses) and look up
//! its functions.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use tracer::RemoteAddr;

/// A compiled C program in a temporary directory.
pub struct CProg {
    pub dir: tempfile::TempDir,
    pub exe: PathBuf,
}

impl CProg {
    /// Compile `src` (C source) with pthreads, non-PIE.
    pub fn build(name: &str, src: &str) -> CProg {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = dir.path().join(format!("{name}.c"));
        std::fs::write(&c, src).expect("write C source");
        let exe = dir.path().join(name);
        let out = Command::new("cc")
            .args(["-O1", "-g", "-no-pie", "-fno-pie", "-pthread", "-o"])
            .arg(&exe)
            .arg(&c)
            .output()
            .expect("run cc");
        assert!(
            out.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        CProg { dir, exe }
    }

    /// Address of function `sym` (from `nm`).
    pub fn sym(&self, sym: &str) -> RemoteAddr {
        let out = Command::new("nm").arg(&self.exe).output().expect("run nm");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() == 3 && parts[2] == sym {
                return RemoteAddr(u64::from_str_radix(parts[0], 16).expect("nm address"));
            }
        }
        panic!("symbol {sym} not found in {}", self.exe.display());
    }

    /// A path for the program's output file.
    pub fn out_path(&self) -> PathBuf {
        self.dir.path().join("out.txt")
    }

    /// The program's output file's text.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.out_path()).unwrap_or_default()
    }

    /// argv for the program: the output path, then `rest`.
    pub fn args(&self, rest: &[&str]) -> Vec<OsString> {
        let mut v = vec![self.out_path().into_os_string()];
        v.extend(rest.iter().map(OsString::from));
        v
    }
}

/// The os string of a path.
pub fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}
