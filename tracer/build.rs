//! Builds the probe (tracer/probe/probe.c) into the bytes the tracer places
//! in a target: compiled with the C compiler Rust links with, its `.text`
//! taken out of the object file, refused if it needs any relocation (the
//! bytes must run wherever they land), and its symbols' offsets written out
//! as constants for `probe.rs`.

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol};

const SOURCE: &str = "probe/probe.c";
const SYMBOLS: [&str; 4] = ["hs_entry", "hs_ctx_imm", "hs_back", "hs_trap"];

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let obj = out.join("probe.o");
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
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
            "-c",
            SOURCE,
            "-o",
        ])
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?} for the probe: {e}"));
    assert!(status.success(), "{cc} failed on {SOURCE}");

    let data = std::fs::read(&obj).expect("probe object written");
    let file = object::File::parse(&*data).expect("probe object is an object file");
    let text = file.section_by_name(".text").expect("probe has .text");
    assert!(
        text.relocations().next().is_none(),
        "{SOURCE} needs relocations: the probe must be position independent with no calls out"
    );
    let code = text.data().expect(".text readable");
    let mut rs = String::new();
    writeln!(rs, "/// The probe's machine code (tracer/probe/probe.c).").unwrap();
    writeln!(rs, "pub const CODE: &[u8] = &{code:?};").unwrap();
    for name in SYMBOLS {
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok(name))
            .unwrap_or_else(|| panic!("probe symbol {name} missing"));
        writeln!(rs, "/// Offset of `{name}` in [`CODE`].").unwrap();
        writeln!(
            rs,
            "pub const {}: usize = {};",
            name.trim_start_matches("hs_").to_uppercase(),
            sym.address()
        )
        .unwrap();
    }
    std::fs::write(out.join("probe_code.rs"), rs).expect("write probe_code.rs");
}
