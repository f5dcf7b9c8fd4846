//! Which source files are recorded (docs/spec/cli.md): by default the files under
//! the main script's directory, leaving out the interpreter's standard
//! library and anything under site-packages/dist-packages; `--include`,
//! `--exclude` and `--all` change that.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct FilterSpec {
    /// Globs (matched against the absolute file path) that are recorded.
    pub include: Vec<String>,
    /// Globs that are never recorded (wins over `include`).
    pub exclude: Vec<String>,
    /// Record every Python frame.
    pub all: bool,
}

/// The decision procedure, with a cache by file name.
#[derive(Debug)]
pub struct FileFilter {
    spec: FilterSpec,
    include: GlobSet,
    exclude: GlobSet,
    base: Option<String>,
    stdlib: Vec<String>,
    cache: HashMap<Arc<str>, bool>,
}

impl FileFilter {
    /// `base_dir`: the main script's directory (or the working directory for
    /// `-c`/`-m`); `stdlib_dirs`: the interpreter's standard library folders.
    pub fn new(spec: FilterSpec, base_dir: Option<&Path>, stdlib_dirs: &[PathBuf]) -> FileFilter {
        FileFilter {
            include: glob_set(&spec.include),
            exclude: glob_set(&spec.exclude),
            spec,
            base: base_dir.map(dir_prefix),
            stdlib: stdlib_dirs.iter().map(|p| dir_prefix(p)).collect(),
            cache: HashMap::new(),
        }
    }

    /// Whether steps in `file` (a code object's `co_filename`) are recorded.
    pub fn accepts(&mut self, file: &Arc<str>) -> bool {
        if let Some(&hit) = self.cache.get(file) {
            return hit;
        }
        let decision = self.decide(file);
        log::debug!(target: "tracer::filter", "{file}: {}", if decision { "recorded" } else { "not recorded" });
        self.cache.insert(file.clone(), decision);
        decision
    }

    fn decide(&self, file: &str) -> bool {
        // CPython 3.8 leaves the main script's co_filename relative to the
        // working directory; the rules are about the absolute path.
        let joined;
        let file = if !file.starts_with('/') && !file.starts_with('<') && !file.is_empty() {
            match std::env::current_dir() {
                Ok(cwd) => {
                    joined = cwd.join(file).to_string_lossy().into_owned();
                    joined.as_str()
                }
                Err(_) => file,
            }
        } else {
            file
        };
        if self.exclude.is_match(file) {
            return false;
        }
        if self.spec.all || self.include.is_match(file) {
            return true;
        }
        let Some(base) = &self.base else {
            return false;
        };
        if !file.starts_with(base.as_str()) {
            return false;
        }
        if file.contains("/site-packages/") || file.contains("/dist-packages/") {
            return false;
        }
        // The stdlib is left out even when the script lives above it, unless
        // the script's own directory is inside the stdlib.
        !self
            .stdlib
            .iter()
            .any(|s| file.starts_with(s.as_str()) && !base.starts_with(s.as_str()))
    }
}

fn dir_prefix(p: &Path) -> String {
    let mut s = p.to_string_lossy().into_owned();
    if !s.ends_with('/') {
        s.push('/');
    }
    s
}

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
fn glob_set(patterns: &[String]) -> GlobSet {
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

/// The directory whose files are recorded by default: the main script's, or
/// the working directory for `-c`, `-m` and an interactive interpreter.
pub fn main_script_dir(python_args: &[OsString], cwd: &Path) -> PathBuf {
    let mut i = 0;
    while i < python_args.len() {
        let a = python_args[i].to_string_lossy();
        if a == "-" || !a.starts_with('-') {
            if a == "-" {
                return cwd.to_path_buf();
            }
            let p = Path::new(a.as_ref());
            let abs = if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            };
            return abs
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cwd.to_path_buf());
        }
        if a == "--" {
            i += 1;
            continue;
        }
        // Options whose value may be the next argument.
        let flags = a.trim_start_matches('-');
        if a.starts_with("--") {
            if a == "--check-hash-based-pycs" {
                i += 1;
            }
        } else if let Some(pos) = flags.find(['c', 'm', 'W', 'X']) {
            if flags.starts_with(['c', 'm'])
                || flags[..pos].chars().all(|c| "bBdEhiIOPqsSuvx".contains(c))
            {
                let opt = flags.as_bytes()[pos];
                if opt == b'c' || opt == b'm' {
                    return cwd.to_path_buf();
                }
                if pos + 1 == flags.len() {
                    i += 1;
                }
            }
        }
        i += 1;
    }
    cwd.to_path_buf()
}

/// Where the standard library of the interpreter at `image` lives.
pub(crate) fn stdlib_dirs(image: &Path, minor: u8) -> Vec<PathBuf> {
    let name = format!("python3.{minor}");
    let mut dirs = Vec::new();
    if let Some(dir) = image.parent() {
        let prefix = match dir.file_name().and_then(|n| n.to_str()) {
            Some("bin") | Some("lib") | Some("lib64") => dir.parent(),
            _ => Some(dir),
        };
        if let Some(prefix) = prefix {
            dirs.push(prefix.join("lib").join(&name));
            dirs.push(prefix.join("lib64").join(&name));
        }
    }
    for p in ["/usr/lib", "/usr/local/lib", "/usr/lib64"] {
        dirs.push(Path::new(p).join(&name));
    }
    dirs
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
        // An invalid glob matches nothing, in a filter too.
        assert!(!glob_match("/a/[z-a]", "/a/b"));
        let mut f = FileFilter::new(
            FilterSpec {
                exclude: vec!["/app/[z-a]".into(), "*/skip.py".into()],
                ..Default::default()
            },
            Some(Path::new("/app")),
            &[],
        );
        assert!(!f.accepts(&Arc::from("/app/skip.py")));
        assert!(f.accepts(&Arc::from("/app/keep.py")));
    }

    #[test]
    fn default_rules() {
        let mut f = FileFilter::new(
            FilterSpec::default(),
            Some(Path::new("/home/u/app")),
            &[PathBuf::from("/usr/lib/python3.11")],
        );
        assert!(f.accepts(&Arc::from("/home/u/app/main.py")));
        assert!(f.accepts(&Arc::from("/home/u/app/pkg/mod.py")));
        assert!(!f.accepts(&Arc::from("/home/u/application.py")));
        assert!(!f.accepts(&Arc::from(
            "/home/u/app/.venv/lib/python3.11/site-packages/x.py"
        )));
        assert!(!f.accepts(&Arc::from("/usr/lib/python3.11/json/__init__.py")));
        assert!(!f.accepts(&Arc::from("<frozen importlib._bootstrap>")));
    }

    #[test]
    fn include_exclude_all() {
        let spec = FilterSpec {
            include: vec!["/usr/lib/python3.11/json/*".into()],
            exclude: vec!["*/skip_*.py".into()],
            all: false,
        };
        let mut f = FileFilter::new(
            spec,
            Some(Path::new("/app")),
            &[PathBuf::from("/usr/lib/python3.11")],
        );
        assert!(f.accepts(&Arc::from("/usr/lib/python3.11/json/decoder.py")));
        assert!(!f.accepts(&Arc::from("/app/skip_me.py")));
        assert!(f.accepts(&Arc::from("/app/keep.py")));
        let mut all = FileFilter::new(
            FilterSpec {
                all: true,
                ..Default::default()
            },
            None,
            &[],
        );
        assert!(all.accepts(&Arc::from("<frozen importlib._bootstrap>")));
    }

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn main_script_directory() {
        let cwd = Path::new("/work");
        assert_eq!(
            main_script_dir(&args(&["app.py"]), cwd),
            PathBuf::from("/work")
        );
        assert_eq!(
            main_script_dir(&args(&["-u", "/a/b/app.py", "x"]), cwd),
            PathBuf::from("/a/b")
        );
        assert_eq!(
            main_script_dir(&args(&["-X", "dev", "sub/app.py"]), cwd),
            PathBuf::from("/work/sub")
        );
        assert_eq!(
            main_script_dir(&args(&["-W", "ignore", "/x/y.py"]), cwd),
            PathBuf::from("/x")
        );
        assert_eq!(
            main_script_dir(&args(&["-c", "print(1)"]), cwd),
            PathBuf::from("/work")
        );
        assert_eq!(
            main_script_dir(&args(&["-m", "http.server"]), cwd),
            PathBuf::from("/work")
        );
        assert_eq!(
            main_script_dir(&args(&["-uc", "x"]), cwd),
            PathBuf::from("/work")
        );
        assert_eq!(main_script_dir(&args(&[]), cwd), PathBuf::from("/work"));
    }

    #[test]
    fn stdlib_of_pyenv_and_system() {
        let d = stdlib_dirs(
            Path::new("/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"),
            11,
        );
        assert!(d.contains(&PathBuf::from(
            "/root/.pyenv/versions/3.11.7/lib/python3.11"
        )));
        let d = stdlib_dirs(Path::new("/usr/bin/python3.11"), 11);
        assert!(d.contains(&PathBuf::from("/usr/lib/python3.11")));
    }
}
