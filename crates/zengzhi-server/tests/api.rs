//! The API in process (the service's router called with tower's `oneshot`, no socket, no
//! process), over SQLite and over PostgreSQL: every test body runs once per backend.
//!
//! - `auth_and_scopes`: 401 without a valid key or token, 403 for the wrong scope, members
//!   confined to themselves (the full matrix over every route: `authorization.rs`).
//! - `errors_are_json_with_stable_codes`: every kind of bad request gets its JSON error and
//!   changes nothing.
//! - `orders_are_idempotent`: single and batch.
//! - `settlement_delay_and_refunds`: orders held for the refund window, refunds, settlement.
//!
//! The black-box suite (`zengzhi-cli`'s `tests/api.rs`) keeps what needs the real binary: start,
//! SIGTERM and restart, crash resume, the scheduler across restarts, the demo, export and replay.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use zengzhi_server::guards::Access;
use zengzhi_server::routes::table;

mod api_support;

use api_support::{Client, Opts, Resp, Server, Store};

/// Instantiates each test body once per backend.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&zengzhi_testkit::app::Backend::Sqlite) })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(&zengzhi_testkit::app::Backend::Postgres) })*
        }
    };
}

both_backends!(auth_and_scopes, errors_are_json_with_stable_codes, orders_are_idempotent, settlement_delay_and_refunds);

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A concrete path of a route of the table.
fn concrete(path: &str) -> String {
    path.replace("/v1/members/{id}", "/v1/members/alice")
        .replace("/v1/orders/{id}", "/v1/orders/o1")
        .replace("/v1/admin/withdrawals/{id}", "/v1/admin/withdrawals/w-none")
}

fn call_route(srv: &Server, method: &str, path: &str, token: Option<&str>) -> Resp {
    let body = (method != "get").then(|| b"{}".to_vec());
    srv.request(&method.to_uppercase(), &concrete(path), token, body)
}

fn auth_and_scopes(store: &Store) {
    let secret = "test-secret-of-the-member-tokens";
    let srv = Server::start(store, &Opts { token_secret: Some(secret.into()), ..Opts::default() });
    let admin = srv.admin.clone();
    let integration = srv.key("integration");
    let readonly = srv.key("readonly");
    let ak = Some(admin.as_str());
    for m in ["alice", "bob"] {
        srv.post_ok("/v1/members", ak, &json!({"member": m}));
    }
    srv.post_ok("/v1/merchants", ak, &json!({"merchant": "shop"}));
    srv.post_ok("/v1/orders", ak, &json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"}));
    srv.post_ok("/v1/orders", ak, &json!({"order": "o2", "member": "bob", "merchant": "shop", "amount": "500"}));
    let alice = srv.member_token("alice");
    let before = srv.state_text();

    // 401: no token, a wrong key, a malformed or forged or expired member token, another scheme.
    let b64 = |bytes: &[u8]| {
        // base64url without padding, as the tokens use.
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    };
    let (_, alice_sig) = alice.rsplit_once('.').unwrap();
    let far = now_unix() + 3600;
    let tampered = format!("mt.{}.{alice_sig}", b64(format!("bob.{far}").as_bytes()));
    let expired = zengzhi_server::auth::issue_member_token(secret.as_bytes(), "alice", now_unix() - 5);
    let wrong_secret = zengzhi_server::auth::issue_member_token(b"not the secret", "alice", far);
    let bad_tokens: Vec<(&str, String)> = vec![
        ("wrong key", "zk_this-is-not-a-key".into()),
        ("admin token with a suffix", format!("{admin}x")),
        ("garbage member token", "mt.garbage".into()),
        ("tampered member token", tampered),
        ("expired member token", expired),
        ("member token of another secret", wrong_secret),
    ];
    for r in table().iter().filter(|r| r.access != Access::Public) {
        call_route(&srv, r.method, &r.path, None).err(401, "unauthorized");
        for (what, token) in &bad_tokens {
            let resp = call_route(&srv, r.method, &r.path, Some(token));
            assert_eq!(resp.status, 401, "{what} on {} {}: {}", r.method, r.path, resp.text);
            resp.err(401, "unauthorized");
        }
        // Not a bearer token.
        let resp =
            srv.request_with_authorization(&r.method.to_uppercase(), &concrete(&r.path), &format!("Basic {admin}"));
        assert_eq!(resp.status, 401, "Basic auth on {} {}", r.method, r.path);
    }
    // A correctly signed token of a member that does not exist.
    let ghost = zengzhi_server::auth::issue_member_token(secret.as_bytes(), "ghost", far);
    srv.get("/v1/me", Some(&ghost)).err(404, "unknown_member");
    // The expired token says so.
    let expired = zengzhi_server::auth::issue_member_token(secret.as_bytes(), "alice", now_unix() - 5);
    let v = srv.get("/v1/me", Some(&expired)).err(401, "unauthorized");
    assert!(s(&v["message"]).contains("expired"), "{v}");
    // A token of our own signing with the right secret works (the format is the documented one).
    let mine = zengzhi_server::auth::issue_member_token(secret.as_bytes(), "bob", far);
    assert_eq!(srv.get_ok("/v1/me", Some(&mine))["member"], "bob");

    // 403: each scope outside its routes.
    for r in &table() {
        let denied: Vec<(&str, &str)> = match r.access {
            Access::Public => vec![],
            Access::Integration | Access::IntegrationOrOperate => vec![("readonly", &readonly), ("member", &alice)],
            Access::OrderRead => vec![("member", &alice)],
            Access::Read => vec![("integration", &integration), ("member", &alice)],
            Access::Operate | Access::Finance | Access::Administer => {
                vec![("integration", &integration), ("readonly", &readonly), ("member", &alice)]
            }
            Access::Member => vec![("admin", &admin), ("integration", &integration), ("readonly", &readonly)],
            Access::Store => vec![("admin", &admin), ("integration", &integration), ("readonly", &readonly), ("member", &alice)],
        };
        for (who, token) in denied {
            let resp = call_route(&srv, r.method, &r.path, Some(token));
            assert_eq!(resp.status, 403, "{who} on {} {}: {}", r.method, r.path, resp.text);
            resp.err(403, "forbidden");
        }
    }
    assert_eq!(srv.state_text(), before, "denied requests change nothing");

    // Allowed reads with the narrow keys.
    srv.get_ok("/v1/orders/o1", Some(&readonly));
    srv.get_ok("/v1/orders/o1", Some(&integration));
    srv.get_ok("/v1/admin/rules", Some(&readonly));
    srv.get_ok("/v1/admin/state", Some(&readonly));
    assert_eq!(srv.get("/v1/admin/export/members.csv", Some(&readonly)).status, 200);
    srv.post_ok("/v1/members/bob/token", Some(&integration), &Value::Null);

    // A member acts only for itself: naming a member in the body is an invalid command.
    let at = Some(alice.as_str());
    for (path, body) in [
        ("/v1/me/sell", json!({"member": "bob", "points": "1"})),
        ("/v1/me/sell", json!({"points": "1", "member": "bob"})),
        ("/v1/me/sell", json!({"member": "alice", "points": "1"})),
        ("/v1/me/sell/preview", json!({"member": "bob", "points": "1"})),
        ("/v1/me/redeem", json!({"member": "bob", "amount": "1"})),
        ("/v1/me/withdraw", json!({"member": "bob", "amount": "0.01"})),
        ("/v1/me/sell", json!({"op": "withdraw", "points": "1"})),
    ] {
        srv.post_json(path, at, &body).err(400, "invalid_command");
    }
    assert_eq!(srv.get_ok("/v1/me", at)["member"], "alice");
    assert_eq!(srv.get_ok("/v1/me?member=bob", at)["member"], "alice");
    let h = srv.get("/v1/me/history?member=bob", at);
    assert_eq!(h.status, 400, "{}", h.text);
    assert!(!h.text.contains("bob"), "{}", h.text);
    for row in srv.get_ok("/v1/me/history", at)["items"].as_array().unwrap() {
        assert!(row.get("member").is_none() || row["member"] == "alice");
    }
    assert_eq!(srv.get_ok("/v1/me/history", at)["member"], "alice");
    srv.get("/v1/orders/o2", at).err(403, "forbidden");
    assert_eq!(srv.state_text(), before, "nothing changed for bob, nor for anyone");
}
fn errors_are_json_with_stable_codes(store: &Store) {
    let srv = Server::start(store, &Opts::default());
    let ak = Some(srv.admin.as_str());
    for m in ["alice", "bob"] {
        srv.post_ok("/v1/members", ak, &json!({"member": m}));
    }
    srv.post_ok("/v1/merchants", ak, &json!({"merchant": "shop", "region": "441900"}));
    srv.post_ok("/v1/orders", ak, &json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"}));
    srv.post_ok("/v1/agents", ak, &json!({"member": "alice", "level": "city", "region": "441900"}));
    srv.post_ok("/v1/admin/campaigns", ak, &json!({"campaign": "c1", "rate": "0.01", "budget": "10"}));
    let alice = srv.member_token("alice");
    let at = Some(alice.as_str());
    let before = srv.state_text();
    let length = srv.journal_length();

    let order = |extra: Value| {
        let mut o = json!({"order": "e1", "member": "alice", "merchant": "shop", "amount": "10"});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    // Malformed JSON, not UTF-8, not an object.
    for body in [&b"{\"order\":"[..], b"{", b"nope", b"{\"a\":1,}", b"{'order':'x'}", b"\xff\xfe{}"] {
        srv.request("POST", "/v1/orders", ak, Some(body.to_vec())).err(400, "invalid_json");
    }
    srv.request("POST", "/v1/me/sell", at, Some(b"{\"points\": \"1\"".to_vec())).err(400, "invalid_json");
    srv.request("PUT", "/v1/admin/rules", ak, Some(b"{\"exit\": ".to_vec())).err(400, "invalid_json");
    // Deep nesting is refused, not a crash.
    let deep = format!("{{\"order\": {}{}}}", "[".repeat(200_000), "]".repeat(200_000));
    srv.post("/v1/orders", ak, &deep).err(400, "invalid_json");
    srv.post("/v1/orders/batch", ak, &deep.replace("order", "orders")).err(400, "invalid_json");
    assert_eq!(srv.get_ok("/healthz", None)["status"], "ok");
    for body in ["[]", "\"x\"", "1", "null"] {
        srv.post("/v1/orders", ak, body).err(400, "invalid_command");
    }
    // Unknown fields, wrong types, missing fields, bad ids.
    for body in [
        order(json!({"colour": "red"})),
        order(json!({"amount": 10})),
        order(json!({"member": 7})),
        order(json!({"member": "bad id!"})),
        order(json!({"at": "yesterday"})),
        json!({"member": "alice", "merchant": "shop", "amount": "10"}),
        json!({"order": "e1", "member": "alice", "amount": "10"}),
    ] {
        srv.post_json("/v1/orders", ak, &body).err(400, "invalid_command");
    }
    srv.post_json("/v1/members", ak, &json!({"member": "x1", "nickname": "x"})).err(400, "invalid_command");
    srv.post_json("/v1/members", ak, &json!({"member": 5})).err(400, "invalid_command");
    srv.post_json("/v1/members", ak, &json!({"referrer": "alice"})).err(400, "invalid_command");
    srv.post_json("/v1/members", ak, &json!({"member": "bad id!"})).err(400, "invalid_command");
    srv.post_json("/v1/agents", ak, &json!({"member": "bob", "level": "planet", "region": "441900"}))
        .err(400, "invalid_command");
    srv.post_json("/v1/shareholders", ak, &json!({"member": "bob", "weight": "2"})).err(400, "invalid_command");
    srv.post_json("/v1/me/sell", at, &json!({"points": 1})).err(400, "invalid_command");
    srv.post_json("/v1/me/sell", at, &json!({})).err(400, "invalid_command");
    srv.post_json("/v1/admin/inject", ak, &json!({"amount": "1", "note": "x"})).err(400, "invalid_command");
    srv.post_json("/v1/admin/release-locked", ak, &json!({"all": true})).err(400, "invalid_command");
    srv.post_json("/v1/orders/batch", ak, &json!({"orders": {}})).err(400, "invalid_command");
    srv.post_json("/v1/orders/batch", ak, &json!({"orders": [], "x": 1})).err(400, "invalid_command");
    srv.request("PUT", "/v1/admin/rules", ak, Some(b"[1]".to_vec())).err(400, "invalid_command");
    // Bad amounts (SPEC §3, §10).
    for amount in ["1e3", "-5", "+5", "0", "0.00", "1.234", " 7", "12.", ".5", "abc", "100000000.01", ""] {
        srv.post_json("/v1/orders", ak, &order(json!({"amount": amount}))).err(422, "invalid_amount");
        srv.post_json("/v1/admin/inject", ak, &json!({"amount": amount})).err(422, "invalid_amount");
        srv.post_json("/v1/me/withdraw", at, &json!({"amount": amount})).err(422, "invalid_amount");
        srv.post_json("/v1/me/redeem", at, &json!({"amount": amount})).err(422, "invalid_amount");
        srv.post_json("/v1/coins", ak, &json!({"member": "bob", "amount": amount})).err(422, "invalid_amount");
    }
    for points in ["0", "0.000000001", "-1", "1e2", "10000000000.00000001"] {
        srv.post_json("/v1/me/sell", at, &json!({"points": points})).err(422, "invalid_amount");
        srv.post_json("/v1/me/sell/preview", at, &json!({"points": points})).err(422, "invalid_amount");
    }
    srv.post_json("/v1/orders", ak, &order(json!({"pay_cash": "1.001"}))).err(422, "invalid_amount");
    srv.post_json("/v1/merchants", ak, &json!({"merchant": "s2", "commission": "1.5"})).err(422, "invalid_amount");
    srv.post_json("/v1/shareholders", ak, &json!({"member": "bob", "weight": -1})).err(422, "invalid_amount");
    srv.post_json("/v1/shareholders", ak, &json!({"member": "bob", "weight": 2.5})).err(422, "invalid_amount");
    srv.post_json("/v1/merchants", ak, &json!({"merchant": "s2", "region": "12345"})).err(422, "invalid_region");
    // Rules: bad values are invalid_rules.
    for body in [
        r#"{"sell": {"retention": "1.5"}}"#,
        r#"{"exit": {"multiple": 2}}"#,
        r#"{"nope": {"x": "1"}}"#,
        r#"{"exit": "2"}"#,
    ] {
        srv.request("PUT", "/v1/admin/rules", ak, Some(body.as_bytes().to_vec())).err(422, "invalid_rules");
    }
    // Too large: a body over the default 4 MiB; a batch over 10,000 orders.
    let mut big =
        b"{\"order\": \"big\", \"member\": \"alice\", \"merchant\": \"shop\", \"amount\": \"1\", \"pad\": \"".to_vec();
    big.resize(big.len() + 5 * 1024 * 1024, b'x');
    big.extend_from_slice(b"\"}");
    // (Over a raw connection read while writing: the server answers before the body is in and
    // closes, which can reset a client that only reads after sending everything.)
    srv.raw("POST", "/v1/orders", ak, &big).err(413, "payload_too_large");
    srv.raw("POST", "/v1/orders/batch", ak, &big).err(413, "payload_too_large");
    srv.raw("POST", "/v1/me/sell", at, &big).err(413, "payload_too_large");
    srv.raw("PUT", "/v1/admin/rules", ak, &big).err(413, "payload_too_large");
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"order": format!("x{i}"), "member": "alice", "merchant": "shop", "amount": "1"}))
        .collect();
    srv.post_json("/v1/orders/batch", ak, &json!({"orders": many})).err(413, "batch_too_large");
    // Unknown routes and wrong methods.
    // ("/" is the web console: see the web pages.)
    for path in ["/v1", "/v1/nope", "/v1/orders/o1/refund/x", "/v2/stats", "/v1/admin"] {
        srv.get(path, ak).err(404, "not_found");
        srv.post(path, ak, "{}").err(404, "not_found");
    }
    for (method, path) in [
        ("GET", "/v1/orders"),
        ("DELETE", "/v1/admin/rules"),
        ("POST", "/v1/admin/rules"),
        ("POST", "/healthz"),
        ("PUT", "/v1/me"),
        ("GET", "/v1/admin/inject"),
        ("DELETE", "/v1/orders/o1"),
        ("GET", "/v1/members/alice/token"),
    ] {
        srv.request(method, path, ak, None).err(405, "method_not_allowed");
    }
    // Unknown member / store.
    srv.post_json("/v1/orders", ak, &order(json!({"member": "ghost"}))).err(404, "unknown_member");
    srv.post_json("/v1/orders", ak, &order(json!({"merchant": "nowhere"}))).err(404, "unknown_merchant");
    srv.post("/v1/members/ghost/token", ak, "").err(404, "unknown_member");
    srv.post_json("/v1/coins", ak, &json!({"member": "ghost", "amount": "1"})).err(404, "unknown_member");
    srv.post_json("/v1/members", ak, &json!({"member": "new1", "referrer": "ghost"})).err(404, "unknown_member");
    srv.post_json("/v1/members", ak, &json!({"member": "new1", "store": "nowhere"})).err(404, "unknown_merchant");
    srv.post_json("/v1/merchants", ak, &json!({"merchant": "s3", "owner": "ghost"})).err(404, "unknown_member");
    srv.get("/v1/orders/nope", ak).err(404, "not_found");
    // Business rejections.
    srv.post_json("/v1/members", ak, &json!({"member": "bob"})).err(409, "duplicate_id");
    srv.post_json("/v1/merchants", ak, &json!({"merchant": "shop"})).err(409, "duplicate_id");
    srv.post_json("/v1/me/sell", at, &json!({"points": "1000"})).err(409, "insufficient_points");
    srv.post_json("/v1/me/sell/preview", at, &json!({"points": "1000"})).err(409, "insufficient_points");
    srv.post_json("/v1/me/sell", at, &json!({"points": "0.00000001"})).err(409, "amount_too_small");
    let bob = srv.member_token("bob");
    srv.post_json("/v1/me/sell", Some(&bob), &json!({"points": "all"})).err(409, "insufficient_points");
    srv.post_json("/v1/me/sell/preview", Some(&bob), &json!({"points": "all"})).err(409, "insufficient_points");
    srv.post_json("/v1/me/withdraw", at, &json!({"amount": "1"})).err(409, "insufficient_cash");
    srv.post_json("/v1/me/redeem", at, &json!({"amount": "100000"})).err(409, "insufficient_points");
    srv.post_json("/v1/orders", ak, &order(json!({"pay_cash": "1"}))).err(409, "insufficient_cash");
    srv.post_json("/v1/orders", ak, &order(json!({"pay_coins": "1"}))).err(409, "insufficient_coins");
    srv.post_json("/v1/agents", ak, &json!({"member": "bob", "level": "city", "region": "441901"}))
        .err(409, "region_taken");
    srv.post_json("/v1/admin/campaigns", ak, &json!({"campaign": "c2", "rate": "0.01", "budget": "10"}))
        .err(409, "campaign_active");
    srv.post_json("/v1/admin/campaigns", ak, &json!({"campaign": "c1", "rate": "0.01", "budget": "10"}))
        .err(409, "duplicate_id");
    // Queries.
    srv.get("/v1/price/history?interval=week", None).err(400, "invalid_query");

    assert_eq!(srv.state_text(), before, "no rejected request changed the state");
    assert_eq!(srv.journal_length(), length, "no rejected request reached the journal");

    srv.post_ok("/v1/admin/campaigns/end", ak, &json!({}));
    srv.post_json("/v1/admin/campaigns/end", ak, &json!({})).err(409, "no_campaign");
    // Still serving normally after all that.
    srv.post_ok("/v1/orders", ak, &order(json!({})));
    let metrics = srv.get("/metrics", None).text;
    assert!(metrics.contains("status=\"413\"") && metrics.contains("status=\"405\""), "errors are counted");
}
fn orders_are_idempotent(store: &Store) {
    let srv = Server::start(store, &Opts::default());
    let ik_owned = srv.key("integration");
    let ik = Some(ik_owned.as_str());
    for m in ["alice", "bob"] {
        srv.post_ok("/v1/members", ik, &json!({"member": m}));
    }
    srv.post_ok("/v1/merchants", ik, &json!({"merchant": "shop"}));
    srv.post_ok("/v1/merchants", ik, &json!({"merchant": "shop2"}));

    let a = json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"});
    let first = srv.post_ok("/v1/orders", ik, &a);
    assert_eq!(first["idempotent_replay"], false);
    let state = srv.state_text();
    let length = srv.journal_length();
    let again = srv.post_ok("/v1/orders", ik, &a);
    assert_eq!(again["idempotent_replay"], true, "{again}");
    for k in ["order", "seq", "at", "minted", "commission"] {
        assert_eq!(again[k], first[k], "the replay answers the original {k}");
    }
    // The same order written differently (key order, amount text) is the same order.
    let same = srv
        .post("/v1/orders", ik, r#"{"amount": "1000.00", "merchant": "shop", "member": "alice", "order": "o1"}"#)
        .ok();
    assert_eq!((same["idempotent_replay"].clone(), same["seq"].clone()), (json!(true), first["seq"].clone()));
    // A different body under the same id is a conflict.
    for different in [
        json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "999"}),
        json!({"order": "o1", "member": "bob", "merchant": "shop", "amount": "1000"}),
        json!({"order": "o1", "member": "alice", "merchant": "shop2", "amount": "1000"}),
        json!({"order": "o1", "member": "alice", "amount": "1000", "commission": "10"}),
    ] {
        srv.post_json("/v1/orders", ik, &different).err(409, "idempotency_conflict");
    }
    assert_eq!(srv.state_text(), state, "replays and conflicts change nothing");
    assert_eq!(srv.journal_length(), length);

    // A rejected order does not take its id.
    let z = json!({"order": "oz", "member": "zed", "merchant": "shop", "amount": "10"});
    srv.post_json("/v1/orders", ik, &z).err(404, "unknown_member");
    srv.post_ok("/v1/members", ik, &json!({"member": "zed"}));
    assert_eq!(srv.post_ok("/v1/orders", ik, &z)["idempotent_replay"], false);

    // In a batch: a replay, a conflict, a new order, the new order again, a bad item.
    let o2 = json!({"order": "o2", "member": "bob", "merchant": "shop", "amount": "50"});
    let items = json!({"orders": [
        a,
        {"order": "o1", "member": "alice", "merchant": "shop", "amount": "1"},
        o2,
        o2,
        {"order": "o2", "member": "bob", "merchant": "shop", "amount": "51"},
        {"order": "o3", "member": "alice", "merchant": "shop", "amount": "0"},
        {"order": "o4", "member": "alice", "merchant": "shop", "amount": "70"},
    ]});
    let orders_before = srv.get_ok("/v1/stats", None)["orders"].as_u64().unwrap();
    let batch = srv.post_ok("/v1/orders/batch", ik, &items);
    let r = batch["results"].as_array().unwrap();
    let summary: Vec<(bool, &str, bool)> = r
        .iter()
        .map(|x| (x["ok"] == true, x["error"].as_str().unwrap_or(""), x["idempotent_replay"] == true))
        .collect();
    assert_eq!(
        summary,
        [
            (true, "", true),
            (false, "idempotency_conflict", false),
            (true, "", false),
            (true, "", true),
            (false, "idempotency_conflict", false),
            (false, "invalid_amount", false),
            (true, "", false),
        ],
        "{batch}"
    );
    assert_eq!(r[0]["seq"], first["seq"]);
    assert_eq!(r[3]["seq"], r[2]["seq"], "the repeat inside the batch answers the first");
    assert_eq!((batch["accepted"].clone(), batch["rejected"].clone()), (json!(4), json!(3)));
    assert_eq!(srv.get_ok("/v1/stats", None)["orders"].as_u64().unwrap(), orders_before + 2, "two new orders");
    assert_eq!(srv.get_ok("/v1/orders/o2", ik)["seq"], r[2]["seq"]);
    // The whole batch again: only replays and the same rejections; nothing changes.
    let state = srv.state_text();
    let again = srv.post_ok("/v1/orders/batch", ik, &items);
    let r2 = again["results"].as_array().unwrap();
    for (x, y) in r.iter().zip(r2) {
        assert_eq!(
            (x["ok"].clone(), x["seq"].clone(), x["error"].clone()),
            (y["ok"].clone(), y["seq"].clone(), y["error"].clone())
        );
        if y["ok"] == true {
            assert_eq!(y["idempotent_replay"], true, "{y}");
        }
    }
    assert_eq!(srv.state_text(), state);
    // A single POST of an order first sent in a batch is a replay too.
    let single =
        srv.post_ok("/v1/orders", ik, &json!({"order": "o4", "member": "alice", "merchant": "shop", "amount": "70"}));
    assert_eq!((single["idempotent_replay"].clone(), single["seq"].clone()), (json!(true), r[6]["seq"].clone()));
    // The same new order from eight clients at once: one takes effect, all get its answer.
    let racing = json!({"order": "race", "member": "bob", "merchant": "shop", "amount": "12.34"});
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| srv.post_ok("/v1/orders", ik, &racing))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers.iter().filter(|a| a["idempotent_replay"] == false).count(), 1, "{answers:?}");
    assert!(
        answers.iter().all(|a| a["seq"] == answers[0]["seq"] && a["minted"] == answers[0]["minted"]),
        "{answers:?}"
    );
    // Empty batch.
    let empty = srv.post_ok("/v1/orders/batch", ik, &json!({"orders": []}));
    assert_eq!(empty, json!({"accepted": 0, "rejected": 0, "results": []}));
    // A batch at the limit (10,000 orders), then the same again: all replays, nothing new.
    let many: Vec<Value> = (0..10_000)
        .map(|i| json!({"order": format!("n{i}"), "member": "bob", "merchant": "shop", "amount": "2"}))
        .collect();
    let orders_before = srv.get_ok("/v1/stats", None)["orders"].as_u64().unwrap();
    let big = srv.post_ok("/v1/orders/batch", ik, &json!({"orders": many}));
    assert_eq!((big["accepted"].clone(), big["rejected"].clone()), (json!(10_000), json!(0)));
    let seqs: Vec<u64> = big["results"].as_array().unwrap().iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "one entry each, in order");
    let state = srv.state_text();
    let again = srv.post_ok("/v1/orders/batch", ik, &json!({"orders": many}));
    assert_eq!(again["accepted"], 10_000);
    assert!(again["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&seqs)
        .all(|(r, seq)| r["idempotent_replay"] == true && r["seq"] == *seq));
    assert_eq!(srv.state_text(), state);
    assert_eq!(srv.get_ok("/v1/stats", None)["orders"].as_u64().unwrap(), orders_before + 10_000);
}
fn settlement_delay_and_refunds(store: &Store) {
    let opts = Opts { settlement_delay_s: 1, ..Opts::default() };
    let srv = Server::start(store, &opts);
    let integration = srv.key("integration");
    let ik = Some(integration.as_str());
    srv.post_ok("/v1/members", ik, &json!({"member": "alice"}));
    srv.post_ok("/v1/merchants", ik, &json!({"merchant": "shop"}));
    let head = srv.journal_length();

    let order = json!({"order": "p1", "member": "alice", "merchant": "shop", "amount": "100"});
    let held = srv.post_json("/v1/orders", ik, &order);
    assert_eq!(held.status, 202, "{}", held.text);
    let held = held.json();
    assert_eq!((held["status"].clone(), held["order"].clone()), (json!("pending"), json!("p1")));
    // Not journaled while pending; the same body again is the same pending order.
    assert_eq!(srv.journal_length(), head);
    let again = srv.post_json("/v1/orders", ik, &order);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["idempotent_replay"], true);
    let other = json!({"order": "p1", "member": "alice", "merchant": "shop", "amount": "101"});
    srv.post_json("/v1/orders", ik, &other).err(409, "idempotency_conflict");
    // Checked at once: unknown member and store.
    srv.post_json("/v1/orders", ik, &json!({"order": "p9", "member": "nobody", "merchant": "shop", "amount": "1"}))
        .err(404, "unknown_member");
    srv.post_json("/v1/orders", ik, &json!({"order": "p9", "member": "alice", "merchant": "nope", "amount": "1"}))
        .err(404, "unknown_merchant");

    // Refund within the window: refunded, never journaled; a second refund says the same.
    let r = srv.post_ok("/v1/orders/p1/refund", ik, &json!({}));
    assert_eq!(r["status"], "refunded", "{r}");
    assert_eq!(srv.post_ok("/v1/orders/p1/refund", ik, &json!({}))["status"], "refunded");
    assert_eq!(srv.get_ok("/v1/orders/p1", ik)["status"], "refunded");
    srv.post("/v1/orders/nope/refund", ik, "{}").err(404, "not_found");

    // A second order settles by itself after the window.
    let o2 = json!({"order": "p2", "member": "alice", "merchant": "shop", "amount": "200"});
    assert_eq!(srv.post_json("/v1/orders", ik, &o2).status, 202);
    let batch = srv.post_ok(
        "/v1/orders/batch",
        ik,
        &json!({"orders": [{"order": "p3", "member": "alice", "merchant": "shop", "amount": "300"},
                           {"order": "p4", "member": "ghost", "merchant": "shop", "amount": "1"}]}),
    );
    assert_eq!((batch["accepted"].clone(), batch["rejected"].clone()), (json!(1), json!(1)), "{batch}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let g = srv.get_ok("/v1/orders/p3", ik);
        if g["status"] == "settled" {
            assert_eq!(s(&g["amount"]), "300.00", "{g}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "p3 did not settle: {g}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(srv.get_ok("/v1/orders/p2", ik)["status"], "settled");
    assert_eq!(srv.journal_length(), head + 2, "p2 and p3 journaled, the refunded p1 not");
    srv.post("/v1/orders/p2/refund", ik, "{}").err(409, "already_settled");
    // The settled order's id stays idempotent.
    assert_eq!(srv.post_json("/v1/orders", ik, &o2).status, 200);
    let stats = srv.get_ok("/v1/stats", None);
    assert_eq!(stats["orders"], 2);
}
