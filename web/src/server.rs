//! The listening socket and its connections: a thread per connection, at
//! most [`MAX_CONNECTIONS`] at once (more are answered 503 at once), each
//! request read within the bounds of `http.rs`. On a loopback address the
//! `Host` header must name the loopback: a web page elsewhere that points
//! a name of its own at 127.0.0.1 (DNS rebinding) gets 421, not the
//! recording.

use std::io::Read;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::api::App;
use crate::http::{read_request, write_response, Request, Response};
use crate::WebError;

/// Connections served at once; more wait for none of them (503).
pub const MAX_CONNECTIONS: usize = 64;

/// Bytes read and dropped after refusing a request, at most.
const DRAIN_BYTES: usize = 64 * 1024;

/// A bound server, not yet answering.
pub struct Server {
    listener: TcpListener,
    app: Arc<App>,
    /// The `Host` values accepted; `None`: any (not bound to the loopback).
    hosts: Option<Vec<String>>,
}

impl Server {
    /// Bind `host:port` (port 0: a free port) for `app`.
    pub fn bind(host: IpAddr, port: u16, app: App) -> Result<Server, WebError> {
        let listener = TcpListener::bind((host, port)).map_err(|e| WebError::Bind {
            addr: SocketAddr::new(host, port).to_string(),
            source: e,
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| WebError::Bind {
                addr: SocketAddr::new(host, port).to_string(),
                source: e,
            })?
            .port();
        let hosts = host.is_loopback().then(|| {
            ["127.0.0.1", "localhost", "[::1]"]
                .iter()
                .map(|h| format!("{h}:{port}"))
                .collect()
        });
        Ok(Server {
            listener,
            app: Arc::new(app),
            hosts,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The page's address, for people: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        let a = self.local_addr();
        let host = if a.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            match a.ip() {
                IpAddr::V6(ip) => format!("[{ip}]"),
                IpAddr::V4(ip) => ip.to_string(),
            }
        };
        format!("http://{host}:{}/", a.port())
    }

    /// Answer connections until the process ends.
    pub fn run(self) -> Result<(), WebError> {
        let active = Arc::new(AtomicUsize::new(0));
        let hosts = Arc::new(self.hosts);
        for conn in self.listener.incoming() {
            let stream = match conn {
                Ok(s) => s,
                Err(e) => {
                    // A connection that failed while being accepted (the
                    // client gave up, or out of descriptors): the listener
                    // is still fine. A short pause keeps a descriptor
                    // shortage from spinning.
                    log::warn!(target: "web::server", "accepting a connection failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                active.fetch_sub(1, Ordering::SeqCst);
                busy(stream);
                continue;
            }
            let slot = Slot(active.clone());
            let app = self.app.clone();
            let hosts = hosts.clone();
            let spawned = std::thread::Builder::new()
                .name("hindsight-web".into())
                .spawn(move || {
                    let _slot = slot;
                    serve_connection(stream, &app, hosts.as_ref().as_deref());
                });
            if let Err(e) = spawned {
                log::warn!(target: "web::server", "cannot start a thread for a connection: {e}");
            }
        }
        Ok(())
    }
}

/// A connection's place in the count; given back when dropped (a thread
/// that ends, however it ends).
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answer 503 to a connection over the limit, without reading it.
fn busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let r = Response::error(503, "too many connections at once; try again");
    let _ = write_response(&mut stream, &r, false);
}

/// Read one request, answer it, close.
fn serve_connection(mut stream: TcpStream, app: &App, hosts: Option<&[String]>) {
    let _ = stream.set_nodelay(true);
    let (response, head_only, unread) = match read_request(&mut stream) {
        Ok(req) => (answer(app, &req, hosts), req.head_only, false),
        Err(e) => match e.status() {
            Some(status) => (Response::error(status, &e.to_string()), false, true),
            None => return,
        },
    };
    if let Err(e) = write_response(&mut stream, &response, head_only) {
        log::debug!(target: "web::server", "writing an answer failed: {e}");
        return;
    }
    if unread {
        drain(&mut stream);
    }
}

/// After refusing a request whose rest was not read: close our side, then
/// read (a bounded amount, for a bounded time) what the client still
/// sends, so that closing does not reset the connection before the client
/// has read the answer.
fn drain(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 4096];
    let mut left = DRAIN_BYTES;
    while left > 0 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The answer to a well-formed request: refused when its Host is not ours,
/// else the app's. A panic in the app (a bug) is a 500, not a dead server.
fn answer(app: &App, req: &Request, hosts: Option<&[String]>) -> Response {
    if let Some(hosts) = hosts {
        match &req.host {
            Some(h) if hosts.iter().any(|ok| ok == h) => {}
            // HTTP/1.0 may leave Host out; a browser never does.
            None => {}
            Some(_) => {
                return Response::error(
                    421,
                    "this server answers requests for 127.0.0.1, localhost and [::1] only",
                )
            }
        }
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.handle(req))) {
        Ok(r) => r,
        Err(_) => Response::error(500, "internal error; this is a bug in hindsight"),
    }
}
