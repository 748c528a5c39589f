//! Operator accounts in process, on both backends: sign-in, who am I, sign-out, expiry,
//! disabling, the failed-login limit, the login log and the operation log.

use serde_json::{json, Value};
use zengzhi_server::accounts::{Role, MAX_FAILURES_PER_ACCOUNT};
use zengzhi_testkit::app::{spawn_app, spawn_app_with, Backend, TestApp};

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(sign_in_me_and_out, disable_and_rate_limit);

const PASSWORD: &str = "correct horse battery";

fn login_body(name: &str, password: &str) -> Value {
    json!({"username": name, "password": password})
}

async fn logins(app: &TestApp, name: &str) -> Vec<Value> {
    let v = app.admin_get(&format!("/v1/admin/logins?username={name}")).await;
    v["items"].as_array().unwrap().clone()
}

async fn sign_in_me_and_out(backend: Backend) {
    let app = spawn_app(backend, "accounts").await;
    app.user("lina", Role::Finance, PASSWORD).await;
    let r = app.post("/v1/auth/login", None, &login_body("lina", PASSWORD)).await.ok();
    let token = r["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("zs_"), "{r}");
    assert_eq!(r["user"], json!({"username": "lina", "role": "finance"}));
    let expires = zengzhi_journal::time_fmt::parse_at(r["expires_at"].as_str().unwrap()).expect("RFC 3339");
    let hours = (expires - time::OffsetDateTime::now_utc()).whole_minutes() as f64 / 60.0;
    assert!((7.9..=8.0).contains(&hours), "8 h idle expiry by default: {hours}");
    let t = Some(token.as_str());
    assert_eq!(app.get("/v1/auth/me", t).await.ok(), json!({"username": "lina", "role": "finance"}));
    // The role decides: finance reads and decides withdrawals, but does not operate.
    app.get("/v1/admin/rules", t).await.ok();
    let v = app.post("/v1/admin/inject", t, &json!({"amount": "1"})).await.err(403, "forbidden");
    assert!(v["message"].as_str().unwrap().contains("finance"), "{v}");
    app.get("/v1/admin/users", t).await.err(403, "forbidden");

    // Wrong password and unknown user: the same answer.
    let wrong = app.post("/v1/auth/login", None, &login_body("lina", "not the password")).await;
    let unknown = app.post("/v1/auth/login", None, &login_body("nobody", PASSWORD)).await;
    assert_eq!(wrong.err(401, "invalid_credentials"), unknown.err(401, "invalid_credentials"));
    // Malformed bodies are JSON errors and change nothing.
    app.post("/v1/auth/login", None, &json!({"username": "lina"})).await.err(400, "invalid_command");
    app.request("POST", "/v1/auth/login", None, Some(b"{".to_vec())).await.err(400, "invalid_json");

    // API keys: admin stands for superadmin, readonly for auditor, integration is refused.
    let admin = app.get("/v1/auth/me", Some(&app.admin)).await.ok();
    let fp = zengzhi_server::auth::fingerprint(&app.admin);
    assert_eq!(admin, json!({"username": format!("key:{fp}"), "role": "superadmin"}));
    let readonly = app.key("readonly").await;
    assert_eq!(app.get("/v1/auth/me", Some(&readonly)).await.ok()["role"], "auditor");
    let integration = app.key("integration").await;
    app.get("/v1/auth/me", Some(&integration)).await.err(403, "forbidden");

    // Signing out ends the session at once.
    let out = app.post("/v1/auth/logout", t, &json!({})).await.ok();
    assert_eq!(out, json!({"ok": true, "ended": true}));
    app.get("/v1/auth/me", t).await.err(401, "unauthorized");
    app.post("/v1/auth/logout", t, &json!({})).await.err(401, "unauthorized");
    // A made-up session token is refused like any unknown token.
    app.get("/v1/auth/me", Some("zs_madeup")).await.err(401, "unauthorized");

    // The login log has every attempt with its reason, and no password.
    let log: Vec<(String, bool, String)> = logins(&app, "lina")
        .await
        .iter()
        .map(|r| {
            (
                r["username"].as_str().unwrap().into(),
                r["success"].as_bool().unwrap(),
                r["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(log, [("lina".into(), true, "ok".into()), ("lina".into(), false, "wrong_password".into())]);
    assert_eq!(logins(&app, "nobody").await[0]["reason"], "unknown_user");
    let all = app.get("/v1/admin/logins", Some(&app.admin)).await.text();
    assert!(!all.contains(PASSWORD) && !all.contains("not the password"), "{all}");
    // The login log is for superadmins only.
    app.get("/v1/admin/logins", Some(&readonly)).await.err(403, "forbidden");
    app.shutdown().await;
}

async fn disable_and_rate_limit(backend: Backend) {
    let app = spawn_app(backend, "accounts-disable").await;
    // Users through the API (superadmin only).
    app.user("root", Role::Superadmin, PASSWORD).await;
    let root = app.login("root", PASSWORD).await;
    let r = Some(root.as_str());
    let created = app
        .post("/v1/admin/users", r, &json!({"username": "wang", "role": "operator", "password": PASSWORD}))
        .await
        .ok();
    assert_eq!(created["role"], "operator");
    app.post("/v1/admin/users", r, &json!({"username": "wang", "role": "auditor", "password": PASSWORD}))
        .await
        .err(409, "user_exists");
    app.post("/v1/admin/users", r, &json!({"username": "x y", "role": "auditor", "password": PASSWORD}))
        .await
        .err(400, "invalid_username");
    app.post("/v1/admin/users", r, &json!({"username": "short", "role": "auditor", "password": "short"}))
        .await
        .err(400, "weak_password");
    app.post("/v1/admin/users", r, &json!({"username": "r", "role": "root", "password": PASSWORD}))
        .await
        .err(400, "invalid_command");
    let users = app.get("/v1/admin/users", r).await.ok();
    let names: Vec<&str> = users["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["root", "wang"], "the rejected ones were not stored");
    assert!(!users.to_string().contains("argon2"), "no hashes listed: {users}");

    // Disabling ends the user's sessions at once and refuses new sign-ins.
    let wang = app.login("wang", PASSWORD).await;
    app.post("/v1/admin/inject", Some(&wang), &json!({"amount": "1"})).await.ok();
    let d = app.post("/v1/admin/users/wang/disable", r, &json!({})).await.ok();
    assert_eq!(d["disabled"], true);
    app.get("/v1/auth/me", Some(&wang)).await.err(401, "unauthorized");
    app.post("/v1/auth/login", None, &login_body("wang", PASSWORD)).await.err(401, "invalid_credentials");
    assert_eq!(logins(&app, "wang").await.last().unwrap()["reason"], "disabled");
    app.post("/v1/admin/users/ghost/disable", r, &json!({})).await.err(404, "unknown_user");

    // The operation log: who, from where, what, on what, before → after.
    let log = app.get("/v1/admin/audit?who=user:wang", r).await.ok();
    let inject = &log["items"][0];
    assert_eq!((inject["action"].as_str(), inject["address"].as_str()), (Some("inject"), Some("unknown")));
    let log = app.get("/v1/admin/audit?action=users_disable", r).await.ok();
    let entry = &log["items"][0];
    assert_eq!(entry["who"], "user:root");
    assert_eq!(
        (entry["target"].as_str(), entry["before"].as_str(), entry["after"].as_str()),
        (Some("user:wang"), Some("enabled"), Some("disabled"))
    );

    // Failed sign-ins: after the limit, even the right password gets 429 with Retry-After.
    app.user("zhao", Role::Auditor, PASSWORD).await;
    for _ in 0..MAX_FAILURES_PER_ACCOUNT {
        app.post("/v1/auth/login", None, &login_body("zhao", "wrong password!")).await.err(401, "invalid_credentials");
    }
    let blocked = app.post("/v1/auth/login", None, &login_body("zhao", PASSWORD)).await;
    blocked.err(429, "too_many_attempts");
    let wait: u64 = blocked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    assert_eq!(logins(&app, "zhao").await.last().unwrap()["reason"], "rate_limited");
    // Another account is not blocked by zhao's failures.
    app.login("root", PASSWORD).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_and_survive_a_restart() {
    let app = spawn_app_with(Backend::Sqlite, "accounts-expiry", |c| c.session_idle_s = 2).await;
    app.user("chen", Role::Auditor, PASSWORD).await;
    let token = app.login("chen", PASSWORD).await;
    app.get("/v1/auth/me", Some(&token)).await.ok();
    // Sessions are in the store: a restart keeps them.
    let config = app.store.config();
    let store = app.shutdown().await;
    let mut config = zengzhi_server::Config { session_idle_s: 2, ..config };
    config.session_max_s = 3600;
    let app = zengzhi_testkit::app::open_app(store, config).await;
    app.get("/v1/auth/me", Some(&token)).await.ok();
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    app.get("/v1/auth/me", Some(&token)).await.err(401, "unauthorized");
    app.shutdown().await;

    // The absolute limit ends a session however busy it is.
    let app = spawn_app_with(Backend::Sqlite, "accounts-max", |c| c.session_max_s = 2).await;
    app.user("chen", Role::Auditor, PASSWORD).await;
    let token = app.login("chen", PASSWORD).await;
    for _ in 0..3 {
        app.get("/v1/auth/me", Some(&token)).await.ok();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    app.get("/v1/auth/me", Some(&token)).await.err(401, "unauthorized");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operation_log_records_rules_before_and_after_and_keys_never_show() {
    let app = spawn_app(Backend::Sqlite, "accounts-oplog").await;
    app.user("op", Role::Operator, PASSWORD).await;
    let op = app.login("op", PASSWORD).await;
    app.request("PUT", "/v1/admin/rules", Some(&op), Some(br#"{"sell": {"retention": "0.25"}}"#.to_vec())).await.ok();
    let log = app.admin_get("/v1/admin/audit?action=update_rules").await;
    let e = &log["items"][0];
    assert_eq!(e["who"], "user:op");
    let before: Value = serde_json::from_str(e["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(e["after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (before["sell"]["retention"].as_str(), after["sell"]["retention"].as_str()),
        (Some("0.2"), Some("0.25"))
    );
    // A store registered through the console names its target.
    app.post("/v1/merchants", Some(&op), &json!({"merchant": "s1"})).await.ok();
    let log = app.admin_get("/v1/admin/audit?action=register_merchant").await;
    assert_eq!(log["items"][0]["target"], "merchant:s1");

    // Keys: created (shown once), listed by fingerprint, revoked; none in the log.
    let created = app.admin_post("/v1/admin/keys", &json!({"scope": "readonly", "label": "auditor laptop"})).await;
    let key = created["key"].as_str().unwrap().to_string();
    let fp = created["fingerprint"].as_str().unwrap().to_string();
    app.get("/v1/admin/rules", Some(&key)).await.ok();
    let keys = app.admin_get("/v1/admin/keys").await;
    assert!(keys["items"].as_array().unwrap().iter().any(|k| k["fingerprint"] == fp.as_str() && k["revoked"] == false));
    app.admin_post(&format!("/v1/admin/keys/{fp}/revoke"), &json!({})).await;
    app.post(&format!("/v1/admin/keys/{fp}0/revoke"), Some(&app.admin), &json!({})).await.err(404, "unknown_key");
    // Refused at once (the verified key was cached a moment ago).
    app.get("/v1/admin/rules", Some(&key)).await.err(401, "unauthorized");
    let everything = app.admin_get("/v1/admin/audit?limit=1000").await.to_string();
    for secret in [key.as_str(), op.as_str(), PASSWORD, zengzhi_testkit::app::ADMIN_TOKEN] {
        assert!(!everything.contains(secret), "a secret in the operation log");
    }
    // Paging: next_after leads on.
    let first = app.admin_get("/v1/admin/audit?limit=1").await;
    let next = first["next_after"].as_i64().unwrap();
    let second = app.admin_get(&format!("/v1/admin/audit?limit=1&after={next}")).await;
    assert!(second["items"][0]["id"].as_i64().unwrap() > next);
    app.shutdown().await;
}
