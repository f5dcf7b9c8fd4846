//! `hindsight doctor (PID | --python PATH)`: what hindsight finds about an
//! interpreter: first the verdict (can it be recorded, can a running one be
//! attached to, and why not), then its file, version, where its debug info
//! came from, and the struct layout it resolved.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use symbols::python::{DebugSource, PythonImage};
use symbols::Layout;

use crate::args::DoctorArgs;
use crate::out;

pub fn doctor(args: DoctorArgs) -> Result<i32> {
    let debug_file = args.debug_file.as_deref();
    let image = match (args.pid, &args.python) {
        (Some(pid), _) => from_process(pid, debug_file)?,
        (None, Some(path)) => from_path(path, debug_file)?,
        // clap requires one of the two.
        (None, None) => anyhow::bail!("give a PID or --python PATH"),
    };
    // The layout first: the verdict depends on it.
    let layout = image.layout()?;
    let mut o = out::stdout();
    let (minor, version) = (image.version.minor, &image.version);
    writeln!(
        o,
        "record:      yes (CPython {version}, its debug info and every struct field hindsight reads found)"
    )?;
    let attach = if image.version.major != 3 || !tracer::ATTACH_MINORS.contains(&minor) {
        Err(format!(
            "hindsight attaches to CPython 3.{}-3.{} only; record the program from its start \
             with `hindsight record -- python3 app.py`",
            tracer::ATTACH_MINORS.start(),
            tracer::ATTACH_MINORS.end()
        ))
    } else {
        ptrace_allowed(args.pid)
    };
    match attach {
        Ok(()) => writeln!(o, "attach:      yes (CPython {version})")?,
        Err(why) => writeln!(o, "attach:      no ({why})")?,
    }
    writeln!(o, "interpreter: {}", image.path.display())?;
    writeln!(o, "version:     CPython {}", image.version)?;
    let build_id = image
        .elf
        .build_id()
        .map(hex)
        .unwrap_or_else(|| "none".into());
    writeln!(o, "build-id:    {build_id}")?;
    let debug = match &image.debug_source {
        DebugSource::Embedded => "embedded in the interpreter file".to_string(),
        DebugSource::BuildId(p) => format!("{} (found by build-id)", p.display()),
        DebugSource::Given(p) => format!("{} (given with --debug-file)", p.display()),
    };
    writeln!(o, "debug info:  {debug}")?;
    writeln!(o, "layout:")?;
    for (field, offset) in layout_fields(&layout) {
        match offset {
            Some(off) => writeln!(o, "  {field} = {off}")?,
            None => writeln!(o, "  {field} = n/a")?,
        }
    }
    o.flush()?;
    Ok(0)
}

/// Whether this process may ptrace-attach to `pid` (to any process of its
/// user when `None`): Yama's `ptrace_scope` and the `CAP_SYS_PTRACE`
/// capability decide. `Err` says why not.
fn ptrace_allowed(pid: Option<i32>) -> Result<(), String> {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let cap = has_cap_sys_ptrace();
    // Another user's process is refused whatever Yama says: that first.
    if let Some(pid) = pid {
        let uid = |path: String| -> Option<u32> {
            let s = std::fs::read_to_string(path).ok()?;
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2)?.parse().ok()
        };
        let (mine, theirs) = (
            uid("/proc/self/status".into()),
            uid(format!("/proc/{pid}/status")),
        );
        if let (Some(m), Some(t)) = (mine, theirs) {
            if m != t && !cap {
                return Err(format!(
                    "process {pid} belongs to user {t} and hindsight runs as user {m} without \
                     CAP_SYS_PTRACE; run it as that user or as root"
                ));
            }
        }
    }
    let need_cap = |what: &str| {
        format!(
            "kernel.yama.ptrace_scope is {scope}: {what} needs CAP_SYS_PTRACE, which hindsight \
             does not have (run it as root, or in a container with --cap-add=SYS_PTRACE)"
        )
    };
    match scope {
        0 => {}
        1 | 2 if cap => {}
        1 => return Err(need_cap("attaching to a process that is not a child")),
        2 => return Err(need_cap("attaching")),
        _ => {
            return Err(format!(
                "kernel.yama.ptrace_scope is {scope}: no process may attach to another until \
                 reboot; `hindsight record` still works"
            ))
        }
    }
    Ok(())
}

/// Whether this process has `CAP_SYS_PTRACE` (bit 19 of `CapEff`).
fn has_cap_sys_ptrace() -> bool {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    s.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 19) != 0)
}

/// The interpreter of a running process, from its mappings.
fn from_process(pid: i32, debug_file: Option<&Path>) -> Result<PythonImage> {
    if pid <= 0 || !Path::new(&format!("/proc/{pid}")).exists() {
        anyhow::bail!(
            "no process with id {pid} is running; give the PID of a running Python process"
        );
    }
    let maps = symbols::maps::read_maps(pid)?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).with_context(|| {
        format!("cannot read /proc/{pid}/exe; is process {pid} running and yours?")
    })?;
    Ok(PythonImage::find_in_maps(&maps, &exe, debug_file)?)
}

/// An interpreter file: libpython or a static python. A python executable
/// that links libpython dynamically leads to that libpython.
fn from_path(path: &Path, debug_file: Option<&Path>) -> Result<PythonImage> {
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist; give the path of a python executable or libpython",
            path.display()
        );
    }
    let is_lib = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("libpython"));
    // A python executable usually holds no interpreter, only a main(): the
    // libpython it links is the file to examine.
    let target = if is_lib { None } else { linked_libpython(path) };
    Ok(PythonImage::open(
        target.as_deref().unwrap_or(path),
        debug_file,
    )?)
}

/// The libpython a dynamically linked executable loads, as `ldd` resolves it.
fn linked_libpython(exe: &Path) -> Option<PathBuf> {
    let out = std::process::Command::new("ldd").arg(exe).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let (name, rest) = l.trim().split_once(" => ")?;
        if !name.starts_with("libpython") {
            return None;
        }
        let path = rest.split(" (").next()?.trim();
        path.starts_with('/').then(|| PathBuf::from(path))
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every offset field of the layout as (`group.field`, offset or `None` for
/// a field this version does not have), in declaration order.
fn layout_fields(layout: &Layout) -> Vec<(String, Option<u32>)> {
    symbols::resolve::layout_fields(layout)
        .into_iter()
        // `type_` is only named so to avoid the keyword.
        .map(|(f, v)| (f.replace("type_.", "type."), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_fields_are_listed_with_na() {
        let mut layout = Layout::default();
        layout.object.ob_type = 8;
        layout.frame.f_frame = Some(24);
        let fields = layout_fields(&layout);
        assert!(fields.contains(&("frame.f_frame".to_string(), Some(24))));
        assert!(fields.contains(&("type.tp_name".to_string(), Some(0))));
        assert!(
            fields.contains(&("object.ob_type".to_string(), Some(8))),
            "{fields:?}"
        );
        assert!(fields.contains(&("frame.f_code".to_string(), None)));
        assert!(!fields.iter().any(|(f, _)| f.starts_with("version")));
        assert!(fields.len() > 50, "{}", fields.len());
    }

    #[test]
    fn ldd_finds_libpython() {
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        let root = std::env::var_os("PYENV_ROOT")
            .map_or_else(|| Path::new(&home).join(".pyenv"), Into::into);
        let exe = &root.join("versions/3.11.7/bin/python3.11");
        if !exe.exists() {
            return;
        }
        let lib = linked_libpython(exe);
        // The pyenv build here is shared; a static build has none.
        if let Some(lib) = lib {
            assert!(
                lib.to_string_lossy().contains("libpython3.11"),
                "{}",
                lib.display()
            );
        }
    }
}
