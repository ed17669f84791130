//! What every end-to-end test needs: raw HTTP/1.1 requests to the real server on a loopback
//! port, one small synthetic store with its trained models written as a bundle, and the
//! server started on it, in process ([`start_server`]) or as the real binary
//! ([`spawn_serve_bundle`]). Each test crate uses a part of it, hence the `dead_code`
//! allowance.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use propensity::bundle::Metadata;
use propensity::demo::{demo_store, train_on_whole_log};
use propensity::ingest::EventStore;
use propensity::models::TrainedModels;
use propensity::serve::{RunningServer, ServeConfig, start};
use propensity::synth::SynthConfig;
use serde_json::Value;

/// One HTTP response, body de-chunked.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the status and body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection (`Connection: close`), response read to EOF; errors
/// instead of panics, for tests that expect the server to be gone.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    s.write_all(&out)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("incomplete response head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(&raw[split + 4..])?
    } else {
        raw[split + 4..].to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::other("malformed chunked body");
    let mut out = Vec::new();
    loop {
        let eol = raw.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let len = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16)
            .map_err(|_| bad())?;
        if len == 0 {
            return Ok(out);
        }
        let chunk = raw.get(eol + 2..eol + 2 + len).ok_or_else(bad)?;
        out.extend_from_slice(chunk);
        raw = raw.get(eol + 2 + len + 2..).ok_or_else(bad)?;
    }
}

/// [`try_request`] that panics when the server does not answer.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    try_request(addr, method, path, headers, body).expect("request answered")
}

/// GET with extra headers.
pub fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request(addr, "GET", path, headers, None)
}

/// Plain GET.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    get_with(addr, path, &[])
}

/// POST of a JSON body.
pub fn post_json(addr: SocketAddr, path: &str, body: &serde_json::Value) -> Response {
    let b = serde_json::to_vec(body).expect("json");
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        Some(&b),
    )
}

/// Asserts the status and the JSON error envelope `{"error": {"code", "message"}}`.
pub fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

/// A synthetic store of `customers` and `items` and the models trained on all of it.
pub fn train_synthetic(customers: u32, items: u32, seed: u64) -> (EventStore, TrainedModels) {
    let store = demo_store(&SynthConfig {
        customers,
        items,
        seed,
        ..SynthConfig::default()
    });
    let (models, _) = train_on_whole_log(&store).expect("trains");
    (store, models)
}

/// The small store (300 customers, 80 items, seed 5) and the models trained on it, built
/// once per test binary: what every end-to-end suite serves.
pub fn trained() -> &'static (EventStore, TrainedModels) {
    static TRAINED: OnceLock<(EventStore, TrainedModels)> = OnceLock::new();
    TRAINED.get_or_init(|| train_synthetic(300, 80, 5))
}

/// Writes `models` (trained on `store`) as a bundle at `path`, with their metadata (created
/// at 2023-11-14) as `edit` leaves it.
pub fn write_models(
    store: &EventStore,
    models: &TrainedModels,
    path: &Path,
    edit: impl FnOnce(&mut Metadata),
) {
    let mut meta = models.metadata(store, "", 1_700_000_000);
    edit(&mut meta);
    models.write_bundle(meta, path).expect("writes bundle");
}

/// Writes [`trained`]'s models as a bundle at `path` (see [`write_models`]).
pub fn write_bundle(path: &Path, edit: impl FnOnce(&mut Metadata)) {
    let (store, models) = trained();
    write_models(store, models, path, edit);
}

/// A new temporary directory and the path of `model.bundle` in it, written by
/// [`write_bundle`] with `edit`.
pub fn bundle_dir(edit: impl FnOnce(&mut Metadata)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.bundle");
    write_bundle(&path, edit);
    (dir, path)
}

/// The server config every suite starts from: `bundle`, a free loopback port, two workers,
/// the defaults for the rest.
pub fn config(bundle: PathBuf) -> ServeConfig {
    ServeConfig {
        bind: "127.0.0.1:0".to_string(),
        bundle,
        workers: 2,
        ..ServeConfig::default()
    }
}

/// Starts the server in process with `cfg`.
pub fn start_server(cfg: ServeConfig) -> RunningServer {
    start(cfg).expect("starts")
}

/// The customer with the most orders (history, buy-again items, a profile).
pub fn busiest_customer() -> String {
    let (_, models) = trained();
    let base = &models.base;
    let row = (0..base.rows())
        .max_by_key(|&r| base.orders[r])
        .expect("rows");
    base.customer_ids[base.modelled[row] as usize].clone()
}

/// The log line without terminal colour codes (`ESC [ … letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The real `propensity-serve` binary, its logged address, and its log so far.
pub struct Spawned {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every stderr line, colour codes stripped; drained by a thread so the child never
    /// blocks on a full pipe.
    pub log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Spawned {
    /// The log lines so far, joined.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// The whole log of a process that has exited (waits for the reader to see EOF).
    pub fn final_log(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            r.join().expect("log reader");
        }
        self.log_text()
    }
}

/// Starts the real binary on `bundle` and a free loopback port, with `extra` arguments.
pub fn spawn_serve_bundle(bundle: &Path, extra: &[&OsStr]) -> Spawned {
    let mut args: Vec<&OsStr> = vec![
        "--bundle".as_ref(),
        bundle.as_os_str(),
        "--bind".as_ref(),
        "127.0.0.1:0".as_ref(),
    ];
    args.extend_from_slice(extra);
    spawn_serve(&args)
}

/// Starts `propensity-serve` with `args` (bind on `127.0.0.1:0` is the caller's) and waits
/// for the "listening" line that names its address.
pub fn spawn_serve<S: AsRef<OsStr>>(args: &[S]) -> Spawned {
    let mut child = Command::new(env!("CARGO_BIN_EXE_propensity-serve"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::clone(&log);
    let reader = std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let line = strip_ansi(&line);
            if !sent && line.contains("listening") {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| a.parse::<SocketAddr>().ok());
                if let Some(a) = addr {
                    let _ = tx.send(a);
                    sent = true;
                }
            }
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the server logs its address");
    Spawned {
        child,
        addr,
        log,
        reader: Some(reader),
    }
}
