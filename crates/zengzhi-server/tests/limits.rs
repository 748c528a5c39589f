//! Limits and abuse: rate limits per credential and per address (in process), and, over a real
//! socket, the header timeout (slow-loris), header size, body deadline and connection count;
//! the security headers and closed CORS of every response; sign-in guessing in bursts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use zengzhi_server::accounts::{Role, FAILURE_WINDOW, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS};
use zengzhi_server::config::{Limits, Rate, RateLimits};
use zengzhi_server::web::{API_CSP, PAGE_CSP};
use zengzhi_testkit::app::{spawn_app_with, Backend, TempStore};

const OFF: Rate = Rate::OFF;
const PASSWORD: &str = "correct horse battery";

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(withdrawal_races);

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_credential_and_address_has_its_own_bucket() {
    let rates = RateLimits {
        api_key: Rate { per_s: 1, burst: 3 },
        member: Rate { per_s: 1, burst: 2 },
        session: OFF,
        address: Rate { per_s: 1, burst: 2 },
    };
    let app = spawn_app_with(Backend::Sqlite, "limits-rate", |c| c.limits.rate = rates).await;
    // The bootstrap admin token is an API key: three, then refused (1/s refills slower than
    // this test runs).
    let admin = app.admin.clone();
    app.submit(&[r#"{"op":"register_member","member":"alice"}"#, r#"{"op":"register_member","member":"bob"}"#]).await;
    let alice = app.member_token("alice").await;
    let bob = app.member_token("bob").await;
    // (two admin requests spent above minting the tokens)
    app.get("/v1/stats", Some(&admin)).await.ok();
    let refused = app.get("/v1/stats", Some(&admin)).await;
    let e = refused.err(429, "rate_limited");
    assert!(e["message"].as_str().unwrap().contains("too many requests"), "{e}");
    let wait: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");

    // Each member token its own bucket of two.
    for _ in 0..2 {
        app.get("/v1/me", Some(&alice)).await.ok();
    }
    app.get("/v1/me", Some(&alice)).await.err(429, "rate_limited");
    app.get("/v1/me", Some(&bob)).await.ok();

    // Requests without a credential: the address's bucket of two (in process: one address).
    app.get("/v1/stats", None).await.ok();
    app.get("/v1/stats", None).await.ok();
    app.get("/v1/stats", None).await.err(429, "rate_limited");

    let metrics = app.get("/metrics", Some(&bob)).await.text();
    assert_eq!(metric(&metrics, "zengzhi_rate_limited_total{kind=\"api_key\"}"), 1);
    assert_eq!(metric(&metrics, "zengzhi_rate_limited_total{kind=\"member\"}"), 1);
    assert_eq!(metric(&metrics, "zengzhi_rate_limited_total{kind=\"address\"}"), 1);
    assert_eq!(metric(&metrics, "zengzhi_rate_limited_total{kind=\"session\"}"), 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_tokens_empties_the_guessers_address_bucket() {
    let rates = RateLimits { api_key: OFF, member: OFF, session: OFF, address: Rate { per_s: 1, burst: 3 } };
    let app = spawn_app_with(Backend::Sqlite, "limits-guess", |c| c.limits.rate = rates).await;
    // Made-up tokens: each refused (401) and charged to the address.
    for guess in ["zk_guess1", "zk_guess2", "mt.guess.3"] {
        app.get("/v1/admin/rules", Some(guess)).await.err(401, "unauthorized");
    }
    // The address's bucket of refusals is empty: even a valid key is refused from there for
    // now, and a thousand further guesses never reach the key lookup.
    app.get("/v1/admin/rules", Some(&app.admin)).await.err(429, "rate_limited");
    let mut refused = 0;
    for n in 0..1000 {
        let r = app.get("/v1/admin/rules", Some(&format!("zk_guess_{n}"))).await;
        refused += usize::from(r.status == 429);
        assert!(r.status == 429 || r.status == 401, "{}", r.status);
    }
    assert!(refused >= 990, "at most a refill's worth get through: {refused} of 1000 refused");
    // Requests without a credential have their own bucket: not held up by the guessing.
    app.get("/v1/stats", None).await.ok();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_has_the_security_headers_and_no_cors() {
    let app = spawn_app_with(Backend::Sqlite, "limits-headers", |_| {}).await;
    for (method, path) in [("GET", "/v1/stats"), ("GET", "/v1/no-such-route"), ("OPTIONS", "/v1/stats")] {
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", "GET")
            .body(axum::body::Body::empty())
            .unwrap();
        let r = tower::ServiceExt::oneshot(app.router.clone(), req).await.unwrap();
        let h = r.headers();
        assert_eq!(h["content-security-policy"], API_CSP, "{method} {path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            !h.keys().any(|k| k.as_str().starts_with("access-control-")),
            "{method} {path}: no CORS header for another origin: {h:?}"
        );
    }
    app.shutdown().await;
}

#[test]
fn the_pages_policy_allows_no_inline_or_remote_script() {
    let script = PAGE_CSP.split(';').map(str::trim).find(|d| d.starts_with("script-src")).unwrap();
    assert_eq!(script, "script-src 'self'");
    assert!(PAGE_CSP.contains("frame-ancestors 'none'") && PAGE_CSP.contains("object-src 'none'"));
    assert!(!PAGE_CSP.contains("unsafe-eval") && !PAGE_CSP.contains('*'));
}

/// The service on a real socket with `limits`; the address and the running service.
async fn serve(name: &str, limits: Limits) -> (std::net::SocketAddr, zengzhi_server::Running, TempStore) {
    let store = TempStore::new(Backend::Sqlite, name);
    let mut config = store.config();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.limits = limits;
    let running = zengzhi_server::start(config).await.unwrap_or_else(|e| panic!("starts: {e}"));
    (running.addr, running, store)
}

/// Everything the server sends until it closes the connection (or `within` passes).
fn read_to_close(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// One request on a connection of its own, again while the server answers 503 because the
/// connections just closed are not yet seen closed (at most 10 s); the whole answer.
fn get_once_served(addr: std::net::SocketAddr, path: &str) -> String {
    let started = Instant::now();
    loop {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = write!(s, "GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
        let (answer, _) = read_to_close(&mut s, Duration::from_secs(10));
        let text = String::from_utf8_lossy(&answer).to_string();
        if !text.starts_with("HTTP/1.1 503") || started.elapsed() > Duration::from_secs(10) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One request on a connection kept open; the status line's code.
fn get_keep_alive(stream: &mut TcpStream, path: &str) -> u16 {
    write!(stream, "GET {path} HTTP/1.1\r\nhost: t\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("a status line: {head}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let limits = Limits { header_timeout_s: 1, body_timeout_s: 1, ..Limits::default() };
    let (addr, running, _store) = serve("limits-socket", limits).await;
    tokio::task::spawn_blocking(move || {
        // Slow-loris: headers a byte every 100 ms are cut off once the header timeout passes,
        // long before they would end.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-slow: ").unwrap();
        let started = Instant::now();
        let mut cut = false;
        while started.elapsed() < Duration::from_secs(20) {
            if s.write_all(b"a").is_err() {
                cut = true;
                break;
            }
            s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                Ok(0) => {
                    cut = true;
                    break;
                }
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).to_string();
                    assert!(text.starts_with("HTTP/1.1 408"), "only a timeout may be answered: {text}");
                    cut = true;
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    cut = true;
                    break;
                }
                Err(_) => {}
            }
        }
        assert!(cut, "the slow client was not cut off within 20 s");
        assert!(started.elapsed() >= Duration::from_millis(800), "cut by the timeout, not at once: {:?}", started.elapsed());

        // A body a byte at a time: 408 request_timeout once the body deadline passes.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /v1/auth/login HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{")
            .unwrap();
        let started = Instant::now();
        let mut answer = Vec::new();
        while started.elapsed() < Duration::from_secs(20) && answer.is_empty() {
            let _ = s.write_all(b" ");
            s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            let mut buf = [0u8; 4096];
            if let Ok(n) = s.read(&mut buf) {
                answer.extend_from_slice(&buf[..n]);
            }
        }
        let (rest, _) = read_to_close(&mut s, Duration::from_secs(5));
        answer.extend_from_slice(&rest);
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("\"error\":\"request_timeout\""), "{text}");

        // Headers larger than the limit: 431, nothing served.
        let mut s = TcpStream::connect(addr).unwrap();
        let big = "x".repeat(40 * 1024);
        let _ = write!(s, "GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: {big}\r\n\r\n");
        let (answer, _) = read_to_close(&mut s, Duration::from_secs(10));
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    })
    .await
    .unwrap();
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_are_refused() {
    // A long header timeout: the connections kept open idle must not be closed by it meanwhile.
    let limits = Limits { header_timeout_s: 60, max_connections: 3, ..Limits::default() };
    let (addr, running, _store) = serve("limits-connections", limits).await;
    tokio::task::spawn_blocking(move || {
        // Three kept open are served; a fourth is told 503 and closed.
        let started = Instant::now();
        let mut open: Vec<TcpStream> = Vec::new();
        while open.len() < 3 {
            let mut s = TcpStream::connect(addr).unwrap();
            match get_keep_alive(&mut s, "/healthz") {
                200 => open.push(s),
                other => panic!("{other} after {:?}", started.elapsed()),
            }
        }
        let mut fourth = TcpStream::connect(addr).unwrap();
        let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n");
        let (answer, closed) = read_to_close(&mut fourth, Duration::from_secs(10));
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        assert!(text.contains("retry-after: 1") && text.contains("\"error\":\"too_many_connections\""), "{text}");
        let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(v["error"], "too_many_connections");
        assert!(closed, "the connection over the limit is closed");
        // One closes: a new connection is served again (once the server has seen the close).
        drop(open.pop());
        let text = get_once_served(addr, "/healthz");
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        // The refusal is counted (the others closed first, so the answer is not a refusal).
        drop(open);
        let text = get_once_served(addr, "/metrics");
        assert!(metric(&text[text.find("\r\n\r\n").unwrap()..], "zengzhi_connections_refused_total") >= 1);
    })
    .await
    .unwrap();
    running.shutdown().await.unwrap();
}

/// Fen from the API's decimal string ("12.34").
fn fen(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("money as a string: {v}"));
    let (yuan, cents) = text.split_once('.').unwrap_or((text, "00"));
    yuan.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

fn money(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Many withdrawal requests and payments for one member at once never pay out more than the
/// cash there was, and each request is paid at most once.
async fn withdrawal_races(backend: Backend) {
    let app = spawn_app_with(backend, "limits-withdrawals", |_| {}).await;
    app.submit(&[
        r#"{"op":"register_merchant","merchant":"shop"}"#,
        r#"{"op":"register_member","member":"alice"}"#,
        r#"{"op":"order","order":"o1","member":"alice","merchant":"shop","amount":"1000"}"#,
        r#"{"op":"sell","member":"alice","points":"100"}"#,
    ])
    .await;
    let alice = app.member_token("alice").await;
    let cash = fen(&app.get("/v1/me", Some(&alice)).await.ok()["cash"]);
    let each = cash / 3;
    assert!(each > 0, "alice has cash to withdraw: {cash}");
    let app = std::sync::Arc::new(app);
    let requests: Vec<_> = (0..24)
        .map(|_| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move {
                app.post("/v1/me/withdraw", Some(&alice), &serde_json::json!({"amount": money(each)})).await
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for r in requests {
        let r = r.await.unwrap();
        match r.status.as_u16() {
            202 => accepted.push(r.ok()["withdrawal"]["id"].as_str().unwrap().to_string()),
            409 => assert_eq!(r.err(409, "insufficient_cash")["error"], "insufficient_cash"),
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert_eq!(accepted.len() as i64, cash / each, "as many as the cash covers, no more");
    // Each paid twice at once, with more requests racing the payments.
    let mut tasks = Vec::new();
    for id in &accepted {
        for _ in 0..2 {
            let (app, id) = (app.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                app.post(&format!("/v1/admin/withdrawals/{id}/pay"), Some(&app.admin.clone()), &serde_json::json!({}))
                    .await
            }));
        }
        let (app, alice) = (app.clone(), alice.clone());
        tasks.push(tokio::spawn(async move {
            app.post("/v1/me/withdraw", Some(&alice), &serde_json::json!({"amount": money(each)})).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert!(matches!(r.status.as_u16(), 200 | 202 | 409), "{}: {}", r.status, r.text());
    }
    let me = app.get("/v1/me", Some(&alice)).await.ok();
    let paid = app.admin_get("/v1/admin/withdrawals?member=alice&status=paid").await;
    let paid: Vec<&Value> = paid["items"].as_array().unwrap().iter().collect();
    let paid_total: i64 = paid.iter().map(|w| fen(&w["amount"])).sum();
    assert_eq!(paid.len(), accepted.len(), "every accepted request paid once: {paid:?}");
    assert!(paid_total <= cash, "paid {paid_total} of {cash}");
    assert_eq!(fen(&me["cash"]), cash - paid_total, "the cash left is what was not paid out");
    assert!(fen(&me["withdrawable"]) >= 0);
    let app = std::sync::Arc::into_inner(app).expect("the tasks are done");
    app.shutdown().await;
}

/// Sends `bodies` to the sign-in route all at once; the statuses in the order sent.
async fn sign_in_burst(app: &std::sync::Arc<zengzhi_testkit::app::TestApp>, bodies: Vec<Value>) -> Vec<u16> {
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let app = app.clone();
            tokio::spawn(async move { app.post("/v1/auth/login", None, &body).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        let r = t.await.unwrap();
        let code = r.status.as_u16();
        match code {
            401 => assert_eq!(r.err(401, "invalid_credentials")["error"], "invalid_credentials"),
            429 => {
                r.err(429, "too_many_attempts");
                let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=FAILURE_WINDOW.as_secs()).contains(&wait), "{wait}");
            }
            other => panic!("a guess answered {other}: {}", r.text()),
        }
        statuses.push(code);
    }
    statuses
}

/// A thousand sign-in attempts, sent together: no more passwords are verified than the limits
/// allow (attempts count before they are verified), the right password is refused while the
/// account is blocked, and every attempt is in the sign-in log with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sign_in_attempts_get_no_more_guesses_than_the_limit() {
    let app = spawn_app_with(Backend::Sqlite, "limits-logins", |_| {}).await;
    app.user("zhao", Role::Operator, PASSWORD).await;
    let app = std::sync::Arc::new(app);
    // 999 wrong guesses at one account at once (in process every request comes from the same
    // address, "unknown").
    let guesses = (0..999).map(|i| json!({"username": "zhao", "password": format!("guess number {i}")})).collect();
    let statuses = sign_in_burst(&app, guesses).await;
    let verified = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(verified, MAX_FAILURES_PER_ACCOUNT, "only the account's limit is verified");
    assert_eq!(statuses.len() - verified, 999 - MAX_FAILURES_PER_ACCOUNT);
    // The thousandth: the right password, still refused while the account is blocked.
    app.post("/v1/auth/login", None, &json!({"username": "zhao", "password": PASSWORD}))
        .await
        .err(429, "too_many_attempts");
    let log = app.admin_get("/v1/admin/logins?username=zhao&limit=1000").await;
    let rows = log["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1000, "every attempt is logged");
    let count = |reason: &str| rows.iter().filter(|r| r["reason"] == reason).count();
    assert_eq!(count("wrong_password"), MAX_FAILURES_PER_ACCOUNT);
    assert_eq!(count("rate_limited"), 1000 - MAX_FAILURES_PER_ACCOUNT);
    assert!(rows.iter().all(|r| r["success"] == false), "none signed in");

    // A thousand made-up names from the same address: the address's limit counts the guesses
    // already made at zhao, and then the address is blocked for every account.
    let names = (0..1000).map(|i| json!({"username": format!("guess{i}"), "password": PASSWORD})).collect();
    let statuses = sign_in_burst(&app, names).await;
    let verified = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(verified, MAX_FAILURES_PER_ADDRESS - MAX_FAILURES_PER_ACCOUNT);
    app.user("li", Role::Auditor, PASSWORD).await;
    app.post("/v1/auth/login", None, &json!({"username": "li", "password": PASSWORD}))
        .await
        .err(429, "too_many_attempts");
    let app = std::sync::Arc::into_inner(app).expect("the tasks are done");
    app.shutdown().await;
}
