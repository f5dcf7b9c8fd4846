//! Which source files are recorded (docs/spec/cli.md): by default the program
//! the user ran ([`Program`]): the files under the main script's directory,
//! the `-c` code, the program read from stdin, or the package of `-m`,
//! leaving out the interpreter's standard library and anything under
//! site-packages/dist-packages below those; `--include`, `--exclude` and
//! `--all` change that. When nothing was recorded, the filter says why.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::GlobSet;

use super::globs::glob_set;
use super::program::{Found, ModuleWatch, Program};

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

/// How many files that ran but were not recorded are kept, to say so.
const SKIPPED_KEPT: usize = 32;

/// The decision procedure, with a cache by file name.
#[derive(Debug)]
pub struct FileFilter {
    spec: FilterSpec,
    include: GlobSet,
    exclude: GlobSet,
    /// Directories whose files are recorded by default (each ends in `/`).
    bases: Vec<String>,
    /// Files recorded by default: a module of one file run with `-m`.
    files: Vec<String>,
    /// Names of code that is no file, recorded by default (`<string>`).
    names: Vec<&'static str>,
    /// `-m NAME` whose place is not known yet.
    module: Option<ModuleWatch>,
    /// What the default records, for messages.
    program: Program,
    stdlib: Vec<String>,
    /// The program's working directory: a relative file name is under it.
    cwd: PathBuf,
    cache: HashMap<Arc<str>, bool>,
    /// Files whose code ran and was not recorded, first seen first.
    skipped: Vec<Arc<str>>,
}

impl FileFilter {
    /// The filter of `program`, run in `cwd` by an interpreter whose
    /// standard library is in `stdlib_dirs`.
    pub fn new(
        spec: FilterSpec,
        program: &Program,
        cwd: &Path,
        stdlib_dirs: &[PathBuf],
    ) -> FileFilter {
        let (mut bases, mut names, mut module) = (Vec::new(), Vec::new(), None);
        match program {
            Program::Script(path) => bases.push(dir_prefix(path.parent().unwrap_or(cwd))),
            Program::Code => {
                bases.push(dir_prefix(cwd));
                names.push("<string>");
            }
            Program::Stdin => {
                bases.push(dir_prefix(cwd));
                names.push("<stdin>");
            }
            Program::Module(name) => {
                bases.push(dir_prefix(cwd));
                module = ModuleWatch::new(name);
            }
        }
        FileFilter {
            include: glob_set(&spec.include),
            exclude: glob_set(&spec.exclude),
            spec,
            bases,
            files: Vec::new(),
            names,
            module,
            program: program.clone(),
            stdlib: stdlib_dirs.iter().map(|p| dir_prefix(p)).collect(),
            cwd: cwd.to_path_buf(),
            cache: HashMap::new(),
            skipped: Vec::new(),
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
        if !decision && self.skipped.len() < SKIPPED_KEPT {
            self.skipped.push(file.clone());
        }
        decision
    }

    fn decide(&mut self, file: &str) -> bool {
        // CPython 3.8 leaves the main script's co_filename relative to the
        // working directory; the rules are about the absolute path.
        let joined;
        let file = if !file.starts_with('/') && !file.starts_with('<') && !file.is_empty() {
            joined = self.cwd.join(file).to_string_lossy().into_owned();
            joined.as_str()
        } else {
            file
        };
        self.learn_module(file);
        if self.exclude.is_match(file) {
            return false;
        }
        if self.spec.all || self.include.is_match(file) {
            return true;
        }
        if self.names.contains(&file) || self.files.iter().any(|f| f == file) {
            return true;
        }
        self.bases.iter().any(|base| self.under(file, base))
    }

    /// With `-m`: when `file` is the first file Python runs for the module,
    /// its package (or file) is the program's from now on. No file of the
    /// module ran before, so no decision taken is changed.
    fn learn_module(&mut self, file: &str) {
        let Some(found) = self.module.as_ref().and_then(|m| m.found_in(file)) else {
            return;
        };
        log::debug!(target: "tracer::filter", "-m {}: {found:?}", self.module.as_ref().map_or("", |m| m.name()));
        self.module = None;
        match found {
            Found::Package(dir) => self.bases.push(dir_prefix(&dir)),
            Found::File(path) => {
                let dir = path.parent().map(dir_prefix).unwrap_or_default();
                // A module of one file in a folder of libraries is that file
                // alone; elsewhere its folder is the program's, as a script's.
                if self.in_stdlib(&dir) || below_packages(&dir) {
                    self.files.push(path.to_string_lossy().into_owned());
                } else {
                    self.bases.push(dir);
                }
            }
        }
    }

    /// Whether `file` is recorded by default as a file under `base`:
    /// site-packages below the base and the standard library (unless the
    /// base is in it) are left out.
    fn under(&self, file: &str, base: &str) -> bool {
        let Some(rest) = file.strip_prefix(base) else {
            return false;
        };
        if below_packages(&format!("/{rest}")) {
            return false;
        }
        // The standard library is left out, unless the base is in it.
        !self.in_stdlib(file) || self.in_stdlib(base)
    }

    fn in_stdlib(&self, path: &str) -> bool {
        self.stdlib.iter().any(|s| path.starts_with(s.as_str()))
    }

    /// Why no step was recorded, and which option records the code that
    /// ran: for the message that ends an empty recording.
    pub fn why_nothing(&self) -> String {
        let by_default = match &self.program {
            Program::Script(_) => format!("the files under {}", self.bases[0]),
            Program::Code => format!("the -c code and the files under {}", self.bases[0]),
            Program::Stdin => format!(
                "the program read from stdin and the files under {}",
                self.bases[0]
            ),
            Program::Module(name) => match &self.module {
                Some(_) => format!(
                    "the files under {} and the module {name}, which never ran",
                    self.bases[0]
                ),
                None => format!("the files of the module {name} and under {}", self.bases[0]),
            },
        };
        let what = if self.spec.all {
            "--all".to_string()
        } else if self.spec.include.is_empty() && self.spec.exclude.is_empty() {
            format!("by default {by_default}")
        } else {
            format!("{by_default}, with the --include and --exclude given")
        };
        // Files of the program's own first, then the libraries', then code
        // that is no file; the interpreter's frozen modules (its import
        // machinery, run even when the script cannot be opened) are not the
        // program's.
        let mut ran: Vec<&Arc<str>> = self
            .skipped
            .iter()
            .filter(|f| !f.starts_with("<frozen "))
            .collect();
        ran.sort_by_key(|f| (f.starts_with('<'), self.in_stdlib(f) || below_packages(f)));
        let shown: Vec<&str> = ran.iter().take(3).map(|f| f.as_ref()).collect();
        if shown.is_empty() {
            return format!("no Python code of the program ran once it started (recorded: {what})");
        }
        let hint = match shown.iter().find(|f| f.starts_with('/')) {
            Some(f) => {
                let dir = Path::new(f).parent().unwrap_or(Path::new("/"));
                format!(
                    "record it with --include '{}/*', or every file with --all",
                    dir.display()
                )
            }
            None => "record it with --all".to_string(),
        };
        format!(
            "code ran only in files that are not recorded ({what}), such as {}; {hint}",
            shown.join(", ")
        )
    }
}

/// Whether `path` is in a site-packages or dist-packages folder.
fn below_packages(path: &str) -> bool {
    path.contains("/site-packages/") || path.contains("/dist-packages/")
}

/// `p` as a prefix of the paths under it (ending in `/`).
fn dir_prefix(p: &Path) -> String {
    let mut s = p.to_string_lossy().into_owned();
    if !s.ends_with('/') {
        s.push('/');
    }
    s
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

    fn script(p: &str) -> Program {
        Program::Script(PathBuf::from(p))
    }

    fn stdlib() -> Vec<PathBuf> {
        vec![PathBuf::from("/usr/lib/python3.11")]
    }

    #[test]
    fn an_invalid_glob_matches_nothing() {
        let mut f = FileFilter::new(
            FilterSpec {
                exclude: vec!["/app/[z-a]".into(), "*/skip.py".into()],
                ..Default::default()
            },
            &script("/app/main.py"),
            Path::new("/app"),
            &[],
        );
        assert!(!f.accepts(&Arc::from("/app/skip.py")));
        assert!(f.accepts(&Arc::from("/app/keep.py")));
    }

    #[test]
    fn default_rules() {
        let mut f = FileFilter::new(
            FilterSpec::default(),
            &script("/home/u/app/main.py"),
            Path::new("/home/u"),
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
            &script("/app/main.py"),
            Path::new("/app"),
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
            &Program::Stdin,
            Path::new("/"),
            &[],
        );
        assert!(all.accepts(&Arc::from("<frozen importlib._bootstrap>")));
    }

    #[test]
    fn code_and_stdin_are_the_program() {
        let cwd = Path::new("/work");
        let mut c = FileFilter::new(FilterSpec::default(), &Program::Code, cwd, &stdlib());
        assert!(c.accepts(&Arc::from("<string>")));
        assert!(c.accepts(&Arc::from("/work/helper.py")));
        assert!(!c.accepts(&Arc::from("<stdin>")));
        let mut i = FileFilter::new(FilterSpec::default(), &Program::Stdin, cwd, &stdlib());
        assert!(i.accepts(&Arc::from("<stdin>")));
        assert!(!i.accepts(&Arc::from("<string>")));
        assert!(!i.accepts(&Arc::from("<frozen runpy>")));
    }

    #[test]
    fn a_module_is_found_where_it_runs() {
        let cwd = Path::new("/work");
        let m = Program::Module("tool.cli".into());
        let mut f = FileFilter::new(FilterSpec::default(), &m, cwd, &stdlib());
        // Before the module runs: the working directory only.
        assert!(!f.accepts(&Arc::from("/usr/lib/python3.11/runpy.py")));
        assert!(!f.accepts(&Arc::from(
            "/opt/venv/lib/python3.11/site-packages/other/x.py"
        )));
        // Its package is found in site-packages: every file of it is the
        // program's, nothing else of site-packages.
        assert!(f.accepts(&Arc::from(
            "/opt/venv/lib/python3.11/site-packages/tool/__init__.py"
        )));
        assert!(f.accepts(&Arc::from(
            "/opt/venv/lib/python3.11/site-packages/tool/cli.py"
        )));
        assert!(f.accepts(&Arc::from(
            "/opt/venv/lib/python3.11/site-packages/tool/util/a.py"
        )));
        assert!(!f.accepts(&Arc::from(
            "/opt/venv/lib/python3.11/site-packages/dep/a.py"
        )));
        assert!(f.accepts(&Arc::from("/work/local.py")));
        // A stdlib module of one file is that file alone.
        let mut t = FileFilter::new(
            FilterSpec::default(),
            &Program::Module("timeit".into()),
            cwd,
            &stdlib(),
        );
        assert!(t.accepts(&Arc::from("/usr/lib/python3.11/timeit.py")));
        assert!(!t.accepts(&Arc::from("/usr/lib/python3.11/gc.py")));
        // A stdlib package is the program's, the rest of the stdlib not.
        let mut h = FileFilter::new(
            FilterSpec::default(),
            &Program::Module("http.server".into()),
            cwd,
            &stdlib(),
        );
        assert!(h.accepts(&Arc::from("/usr/lib/python3.11/http/__init__.py")));
        assert!(h.accepts(&Arc::from("/usr/lib/python3.11/http/server.py")));
        assert!(!h.accepts(&Arc::from("/usr/lib/python3.11/socketserver.py")));
    }

    #[test]
    fn an_empty_recording_says_what_would_record_it() {
        let mut f = FileFilter::new(
            FilterSpec::default(),
            &script("/app/main.py"),
            Path::new("/app"),
            &stdlib(),
        );
        assert!(
            f.why_nothing().contains("no Python code"),
            "{}",
            f.why_nothing()
        );
        f.accepts(&Arc::from("<frozen runpy>"));
        assert!(
            f.why_nothing().contains("no Python code"),
            "frozen modules are the interpreter's"
        );
        f.accepts(&Arc::from("<string>"));
        f.accepts(&Arc::from("/usr/lib/python3.11/json/decoder.py"));
        f.accepts(&Arc::from("/srv/lib/work.py"));
        let why = f.why_nothing();
        assert!(why.contains("/app/"), "{why}");
        assert!(
            why.contains(
                "such as /srv/lib/work.py, /usr/lib/python3.11/json/decoder.py, <string>;"
            ),
            "{why}"
        );
        assert!(
            why.contains("--include '/srv/lib/*'") && why.contains("--all"),
            "{why}"
        );
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
