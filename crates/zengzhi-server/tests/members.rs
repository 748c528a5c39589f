//! The console's members and orders routes in process, on both backends: the member list's
//! search, filters, sort and pages; one member's detail, ledger, orders and referral tree; the
//! order list and the console's refund of a pending order; join times and store bindings kept
//! across a restart; the filtered CSV exports.

use serde_json::{json, Value};
use zengzhi_server::accounts::Role;
use zengzhi_testkit::app::{open_app, spawn_app, spawn_app_with, Backend, TestApp};

/// Money "123.45" as fen.
fn fen(v: &Value) -> i128 {
    let s = v.as_str().unwrap_or_else(|| panic!("not money: {v}"));
    let (y, f) = s.split_once('.').unwrap();
    y.parse::<i128>().unwrap() * 100 + f.parse::<i128>().unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|r| r["member"].as_str().unwrap().to_string()).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// root ← a ← c, root ← b, root ← d (through the store `shop`, owned by root); a bought 1000,
/// b 500. Beijing times: root 11-01 10:00, b 11-02 23:00, a 11-03 01:00, c 11-05 08:00, d now.
async fn economy(app: &TestApp) {
    app.submit_at(&[
        r#"{"op":"register_member","member":"root","at":"2026-11-01T02:00:00Z"}"#,
        r#"{"op":"register_member","member":"b","referrer":"root","at":"2026-11-02T15:00:00Z"}"#,
        r#"{"op":"register_member","member":"a","referrer":"root","at":"2026-11-02T17:00:00Z"}"#,
        r#"{"op":"register_member","member":"c","referrer":"a","at":"2026-11-05T00:00:00Z"}"#,
    ])
    .await;
    app.admin_post("/v1/merchants", &json!({"merchant": "shop", "owner": "root"})).await;
    app.admin_post("/v1/merchants", &json!({"merchant": "other"})).await;
    let d = app.admin_post("/v1/members", &json!({"member": "d", "store": "shop"})).await;
    assert_eq!(d["referrer"], "root", "the store binds to its owner");
    app.admin_post("/v1/orders", &json!({"order": "o-a", "member": "a", "merchant": "shop", "amount": "1000"})).await;
    app.admin_post("/v1/orders", &json!({"order": "o-b", "member": "b", "merchant": "other", "amount": "500"})).await;
}

async fn list_filters_sort_and_pages(backend: Backend) {
    let app = spawn_app(backend, "members-list").await;
    economy(&app).await;
    let all = app.admin_get("/v1/admin/members").await;
    assert_eq!(all["total"], 5);
    assert_eq!(ids(&all), strs(&["d", "c", "a", "b", "root"]), "newest joined first by default");
    let r = &app;
    let q = |s: &'static str| async move { r.admin_get(&format!("/v1/admin/members?{s}")).await };
    assert_eq!(ids(&q("q=OO").await), strs(&["root"]), "search is a case-insensitive substring");
    assert_eq!(sorted(ids(&q("referrer=root").await)), strs(&["a", "b", "d"]));
    assert_eq!(q("referrer=nobody").await["total"], 0);
    assert_eq!(ids(&q("store=shop").await), strs(&["d"]));
    assert_eq!(sorted(ids(&q("status=never_bought").await)), strs(&["c", "d", "root"]));
    assert_eq!(sorted(ids(&q("status=holding").await)), strs(&["a", "b"]));
    assert_eq!(q("status=exited").await["total"], 0);
    // Beijing days: b joined 11-02 23:00, a 11-03 01:00 (both 11-02 in UTC).
    assert_eq!(ids(&q("joined_from=2026-11-02&joined_to=2026-11-02").await), strs(&["b"]));
    assert_eq!(sorted(ids(&q("joined_from=2026-11-03").await)), strs(&["a", "c", "d"]));
    assert_eq!(sorted(ids(&q("joined_to=2026-11-02").await)), strs(&["b", "root"]));
    assert_eq!(ids(&q("sort=cycle_consumption&order=desc&page_size=2").await), strs(&["a", "b"]));
    assert_eq!(ids(&q("sort=joined&order=asc").await), strs(&["root", "b", "a", "c", "d"]));
    let last = q("sort=joined&order=asc&page=3&page_size=2").await;
    assert_eq!((ids(&last), last["total"].as_u64(), last["page"].as_u64()), (strs(&["d"]), Some(5), Some(3)));
    assert_eq!(q("page=4&page_size=2").await["items"], json!([]));
    assert_eq!(q("page_size=200").await["page_size"], 200);

    // The rows: cap = C × 1.2 (the default multiple), progress = (R + value) / cap.
    let a = &q("q=a&status=holding").await["items"][0];
    assert_eq!(a["cycle_consumption"], "1000.00");
    assert_eq!(a["cap"], "1200.00");
    let progress_ppm = (fen(&a["value_now"]) * 1_000_000) / 120_000;
    let progress: f64 = a["cap_progress"].as_str().unwrap().parse().unwrap();
    assert_eq!((progress * 1_000_000.0).round() as i128, progress_ppm);
    assert_eq!(a["realized_progress"], "0");
    assert_eq!((a["referrer"].as_str(), a["direct_referrals"].as_u64()), (Some("root"), Some(1)));
    assert_eq!(a["joined_at"], "2026-11-03T01:00:00+08:00");
    assert_eq!(a["status"], "holding");
    let root = &q("q=root").await["items"][0];
    assert_eq!((root["direct_referrals"].as_u64(), &root["referrer"]), (Some(3), &Value::Null));
    let d = &q("q=d").await["items"][0];
    assert_eq!(d["store"], "shop");
    assert!(d["joined_at"].as_str().unwrap().ends_with("+08:00"));

    // Bad values: 400 with a code, nothing changed.
    for bad in [
        "status=sleeping",
        "sort=height",
        "order=up",
        "page=0",
        "page_size=0",
        "page_size=201",
        "joined_from=2026-13-01",
        "joined_from=2026-11-05&joined_to=2026-11-01",
        "colour=red",
    ] {
        app.get(&format!("/v1/admin/members?{bad}"), Some(&app.admin)).await.err(400, "invalid_query");
    }
    // An auditor reads; a member token does not.
    app.user("eve", Role::Auditor, "auditor password 1").await;
    let eve = app.login("eve", "auditor password 1").await;
    app.get("/v1/admin/members", Some(&eve)).await.ok();
    let token = app.member_token("a").await;
    app.get("/v1/admin/members", Some(&token)).await.err(403, "forbidden");

    // Filtered CSV: the same members, in the same order.
    let csv = app.get("/v1/admin/export/members.csv?status=holding&sort=cycle_consumption", Some(&app.admin)).await;
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("member,points,locked,value_now"), "{text}");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("a,") && lines[2].starts_with("b,"), "{text}");
    assert!(lines[1].contains(",root,1,2026-11-03T01:00:00+08:00,,holding"), "{text}");
    let plain = app.get("/v1/admin/export/members.csv", Some(&app.admin)).await.text();
    assert_eq!(plain.lines().count(), 6, "unfiltered: every member");
    app.get("/v1/admin/export/members.csv?status=bogus", Some(&app.admin)).await.err(400, "invalid_query");

    // Join times and bindings survive a restart.
    let config = app.state().config.clone();
    let store = app.shutdown().await;
    let app = open_app(store, config).await;
    let d = &app.admin_get("/v1/admin/members?store=shop").await["items"][0];
    assert_eq!(d["member"], "d");
    let b = &app.admin_get("/v1/admin/members?q=b&referrer=root").await["items"][0];
    assert_eq!(b["joined_at"], "2026-11-02T23:00:00+08:00");
    app.shutdown().await;
}

async fn detail_ledger_orders_and_referrals(backend: Backend) {
    let app = spawn_app(backend, "members-detail").await;
    economy(&app).await;
    let a = app.admin_get("/v1/admin/members/a").await;
    assert_eq!((a["member"].as_str(), a["lifetime_consumption"].as_str()), (Some("a"), Some("1000.00")));
    assert_eq!(a["exit_multiple"], "1.2");
    // An exit now sells min(value, cap − realised) and the pool keeps its retention (20%, rounded up).
    let gross = fen(&a["value_now"]).min(fen(&a["cap"]) - fen(&a["cycle_realized"]));
    assert_eq!(fen(&a["exit_gross_now"]), gross);
    assert_eq!(fen(&a["exit_payout_now"]), gross - (gross * 2 + 9) / 10);
    let d = app.admin_get("/v1/admin/members/d").await;
    assert_eq!((d["store"].as_str(), d["store_owner"].as_str()), (Some("shop"), Some("root")));
    app.get("/v1/admin/members/nobody", Some(&app.admin)).await.err(404, "unknown_member");

    // Ledger: newest first, with times; filtered by reason.
    let ledger = app.admin_get("/v1/admin/members/a/ledger").await;
    let items = ledger["items"].as_array().unwrap();
    assert_eq!(items[0]["reason"], "order");
    assert!(items[0]["points"].as_str().unwrap() != "0.00000000");
    assert!(items[0]["at"].as_str().unwrap().ends_with("+08:00"));
    assert!(items.windows(2).all(|w| w[0]["seq"].as_u64() >= w[1]["seq"].as_u64()));
    let root = app.admin_get("/v1/admin/members/root/ledger?limit=1").await;
    let n_root = app.admin_get("/v1/admin/members/root/ledger").await["items"].as_array().unwrap().len();
    assert_eq!(root["items"].as_array().unwrap().len(), 1);
    if n_root > 1 {
        let next = root["next_before"].as_u64().expect("another page");
        let second = app.admin_get(&format!("/v1/admin/members/root/ledger?limit=1&before={next}")).await;
        assert!(second["items"][0]["seq"].as_u64().unwrap() < next);
    }
    assert_eq!(app.admin_get("/v1/admin/members/a/ledger?reasons=sell,exit").await["items"], json!([]));
    app.get("/v1/admin/members/a/ledger?reasons=gift", Some(&app.admin)).await.err(400, "invalid_query");
    app.get("/v1/admin/members/a/ledger?limit=0", Some(&app.admin)).await.err(400, "invalid_query");
    app.get("/v1/admin/members/nobody/ledger", Some(&app.admin)).await.err(404, "unknown_member");

    // The member's orders.
    let orders = app.admin_get("/v1/admin/members/a/orders").await;
    assert_eq!(orders["total"], 1);
    let o = &orders["items"][0];
    assert_eq!((o["order"].as_str(), o["amount"].as_str(), o["status"].as_str()), (Some("o-a"), Some("1000.00"), Some("settled")));
    assert_eq!(o["merchant"], "shop");
    assert_eq!(app.admin_get("/v1/admin/members/c/orders").await["total"], 0);
    app.get("/v1/admin/members/nobody/orders", Some(&app.admin)).await.err(404, "unknown_member");

    // The referral tree: direct and indirect, those who never bought marked.
    let tree = app.admin_get("/v1/admin/members/root/referrals").await;
    let nodes = tree["nodes"].as_array().unwrap();
    let by: std::collections::BTreeMap<&str, &Value> = nodes.iter().map(|n| (n["member"].as_str().unwrap(), n)).collect();
    assert_eq!(by.keys().copied().collect::<Vec<_>>(), vec!["a", "b", "c", "d"]);
    assert_eq!((by["c"]["depth"].as_u64(), by["c"]["parent"].as_str()), (Some(2), Some("a")));
    assert_eq!((by["a"]["depth"].as_u64(), by["a"]["bought"].as_bool()), (Some(1), Some(true)));
    assert_eq!(by["c"]["bought"], false);
    assert_eq!(by["a"]["direct_referrals"], 1);
    assert_eq!((tree["direct"].as_u64(), tree["truncated"].as_bool()), (Some(3), Some(false)));
    let shallow = app.admin_get("/v1/admin/members/root/referrals?depth=1").await;
    assert_eq!((shallow["nodes"].as_array().unwrap().len(), shallow["truncated"].as_bool()), (3, Some(true)));
    let small = app.admin_get("/v1/admin/members/root/referrals?limit=2").await;
    assert_eq!((small["nodes"].as_array().unwrap().len(), small["truncated"].as_bool()), (2, Some(true)));
    let leaf = app.admin_get("/v1/admin/members/c/referrals").await;
    assert_eq!((leaf["nodes"].as_array().unwrap().len(), leaf["truncated"].as_bool()), (0, Some(false)));
    for bad in ["depth=0", "depth=11", "limit=0", "limit=2001", "depth=x"] {
        app.get(&format!("/v1/admin/members/root/referrals?{bad}"), Some(&app.admin)).await.err(400, "invalid_query");
    }
    app.get("/v1/admin/members/nobody/referrals", Some(&app.admin)).await.err(404, "unknown_member");

    // Withdrawals of one member (the queue's member filter).
    let w = app.admin_get("/v1/admin/withdrawals?member=a").await;
    assert_eq!(w["items"], json!([]));
    app.shutdown().await;
}

async fn order_list_and_console_refund(backend: Backend) {
    let app = spawn_app_with(backend, "members-orders", |c| c.settlement_delay_s = 3600).await;
    app.submit_at(&[
        r#"{"op":"register_member","member":"m1","at":"2026-10-31T00:00:00Z"}"#,
        r#"{"op":"register_member","member":"m2","at":"2026-10-31T00:00:00Z"}"#,
        r#"{"op":"register_merchant","merchant":"s1","at":"2026-10-31T00:00:00Z"}"#,
        r#"{"op":"register_merchant","merchant":"s2","at":"2026-10-31T00:00:00Z"}"#,
        r#"{"op":"order","order":"old","member":"m1","merchant":"s1","amount":"100","at":"2026-11-01T04:00:00Z"}"#,
    ])
    .await;
    for (order, member, store) in [("p1", "m1", "s1"), ("p2", "m2", "s2"), ("p3", "m2", "s1")] {
        let r = app.post("/v1/orders", Some(&app.admin), &json!({"order": order, "member": member, "merchant": store, "amount": "50"})).await;
        assert_eq!(r.status.as_u16(), 202, "{}", r.text());
        // Receipt times are stamped to the millisecond: each order its own.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let r = &app;
    let list = |s: &'static str| async move { r.admin_get(&format!("/v1/admin/orders?{s}")).await };
    let orders = |v: &Value| -> Vec<String> { v["items"].as_array().unwrap().iter().map(|r| r["order"].as_str().unwrap().to_string()).collect() };
    let all = list("").await;
    assert_eq!(all["total"], 4);
    assert_eq!(orders(&all), strs(&["p3", "p2", "p1", "old"]), "held orders first, newest first");
    assert_eq!(all["items"][0]["status"], "pending");
    assert_eq!(all["items"][0]["commission"], Value::Null);
    assert_eq!(all["items"][3]["status"], "settled");
    assert_eq!(orders(&list("status=pending").await), strs(&["p3", "p2", "p1"]));
    assert_eq!(orders(&list("status=settled").await), strs(&["old"]));
    assert_eq!(orders(&list("store=s1").await), strs(&["p3", "p1", "old"]));
    assert_eq!(orders(&list("member=m2").await), strs(&["p3", "p2"]));
    assert_eq!(orders(&list("from=2026-11-01&to=2026-11-01").await), strs(&["old"]));
    assert_eq!(orders(&list("to=2026-10-31").await), Vec::<String>::new());
    let page = list("page=2&page_size=3").await;
    assert_eq!((orders(&page), page["total"].as_u64()), (strs(&["old"]), Some(4)));
    for bad in ["status=lost", "from=yesterday", "page=0", "page_size=500", "colour=red"] {
        app.get(&format!("/v1/admin/orders?{bad}"), Some(&app.admin)).await.err(400, "invalid_query");
    }

    // The console refunds a pending order (an operator; finance may not).
    app.user("op", Role::Operator, "operator password 1").await;
    app.user("fin", Role::Finance, "finance password 1").await;
    let op = app.login("op", "operator password 1").await;
    let fin = app.login("fin", "finance password 1").await;
    app.post("/v1/admin/orders/p2/refund", Some(&fin), &json!({})).await.err(403, "forbidden");
    let r = app.post("/v1/admin/orders/p2/refund", Some(&op), &json!({})).await.ok();
    assert_eq!((r["order"].as_str(), r["status"].as_str()), (Some("p2"), Some("refunded")));
    assert_eq!(orders(&list("status=refunded").await), strs(&["p2"]));
    assert_eq!(orders(&list("status=pending").await), strs(&["p3", "p1"]));
    app.post("/v1/admin/orders/p2/refund", Some(&op), &json!({})).await.ok();
    app.post("/v1/admin/orders/old/refund", Some(&op), &json!({})).await.err(409, "already_settled");
    app.post("/v1/admin/orders/none/refund", Some(&op), &json!({})).await.err(404, "not_found");
    app.post("/v1/admin/orders/p1/refund", Some(&op), &json!({"why": 1})).await.err(400, "invalid_command");
    let log = app.admin_get("/v1/admin/audit?action=refund_order").await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "one refund, logged once");
    assert_eq!(log["items"][0]["target"], "order:p2");

    // The orders CSV with the same filters (settled orders).
    let csv = app.get("/v1/admin/export/orders.csv?store=s1&member=m1", Some(&app.admin)).await.text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",old,m1,s1,100.00,"), "{csv}");
    let none = app.get("/v1/admin/export/orders.csv?store=s2", Some(&app.admin)).await.text();
    assert_eq!(none.lines().count(), 1, "{none}");
    app.shutdown().await;
}

macro_rules! both {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(zengzhi_testkit::app::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(zengzhi_testkit::app::Backend::Postgres).await })*
        }
    };
}

both!(list_filters_sort_and_pages, detail_ledger_orders_and_referrals, order_list_and_console_refund);
