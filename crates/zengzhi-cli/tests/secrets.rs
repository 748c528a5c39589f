//! No secret in any log line, metric or error message: the real `zengzhi serve` on PostgreSQL
//! (its URL carrying a password), logging at `debug`, through a scripted session — sign-ins
//! right and wrong, keys made and used, member tokens, a refused made-up token, a sign-out —
//! and then every output it made is searched for every secret.

#[path = "../../zengzhi-journal/tests/common/mod.rs"]
#[allow(dead_code, unused_imports, unused_macros)]
mod common;

mod api_support;

use api_support::{Client, Opts, Server, Store};
use serde_json::json;

/// The test server's URL with a password in it (trust authentication ignores it; the service
/// must still never show it).
fn with_password(url: &str, password: &str) -> String {
    match url.strip_prefix("postgres://").and_then(|rest| rest.split_once('@')) {
        Some((user, rest)) if !user.contains(':') => format!("postgres://{user}:{password}@{rest}"),
        Some(_) => panic!("the test server's URL has a password already: cannot test with ours"),
        None => format!("{url} password={password}"),
    }
}

#[test]
fn no_secret_reaches_a_log_a_metric_or_an_error() {
    let db_password = "pg-pass-5e7c1a09";
    let token_secret = "token-secret-93d1f2b6";
    let jwt_secret = "jwt-secret-0b8e44c7";
    let password = "operator-password-71aa";
    let wrong_password = "wrong-password-c3f9e2";
    let guessed = "zk_made-up-key-4d2a9b";

    let mut store = Store::postgres();
    let (url, schema) = store.pg.clone().unwrap();
    // The URL through the environment, as an operator would give it.
    store.args = vec!["--pg-schema".into(), schema];
    let opts = Opts {
        token_secret: Some(token_secret.into()),
        config: format!("[member_jwt]\nsecret = \"{jwt_secret}\"\n"),
        env: vec![
            ("ZENGZHI_DATABASE_URL".into(), with_password(&url, db_password)),
            ("ZENGZHI_LOG".into(), "debug".into()),
        ],
        ..Opts::default()
    };
    let mut srv = Server::start(&store, &opts);
    let admin = srv.admin.clone();

    // The scripted session.
    srv.post_ok("/v1/admin/users", Some(&admin), &json!({"username": "li", "role": "operator", "password": password}));
    srv.post_json("/v1/auth/login", None, &json!({"username": "li", "password": wrong_password}))
        .err(401, "invalid_credentials");
    let session = srv.post_ok("/v1/auth/login", None, &json!({"username": "li", "password": password}))["token"]
        .as_str()
        .unwrap()
        .to_string();
    srv.get_ok("/v1/auth/me", Some(&session));
    let key = srv.post_ok("/v1/admin/keys", Some(&admin), &json!({"scope": "integration", "label": "shop"}))["key"]
        .as_str()
        .unwrap()
        .to_string();
    srv.post_ok("/v1/members", Some(&key), &json!({"member": "alice"}));
    let member = srv.member_token("alice");
    srv.get_ok("/v1/me", Some(&member));
    srv.get("/v1/admin/rules", Some(guessed)).err(401, "unauthorized");
    srv.get("/v1/me", Some(&format!("{member}x"))).err(401, "unauthorized");
    srv.post("/v1/auth/logout", Some(&session), "").ok();
    srv.get("/v1/auth/me", Some(&session)).err(401, "unauthorized");

    // Everything it said: logs, metrics, the operation and sign-in logs, the banner.
    let metrics = srv.get("/metrics", None).text;
    let audit = srv.get("/v1/admin/audit", Some(&admin)).text;
    let logins = srv.get("/v1/admin/logins", Some(&admin)).text;
    let banner = srv.banner().join("\n");
    assert!(srv.terminate().success());
    let log = srv.log_text();
    assert!(log.contains("DEBUG"), "the server logged at debug: {log}");
    assert!(logins.contains("wrong_password") && audit.contains("users_create"), "the logs are there");
    let secrets = [
        ("the admin token", admin.as_str()),
        ("the database password", db_password),
        ("the token secret", token_secret),
        ("the JWT secret", jwt_secret),
        ("a password", password),
        ("a wrong password", wrong_password),
        ("a session", session.as_str()),
        ("an API key", key.as_str()),
        ("a member token", member.as_str()),
        ("a made-up key", guessed),
    ];
    for (output, text) in [
        ("the log", &log),
        ("the metrics", &metrics),
        ("the audit log", &audit),
        ("the sign-in log", &logins),
        ("the banner", &banner),
    ] {
        assert!(!text.is_empty(), "{output} is empty");
        for (what, secret) in secrets {
            assert!(!text.contains(secret), "{what} is in {output}:\n{text}");
        }
    }
}
