//! `hindsight dap` driven by a scripted client over stdio, as VS Code
//! drives it: initialize, launch (a recording, and a program recorded
//! first), breakpoints with and without conditions, configurationDone,
//! the motions forward and backward, stackTrace (with the source text the
//! recording keeps, asked for by `source`), scopes, variables,
//! evaluate, malformed messages, disconnect. Where each motion must stop
//! is computed here from the recording's own states (`hindsight dump`),
//! and every answer at a stop is compared with `hindsight state REC N
//! --json` for that step.

mod common;

#[path = "dap/client.rs"]
mod client;
#[path = "dap/expect.rs"]
mod expect;

use std::path::{Path, PathBuf};

use client::Client;
use common::Interpreter;
use expect::{check_stop, dump, hindsight, motion, state, stopped_step, Expect};
use serde_json::{json, Value};

const APP_PY: &str = r#"import sys


class P:
    def __init__(self, name, items):
        self.name = name
        self.items = items


def grow(p, n):
    total = 0
    for i in range(n):
        p.items.append(i)
        total += i
    return total


def main(n):
    xs = [1, 2]
    p = P("ann", xs)
    d = {"k": xs, 3: "three"}
    t = grow(p, n)
    t = t + grow(p, 2)
    return t  # main's end


# a comment: no step runs here
result = main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
print("result", result)
"#;

fn line_of(text: &str) -> u32 {
    APP_PY.lines().position(|l| l.contains(text)).expect(text) as u32 + 1
}

fn python() -> Option<Interpreter> {
    common::interpreter("3.11").or_else(|| common::supported_interpreters().into_iter().next())
}

/// The breakpoints of the first test: `total += i` if `i == 1`, and the second call of grow.
fn hit(exp: &Expect, n: usize) -> bool {
    let s = &exp.states[n];
    s["event"] == "line"
        && ((s["line"] == line_of("total += i") && s["locals"]["i"]["repr"] == "1")
            || s["line"] == line_of("t = t + grow"))
}
fn record(dir: &Path, py: &Interpreter) -> (PathBuf, PathBuf) {
    let app = dir.join("app.py");
    std::fs::write(&app, APP_PY).unwrap();
    let rec = dir.join("app.hsr");
    let out = common::run_record(&hindsight(), &py.path, &app, &rec).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (app, rec)
}

#[test]
fn a_session_on_a_recording_travels_both_ways() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (app, rec) = record(dir.path(), &py);
    let exp = Expect { states: dump(&rec) };
    let first_hit = exp.forward(0, |n| hit(&exp, n));
    assert!(
        first_hit < exp.last(),
        "the fixture reaches its breakpoints"
    );

    let mut c = Client::spawn(&hindsight());
    let caps = c.ok(
        "initialize",
        json!({"adapterID": "hindsight", "linesStartAt1": true}),
    );
    for cap in [
        "supportsStepBack",
        "supportsConditionalBreakpoints",
        "supportsConfigurationDoneRequest",
    ] {
        assert_eq!(caps[cap], true, "{cap}");
    }
    c.ok("launch", json!({"recording": rec}));
    c.event("initialized");
    let bps = c.ok(
        "setBreakpoints",
        json!({"source": {"path": app}, "breakpoints": [
            {"line": line_of("total += i"), "condition": "i == 1"},
            {"line": line_of("t = t + grow")},
            {"line": line_of("a comment")},
            {"line": line_of("def grow"), "condition": "i +"},
        ]}),
    );
    let verified: Vec<&Value> = bps["breakpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["verified"])
        .collect();
    assert_eq!(verified, [true, true, false, false], "{bps}");
    c.ok("configurationDone", json!({}));
    let e = c.event("stopped");
    assert_eq!(e["body"]["reason"], "breakpoint");
    let mut pos = stopped_step(&e);
    assert_eq!(pos, first_hit);
    let thread = e["body"]["threadId"].clone();
    assert_eq!(&thread, exp.thread(pos));
    let threads = c.ok("threads", json!({}));
    assert!(threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == thread));
    check_stop(&mut c, &rec, &exp, pos);

    // The source is the recording's: the file changed since is not read.
    std::fs::write(&app, "changed = True\n").unwrap();
    let st = c.ok("stackTrace", json!({"threadId": thread}));
    let src = &st["stackFrames"][0]["source"];
    let reference = src["sourceReference"].as_u64().expect("a sourceReference");
    assert!(reference > 0, "{src}");
    let by_ref = c.ok("source", json!({"sourceReference": reference}));
    assert_eq!(by_ref["content"], APP_PY);
    let by_path = c.ok("source", json!({"source": {"path": app}}));
    assert_eq!(by_path["content"], APP_PY);

    // evaluate, in the innermost frame and in the caller's.
    let st = state(&rec, pos as u64);
    let p = &st["locals"]["p"];
    let got = c.ok(
        "evaluate",
        json!({"expression": "p.name", "context": "watch"}),
    );
    assert_eq!(got["result"], p["attrs"]["name"]["repr"]);
    let got = c.ok("evaluate", json!({"expression": "i", "context": "hover"}));
    assert_eq!(got["result"], st["locals"]["i"]["repr"]);
    let items = p["attrs"]["items"]["repr"].as_str().unwrap();
    let last_item = items.trim_matches(['[', ']']).rsplit(", ").next().unwrap();
    let got = c.ok("evaluate", json!({"expression": "p.items[-1]"}));
    assert_eq!(got["result"], last_item);
    let got = c.ok("evaluate", json!({"expression": "p.items"}));
    let inner = c.ok(
        "variables",
        json!({"variablesReference": got["variablesReference"]}),
    );
    let listed: Vec<&str> = inner["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(format!("[{}]", listed.join(", ")), items);
    let main_frame = exp.depth(pos) - 1; // the caller of grow, as a frameId (index + 1)
    let got = c.ok(
        "evaluate",
        json!({"expression": "d['k']", "frameId": main_frame}),
    );
    assert_eq!(got["result"], items, "d['k'] is xs, which p.items is");
    let got = c.ok(
        "evaluate",
        json!({"expression": "d[3]", "frameId": main_frame}),
    );
    assert_eq!(got["result"], "'three'");
    for bad in ["nope", "p.", "p.missing", "p.items[99]", "1 +"] {
        let r = c.request("evaluate", json!({"expression": bad}));
        assert_eq!(r["success"], false, "{bad}: {r}");
        assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Forward and back, each stop where the recording says.
    pos = motion(&mut c, "next", &thread, exp.next(pos), "step");
    check_stop(&mut c, &rec, &exp, pos);
    pos = motion(&mut c, "stepBack", &thread, exp.step_back(pos), "step");
    assert_eq!(pos, first_hit);
    pos = motion(&mut c, "stepOut", &thread, exp.step_out(pos), "step");
    check_stop(&mut c, &rec, &exp, pos);
    pos = motion(&mut c, "stepIn", &thread, exp.step_in(pos), "step");
    pos = motion(
        &mut c,
        "continue",
        &thread,
        exp.forward(pos, |n| hit(&exp, n)),
        "breakpoint",
    );
    check_stop(&mut c, &rec, &exp, pos);
    pos = motion(&mut c, "stepIn", &thread, exp.step_in(pos), "step");
    pos = motion(&mut c, "stepIn", &thread, exp.step_in(pos), "step");
    check_stop(&mut c, &rec, &exp, pos);
    let back = exp.backward(pos, |n| hit(&exp, n));
    pos = motion(&mut c, "reverseContinue", &thread, back, "breakpoint");
    check_stop(&mut c, &rec, &exp, pos);
    while pos > first_hit {
        pos = motion(
            &mut c,
            "reverseContinue",
            &thread,
            exp.backward(pos, |n| hit(&exp, n)),
            "breakpoint",
        );
    }
    assert_eq!(pos, first_hit);
    pos = motion(&mut c, "reverseContinue", &thread, 0, "entry");
    check_stop(&mut c, &rec, &exp, pos);
    pos = motion(&mut c, "stepBack", &thread, 0, "entry");

    // To the end: stopped at the last step, then the program's exit.
    let mut hits = 0;
    loop {
        let want = exp.forward(pos, |n| hit(&exp, n));
        let reason = if want == exp.last() && !hit(&exp, want) {
            "step"
        } else {
            "breakpoint"
        };
        pos = motion(&mut c, "continue", &thread, want, reason);
        if pos == exp.last() {
            break;
        }
        hits += 1;
    }
    let all_hits = (0..exp.states.len()).filter(|n| hit(&exp, *n)).count();
    assert_eq!(hits, all_hits, "every breakpoint hit, once each");
    assert_eq!(hits, 3, "i == 1 in both calls, and the second call's line");
    check_stop(&mut c, &rec, &exp, pos);
    c.ok("next", json!({"threadId": thread}));
    assert_eq!(c.event("exited")["body"]["exitCode"], 0);
    c.event("terminated");

    // What a client can get wrong is answered, not crashed on.
    c.raw(b"Content-Length: 9\r\n\r\nnot json!");
    let r = c.response();
    assert_eq!(r["success"], false, "{r}");
    c.send(&json!({"seq": 90, "type": "event", "event": "x"}));
    assert_eq!(c.response()["success"], false);
    for (command, args) in [
        ("frobnicate", json!({})),
        ("variables", json!({"variablesReference": 123456})),
        ("scopes", json!({"frameId": 999})),
        ("launch", json!({"recording": rec})),
        ("setBreakpoints", json!({})),
    ] {
        let r = c.request(command, args);
        assert_eq!(r["success"], false, "{command}: {r}");
    }
    c.raw(b"Content-Length: nope\r\n\r\n");
    assert_eq!(c.response()["success"], false);
    assert_eq!(
        c.request("threads", json!({}))["success"],
        true,
        "the session goes on"
    );
    c.ok("disconnect", json!({}));
    assert_eq!(c.wait(), 0);
}

#[test]
fn a_session_launched_on_a_program_records_it_first() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.py");
    std::fs::write(&app, APP_PY).unwrap();
    let rec = dir.path().join("launched.hsr");
    let mut c = Client::spawn(&hindsight());
    c.ok("initialize", json!({"adapterID": "hindsight"}));
    // Launches that cannot work say why, and the session can launch again.
    for (args, says) in [
        (json!({}), "recording"),
        (
            json!({"recording": dir.path().join("none.hsr")}),
            "none.hsr",
        ),
        (
            json!({"program": "app.py", "cwd": dir.path(), "python": "/nonexistent/python3"}),
            "/nonexistent/python3",
        ),
    ] {
        let r = c.request("launch", args);
        assert_eq!(r["success"], false, "{r}");
        assert!(r["message"].as_str().unwrap().contains(says), "{r}");
    }
    c.ok(
        "launch",
        json!({"program": "app.py", "args": ["4"], "python": py.path, "cwd": dir.path(),
        "output": "launched.hsr", "stopOnEntry": true}),
    );
    let out = c.event("output");
    assert_eq!(out["body"]["category"], "stdout");
    assert_eq!(
        out["body"]["output"], "result 7\n",
        "0+1+2+3 and 0+1: the program's own output"
    );
    c.event("initialized");
    c.ok("configurationDone", json!({}));
    let e = c.event("stopped");
    assert_eq!(e["body"]["reason"], "entry");
    assert_eq!(stopped_step(&e), 0);
    let exp = Expect { states: dump(&rec) };
    assert_eq!(exp.states[0]["file"], app.to_str().unwrap());
    let thread = e["body"]["threadId"].clone();
    let mut pos = 0;
    check_stop(&mut c, &rec, &exp, pos);
    for _ in 0..3 {
        pos = motion(&mut c, "stepIn", &thread, exp.step_in(pos), "step");
        check_stop(&mut c, &rec, &exp, pos);
    }
    // A breakpoint set while stopped, with a condition on a string.
    let line = line_of("main's end");
    c.ok("setBreakpoints", json!({"source": {"path": app}, "breakpoints": [{"line": line_of("self.items = items"), "condition": "name == 'ann'"}, {"line": line}]}));
    let init = exp.forward(pos, |n| {
        exp.states[n]["line"] == line_of("self.items = items") && exp.states[n]["event"] == "line"
    });
    pos = motion(&mut c, "continue", &thread, init, "breakpoint");
    check_stop(&mut c, &rec, &exp, pos);
    let want = exp.forward(pos, |n| {
        exp.states[n]["line"] == line && exp.states[n]["event"] == "line"
    });
    pos = motion(&mut c, "continue", &thread, want, "breakpoint");
    check_stop(&mut c, &rec, &exp, pos);
    let got = c.ok("evaluate", json!({"expression": "t"}));
    assert_eq!(got["result"], "7");
    c.ok("disconnect", json!({}));
    assert_eq!(c.wait(), 0);
}

const THREADS_PY: &str = r#"import threading


def work(n):
    t = 0
    for i in range(n):
        t += i
    return t


th = threading.Thread(target=work, args=(5,))
th.start()
th.join()
done = work(2)
"#;

#[test]
fn motions_keep_to_the_thread_they_start_on() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("threads.py");
    std::fs::write(&app, THREADS_PY).unwrap();
    let rec = dir.path().join("threads.hsr");
    let out = common::run_record(&hindsight(), &py.path, &app, &rec).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exp = Expect { states: dump(&rec) };
    let main = exp.thread(0).clone();
    let line = THREADS_PY
        .lines()
        .position(|l| l.contains("t += i"))
        .unwrap() as u32
        + 1;
    let hit = |n: usize| exp.states[n]["event"] == "line" && exp.states[n]["line"] == line;
    let first = exp.forward(0, hit);
    assert_ne!(
        exp.thread(first),
        &main,
        "the first hit is on the worker thread"
    );

    let mut c = Client::spawn(&hindsight());
    c.ok("initialize", json!({"adapterID": "hindsight"}));
    c.ok("launch", json!({"recording": rec}));
    c.event("initialized");
    c.ok(
        "setBreakpoints",
        json!({"source": {"path": app}, "breakpoints": [{"line": line, "condition": "i >= 3"}]}),
    );
    c.ok("configurationDone", json!({}));
    let e = c.event("stopped");
    let cond = |n: usize| {
        hit(n)
            && exp.states[n]["locals"]["i"]["repr"]
                .as_str()
                .is_some_and(|i| i.parse::<u32>().unwrap() >= 3)
    };
    let mut pos = stopped_step(&e);
    assert_eq!(pos, exp.forward(0, cond));
    let worker = e["body"]["threadId"].clone();
    assert_eq!(&worker, exp.thread(pos));
    let threads = c.ok("threads", json!({}));
    let ids: Vec<&Value> = threads["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert!(ids.contains(&&worker) && ids.contains(&&main), "{threads}");
    check_stop(&mut c, &rec, &exp, pos);
    // The other thread's stack is not recorded at this step.
    let other = c.ok("stackTrace", json!({"threadId": main}));
    assert_eq!(other["totalFrames"], 0);
    for _ in 0..3 {
        pos = motion(&mut c, "next", &worker, exp.next(pos), "step");
        assert_eq!(exp.thread(pos), &worker);
    }
    pos = motion(&mut c, "stepOut", &worker, exp.step_out(pos), "step");
    check_stop(&mut c, &rec, &exp, pos);
    pos = motion(&mut c, "stepBack", &worker, exp.step_back(pos), "step");
    // On to the main thread's call of work(2): i >= 3 never holds there.
    let want = exp.forward(pos, cond);
    pos = motion(
        &mut c,
        "continue",
        &worker,
        want,
        if cond(want) { "breakpoint" } else { "step" },
    );
    check_stop(&mut c, &rec, &exp, pos);
    c.ok("disconnect", json!({}));
    assert_eq!(c.wait(), 0);
}
