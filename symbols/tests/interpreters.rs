//! Tests against the real interpreters installed under pyenv.

use std::path::{Path, PathBuf};
use std::time::Instant;

use symbols::{DebugSource, ElfFile, PythonImage, PythonVersion, SymbolsError};

/// Where pyenv keeps the interpreters: `$PYENV_ROOT/versions`, by default
/// `~/.pyenv/versions` (what scripts/setup looks for).
fn pyenv() -> std::path::PathBuf {
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".pyenv")
        });
    root.join("versions")
}
const VERSIONS: &[&str] = &["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"];

fn libpython(full: &str) -> PathBuf {
    let minor = full.rsplit_once('.').unwrap().0;
    pyenv()
        .join(full)
        .join(format!("lib/libpython{minor}.so.1.0"))
}

fn lib311() -> PathBuf {
    libpython("3.11.7")
}

#[test]
fn opens_311_with_build_id_version_and_symbols() {
    let img = PythonImage::open(&lib311(), None).unwrap();
    assert_eq!(img.version, PythonVersion::new(3, 11, 7));
    assert_eq!(img.debug_source, DebugSource::Embedded);
    let id = img.elf.build_id().expect("build-id");
    // The same build-id readelf prints.
    let out = std::process::Command::new("readelf")
        .arg("-n")
        .arg(lib311())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expect = symbols::elf::hex(id);
    assert!(text.contains(&expect), "readelf -n does not show {expect}");
    for name in ["_PyRuntime", "none_bool", "PyLong_Type", "Py_RunMain"] {
        let s = img.symbol(name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(s.addr.0 > 0, "{name}");
    }
    // nm says: 00000000001a9a00 t none_bool, and its body is `xor eax,eax; ret`.
    let nb = img.symbol("none_bool").unwrap();
    assert_eq!(img.read_static(nb.addr, 3), Some(&[0x31, 0xc0, 0xc3][..]));
    // _PyRuntime is initialized data in 3.11 (.data), so it has static bytes.
    let rt = img.symbol("_PyRuntime").unwrap();
    assert!(img.read_static(rt.addr, 16).is_some());
}

#[test]
fn layout_311_matches_gdb() {
    let img = PythonImage::open(&lib311(), None).unwrap();
    let t = Instant::now();
    let l = img.layout().unwrap();
    eprintln!("3.11 layout resolved in {:?}", t.elapsed());
    // Numbers from `gdb -batch -ex 'ptype /o struct _frame'` etc. on this libpython.
    assert_eq!(l.frame.f_back, 16);
    assert_eq!(l.frame.f_frame, Some(24));
    assert_eq!(l.frame.f_trace, 32);
    assert_eq!(l.frame.f_lineno, 40);
    assert_eq!(l.frame.f_trace_lines, 44);
    assert_eq!(l.frame.f_code, None);
    assert_eq!(l.objects.unicode_length, 16);
    assert_eq!(l.objects.unicode_hash, 24);
    assert_eq!(l.objects.unicode_state, 32);
    assert_eq!(l.objects.unicode_state_kind_bit, 2);
    assert_eq!(l.objects.unicode_state_compact_bit, 5);
    assert_eq!(l.objects.unicode_state_ascii_bit, 6);
    assert_eq!(l.objects.ascii_size, 48);
    assert_eq!(l.object.ob_type, 8);
    assert_eq!(l.object.ob_size, 16);
    assert_eq!(l.runtime.ts_frame, None);
    assert_eq!(l.runtime.ts_use_tracing, None);
    assert_eq!(l.version, img.version);
}

#[test]
fn every_pyenv_version_resolves() {
    let mut failures = Vec::new();
    for v in VERSIONS {
        let path = libpython(v);
        if !path.exists() {
            failures.push(format!("{v}: {} absent", path.display()));
            continue;
        }
        let img = match PythonImage::open(&path, None) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{v}: {e}"));
                continue;
            }
        };
        assert_eq!(img.version.to_string(), *v);
        match img.layout() {
            Ok(l) => eprintln!("{v}: ok {:?}", l.runtime),
            Err(e) => failures.push(format!("{v}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn not_python_on_ls() {
    match PythonImage::open(Path::new("/bin/ls"), None) {
        Err(SymbolsError::NotPython { .. }) => {}
        other => panic!("expected NotPython, got {other:?}"),
    }
    let maps = symbols::read_maps(std::process::id() as i32).unwrap();
    match PythonImage::find_in_maps(&maps, Path::new("/bin/ls"), None) {
        Err(SymbolsError::NotPython { .. }) => {}
        other => panic!("expected NotPython, got {other:?}"),
    }
}

fn stripped_copy(dir: &Path) -> PathBuf {
    let out = dir.join("libpython3.11.so.1.0");
    let st = std::process::Command::new("objcopy")
        .arg("--strip-debug")
        .arg(lib311())
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    out
}

#[test]
fn no_debug_info_on_stripped_copy_then_found_by_build_id_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let stripped = stripped_copy(dir.path());
    assert!(!ElfFile::open(&stripped).unwrap().has_debug_info());
    let err = PythonImage::open(&stripped, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SymbolsError::NoDebugInfo { .. }), "{msg}");
    assert!(msg.contains("/usr/lib/debug/.build-id/"), "{msg}");
    assert!(msg.contains("--debug-file"), "{msg}");

    // Found by build-id under another root.
    let root = dir.path().join("debugroot");
    let id = ElfFile::open(&stripped)
        .unwrap()
        .build_id()
        .unwrap()
        .to_vec();
    let dbg = symbols::python::build_id_path(&root, &id).unwrap();
    std::fs::create_dir_all(dbg.parent().unwrap()).unwrap();
    std::fs::copy(lib311(), &dbg).unwrap();
    let img = PythonImage::open_with_roots(&stripped, None, &[root]).unwrap();
    assert_eq!(img.debug_source, DebugSource::BuildId(dbg));
    assert_eq!(img.layout().unwrap().frame.f_back, 16);

    // Given wins.
    let img = PythonImage::open(&stripped, Some(&lib311())).unwrap();
    assert_eq!(img.debug_source, DebugSource::Given(lib311()));
    assert!(img.symbol("none_bool").is_some());
    assert_eq!(img.layout().unwrap().frame.f_frame, Some(24));

    // A debug file of another build is refused.
    let err = PythonImage::open(&stripped, Some(&libpython("3.12.1"))).unwrap_err();
    assert!(matches!(err, SymbolsError::BuildIdMismatch { .. }), "{err}");
}

#[test]
fn version_of_older_interpreters_from_rodata() {
    for v in ["3.8.18", "3.9.18", "3.10.13"] {
        let elf = ElfFile::open(&libpython(v)).unwrap();
        assert!(elf.symbol("Py_Version").is_none());
        assert_eq!(PythonVersion::detect(&elf).unwrap().to_string(), v);
    }
}

/// Every resolved offset and size agrees with gdb's own reading of the DWARF,
/// for every installed interpreter (bitfields are checked in `layout_311_matches_gdb`).
#[test]
fn layouts_agree_with_gdb() {
    if std::process::Command::new("gdb")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("gdb not installed; skipping");
        return;
    }
    let mut bad = Vec::new();
    for v in VERSIONS {
        let path = libpython(v);
        let img = PythonImage::open(&path, None).unwrap();
        let l = img.layout().unwrap();
        let rows: Vec<_> = symbols::resolve::rows_for(&l)
            .into_iter()
            .filter(|r| r.bit_from.is_none())
            .collect();
        // The C name our index resolved (gdb knows the same ones).
        let names: Vec<&str> = img
            .with_types(|t| {
                rows.iter()
                    .map(|r| {
                        *r.structs
                            .iter()
                            .find(|n| t.find_struct(n).is_some())
                            .unwrap()
                    })
                    .collect()
            })
            .unwrap();
        let mut cmd = std::process::Command::new("gdb");
        cmd.arg("-nx").arg("-batch");
        for (r, ty) in rows.iter().zip(&names) {
            let expr = if r.path.is_empty() {
                format!("sizeof({ty})")
            } else {
                format!("(unsigned long)&(({ty} *)0)->{}", r.path)
            };
            cmd.arg("-ex").arg(format!("printf \"%lu\\n\", {expr}"));
        }
        let out = cmd.arg(&path).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let vals: Vec<&str> = text.lines().collect();
        assert_eq!(
            vals.len(),
            rows.len(),
            "{v}: gdb printed {} of {} values; stderr: {}",
            vals.len(),
            rows.len(),
            String::from_utf8_lossy(&out.stderr)
        );
        for (r, g) in rows.iter().zip(vals) {
            let ours = r
                .value
                .map_or_else(|| "none".to_string(), |o| o.to_string());
            if g.trim() != ours {
                bad.push(format!(
                    "{v} {} ({}.{}): ours {ours} gdb {g}",
                    r.field, r.structs[0], r.path
                ));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The printable table agrees with the interpreter's own `str.isprintable()`
/// on every code point.
#[test]
fn unicode_printable_matches_isprintable() {
    for v in ["3.8.18", "3.11.7", "3.13.0"] {
        let img = PythonImage::open(&libpython(v), None).unwrap();
        let table = symbols::UnicodePrintable::load(&img).unwrap();
        let python = pyenv().join(v).join("bin/python3");
        let out = std::process::Command::new(&python)
            .arg("-c")
            .arg(
                "import sys\nsys.stdout.buffer.write(bytes(chr(c).isprintable() for c in range(0x110000)))",
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout.len(), 0x110000);
        let wrong: Vec<String> = (0..0x110000u32)
            .filter(|&c| table.is_printable(c) != (out.stdout[c as usize] == 1))
            .take(10)
            .map(|c| format!("U+{c:04X}"))
            .collect();
        assert!(wrong.is_empty(), "{v}: disagrees at {wrong:?}");
        assert!(table.is_printable('a' as u32));
        assert!(!table.is_printable('\n' as u32));
        assert!(!table.is_printable(0x110000));
    }
}

/// Bitfield positions of `PyASCIIObject.state` agree with gdb's `ptype /o`.
#[test]
fn unicode_state_bits_agree_with_gdb() {
    if std::process::Command::new("gdb")
        .arg("--version")
        .output()
        .is_err()
    {
        return;
    }
    for v in VERSIONS {
        let path = libpython(v);
        let l = PythonImage::open(&path, None).unwrap().layout().unwrap();
        let out = std::process::Command::new("gdb")
            .args(["-nx", "-batch", "-ex", "ptype /o PyASCIIObject"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // Lines look like `/*     32: 2   |       4 */        unsigned int kind : 3;`.
        let bit_of = |name: &str| -> u32 {
            let line = text
                .lines()
                .find(|l| l.contains(&format!(" {name} : ")))
                .unwrap_or_else(|| panic!("{v}: no {name} in {text}"));
            let inner = line.trim_start_matches("/*").split('|').next().unwrap();
            let (byte, bit) = inner.split_once(':').unwrap();
            let byte: u32 = byte.trim().parse().unwrap();
            let bit: u32 = bit.trim().parse().unwrap();
            (byte - l.objects.unicode_state) * 8 + bit
        };
        assert_eq!(l.objects.unicode_state_kind_bit, bit_of("kind"), "{v} kind");
        assert_eq!(
            l.objects.unicode_state_compact_bit,
            bit_of("compact"),
            "{v} compact"
        );
        assert_eq!(
            l.objects.unicode_state_ascii_bit,
            bit_of("ascii"),
            "{v} ascii"
        );
    }
}

/// In a live python3.11, the image found from /proc/PID/maps and its load bias
/// put `_PyRuntime` where the process itself says it is.
#[test]
fn find_in_maps_and_load_bias_on_a_live_process() {
    use std::io::{BufRead, BufReader, Write};
    let python = pyenv().join("3.11.7/bin/python3.11");
    let mut child = std::process::Command::new(&python)
        .arg("-c")
        .arg(
            "import ctypes, sys\n\
             a = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, '_PyRuntime'))\n\
             print(hex(a), 'READY', flush=True)\n\
             sys.stdin.readline()\n",
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let maps = symbols::read_maps(child.id() as i32).unwrap();
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    child.wait().unwrap();

    assert!(line.ends_with("READY\n"), "{line:?}");
    let addr = u64::from_str_radix(
        line.split_whitespace()
            .next()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let img = PythonImage::find_in_maps(&maps, &exe, None).unwrap();
    assert!(
        img.path.to_string_lossy().contains("libpython3.11"),
        "{}",
        img.path.display()
    );
    assert_eq!(img.version, PythonVersion::new(3, 11, 7));
    let bias = img.elf.load_bias(&maps).expect("libpython is mapped");
    assert_eq!(img.symbol("_PyRuntime").unwrap().addr.runtime(bias), addr);
}
