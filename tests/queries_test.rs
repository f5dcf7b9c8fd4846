//! What a new user met (the issue "wrong answers, silent empty results,
//! lost endings"): the reading commands typed as a user types them, on a
//! recording of a small program made by every supported interpreter
//! present. `history` lists changes only (not a frame coming back from a
//! call, not a generator resuming) and sees a change past a size limit
//! (of a dict, of a list);
//! `history` and `visits` say what they did not find; messages name a
//! command that works; the text forms show threads and shared objects;
//! `dump --changes` rebuilds `dump`; and the queries stay fast on a long
//! recording with a large state.

mod common;

#[path = "queries/long.rs"]
mod long;
use long::write_long;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{run_with_timeout, Interpreter, HINDSIGHT_TIMEOUT};
use serde_json::Value;

/// The program every interpreter records. Line numbers are used below.
const APP_PY: &str = r#"def helper():
    y = 1
    return y


def main():
    x = 10
    helper()
    helper()
    x = 11
    return x


def never_called():
    return 0


def gen():
    acc = []
    for i in range(3):
        acc.append(i)
        yield i


a = [1, 2]
b = a
c = [1, 2]
main()
for v in gen():
    pass
# the end of the small part
big = dict.fromkeys(range(100_000), 0)
big[99_999] = "big"
done = len(big)
L = list(range(100_000))
L[-1] = 10**30
L[-1] += 1
L.append(1)
L[50_000] = L[50_000]
L[5] = -5
end = len(L)
"#;

const LINE_X_11: u32 = 10;
const LINE_NEVER: u32 = 15;
const LINE_COMMENT: u32 = 31;

/// A program with a second thread running recorded code.
const THREADS_PY: &str = r#"import threading


def work(n):
    t = 0
    for i in range(n):
        t += i
    return t


th = threading.Thread(target=work, args=(20,))
th.start()
th.join()
"#;

fn hindsight(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(args).env_remove("RUST_LOG");
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One `hindsight: ` line on stderr and status 2; the line.
#[track_caller]
fn one_error(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "status {:?}: {err}", o.status);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].starts_with("hindsight: "), "{err}");
    lines[0].to_string()
}

/// Write `source` as `name` in `dir` and record it with `py`; the recording.
fn record(py: &Interpreter, dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let script = dir.join(name);
    std::fs::write(&script, source).unwrap();
    let hsr = dir.join(format!("{name}.{}.hsr", py.minor));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.arg("record")
        .arg("-o")
        .arg(&hsr)
        .args(extra)
        .arg("--")
        .arg(&py.path)
        .arg(&script)
        .env_remove("RUST_LOG")
        .env("PYTHONHASHSEED", "0");
    let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap();
    assert!(
        out.status.success(),
        "record on {}: {}",
        py.minor,
        stderr(&out)
    );
    hsr
}

/// The values `history` lists, `NAME = ` cut off.
fn history_values(hsr: &str, name: &str) -> Vec<String> {
    let o = hindsight(&["history", hsr, name]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let cut = format!(" {name} = ");
    stdout(&o)
        .lines()
        .map(|l| l.split_once(&cut).map_or("?", |(_, v)| v).to_string())
        .collect()
}

/// Items 1 and 2: what `history` lists, on every interpreter.
#[test]
fn history_lists_changes_only() {
    let dir = tempfile::tempdir().unwrap();
    for py in common::supported_interpreters() {
        let hsr = record(&py, dir.path(), "app.py", APP_PY, &[]);
        let r = hsr.to_str().unwrap();
        let v = &py.minor;
        // Coming back to main from helper twice is not a change of x.
        assert_eq!(history_values(r, "x"), ["10", "11"], "x on {v}");
        // A generator resumed is the same frame: only its mutations count.
        assert_eq!(
            history_values(r, "acc"),
            ["[]", "[0]", "[0, 1]", "[0, 1, 2]"],
            "acc on {v}"
        );
        // A change past the first 10,000 items of a dict is a change.
        let big = history_values(r, "big");
        assert_eq!(big.len(), 2, "big on {v}: {big:?}");
        assert!(
            big[1].ends_with("(changed past the items shown)"),
            "big on {v}: {}",
            big[1]
        );
        // So is one past the first 10,000 items of a list (an item
        // replaced, changed in place, appended), and only that: an item
        // set to the object it held is not.
        let past = "(changed past the items shown)";
        let l = history_values(r, "L");
        let marks: Vec<bool> = l.iter().map(|x| x.ends_with(past)).collect();
        assert_eq!(
            marks,
            [false, true, true, true, false],
            "L on {v}: {:?}",
            l.iter()
                .map(|x| &x[x.len().saturating_sub(40)..])
                .collect::<Vec<_>>()
        );
        assert!(l[4].starts_with("[0, 1, 2, 3, 4, -5, 6, "), "L on {v}");
    }
}

/// Item 7: names and lines that are not there, on every interpreter.
#[test]
fn what_is_not_found_is_said() {
    let dir = tempfile::tempdir().unwrap();
    for py in common::supported_interpreters() {
        let hsr = record(&py, dir.path(), "app.py", APP_PY, &[]);
        let r = hsr.to_str().unwrap();
        let v = &py.minor;
        let line = one_error(&hindsight(&["history", r, "hepler"]));
        assert!(
            line.contains("`hepler`") && line.contains("`helper`"),
            "{v}: {line}"
        );
        one_error(&hindsight(&["history", r, ""]));

        let line = one_error(&hindsight(&["visits", r, "app.py:99999"]));
        assert!(line.contains("no line 99999"), "{v}: {line}");
        let line = one_error(&hindsight(&["visits", r, "nosuch.py:1"]));
        assert!(line.contains("app.py"), "{v}: {line}");

        for (at, why) in [(LINE_COMMENT, "a comment"), (LINE_NEVER, "nearest lines")] {
            let o = hindsight(&["visits", r, &format!("app.py:{at}")]);
            assert_eq!(o.status.code(), Some(0), "{v}: {}", stderr(&o));
            assert_eq!(stdout(&o), "", "{v}");
            let err = stderr(&o);
            assert!(err.contains("never ran") && err.contains(why), "{v}: {err}");
        }
        let o = hindsight(&["visits", r, &format!("app.py:{LINE_X_11}")]);
        assert_eq!(stdout(&o).lines().count(), 1, "{v}: {}", stdout(&o));
        assert_eq!(stderr(&o), "", "{v}");
    }
}

/// Item 8: messages that name what works.
#[test]
fn messages_name_what_works() {
    let Some(py) = common::supported_interpreters().into_iter().next() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hsr = record(&py, dir.path(), "app_main.py", APP_PY, &["--all"]);
    let r = hsr.to_str().unwrap();
    // The recorded file closest to a typo comes first, not the standard
    // library's first file in alphabetical order.
    let line = one_error(&hindsight(&["visits", r, "app_mian.py:1"]));
    let listed = line.split("closest to it: ").nth(1).unwrap_or("");
    assert!(
        listed.starts_with(&format!("{}", dir.path().join("app_main.py").display())),
        "{line}"
    );

    // Cut inside its header: nothing reads it, and the message says so
    // instead of sending the user to `info`.
    let cut = dir.path().join("cut.hsr");
    let bytes = std::fs::read(&hsr).unwrap();
    std::fs::write(&cut, &bytes[..40]).unwrap();
    let c = cut.to_str().unwrap();
    for args in [vec!["info", c], vec!["steps", c]] {
        let line = one_error(&hindsight(&args));
        assert!(line.contains("record the program again"), "{line}");
        assert!(!line.contains("hindsight info"), "{line}");
    }

    // A damaged segment of a complete file: `info` still works, and the
    // message of a command that meets the damage says so.
    let damaged = dir.path().join("damaged.hsr");
    let mut bytes = bytes;
    // The first deltas segment (kind 2): a source segment before it
    // would cost its file's text only.
    let seg = bytes
        .windows(5)
        .position(|w| w[..4] == *b"HSEG" && w[4] == 2)
        .expect("a deltas segment");
    bytes[seg + 40] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    let d = damaged.to_str().unwrap();
    let o = hindsight(&["info", d]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = one_error(&hindsight(&["dump", d]));
    assert!(line.contains(&format!("hindsight info {d}")), "{line}");

    // Counts say `1 step`, not `1 steps`.
    let one = dir.path().join("one.hsr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(["record", "--max-steps", "1", "--at-bound", "detach", "-o"])
        .arg(&one)
        .arg("--")
        .arg(&py.path)
        .arg(dir.path().join("app_main.py"))
        .env_remove("RUST_LOG");
    let o = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap();
    assert!(stderr(&o).contains("recorded 1 step to"), "{}", stderr(&o));
}

/// Item 9: the text a user reads, on every interpreter.
#[test]
fn text_output_shows_threads_sharing_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    for py in common::supported_interpreters() {
        let v = &py.minor;
        let hsr = record(&py, dir.path(), "app.py", APP_PY, &[]);
        let r = hsr.to_str().unwrap();
        let all = stdout(&hindsight(&["steps", r]));
        assert!(!all.contains("[thread"), "{v}: one thread, not named");
        // --to past the end stops at the last step.
        let o = hindsight(&["steps", r, "--to", "99999999"]);
        assert_eq!(o.status.code(), Some(0), "{v}: {}", stderr(&o));
        assert_eq!(stdout(&o), all, "{v}");
        let last = (all.lines().count() - 1).to_string();
        let text = stdout(&hindsight(&["state", r, &last]));
        assert!(
            text.contains("\n  b = [1, 2]  (same object as a)\n"),
            "{v}: {text}"
        );
        assert!(text.contains("\n  c = [1, 2]\n"), "{v}: {text}");

        let hsr = record(&py, dir.path(), "threads.py", THREADS_PY, &[]);
        let steps = stdout(&hindsight(&["steps", hsr.to_str().unwrap()]));
        let tids: std::collections::BTreeSet<&str> = steps
            .lines()
            .filter_map(|l| l.split("[thread ").nth(1))
            .collect();
        assert_eq!(tids.len(), 2, "{v}: {steps}");
        assert!(
            steps.lines().all(|l| l.contains("[thread ")),
            "{v}: {steps}"
        );

        let o = hindsight(&["doctor", "--python", py.path.to_str().unwrap()]);
        let text = stdout(&o);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("record:      yes"), "{v}: {text}");
        assert!(lines[1].starts_with("attach:      yes"), "{v}: {text}");
    }
}

/// Item 10: `dump --changes` holds what `dump` holds, on every interpreter:
/// every state rebuilt from the first one and the changes equals `dump`'s.
#[test]
fn dump_changes_rebuild_every_state() {
    let dir = tempfile::tempdir().unwrap();
    for py in common::supported_interpreters() {
        let v = &py.minor;
        let hsr = record(&py, dir.path(), "app.py", APP_PY, &[]);
        let r = hsr.to_str().unwrap();
        let lines = |args: &[&str]| -> Vec<Value> {
            let o = hindsight(args);
            assert_eq!(o.status.code(), Some(0), "{v}: {}", stderr(&o));
            stdout(&o)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let full = lines(&["dump", r]);
        let changes = lines(&["dump", r, "--changes"]);
        assert_eq!(full.len(), changes.len(), "{v}");
        let mut state = changes[0].clone();
        assert_eq!(state, full[0], "{v}");
        for (n, (c, want)) in changes.iter().zip(&full).enumerate().skip(1) {
            state = rebuild(&state, c);
            assert_eq!(&state, want, "{v}: step {n} from {c}");
        }
        let (a, b) = (bytes(&full), bytes(&changes));
        assert!(b * 2 < a, "{v}: --changes is {b} bytes, dump {a}");
    }
}

fn bytes(lines: &[Value]) -> usize {
    lines.iter().map(|l| l.to_string().len()).sum()
}

/// The state after a `--changes` line, as docs/spec/cli.md says to rebuild it.
fn rebuild(prev: &Value, c: &Value) -> Value {
    let mut s = serde_json::Map::new();
    for k in [
        "step", "event", "thread", "file", "function", "line", "position",
    ] {
        s.insert(k.into(), c[k].clone());
    }
    let stack = match c.get("stack") {
        Some(st) => st.clone(),
        None => {
            let mut st = prev["stack"].clone();
            if let Some(top) = st.as_array_mut().and_then(|a| a.last_mut()) {
                top["line"] = c["line"].clone();
            }
            st
        }
    };
    s.insert("stack".into(), stack);
    for scope in ["locals", "globals"] {
        let names = match c.get(scope) {
            Some(whole) => whole.clone(),
            None => {
                let mut m = prev[scope].as_object().cloned().unwrap_or_default();
                if let Some(ch) = c["changed"].get(scope).and_then(Value::as_object) {
                    for (k, v) in ch {
                        if v.is_null() {
                            m.shift_remove(k);
                        } else {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                Value::Object(m)
            }
        };
        s.insert(scope.into(), names);
    }
    for k in ["return", "exception"] {
        if let Some(x) = c.get(k) {
            s.insert(k.into(), x.clone());
        }
    }
    Value::Object(s)
}

/// Item 10: `history` and `visits` read the ops, not states. A recording
/// of 300,000 steps whose state holds 20,000 objects: rebuilding a state
/// per step would copy 6 billion objects; reading the ops takes a second.
#[test]
fn queries_scale_with_the_ops_not_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("long.hsr");
    const STEPS: u64 = 300_000;
    write_long(&hsr, STEPS);
    let r = hsr.to_str().unwrap();
    let timed = |args: &[&str]| -> (Duration, Output) {
        let t = Instant::now();
        let o = hindsight(args);
        (t.elapsed(), o)
    };
    let (t, o) = timed(&["history", r, "data"]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stderr(&o));
    // Generous: a loaded machine; the rebuild it replaces took minutes here.
    assert!(t < Duration::from_secs(15), "history took {t:?}");
    let (t, o) = timed(&["history", r, "i"]);
    assert_eq!(
        stdout(&o).lines().count() as u64,
        STEPS - 1,
        "{}",
        stderr(&o)
    );
    assert!(t < Duration::from_secs(15), "history took {t:?}");
    let (t, o) = timed(&["visits", r, "long.py:3"]);
    assert_eq!(
        stdout(&o).lines().count() as u64,
        STEPS - 1,
        "{}",
        stderr(&o)
    );
    assert!(t < Duration::from_secs(15), "visits took {t:?}");
}
