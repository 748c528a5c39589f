//! The in-process API tests' fixture: the same calls as the black-box suite's `Server`
//! (`get_ok`, `post_ok`, `err(status, code)`, …), answered by the service's router in this
//! process (testkit's `TestApp`, tower `oneshot`) instead of a `zengzhi serve` over TCP. Test
//! bodies are plain functions; a runtime of the fixture's own drives the service.

#![allow(dead_code)]

pub use zengzhi_testkit::http::{Client, Resp};
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

}

impl Client for Server {
    fn admin_token(&self) -> &str {
        &self.admin
    }

    fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Vec<u8>>) -> Resp {
        let r = self.runtime.block_on(self.app().request(method, path, token, body));
        Resp { method: method.into(), path: path.into(), status: r.status.as_u16(), ctype: r.content_type.clone(), text: r.text() }
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
