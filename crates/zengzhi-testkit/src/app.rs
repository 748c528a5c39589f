//! The HTTP service in process, as axum's examples test it: [`spawn_app`] opens a
//! [`zengzhi_server::Service`] over a throwaway store and requests go straight into its router
//! with tower's `oneshot` (no socket, no process). The writer, the projector and the background
//! tasks are the real ones.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use zengzhi_server::config::{Rate, Secret};
use zengzhi_server::{AppState, Config, Service};

/// The bootstrap admin token of every test app.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Where a test app keeps its program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Instantiates each `async fn name(backend: Backend)` test body once per backend, as
/// `sqlite::name` and `postgres::name` (multi-threaded tokio tests, two workers).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::app::Backend::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::app::Backend::Postgres).await
            })*
        }
    };
}

/// A throwaway store: a scratch directory, or a PostgreSQL schema of its own (dropped at the end).
pub struct TempStore {
    pub backend: Backend,
    pub dir: std::path::PathBuf,
    pub pg: Option<(String, String)>,
}

impl TempStore {
    pub fn new(backend: Backend, name: &str) -> TempStore {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = crate::scratch_dir(&format!("app-{name}-{n}"));
        let pg = (backend == Backend::Postgres).then(|| {
            let schema = format!("t_app_{}_{n}", std::process::id());
            // The synchronous client runs a runtime of its own: never on an async thread.
            let url = off_runtime(|| crate::pg::url().to_string());
            drop_schema(&url, &schema);
            (url, schema)
        });
        TempStore { backend, dir, pg }
    }

    /// A configuration of the service over this store (admin token [`ADMIN_TOKEN`], no
    /// scheduled jobs, a fast projector, no rate limits: in process every request comes from
    /// one unknown address; the tests of the limits set their own).
    pub fn config(&self) -> Config {
        let mut c = Config { data_dir: self.dir.join("data"), ..Config::default() };
        if let Some((url, schema)) = &self.pg {
            c.database_url = Some(Secret::new(url.clone()));
            c.pg_schema = schema.clone();
        }
        c.admin_token = Some(Secret::new(ADMIN_TOKEN));
        c.release_locked_at = None;
        c.dividends_at = None;
        c.projector_interval_ms = 5;
        c.projector_nice = 0;
        c.limits.rate = zengzhi_server::config::RateLimits {
            api_key: Rate::OFF,
            member: Rate::OFF,
            session: Rate::OFF,
            address: Rate::OFF,
        };
        c
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.pg {
            drop_schema(url, schema);
        }
    }
}

/// Runs `f` on a plain thread (synchronous storage clients must not run on the runtime's).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("the thread finishes"))
}

fn drop_schema(url: &str, schema: &str) {
    // Best effort: a schema left behind is harmless (names are unique per process).
    off_runtime(|| {
        if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    });
}

/// A response: status, content type and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }

    /// The JSON body of a 2xx response (panics with the body otherwise).
    pub fn ok(&self) -> Value {
        assert!(self.status.is_success(), "expected success, got {} {}", self.status, self.text());
        self.json()
    }

    /// The JSON error of a response with this status and code (panics otherwise).
    pub fn err(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert!(self.content_type.starts_with("application/json"), "errors are JSON: {}", self.content_type);
        let v = self.json();
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {v}");
        v
    }
}

/// A service in process over a throwaway store.
pub struct TestApp {
    pub router: Router,
    pub admin: String,
    service: Option<Service>,
    // Dropped after the service.
    pub store: TempStore,
}

/// A test app over a new store with the default test configuration.
pub async fn spawn_app(backend: Backend, name: &str) -> TestApp {
    spawn_app_with(backend, name, |_| {}).await
}

/// A test app over a new store; `configure` adjusts the configuration first.
pub async fn spawn_app_with(backend: Backend, name: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let store = TempStore::new(backend, name);
    let mut config = store.config();
    configure(&mut config);
    open_app(store, config).await
}

/// A test app over an existing store (e.g. after a restart).
pub async fn open_app(store: TempStore, config: Config) -> TestApp {
    let service = Service::open(config, "http://in-process.test".into())
        .await
        .unwrap_or_else(|e| panic!("the service starts: {e}"));
    TestApp { router: service.router(), admin: ADMIN_TOKEN.to_string(), service: Some(service), store }
}

impl TestApp {
    pub fn state(&self) -> &Arc<AppState> {
        self.service.as_ref().expect("running").state()
    }

    /// One request: `body` is sent as is (JSON when it is not empty).
    pub async fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> Response {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.map_or_else(Body::empty, Body::from)).expect("a valid request");
        let resp = self.router.clone().oneshot(req).await.expect("the router answers");
        let status = resp.status();
        let headers = resp.headers().clone();
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = resp.into_body().collect().await.expect("the body reads").to_bytes().to_vec();
        Response { status, content_type, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request("POST", path, token, Some(serde_json::to_vec(body).expect("JSON"))).await
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.get(path, Some(&self.admin)).await.ok()
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Value {
        self.post(path, Some(&self.admin), body).await.ok()
    }

    /// Applies commands (JSON lines of SPEC §6) through the writer, as the engine sees them;
    /// panics if one is rejected.
    pub async fn submit(&self, lines: &[&str]) {
        for (line, r) in lines.iter().zip(self.try_submit(lines).await) {
            if let Err(code) = r {
                panic!("{line} was rejected: {code}");
            }
        }
    }

    /// Journals commands at the times they give (`at`, RFC 3339), as the platform's replays do;
    /// panics if any is rejected.
    pub async fn submit_at<L: AsRef<str>>(&self, lines: &[L]) {
        let commands: Vec<_> = lines
            .iter()
            .map(|l| {
                let line = l.as_ref();
                let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
                (crate::cmd(line), v["at"].as_str().map(str::to_string))
            })
            .collect();
        let writer = self.state().writer.clone();
        let outcomes = tokio::task::spawn_blocking(move || writer.submit_many(commands)).await.unwrap().unwrap();
        assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    }

    /// Applies commands through the writer; the rejection code of each one rejected.
    pub async fn try_submit(&self, lines: &[&str]) -> Vec<Result<(), &'static str>> {
        let commands = lines.iter().map(|l| crate::cmd(l)).collect();
        let outcomes = self.state().submit(commands).await.unwrap_or_else(|e| panic!("submitted: {}", e.message));
        outcomes.into_iter().map(|o| o.result.map(|_| ()).map_err(|r| r.code())).collect()
    }

    /// A member token for `member`.
    pub async fn member_token(&self, member: &str) -> String {
        let v = self.admin_post(&format!("/v1/members/{member}/token"), &Value::Null).await;
        v["token"].as_str().expect("a token").to_string()
    }

    /// An API key of `scope`, stored as `zengzhi keys create` does.
    pub async fn key(&self, scope: &str) -> String {
        let key = zengzhi_server::auth::new_api_key().expect("randomness");
        let hash = zengzhi_server::auth::sha256(key.as_bytes());
        let scope = scope.to_string();
        self.state()
            .read(move |b| b.put_api_key(&hash, &scope, "test", "2026-01-01T00:00:00Z"))
            .await
            .unwrap_or_else(|e| panic!("key stored: {}", e.message));
        key
    }

    /// Creates an operator account as `zengzhi users add` does.
    pub async fn user(&self, name: &str, role: zengzhi_server::accounts::Role, password: &str) {
        let user = zengzhi_server::routes::accounts::new_user(name.into(), role, password.into())
            .await
            .unwrap_or_else(|e| panic!("a user: {}", e.message));
        let stored = self.state().read(move |b| b.user_insert(&user)).await.unwrap_or_else(|e| panic!("{}", e.message));
        assert!(stored, "user {name} is new");
    }

    /// Signs in; the session token.
    pub async fn login(&self, name: &str, password: &str) -> String {
        let v =
            self.post("/v1/auth/login", None, &serde_json::json!({"username": name, "password": password})).await.ok();
        v["token"].as_str().expect("a token").to_string()
    }

    /// The state JSON (`GET /v1/admin/state`).
    pub async fn state_text(&self) -> String {
        let r = self.get("/v1/admin/state", Some(&self.admin)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.text()
    }

    /// Graceful shutdown; returns the store (to open it again).
    pub async fn shutdown(mut self) -> TempStore {
        let service = self.service.take().expect("running");
        // The router holds the state: it goes first.
        self.router = Router::new();
        service.shutdown().await.unwrap_or_else(|e| panic!("shutdown: {e}"));
        let store = std::mem::replace(
            &mut self.store,
            TempStore { backend: Backend::Sqlite, dir: Default::default(), pg: None },
        );
        store
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Not shut down (a failed test): the synchronous storage clients are dropped on a
        // plain thread, never on the runtime's.
        if let Some(service) = self.service.take() {
            let router = std::mem::take(&mut self.router);
            let _ = std::thread::spawn(move || drop((router, service))).join();
        }
    }
}
