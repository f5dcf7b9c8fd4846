//! `hindsight serve` on a recording of examples/bubble.py (a list shared by
//! three names): the JSON API answers what the command line answers, bad
//! requests get their status without stalling the server, and the page,
//! driven in headless Chromium (web/browser/page_test.mjs), shows what
//! `hindsight state --json` says.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{repo_root, run_with_timeout, HINDSIGHT_TIMEOUT};
use serde_json::Value;

const HINDSIGHT: &str = env!("CARGO_BIN_EXE_hindsight");
/// How long the client waits for an answer before calling the server hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// A recording of examples/bubble.py by 3.11 (columns) or another supported interpreter.
fn record(dir: &Path) -> Option<PathBuf> {
    let py =
        common::interpreter("3.11").or_else(|| common::supported_interpreters().into_iter().next());
    let Some(py) = py else {
        eprintln!("SKIPPED: no supported interpreter to record with");
        return None;
    };
    let hsr = dir.join("bubble.hsr");
    let fixture = repo_root().join("examples").join("bubble.py");
    let out = common::run_record(Path::new(HINDSIGHT), &py.path, &fixture, &hsr).unwrap();
    assert!(
        out.status.success(),
        "record failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(hsr)
}

/// `hindsight serve REC --port 0`, killed when dropped.
struct Served {
    child: Child,
    /// `127.0.0.1:PORT`
    addr: String,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(hsr: &Path) -> Served {
    let mut child = Command::new(HINDSIGHT)
        .args(["serve", "--port", "0"])
        .arg(hsr)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start hindsight serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(CLIENT_TIMEOUT) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("hindsight serve printed no address");
        }
    };
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Served { child, addr, url }
}

/// Send `raw` as it is; the status and body of the answer.
fn exchange(addr: &str, raw: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.write_all(raw).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .expect("the server answers in time");
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = match answer.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => answer[i + 4..].to_vec(),
        None => Vec::new(),
    };
    (status, body)
}

fn get(s: &Served, path: &str) -> (u16, Value) {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr);
    let (status, body) = exchange(&s.addr, raw.as_bytes());
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, v)
}

fn cli(args: &[&str]) -> String {
    let mut cmd = Command::new(HINDSIGHT);
    cmd.args(args);
    let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The step numbers at the start of each line of a listing.
fn steps_of(listing: &str) -> Vec<u64> {
    listing
        .lines()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn the_api_answers_what_the_command_line_answers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hsr) = record(dir.path()) else {
        return;
    };
    let rec = hsr.to_str().unwrap();
    let s = serve(&hsr);
    let (_, info) = get(&s, "/api/info");
    let count = info["steps"].as_u64().unwrap();
    assert!(cli(&["info", rec]).contains(&format!("steps:       {count}")));
    let dump: Vec<Value> = cli(&["dump", rec])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dump.len() as u64, count);
    for (n, want) in dump.iter().enumerate() {
        let (status, got) = get(&s, &format!("/api/state/{n}"));
        assert_eq!(status, 200);
        assert_eq!(&got, want, "step {n}");
        let (_, view) = get(&s, &format!("/api/view/{n}"));
        assert_eq!(&view["state"], want, "step {n} of the view");
        // Every name bound to a non-atom object has that object drawn.
        for scope in ["locals", "globals"] {
            for (name, v) in want[scope].as_object().unwrap() {
                let drawn = &view["objects"][v["id"].as_str().unwrap()];
                let atom = ["int", "str", "bool", "NoneType", "float"]
                    .contains(&v["type"].as_str().unwrap());
                assert_eq!(drawn.is_null(), atom, "step {n}: {name} = {v}");
                if !atom {
                    assert_eq!(drawn["type"], v["type"]);
                }
            }
        }
    }
    let (_, steps) = get(&s, &format!("/api/steps?from=0&to={}", count - 1));
    // The API does not find AST nodes (docs/serve.md): all else is equal.
    let want: Vec<Value> = cli(&["steps", rec, "--json"])
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().shift_remove("node");
            v
        })
        .collect();
    assert_eq!(steps["steps"].as_array().unwrap(), &want);

    // Moves, against `visits` and the dump.
    let file = dump[20]["file"].as_str().unwrap();
    let line = dump[20]["line"].as_u64().unwrap();
    let visits = steps_of(&cli(&["visits", rec, &format!("{file}:{line}")]));
    let (_, next) = get(&s, "/api/next-visit/20");
    assert_eq!(
        next["step"].as_u64(),
        visits.iter().copied().find(|v| *v > 20)
    );
    let (_, prev) = get(&s, "/api/previous-visit/20");
    assert_eq!(
        prev["step"].as_u64(),
        visits.iter().copied().rev().find(|v| *v < 20)
    );
    let depth = dump[20]["stack"].as_array().unwrap().len();
    let out = dump
        .iter()
        .skip(21)
        .find(|d| d["stack"].as_array().unwrap().len() < depth);
    let (_, got) = get(&s, "/api/step-out/20");
    assert_eq!(
        got["step"].as_u64(),
        out.map(|d| d["step"].as_u64().unwrap())
    );
    let (_, none) = get(&s, &format!("/api/step-out/{}", count - 1));
    assert_eq!(none["step"], Value::Null);

    // History, against `history`.
    let (status, h) = get(&s, "/api/history?name=swapped");
    assert_eq!(status, 200);
    let got: Vec<u64> = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(got, steps_of(&cli(&["history", rec, "swapped"])));
    let (status, h) = get(&s, "/api/history?name=nosuchname");
    assert_eq!(status, 404, "{h}");

    // Source: the recorded file, and nothing else.
    let (_, src) = get(&s, &format!("/api/source?file={file}"));
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(src["lines"], serde_json::json!(lines));
    let (status, _) = get(&s, "/api/source?file=/etc/passwd");
    assert_eq!(status, 403);
}

#[test]
fn outer_frames_show_their_locals_as_of_their_last_step() {
    let dir = tempfile::tempdir().unwrap();
    let Some(py) = common::supported_interpreters().into_iter().next() else {
        return;
    };
    let hsr = dir.path().join("recursion.hsr");
    let fixture = repo_root()
        .join("tests")
        .join("fixtures")
        .join("recursion.py");
    let out = common::run_record(Path::new(HINDSIGHT), &py.path, &fixture, &hsr).unwrap();
    assert!(out.status.success());
    let rec = hsr.to_str().unwrap();
    let dump: Vec<Value> = cli(&["dump", rec])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let s = serve(&hsr);
    let depth = |d: &Value| d["stack"].as_array().unwrap().len();
    // The deepest step of fact(30), and a few others.
    let deepest = (0..dump.len())
        .max_by_key(|&i| (depth(&dump[i]), std::cmp::Reverse(i)))
        .unwrap();
    for n in [deepest, deepest / 2, dump.len() - 1] {
        let (_, got) = get(&s, &format!("/api/frames/{n}"));
        let frames = got["frames"].as_array().unwrap();
        let d = depth(&dump[n]);
        assert_eq!(frames.len(), d - 1, "step {n}");
        for f in frames {
            let k = f["depth"].as_u64().unwrap() as usize;
            // From the dump: the last step before n of the same thread whose
            // stack is n's cut at depth k.
            let want = (0..n).rev().find(|&m| {
                dump[m]["thread"] == dump[n]["thread"]
                    && depth(&dump[m]) == k
                    && dump[m]["stack"].as_array().unwrap()[..k]
                        .iter()
                        .zip(&dump[n]["stack"].as_array().unwrap()[..k])
                        .all(|(a, b)| a["function"] == b["function"] && a["file"] == b["file"])
            });
            if k + web::MAX_OUTER_FRAMES < d {
                continue;
            }
            assert_eq!(
                f["step"].as_u64(),
                want.map(|m| m as u64),
                "step {n}, frame {k}"
            );
            if let Some(m) = want {
                assert_eq!(f["locals"], dump[m]["locals"], "step {n}, frame {k}");
            }
        }
    }
}

#[test]
fn bad_requests_get_their_status_and_do_not_stall_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hsr) = record(dir.path()) else {
        return;
    };
    let s = serve(&hsr);
    let host = format!("Host: {}\r\n", s.addr);
    // A client that connects and sends nothing holds its connection, not the server.
    let idle = TcpStream::connect(&s.addr).unwrap();
    let half = TcpStream::connect(&s.addr).unwrap();
    (&half).write_all(b"GET /api/info HTTP/1.1\r\nHo").unwrap();
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (format!("GET / HTTP/1.1\r\n{host}\r\n").into_bytes(), 200),
        (
            format!("HEAD /app.js HTTP/1.1\r\n{host}\r\n").into_bytes(),
            200,
        ),
        (b"garbage\r\n\r\n".to_vec(), 400),
        (b"\xff\xfe\r\n\r\n".to_vec(), 400),
        (
            format!("POST /api/info HTTP/1.1\r\n{host}Content-Length: 2\r\n\r\nhi").into_bytes(),
            405,
        ),
        (
            format!("GET /api/info HTTP/1.1\r\n{host}Content-Length: 2\r\n\r\nhi").into_bytes(),
            413,
        ),
        (
            format!("GET /api/info HTTP/2.0\r\n{host}\r\n").into_bytes(),
            505,
        ),
        (
            b"GET /api/info HTTP/1.1\r\nHost: attacker.example:80\r\n\r\n".to_vec(),
            421,
        ),
        (
            format!(
                "GET /api/info HTTP/1.1\r\n{host}X: {}\r\n\r\n",
                "a".repeat(20_000)
            )
            .into_bytes(),
            431,
        ),
        (
            format!("GET /api/nothing HTTP/1.1\r\n{host}\r\n").into_bytes(),
            404,
        ),
        (
            format!("GET /api/state/99999999 HTTP/1.1\r\n{host}\r\n").into_bytes(),
            404,
        ),
        (
            format!("GET /api/state/-1 HTTP/1.1\r\n{host}\r\n").into_bytes(),
            400,
        ),
        (
            format!("GET /api/state/%ZZ HTTP/1.1\r\n{host}\r\n").into_bytes(),
            400,
        ),
        (
            format!("GET /api/steps?from=x HTTP/1.1\r\n{host}\r\n").into_bytes(),
            400,
        ),
        (
            format!("GET /api/history HTTP/1.1\r\n{host}\r\n").into_bytes(),
            400,
        ),
        (
            format!("GET /../../etc/passwd HTTP/1.1\r\n{host}\r\n").into_bytes(),
            404,
        ),
    ];
    for (raw, want) in cases {
        let (status, _) = exchange(&s.addr, &raw);
        assert_eq!(
            status,
            want,
            "{}",
            String::from_utf8_lossy(&raw[..raw.len().min(80)])
        );
    }
    // More connections than it serves at once: the extra ones are told so,
    // and once they close the server answers again.
    let many: Vec<TcpStream> = (0..web::MAX_CONNECTIONS + 8)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    let mut busy = 0;
    for mut c in many.iter().skip(web::MAX_CONNECTIONS - 2) {
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut b = [0u8; 12];
        if c.read(&mut b).is_ok_and(|n| n >= 12) && b.starts_with(b"HTTP/1.1 503") {
            busy += 1;
        }
    }
    assert!(busy > 0, "no connection over the limit was answered 503");
    drop(many);
    drop(idle);
    drop(half);
    let mut status = 503;
    for _ in 0..200 {
        status = get(&s, "/api/info").0;
        if status != 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status, 200);
    assert!(get(&s, "/api/state/0").1["step"] == 0);
    assert!(s.url.ends_with('/'));
}

#[test]
fn the_page_in_chromium_shows_the_recorded_state() {
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.exists() {
        eprintln!(
            "SKIPPED: {} is absent (scripts/setup installs Debian's chromium)",
            chromium.display()
        );
        return;
    }
    let browser_dir = repo_root().join("web").join("browser");
    assert!(
        browser_dir
            .join("node_modules")
            .join("playwright-core")
            .exists(),
        "web/browser/node_modules is missing: run scripts/setup (npm ci in web/browser)"
    );
    let dir = tempfile::tempdir().unwrap();
    let Some(hsr) = record(dir.path()) else {
        return;
    };
    let s = serve(&hsr);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve");
    std::fs::create_dir_all(&shots).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(browser_dir.join("page_test.mjs"))
        .arg(&s.url)
        .arg(&hsr)
        .arg(HINDSIGHT)
        .arg(&shots)
        .env("CHROMIUM", &chromium);
    let out = run_with_timeout(cmd, Duration::from_secs(180)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test failed (above)");
    assert!(shots.join("serve.png").exists());
}
