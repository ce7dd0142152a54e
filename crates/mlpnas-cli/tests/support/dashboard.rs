//! For the end-to-end tests that talk to `mlpnas dashboard`: start it on a free port, and a raw
//! HTTP/1.1 client (raw, so that paths such as `/../../etc/passwd` reach the server as written:
//! ordinary clients normalise them away).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `mlpnas dashboard`, killed on drop.
pub struct Dashboard {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Dashboard {
    /// Starts `mlpnas dashboard ARGS --port 0` and waits for the address it prints.
    pub fn start<S: AsRef<OsStr>>(args: &[S]) -> Dashboard {
        let mut cmd = super::bin();
        cmd.arg("dashboard").args(args).args(["--port", "0"]);
        Self::start_command(cmd)
    }

    /// Starts `cmd` (a `mlpnas dashboard ... --port 0`, perhaps under a shell that limits it)
    /// and waits for the address it prints; its stderr is kept for [`Dashboard::stderr`].
    pub fn start_command(mut cmd: Command) -> Dashboard {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start mlpnas dashboard");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read the address line");
        let Some(url) = line.trim().strip_prefix("dashboard: http://") else {
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("dashboard did not start: {line:?} {err}");
        };
        let addr: SocketAddr = url.trim_end_matches('/').parse().expect("address");
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = out.read_to_string(&mut sink);
        });
        Dashboard { child, addr }
    }

    /// Stops it and returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        let _ = self.child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        err
    }

    /// The page's base URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// GET `path` exactly as written; status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        request(self.addr, "GET", path, "127.0.0.1")
    }

    /// GET `path`, which must answer 200 with JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Whether the server process is still alive.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request with `Connection: close`; status and (de-chunked) body.
pub fn request(addr: SocketAddr, method: &str, path: &str, host: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = &raw[split..];
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16).unwrap_or(0);
        let rest = &body[eol + 2..];
        if n == 0 || rest.len() < n {
            break;
        }
        out.extend_from_slice(&rest[..n]);
        body = rest[n..].strip_prefix(b"\r\n").unwrap_or(&rest[n..]);
    }
    out
}
