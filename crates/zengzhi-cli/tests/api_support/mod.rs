//! Fixtures of the black-box API tests: a store (SQLite in a temp dir, or a PostgreSQL schema of
//! its own), the real `zengzhi serve` process on a random port (killed when dropped, also on a
//! panic), the other subcommands of the binary, and a small blocking HTTP client with
//! assertions for the API's JSON errors.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use zengzhi_testkit::http::{Client, Resp};

pub const BIN: &str = env!("CARGO_BIN_EXE_zengzhi");

/// Environment variables of the service that must not leak in from the caller's shell.
const SCRUBBED_ENV: &[&str] = &[
    "ZENGZHI_LISTEN",
    "ZENGZHI_DATA_DIR",
    "ZENGZHI_DATABASE_URL",
    "ZENGZHI_PG_SCHEMA",
    "ZENGZHI_ADMIN_TOKEN",
    "ZENGZHI_TOKEN_SECRET",
    "ZENGZHI_PUBLIC_URL",
    "ZENGZHI_LOG",
];

static NEXT: AtomicU64 = AtomicU64::new(0);

/// One test's store, and a scratch directory (the server's working directory, its log, files
/// for export and replay). Dropping it removes both (the schema best effort).
pub struct Store {
    pub dir: tempfile::TempDir,
    /// The store arguments of every subcommand (`--data-dir D` or `--database-url U --pg-schema S`).
    pub args: Vec<String>,
    pub pg: Option<(String, String)>,
}

impl Store {
    pub fn sqlite() -> Store {
        let dir = tempfile::Builder::new().prefix("zengzhi-api-test-").tempdir().expect("a temp dir");
        let data = dir.path().join("data");
        Store { args: vec!["--data-dir".into(), data.to_str().unwrap().into()], dir, pg: None }
    }

    pub fn postgres() -> Store {
        let url = crate::common::pg_url().to_string();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let schema = format!("t_api_{}_{n}", std::process::id());
        // Left over from an earlier run with the same pid: start clean.
        let _ = zengzhi_journal::postgres::Postgres::drop_schema(&url, &schema);
        let dir = tempfile::Builder::new().prefix("zengzhi-api-test-").tempdir().expect("a temp dir");
        Store {
            args: vec!["--database-url".into(), url.clone(), "--pg-schema".into(), schema.clone()],
            dir,
            pg: Some((url, schema)),
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs SQL on the store directly (with no server running), to set up what only a crash
    /// leaves behind.
    pub fn exec(&self, sql: &str) {
        match &self.pg {
            Some((url, schema)) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
                client.batch_execute(&format!("SET search_path TO {schema}; {sql}")).expect("SQL runs");
            }
            None => {
                let conn = rusqlite::Connection::open(self.dir.path().join("data").join("zengzhi.db")).expect("open");
                conn.execute_batch(sql).expect("SQL runs");
            }
        }
    }

    /// Runs a subcommand of the binary with this store's arguments appended.
    pub fn zengzhi(&self, args: &[&str]) -> Output {
        zengzhi_cmd(self.dir.path()).args(args).args(&self.args).output().expect("the binary runs")
    }

    /// A new API key of `scope`, made by `zengzhi keys create`.
    pub fn key(&self, scope: &str) -> String {
        let o = self.zengzhi(&["keys", "create", "--scope", scope, "--label", "api test"]);
        assert!(o.status.success(), "keys create --scope {scope}: {}", String::from_utf8_lossy(&o.stderr));
        let key = String::from_utf8(o.stdout).unwrap().trim().to_string();
        assert!(key.starts_with("zk_") && !key.contains('\n'), "one key on stdout: {key:?}");
        key
    }

    /// `zengzhi export-journal` then `zengzhi replay`; returns (the exported lines, the replay
    /// output).
    pub fn export_and_replay(&self) -> (String, String) {
        let exported = self.path("exported.jsonl");
        let o = self.zengzhi(&["export-journal", "--out", exported.to_str().unwrap()]);
        assert!(o.status.success(), "export-journal: {}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&exported).unwrap();
        let state = self.path("replayed.json");
        let o = zengzhi_cmd(self.dir.path())
            .args(["replay", "--input", exported.to_str().unwrap(), "--out", state.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "replay: {}", String::from_utf8_lossy(&o.stderr));
        (text, std::fs::read_to_string(&state).unwrap())
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.pg {
            let _ = zengzhi_journal::postgres::Postgres::drop_schema(url, schema);
        }
    }
}

fn zengzhi_cmd(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd);
    for v in SCRUBBED_ENV {
        c.env_remove(v);
    }
    c
}

/// How to start a server.
#[derive(Default, Clone)]
pub struct Opts {
    /// A rules file for a new program (`--rules`).
    pub rules_toml: Option<String>,
    /// `ZENGZHI_TOKEN_SECRET`; else the secret generated and kept in the store.
    pub token_secret: Option<String>,
    /// Extra top-level lines of the settings file (`--config`).
    pub config: String,
    /// The `[schedule]` table's lines; else the daily release is off (nothing scheduled lands
    /// in the middle of a test).
    pub schedule: Option<String>,
    /// More environment variables of the server.
    pub env: Vec<(String, String)>,
}

/// A running `zengzhi serve`. Dropping it kills the process (SIGKILL) and waits for it.
pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub admin: String,
    pub http: reqwest::blocking::Client,
    pub log: PathBuf,
    /// What the server printed on standard output.
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

static SERVERS: AtomicU64 = AtomicU64::new(0);

impl Server {
    pub fn start(store: &Store, opts: &Opts) -> Server {
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let admin = format!("admin-token-{}-{n}", std::process::id());
        let config = store.path(&format!("zengzhi-{n}.toml"));
        let schedule = opts.schedule.as_deref().unwrap_or("release_locked_at = \"off\"");
        std::fs::write(&config, format!("{}\n[schedule]\n{schedule}\n", opts.config)).unwrap();
        let log = store.path(&format!("server-{n}.log"));
        let mut cmd = zengzhi_cmd(store.dir.path());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--config", config.to_str().unwrap()])
            .args(&store.args)
            .env("ZENGZHI_ADMIN_TOKEN", &admin)
            .env("ZENGZHI_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        if let Some(rules) = &opts.rules_toml {
            let path = store.path(&format!("rules-{n}.toml"));
            std::fs::write(&path, rules).unwrap();
            cmd.args(["--rules", path.to_str().unwrap()]);
        }
        if let Some(secret) = &opts.token_secret {
            cmd.env("ZENGZHI_TOKEN_SECRET", secret);
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("zengzhi serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = printed.clone();
        std::thread::spawn(move || {
            // Reads the banner, then keeps draining stdout so the server never blocks on it.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line.clone());
                if let Some((_, url)) = line.split_once("is running: ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let mut server = Server {
            child: Some(child),
            url: String::new(),
            admin,
            http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            log,
            stdout: printed,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => {
                    server.url = url;
                    break;
                }
                Err(_) => {
                    if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                        panic!("zengzhi serve exited ({status}) before listening: {}", server.log_text());
                    }
                    assert!(Instant::now() < deadline, "zengzhi serve did not start in time: {}", server.log_text());
                }
            }
        }
        assert!(server.url.starts_with("http://127.0.0.1:"), "{}", server.url);
        server
    }

    /// The banner the server printed on standard output (waits for its last line).
    pub fn banner(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.stdout.lock().unwrap().clone();
            if lines.iter().any(|l| l.contains("Ctrl-C")) {
                return lines;
            }
            assert!(Instant::now() < deadline, "no whole banner: {lines:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server logged no error and did not panic (warnings are allowed).
    #[track_caller]
    pub fn assert_no_errors_logged(&self) {
        let log = self.log_text();
        assert!(!log.contains("ERROR") && !log.contains("panicked"), "the server logged errors:\n{log}");
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM, then waits (at most 60 s) for the process to end; returns its status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let o = Command::new("kill").args(["-TERM", &child.id().to_string()]).output().expect("kill runs");
        assert!(o.status.success(), "kill -TERM: {}", String::from_utf8_lossy(&o.stderr));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop within 60 s of SIGTERM: {}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // ---- HTTP ------------------------------------------------------------------------------

    /// A request over a raw connection, reading the answer while the body is still being
    /// written (for bodies the server refuses before reading them).
    pub fn raw(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://").to_string();
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        let mut writer = stream.try_clone().unwrap();
        let body = body.to_vec();
        let sender = std::thread::spawn(move || {
            // Errors are expected once the server has answered and closed.
            if writer.write_all(head.as_bytes()).is_ok() {
                for chunk in body.chunks(64 * 1024) {
                    if writer.write_all(chunk).is_err() {
                        break;
                    }
                }
            }
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if let Some(resp) = parse_http(&answer) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
                let _ = sender.join();
                return Resp { method: method.into(), path: path.into(), ..resp };
            }
        }
        let _ = sender.join();
        panic!("{method} {path}: no complete answer: {:?}", String::from_utf8_lossy(&answer));
    }
}

impl Client for Server {
    fn admin_token(&self) -> &str {
        &self.admin
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(method.clone(), format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            r = r.header("Content-Type", "application/json").body(b);
        }
        let resp = r.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let text = resp.text().unwrap();
        Resp { method: method.to_string(), path: path.to_string(), status, ctype, text }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Warnings and errors of the server are shown with a failing test's output.
        let log = self.log_text();
        if log.contains("WARN") || log.contains("ERROR") || log.contains("panicked") {
            eprintln!("---- server log {} ----\n{log}", self.log.display());
        }
    }
}

/// A small deterministic generator (the engine crate's SplitMix64).
pub struct Rng(zengzhi_core::workload::SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(zengzhi_core::workload::SplitMix64::new(seed))
    }
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.below(n.max(1))
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Money text (yuan, 2 decimals) to fen.
pub fn fen(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<2}");
    whole.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap()
}

/// Points text (8 decimals) to units.
pub fn units(text: &str) -> i64 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, "0"));
    let frac = format!("{frac:0<8}");
    whole.parse::<i64>().unwrap() * 100_000_000 + frac[..8].parse::<i64>().unwrap()
}

pub fn money(fen: impl Into<i128>) -> String {
    let fen = fen.into();
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A complete HTTP/1.1 response with a Content-Length body, if `bytes` holds one.
fn parse_http(bytes: &[u8]) -> Option<Resp> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut length = 0;
    let mut ctype = String::new();
    for line in lines {
        let (k, v) = line.split_once(':')?;
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = v.trim().parse().ok()?,
            "content-type" => ctype = v.trim().to_string(),
            _ => {}
        }
    }
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some(Resp {
        method: String::new(),
        path: String::new(),
        status,
        ctype,
        text: String::from_utf8_lossy(body).into_owned(),
    })
}
