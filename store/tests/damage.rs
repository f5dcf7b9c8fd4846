//! Damaged and foreign files give clear errors, never a panic, and never a
//! wrong state: on synthetic recordings and on a real one (tests/data/
//! v1_bsort_prefix.hsr: the first 19.6 KB of a `hindsight record` of a
//! bubble sort on CPython 3.11, written in store format 1, so it is also the
//! check that version-1 files stay readable).

mod common;

use common::{random_recording, write, Rng};
use store::{Reader, Step, StoreError};

fn recording(dir: &tempfile::TempDir) -> (Vec<u8>, Vec<store::State>) {
    let path = dir.path().join("good.hsr");
    let (ops, states) = random_recording(41, 300);
    write(&path, &ops, 25, true);
    (std::fs::read(&path).unwrap(), states)
}

fn open_bytes(dir: &tempfile::TempDir, bytes: &[u8]) -> Result<Reader, StoreError> {
    let path = dir.path().join("bad.hsr");
    std::fs::write(&path, bytes).unwrap();
    Reader::open(&path)
}

#[test]
fn foreign_files_are_not_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(77);
    let random: Vec<u8> = (0..5000).map(|_| rng.next() as u8).collect();
    for bytes in [
        &b""[..],
        b"\x89HS",
        b"hello, world\n",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        &random,
    ] {
        let e = open_bytes(&dir, bytes).err().expect("refused");
        assert!(matches!(e, StoreError::NotARecording { .. }), "{e}");
        assert!(e.to_string().contains("not a hindsight recording"), "{e}");
    }
    let e = Reader::open(&dir.path().join("missing.hsr")).err().unwrap();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
}

#[test]
fn a_newer_format_is_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, _) = recording(&dir);
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    let e = open_bytes(&dir, &bytes).err().unwrap();
    assert!(
        matches!(
            e,
            StoreError::NewerFormat {
                found: 7,
                supported: store::NEWEST_FORMAT_VERSION
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("newer hindsight"), "{e}");
}

#[test]
fn damage_in_the_middle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = recording(&dir);
    // A flipped header byte.
    let mut b = bytes.clone();
    b[24] ^= 0x10;
    assert!(matches!(
        open_bytes(&dir, &b),
        Err(StoreError::Corrupt { .. })
    ));
    // A flipped byte in the middle, without the footer (scan mode): the
    // damaged segment is not the last one, so it is damage, not a tear: the
    // scan stops there and keeps the steps before it (tests/salvage.rs
    // checks them kind by kind).
    let mut b = bytes[..bytes.len() - 48].to_vec();
    let mid = b.len() / 2;
    b[mid] ^= 0x01;
    let r = open_bytes(&dir, &b).expect("the steps before the damage open");
    let d = r.damage().expect("the damage is reported");
    assert!(d.offset <= mid as u64, "{d:?}");
    assert_eq!(d.steps_before, r.step_count());
    // The same in a complete file: found when the segment is read.
    let mut b = bytes.clone();
    b[mid] ^= 0x01;
    let found = match open_bytes(&dir, &b) {
        Err(_) => true,
        Ok(r) => {
            (0..r.step_count()).rev().any(|n| r.state(Step(n)).is_err())
                || r.metas(Step(0), Step(r.step_count() - 1)).is_err()
        }
    };
    assert!(found, "a flipped byte went unnoticed");
}

fn real_v1() -> (Vec<u8>, Vec<store::State>) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1_bsort_prefix.hsr");
    let r = Reader::open(&path).expect("the real version-1 recording opens");
    assert!(!r.is_complete());
    assert_eq!(r.step_count(), 1917);
    assert_eq!(r.header().format_version, 1);
    let mut states = Vec::new();
    r.for_each_state(Step(0), Step(r.step_count() - 1), |s| {
        states.push(s.clone());
        true
    })
    .expect("every state");
    for n in (0..r.step_count()).step_by(97) {
        assert_eq!(r.state(Step(n)).unwrap(), states[n as usize]);
    }
    (std::fs::read(&path).unwrap(), states)
}

#[test]
fn a_real_version_1_recording_reads() {
    let (_, states) = real_v1();
    let last = states.last().unwrap();
    assert!(last.globals.iter().any(|(n, _)| &**n == "a"));
}

#[test]
fn random_damage_never_panics_nor_lies() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, states) = recording(&dir);
    damage_rounds(&dir, &bytes, &states, 400);
}

#[test]
fn random_damage_of_a_real_recording_never_panics_nor_lies() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, states) = real_v1();
    damage_rounds(&dir, &bytes, &states, 200);
}

fn damage_rounds(dir: &tempfile::TempDir, bytes: &[u8], states: &[store::State], rounds: u32) {
    let mut rng = Rng(0x5eed);
    for round in 0..rounds {
        let mut b = bytes.to_vec();
        match round % 4 {
            // One bit flipped.
            0 | 1 => {
                let i = rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << rng.below(8);
            }
            // A run of random bytes.
            2 => {
                let i = rng.below(b.len() as u64) as usize;
                for j in i..(i + 1 + rng.below(64) as usize).min(b.len()) {
                    b[j] = rng.next() as u8;
                }
            }
            // Cut, then garbage appended.
            _ => {
                b.truncate(rng.below(b.len() as u64) as usize);
                b.extend((0..rng.below(100)).map(|_| rng.next() as u8));
            }
        }
        let Ok(r) = open_bytes(dir, &b) else {
            continue;
        };
        assert!(r.step_count() <= states.len() as u64);
        let _ = r.metas(Step(0), Step(r.step_count().saturating_sub(1)));
        if r.step_count() == 0 {
            continue;
        }
        let mut n = 0;
        let _ = r.for_each_state(Step(0), Step(r.step_count() - 1), |s| {
            assert_eq!(s, &states[n], "round {round}: a wrong state at step {n}");
            n += 1;
            true
        });
        for _ in 0..20 {
            let n = rng.below(r.step_count());
            if let Ok(s) = r.state(Step(n)) {
                assert_eq!(
                    s, states[n as usize],
                    "round {round}: a wrong state at step {n}"
                );
            }
        }
    }
}
