//! What a new user met (the issue "wrong answers, silent empty results,
//! lost endings"), item 9: the text form of `state` shows functions,
//! classes and modules by name, as CPython's repr does, on a recording
//! made by every supported interpreter present; the JSON form keeps
//! `object.__repr__` (docs/spec/values.md). Inside a container, an
//! instance's attributes and an exception's arguments they show the same.

mod common;

use std::process::{Command, Output};

use common::{run_with_timeout, HINDSIGHT_TIMEOUT};
use serde_json::Value;

/// The program every interpreter records.
const NAMES_PY: &str = r#"import abc
import collections
import os


def bubble(xs):
    return xs


class P:
    def method(self):
        return 1


class Shape(abc.ABC):
    pass


m = P.method
t = int
od = collections.OrderedDict
fs = [bubble, [P, t], {os: m}, (Shape,)]
p = P()
p.f = bubble
p.k = [abc]
try:
    raise ValueError(bubble)
except ValueError:
    pass
done = bubble([1])
"#;

fn hindsight(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(args).env_remove("RUST_LOG");
    let o = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `text` with every `0x...` address written `0x_`.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("0x") {
        out.push_str(&rest[..i + 2]);
        out.push('_');
        rest = rest[i + 2..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

#[test]
fn functions_classes_and_modules_show_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("names.py");
    std::fs::write(&script, NAMES_PY).unwrap();
    for py in common::supported_interpreters() {
        let v = &py.minor;
        let hsr = dir.path().join(format!("names.{v}.hsr"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
        cmd.arg("record")
            .arg("-o")
            .arg(&hsr)
            .arg("--")
            .arg(&py.path)
            .arg(&script)
            .env_remove("RUST_LOG")
            .env("PYTHONHASHSEED", "0");
        let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap();
        assert!(
            out.status.success(),
            "record on {v}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = hsr.to_str().unwrap();
        let steps = String::from_utf8_lossy(&hindsight(&["steps", r]).stdout).into_owned();
        let last = (steps.lines().count() - 1).to_string();
        let text = String::from_utf8_lossy(&hindsight(&["state", r, &last]).stdout).into_owned();
        for want in [
            "\n  bubble = <function bubble at 0x",
            "\n  m = <function P.method at 0x",
            "\n  P = <class '__main__.P'>\n",
            "\n  Shape = <class '__main__.Shape'>\n",
            "\n  t = <class 'int'>\n",
            "\n  od = <class 'collections.OrderedDict'>\n",
            "\n  os = <module 'os'>\n",
            "\n  abc = <module 'abc'>\n",
        ] {
            assert!(text.contains(want), "{v}: no {want:?} in\n{text}");
        }
        // Inside containers and attributes: as at the top.
        let line = |name: &str| -> String {
            let start = format!("\n  {name} = ");
            let at = text.find(&start).map_or(0, |i| i + start.len());
            text[at..].lines().next().unwrap_or("").to_string()
        };
        let nested = mask(&line("fs"));
        assert_eq!(
            nested,
            "[<function bubble at 0x_>, [<class '__main__.P'>, <class 'int'>], \
             {<module 'os'>: <function P.method at 0x_>}, (<class '__main__.Shape'>,)]",
            "{v}"
        );
        let attrs = mask(&line("p"));
        assert_eq!(
            attrs, "<__main__.P object at 0x_> {f=<function bubble at 0x_>, k=[<module 'abc'>]}",
            "{v}"
        );
        // An exception's arguments.
        let raised = steps
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("exception"))
            .and_then(|l| l.split_whitespace().next())
            .expect("an exception step");
        let exc = String::from_utf8_lossy(&hindsight(&["state", r, raised]).stdout).into_owned();
        assert!(
            mask(&exc).contains("\nException: ValueError(<function bubble at 0x_>)"),
            "{v}: {exc}"
        );

        // The JSON form is what it was: `object.__repr__`.
        let json = hindsight(&["state", r, &last, "--json"]);
        let state: Value = serde_json::from_slice(&json.stdout).unwrap();
        let repr = |name: &str| -> String {
            let g = &state["globals"][name];
            g["repr"].as_str().unwrap_or("?").to_string()
        };
        for (name, start) in [
            ("bubble", "<function object at 0x"),
            ("P", "<type object at 0x"),
            ("Shape", "<abc.ABCMeta object at 0x"),
            ("os", "<module object at 0x"),
            ("fs", "[<function object at 0x"),
        ] {
            assert!(
                repr(name).starts_with(start),
                "{v}: {name} is {} in {state}",
                repr(name)
            );
        }
    }
}
