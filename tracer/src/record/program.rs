//! What the interpreter's command line says the program is: a script, the
//! code of `-c`, a module run with `-m`, or a program read from stdin (`-`,
//! or no script at all). The default filter ([`super::filter`]) records it;
//! for `-m` it learns where the module is from the files Python runs for it
//! ([`ModuleWatch`]), as Python itself finds it on `sys.path`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The program an interpreter runs, by its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// A script file, as an absolute path.
    Script(PathBuf),
    /// `-c CODE`: its code objects' file name is `<string>`.
    Code,
    /// `-m NAME`.
    Module(String),
    /// Read from stdin (`-`, or no script): file name `<stdin>`.
    Stdin,
}

/// Short options of CPython that take no value.
const FLAGS: &str = "bBdEhiIOPqRsSuvx?";

/// The program of an interpreter whose arguments (after `argv[0]`) are
/// `python_args`, a relative script taken relative to `cwd`.
pub fn main_program(python_args: &[OsString], cwd: &Path) -> Program {
    let mut i = 0;
    while i < python_args.len() {
        let a = python_args[i].to_string_lossy();
        if a == "-" {
            return Program::Stdin;
        }
        if a == "--" {
            // The end of the options: the script comes next.
            return match python_args.get(i + 1) {
                Some(s) if s != "-" => Program::Script(absolute(Path::new(s), cwd)),
                _ => Program::Stdin,
            };
        }
        if !a.starts_with('-') {
            return Program::Script(absolute(Path::new(a.as_ref()), cwd));
        }
        if let Some(long) = a.strip_prefix("--") {
            if long == "check-hash-based-pycs" {
                i += 1;
            }
            i += 1;
            continue;
        }
        // A cluster of short options, `-uc CODE` or `-mpkg` say.
        let cluster = &a[1..];
        for (pos, opt) in cluster.char_indices() {
            let rest = &cluster[pos + opt.len_utf8()..];
            match opt {
                'c' => return Program::Code,
                'm' => {
                    let name = if rest.is_empty() {
                        python_args
                            .get(i + 1)
                            .map(|n| n.to_string_lossy().into_owned())
                    } else {
                        Some(rest.to_string())
                    };
                    return name.map_or(Program::Stdin, Program::Module);
                }
                'W' | 'X' => {
                    if rest.is_empty() {
                        i += 1;
                    }
                    break;
                }
                o if FLAGS.contains(o) => {}
                _ => break,
            }
        }
        i += 1;
    }
    Program::Stdin
}

fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// The files Python runs for `-m a.b.c`, in order: the `__init__.py` of
/// each package on the way, then `a/b/c.py`, or `a/b/c/__init__.py` and
/// `a/b/c/__main__.py`. The first of them that runs says where the module
/// was found on `sys.path`; no file of the module runs before it.
#[derive(Debug, Clone)]
pub struct ModuleWatch {
    /// The module's top-level name (`a`).
    top: String,
    /// The path ends of those files (`/a/__init__.py`, `/a/b/c.py`, ...).
    ends: Vec<String>,
}

/// Where a module run with `-m` was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A package: its top-level directory, every file under it is the program's.
    Package(PathBuf),
    /// A module that is one file directly on `sys.path`.
    File(PathBuf),
}

impl ModuleWatch {
    /// The watch for `-m name`; `None` for a name that is not a dotted
    /// module name.
    pub fn new(name: &str) -> Option<ModuleWatch> {
        let parts: Vec<&str> = name.split('.').collect();
        if parts.iter().any(|p| p.is_empty() || p.contains('/')) {
            return None;
        }
        let mut ends = Vec::new();
        for k in 1..=parts.len() {
            let prefix = parts[..k].join("/");
            ends.push(format!("/{prefix}/__init__.py"));
            if k == parts.len() {
                ends.push(format!("/{prefix}.py"));
                ends.push(format!("/{prefix}/__main__.py"));
            }
        }
        Some(ModuleWatch {
            top: parts[0].to_string(),
            ends,
        })
    }

    /// The module's top-level name.
    pub fn name(&self) -> &str {
        &self.top
    }

    /// Where the module is, if `file` (an absolute path) is one of the
    /// files Python runs for it.
    pub fn found_in(&self, file: &str) -> Option<Found> {
        let end = self.ends.iter().find(|e| file.ends_with(e.as_str()))?;
        let entry = &file[..file.len() - end.len()];
        if entry.is_empty() {
            return None;
        }
        if *end == format!("/{}.py", self.top) {
            // A module of one file.
            return Some(Found::File(PathBuf::from(file)));
        }
        Some(Found::Package(Path::new(entry).join(&self.top)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn programs() {
        let cwd = Path::new("/work");
        let script = |p: &str| Program::Script(PathBuf::from(p));
        assert_eq!(
            main_program(&args(&["app.py"]), cwd),
            script("/work/app.py")
        );
        assert_eq!(
            main_program(&args(&["-u", "/a/b/app.py", "x"]), cwd),
            script("/a/b/app.py")
        );
        assert_eq!(
            main_program(&args(&["-X", "dev", "sub/app.py"]), cwd),
            script("/work/sub/app.py")
        );
        assert_eq!(
            main_program(&args(&["-W", "ignore", "/x/y.py"]), cwd),
            script("/x/y.py")
        );
        assert_eq!(
            main_program(&args(&["-Wignore", "y.py"]), cwd),
            script("/work/y.py")
        );
        assert_eq!(
            main_program(&args(&["--", "-odd.py"]), cwd),
            script("/work/-odd.py")
        );
        assert_eq!(main_program(&args(&["-c", "print(1)"]), cwd), Program::Code);
        assert_eq!(main_program(&args(&["-uc", "x"]), cwd), Program::Code);
        assert_eq!(
            main_program(&args(&["-m", "http.server", "8000"]), cwd),
            Program::Module("http.server".into())
        );
        assert_eq!(
            main_program(&args(&["-Im", "pkg"]), cwd),
            Program::Module("pkg".into())
        );
        assert_eq!(
            main_program(&args(&["-mpkg"]), cwd),
            Program::Module("pkg".into())
        );
        assert_eq!(main_program(&args(&["-"]), cwd), Program::Stdin);
        assert_eq!(main_program(&args(&["-u"]), cwd), Program::Stdin);
        assert_eq!(main_program(&args(&[]), cwd), Program::Stdin);
    }

    #[test]
    fn modules_are_found_by_the_files_python_runs() {
        let w = ModuleWatch::new("pkg.sub.tool").unwrap();
        assert_eq!(
            w.found_in("/src/pkg/__init__.py"),
            Some(Found::Package(PathBuf::from("/src/pkg")))
        );
        assert_eq!(
            w.found_in("/src/pkg/sub/tool/__main__.py"),
            Some(Found::Package(PathBuf::from("/src/pkg")))
        );
        assert_eq!(
            w.found_in("/src/pkg/sub/tool.py"),
            Some(Found::Package(PathBuf::from("/src/pkg")))
        );
        assert_eq!(w.found_in("/src/pkg/other.py"), None);
        assert_eq!(w.found_in("/src/xpkg/__init__.py"), None);
        let one = ModuleWatch::new("tool").unwrap();
        assert_eq!(
            one.found_in("/lib/tool.py"),
            Some(Found::File(PathBuf::from("/lib/tool.py")))
        );
        assert_eq!(
            one.found_in("/lib/tool/__main__.py"),
            Some(Found::Package(PathBuf::from("/lib/tool")))
        );
        assert_eq!(one.found_in("/lib/atool.py"), None);
        assert!(ModuleWatch::new("a..b").is_none());
        assert!(ModuleWatch::new("").is_none());
    }
}
