//! The in-process API tests' fixture: the same calls as the black-box suite's `Server`
//! (`get_ok`, `post_ok`, `err(status, code)`, …), answered by the service's router in this
//! process (testkit's `TestApp`, tower `oneshot`) instead of a `zengzhi serve` over TCP. Test
//! bodies are plain functions; a runtime of the fixture's own drives the service.

#![allow(dead_code)]

use serde_json::Value;
use zengzhi_testkit::app::{spawn_app_with, Backend, TestApp};

/// Where a test's program lives.
pub type Store = Backend;

/// What the service is started with.
#[derive(Default, Clone)]
pub struct Opts {
    /// The member-token signing secret; else the one generated and kept in the store.
    pub token_secret: Option<String>,
    /// The settlement delay, seconds.
    pub settlement_delay_s: u64,
}

/// The service in process, called synchronously.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    app: Option<TestApp>,
    pub admin: String,
}

impl Server {
    pub fn start(store: &Store, opts: &Opts) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let opts = opts.clone();
        let app = runtime.block_on(spawn_app_with(*store, "api", move |c| {
            c.token_secret = opts.token_secret.map(zengzhi_server::config::Secret::new);
            c.settlement_delay_s = opts.settlement_delay_s;
        }));
        let admin = app.admin.clone();
        Server { runtime, app: Some(app), admin }
    }

    fn app(&self) -> &TestApp {
        self.app.as_ref().expect("running")
    }

    /// An API key of `scope`.
    pub fn key(&self, scope: &str) -> String {
        self.runtime.block_on(self.app().key(scope))
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> Resp {
        let r = self.runtime.block_on(self.app().request(method, path, token, body));
        Resp { method: method.into(), path: path.into(), status: r.status.as_u16(), ctype: r.content_type.clone(), text: r.text() }
    }

    /// A request with an `Authorization` header as given (not necessarily a bearer token).
    pub fn request_with_authorization(&self, method: &str, path: &str, authorization: &str) -> Resp {
        use axum::http::Request;
        use tower::ServiceExt;
        let req = Request::builder().method(method).uri(path).header("authorization", authorization).body(axum::body::Body::empty()).unwrap();
        let router = self.app().router.clone();
        let resp = self.runtime.block_on(router.oneshot(req)).unwrap();
        Resp { method: method.into(), path: path.into(), status: resp.status().as_u16(), ctype: String::new(), text: String::new() }
    }

    /// A request with a raw body (the black-box suite's raw connection; here the same request).
    pub fn raw(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Resp {
        self.request(method, path, token, Some(body.to_vec()))
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &str) -> Resp {
        self.request("POST", path, token, Some(body.as_bytes().to_vec()))
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.request("POST", path, token, Some(body.to_string().into_bytes()))
    }

    /// GET, expecting 200 and JSON.
    #[track_caller]
    pub fn get_ok(&self, path: &str, token: Option<&str>) -> Value {
        self.get(path, token).ok()
    }

    /// POST a JSON value, expecting 200.
    #[track_caller]
    pub fn post_ok(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        self.post_json(path, token, body).ok()
    }

    /// The full state as the service writes it (`GET /v1/admin/state`, SPEC §8 without results).
    pub fn state_text(&self) -> String {
        let r = self.get("/v1/admin/state", Some(&self.admin));
        assert_eq!(r.status, 200, "{}", r.text);
        r.text
    }

    pub fn state(&self) -> Value {
        serde_json::from_str(&self.state_text()).unwrap()
    }

    /// A member token for `member` (through the admin key).
    pub fn member_token(&self, member: &str) -> String {
        let v = self.post_ok(&format!("/v1/members/{member}/token"), Some(&self.admin), &Value::Null);
        v["token"].as_str().unwrap().to_string()
    }

    pub fn journal_length(&self) -> u64 {
        self.get_ok("/v1/proof", None)["journal_length"].as_u64().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(app) = self.app.take() {
            if std::thread::panicking() {
                drop(app);
            } else {
                self.runtime.block_on(app.shutdown());
            }
        }
    }
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub ctype: String,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{} {}: not JSON ({e}): {:?}", self.method, self.path, self.text))
    }

    /// Expects 200 with a JSON body; returns it.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{} {} → {} {}", self.method, self.path, self.status, self.text);
        assert!(self.ctype.starts_with("application/json"), "{} {}: content-type {}", self.method, self.path, self.ctype);
        self.json()
    }

    /// Expects the API's JSON error: `status`, `{"error": code, "message": non-empty}` and
    /// nothing else (an invalid rules document also lists each problem).
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> Value {
        assert_eq!((self.status, self.error_code().as_str()), (status, code), "{} {} → {} {}", self.method, self.path, self.status, self.text);
        assert!(self.ctype.starts_with("application/json"), "{} {}: an error is JSON, got {}", self.method, self.path, self.ctype);
        let v = self.json();
        let obj = v.as_object().unwrap();
        let expected = if code == "invalid_rules" && obj.contains_key("problems") { 3 } else { 2 };
        assert_eq!(obj.len(), expected, "an error has exactly error and message (and problems for rules): {v}");
        if let Some(problems) = obj.get("problems") {
            assert!(
                problems.as_array().is_some_and(|p| !p.is_empty()
                    && p.iter().all(|x| x["path"].is_string() && x["zh"].is_string() && x["en"].is_string())),
                "{v}"
            );
        }
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        v
    }

    pub fn error_code(&self) -> String {
        serde_json::from_str::<Value>(&self.text)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| format!("<no JSON error: {:?}>", self.text.chars().take(200).collect::<String>()))
    }
}
