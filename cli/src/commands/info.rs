//! `hindsight info FILE`: what a recording holds and how it ended.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use store::ProgramEnd;

use crate::out::{self, human_bytes, human_ms, utc_time};
use crate::recording::Recording;

/// Most thread ids listed by name; more are counted only.
const MAX_THREADS_SHOWN: usize = 16;

pub fn info(file: &Path) -> Result<i32> {
    let rec = Recording::open(file)?;
    let h = rec.reader.header();
    let mut o = out::stdout();
    let kv = |o: &mut dyn Write, k: &str, v: &str| -> Result<()> {
        writeln!(o, "{k:<12} {v}")?;
        Ok(())
    };
    kv(&mut o, "file:", &file.display().to_string())?;
    kv(&mut o, "program:", &shell_words(&h.program))?;
    kv(&mut o, "cwd:", &h.cwd)?;
    kv(&mut o, "mode:", &format!("{} (pid {})", h.mode, h.pid))?;
    // A recorder ended before it found the interpreter leaves its first
    // header: the file exists, with no steps.
    let interpreter = if h.interpreter.is_empty() {
        "not known yet (the recorder ended before it found the interpreter)".to_string()
    } else {
        format!("{} ({})", h.interpreter, h.interpreter_path)
    };
    kv(&mut o, "interpreter:", &interpreter)?;
    kv(
        &mut o,
        "recorder:",
        &format!("{}, format {}", h.recorder, h.format_version),
    )?;
    kv(&mut o, "started:", &utc_time(h.started_unix_ms))?;
    let count = rec.count();
    let first = rec.first();
    let end = rec.reader.end().cloned();
    let mut steps = match rec.reader.ring() {
        Some(_) if count > first => format!(
            "{} held, steps {first} to {} of the {count} the run took",
            count - first,
            count - 1
        ),
        _ => count.to_string(),
    };
    if end.is_none() {
        steps.push_str(" (incomplete)");
    }
    kv(&mut o, "steps:", &steps)?;
    if let Some(ring) = rec.reader.ring() {
        kv(
            &mut o,
            "ring:",
            &format!(
                "a flight recording (--ring {}): it keeps the last {} steps or more, from a full \
                 state (one every {} steps), and lets the older ones go",
                ring.capacity, ring.capacity, ring.anchor_every
            ),
        )?;
    }
    let threads: BTreeSet<u32> = match &end {
        Some(e) => e.threads.iter().copied().collect(),
        // No end record: the threads are those that ran the steps held.
        None => {
            let mut set = BTreeSet::new();
            if count > first {
                // A step that cannot be read is the state command's to
                // report; info says what it can.
                if let Err(e) = rec.for_each_meta(first, count - 1, |m| {
                    set.insert(m.thread);
                    Ok(())
                }) {
                    log::warn!("{e:#}");
                }
            }
            set
        }
    };
    kv(&mut o, "threads:", &thread_list(&threads))?;
    let duration = match &end {
        Some(e) => human_ms(e.duration_ms),
        None => "unknown (incomplete)".to_string(),
    };
    kv(&mut o, "duration:", &duration)?;
    let size = rec.reader.file_size();
    kv(
        &mut o,
        "size:",
        &format!("{} ({size} bytes)", human_bytes(size)),
    )?;
    let status = match &end {
        Some(e) => {
            let ended = program_end(e.end);
            // The reason often says the same as how the program ended.
            if e.reason.starts_with(store::CUT) {
                // Not complete in the sense a user means: the program ran on.
                format!("cut short; {ended}; {}", e.reason)
            } else if e.reason.is_empty() || ended.contains(&e.reason) {
                format!("complete; {ended}")
            } else {
                format!("complete; {ended}; {}", e.reason)
            }
        }
        None => "(incomplete): no end record: the writer was killed, is still writing, or \
                 could not write it (a full disk cuts a recording short); the steps above are \
                 readable"
            .to_string(),
    };
    kv(&mut o, "status:", &status)?;
    if let Some(d) = rec.reader.damage() {
        let lost = if count <= first {
            "no step comes before it".to_string()
        } else if rec.reader.is_complete() {
            "no step is lost".to_string()
        } else {
            format!("steps {first} to {} before it are readable", count - 1)
        };
        kv(
            &mut o,
            "damage:",
            &format!("{} at byte {}; {lost}", d.what, d.offset),
        )?;
    }
    o.flush()?;
    Ok(0)
}

/// How the program ended, in words.
fn program_end(end: ProgramEnd) -> String {
    match end {
        ProgramEnd::Exited(c) => format!("the program exited with status {c}"),
        ProgramEnd::Signaled(s) => format!("the program was ended by signal {s}"),
        ProgramEnd::Detached => "hindsight detached, the program ran on".to_string(),
        ProgramEnd::StillRunning => "recording stopped with the program still running".to_string(),
    }
}

/// `3 (4242, 4243, 4250)`.
fn thread_list(threads: &BTreeSet<u32>) -> String {
    let mut shown: Vec<String> = threads
        .iter()
        .take(MAX_THREADS_SHOWN)
        .map(u32::to_string)
        .collect();
    if threads.len() > MAX_THREADS_SHOWN {
        shown.push("...".into());
    }
    format!("{} ({})", threads.len(), shown.join(", "))
}

/// The argv joined for display, quoting words that need it.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_when_needed() {
        let argv = ["python3", "app.py", "a b", "it's", ""].map(String::from);
        assert_eq!(shell_words(&argv), "python3 app.py 'a b' 'it'\\''s' ''");
    }

    #[test]
    fn threads() {
        let t: BTreeSet<u32> = [3, 1, 2].into_iter().collect();
        assert_eq!(thread_list(&t), "3 (1, 2, 3)");
        assert_eq!(thread_list(&BTreeSet::new()), "0 ()");
    }
}
