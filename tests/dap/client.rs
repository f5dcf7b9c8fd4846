//! A scripted Debug Adapter Protocol client: `hindsight dap` spawned with
//! its stdin and stdout as the protocol's stream, requests written and
//! messages read back, framed by Content-Length. A reader thread parses
//! the adapter's messages; a deadline turns an adapter that stops
//! answering into a failure instead of a hang.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use serde_json::{json, Value};

/// How long one answer may take (a launch records a program first).
const DEADLINE: Duration = Duration::from_secs(120);

pub struct Client {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    seq: i64,
    /// Events read while waiting for something else.
    pub events: VecDeque<Value>,
}

impl Client {
    pub fn spawn(hindsight: &Path) -> Client {
        let mut child = Command::new(hindsight)
            .arg("dap")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hindsight dap");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            while let Some(msg) = read_frame(&mut r) {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        });
        Client {
            child,
            stdin,
            rx,
            seq: 0,
            events: VecDeque::new(),
        }
    }

    /// Write raw bytes to the adapter.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Write one message with its header.
    pub fn send(&mut self, msg: &Value) {
        let body = serde_json::to_vec(msg).unwrap();
        let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        framed.extend(body);
        self.raw(&framed);
    }

    fn next(&mut self) -> Value {
        self.rx
            .recv_timeout(DEADLINE)
            .expect("the adapter answered nothing before the deadline")
    }

    /// The next response (events before it are kept in `events`).
    pub fn response(&mut self) -> Value {
        loop {
            let m = self.next();
            if m["type"] == "response" {
                return m;
            }
            self.events.push_back(m);
        }
    }

    /// Send a request and return its response, checking its shape.
    pub fn request(&mut self, command: &str, arguments: Value) -> Value {
        self.seq += 1;
        let seq = self.seq;
        self.send(
            &json!({"seq": seq, "type": "request", "command": command, "arguments": arguments}),
        );
        let r = self.response();
        assert_eq!(r["request_seq"], seq, "{r}");
        assert_eq!(r["command"], command, "{r}");
        r
    }

    /// A request that must succeed: its body.
    pub fn ok(&mut self, command: &str, arguments: Value) -> Value {
        let r = self.request(command, arguments);
        assert_eq!(r["success"], true, "{command} failed: {r}");
        r["body"].clone()
    }

    /// The next event named `name`; events of other names before it are dropped.
    pub fn event(&mut self, name: &str) -> Value {
        while let Some(e) = self.events.pop_front() {
            if e["event"] == name {
                return e;
            }
        }
        loop {
            let m = self.next();
            if m["type"] == "event" && m["event"] == name {
                return m;
            }
            assert_ne!(m["type"], "response", "expected the event {name}, got {m}");
        }
    }

    /// Wait for the adapter to exit; its status.
    pub fn wait(mut self) -> i32 {
        drop(self.stdin);
        let status = self.child.wait().expect("wait for hindsight dap");
        status.code().unwrap_or(-1)
    }
}

/// One framed message, or `None` at the end of the stream.
fn read_frame(r: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    r.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).expect("the adapter wrote a body that is not JSON"))
}
