//! Builds the probe (tracer/probe/probe.c) into the bytes the tracer places
//! in a target: compiled with the C compiler Rust links with, its `.text`
//! taken out of the object file, refused if it needs any relocation (the
//! bytes must run wherever they land), and its symbols' offsets written out
//! as constants for `probe/mod.rs`, once per instruction set it is built for.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol};

const SOURCE: &str = "probe/probe.c";
const SYMBOLS: [&str; 4] = ["hs_entry", "hs_ctx_imm", "hs_back", "hs_trap"];

/// The probe's builds: the same source for the baseline x86-64 and for
/// CPUs with AVX2 (twice as fast at the compare that is its work); the
/// tracer picks one at run time.
const VARIANTS: [(&str, &[&str]); 2] = [("SSE2", &[]), ("AVX2", &["-mavx2"])];

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut rs = String::new();
    for (name, flags) in VARIANTS {
        let obj = out.join(format!("probe-{name}.o"));
        let status = Command::new(&cc)
            .args([
                "-O2",
                "-fPIC",
                "-ffreestanding",
                "-fno-builtin",
                "-nostdlib",
                "-fno-stack-protector",
                "-fno-asynchronous-unwind-tables",
                "-fcf-protection=none",
                "-fno-tree-loop-distribute-patterns",
            ])
            .args(flags)
            .args(["-c", SOURCE, "-o"])
            .arg(&obj)
            .status()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} for the probe: {e}"));
        assert!(status.success(), "{cc} failed on {SOURCE} ({name})");
        blob(&obj, name, &mut rs);
    }
    std::fs::write(out.join("probe_code.rs"), rs).expect("write probe_code.rs");
}

/// The constant `name`: a `Blob` of the object file's code and offsets.
fn blob(obj: &std::path::Path, name: &str, rs: &mut String) {
    let data = std::fs::read(obj).expect("probe object written");
    let file = object::File::parse(&*data).expect("probe object is an object file");
    let text = file.section_by_name(".text").expect("probe has .text");
    assert!(
        text.relocations().next().is_none(),
        "{SOURCE} needs relocations: the probe must be position independent with no calls out"
    );
    let code = text.data().expect(".text readable");
    let offset = |sym: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(sym))
            .unwrap_or_else(|| panic!("probe symbol {sym} missing"))
            .address()
    };
    writeln!(rs, "/// The probe built for {name} (tracer/probe/probe.c).").unwrap();
    writeln!(rs, "pub const {name}: super::Blob = super::Blob {{").unwrap();
    writeln!(rs, "    name: {name:?},").unwrap();
    writeln!(rs, "    code: &{code:?},").unwrap();
    for sym in SYMBOLS {
        writeln!(
            rs,
            "    {}: {},",
            sym.trim_start_matches("hs_"),
            offset(sym)
        )
        .unwrap();
    }
    writeln!(rs, "}};").unwrap();
}
