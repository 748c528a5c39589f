//! The console's stores, agents and shareholders routes in process, on both backends where the
//! answers come from the query tables (flows, dividend history): listing and search, the detail
//! with its daily flow and bound members, the QR code, registrations validated against the
//! shipped GB/T 2260 table (rejections change nothing), the agents' region tree, and the
//! dividend preview, which must equal what the distribution then pays.

use serde_json::{json, Value};
use zengzhi_server::accounts::Role;
use zengzhi_testkit::app::{spawn_app, Backend, TestApp};

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(stores, shareholders);

const PASSWORD: &str = "network test password";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// Yuan with two decimals of a number of fen (the API's money format).
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

async fn operator(app: &TestApp) -> String {
    app.user("op", Role::Operator, PASSWORD).await;
    app.login("op", PASSWORD).await
}

async fn stores(backend: Backend) {
    let app = spawn_app(backend, "network-stores").await;
    let op = operator(&app).await;
    let t = Some(op.as_str());
    app.submit(&[
        r#"{"op":"register_member","member":"owner1"}"#,
        r#"{"op":"register_member","member":"scout"}"#,
        r#"{"op":"register_member","member":"buyer"}"#,
    ])
    .await;

    // Rejections: each a JSON error with its code, and none changes the state.
    let before = app.state_text().await;
    let body = |region: &str| json!({"merchant": "nanshan-tea", "commission": "0.1", "owner": "owner1", "recruiter": "scout", "region": region});
    app.post("/v1/admin/stores", t, &body("999999")).await.err(400, "invalid_region");
    app.post("/v1/admin/stores", t, &body("4403")).await.err(400, "invalid_region");
    // A city with districts is not where a store is; its districts are.
    app.post("/v1/admin/stores", t, &body("440300")).await.err(400, "invalid_region");
    app.post("/v1/admin/stores", t, &json!({"merchant": "x", "owner": "owner1"})).await.err(400, "invalid_command");
    let mut bad_rate = body("440305");
    bad_rate["commission"] = json!("1.5");
    app.post("/v1/admin/stores", t, &bad_rate).await.err(422, "invalid_amount");
    let mut unknown_owner = body("440305");
    unknown_owner["owner"] = json!("nobody");
    app.post("/v1/admin/stores", t, &unknown_owner).await.err(404, "unknown_member");
    let auditor = {
        app.user("aud", Role::Auditor, PASSWORD).await;
        app.login("aud", PASSWORD).await
    };
    app.post("/v1/admin/stores", Some(&auditor), &body("440305")).await.err(403, "forbidden");
    assert_eq!(app.state_text().await, before, "rejections change nothing");

    // Created, recorded in the operation log with its target.
    app.post("/v1/admin/stores", t, &body("440305")).await.ok();
    app.post("/v1/admin/stores", t, &json!({"merchant": "dg-cafe", "owner": "scout", "region": "441900"})).await.ok();
    let log = app.admin_get("/v1/admin/audit?action=register_merchant").await;
    assert_eq!(log["items"][0]["target"], "merchant:nanshan-tea");
    assert_eq!(log["items"][0]["who"], "user:op");
    app.post("/v1/admin/stores", t, &body("440305")).await.err(409, "duplicate_id");

    // Two members join by the store's QR code (bound to its owner), one by someone else.
    app.admin_post("/v1/members", &json!({"member": "m1", "store": "nanshan-tea"})).await;
    app.admin_post("/v1/members", &json!({"member": "m2", "store": "nanshan-tea"})).await;
    app.admin_post("/v1/members", &json!({"member": "m3", "referrer": "buyer"})).await;
    // Orders today: 1000.00 and 250.50 at the 10% store, one at the other store.
    app.submit(&[
        r#"{"op":"order","order":"o1","member":"m1","merchant":"nanshan-tea","amount":"1000"}"#,
        r#"{"op":"order","order":"o2","member":"m2","merchant":"nanshan-tea","amount":"250.50"}"#,
        r#"{"op":"order","order":"o3","member":"m3","merchant":"dg-cafe","amount":"80"}"#,
    ])
    .await;

    let list = app.get("/v1/admin/stores", t).await.ok();
    assert_eq!(list["total"], 2);
    assert_eq!((list["page"].as_u64(), list["page_size"].as_u64()), (Some(1), Some(20)));
    let row = list["items"].as_array().unwrap().iter().find(|r| r["id"] == "nanshan-tea").unwrap().clone();
    assert_eq!(row["commission_rate"], "0.1");
    assert_eq!((s(&row["owner"]), s(&row["recruiter"])), ("owner1", "scout"));
    assert_eq!(row["region"], json!({"code": "440305", "names": ["广东省", "深圳市", "南山区"]}));
    let gmv = 100_000 + 25_050;
    let commission = 10_000 + 2_505;
    for period in ["today", "last_30_days"] {
        assert_eq!(row[period]["gmv"], yuan(gmv), "{period}");
        assert_eq!(row[period]["commission"], yuan(commission), "{period}");
        assert_eq!(row[period]["orders"], 2, "{period}");
    }
    assert_eq!(row["bound_members"], 2);

    // Search: by id, by owner, by region name and code; paging.
    let ids = |v: Value| v["items"].as_array().unwrap().iter().map(|r| s(&r["id"]).to_string()).collect::<Vec<_>>();
    assert_eq!(ids(app.get("/v1/admin/stores?q=TEA", t).await.ok()), ["nanshan-tea"]);
    assert_eq!(ids(app.get("/v1/admin/stores?q=scout", t).await.ok()), ["dg-cafe", "nanshan-tea"]);
    assert_eq!(ids(app.get("/v1/admin/stores?q=%E4%B8%9C%E8%8E%9E", t).await.ok()), ["dg-cafe"], "东莞");
    assert_eq!(ids(app.get("/v1/admin/stores?q=4419", t).await.ok()), ["dg-cafe"]);
    let page2 = app.get("/v1/admin/stores?page=2&page_size=1", t).await.ok();
    assert_eq!((ids(page2.clone()), page2["total"].as_u64()), (vec!["nanshan-tea".to_string()], Some(2)));
    app.get("/v1/admin/stores?page=0", t).await.err(400, "invalid_query");
    app.get("/v1/admin/stores?page_size=101", t).await.err(400, "invalid_query");
    app.get("/v1/admin/stores?sort=gmv", t).await.err(400, "invalid_query");

    // The detail: 30 days ending today, the bound members, the rewards.
    let d = app.get("/v1/admin/stores/nanshan-tea", t).await.ok();
    let daily = d["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let today = time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap()).date();
    assert_eq!(daily[29]["day"], format!("{:04}-{:02}-{:02}", today.year(), u8::from(today.month()), today.day()));
    assert_eq!((daily[29]["gmv"].clone(), daily[29]["orders"].clone()), (json!(yuan(gmv)), json!(2)));
    assert!(daily[..29].iter().all(|x| x["orders"] == 0 && x["gmv"] == "0.00"));
    let members: Vec<&str> = d["members"].as_array().unwrap().iter().map(|m| s(&m["id"])).collect();
    assert_eq!(members, ["m1", "m2"]);
    assert_eq!(d["members_total"], 2);
    assert_eq!(d["members_basis"], "referrer_is_owner");
    assert_eq!(d["join_link"], "http://in-process.test/join?store=nanshan-tea");
    // The owner's and recruiter's rewards are the engine's kept sums.
    let state = app.admin_get("/v1/admin/state").await;
    let kept = |m: &str| state["members"][m]["rewards"].clone();
    assert_eq!((d["owner_rewards"].clone(), d["recruiter_rewards"].clone()), (kept("owner1"), kept("scout")));
    let one = app.get("/v1/admin/stores/nanshan-tea?page=2&page_size=1", t).await.ok();
    assert_eq!(one["members"][0]["id"], "m2");
    app.get("/v1/admin/stores/nope", t).await.err(404, "unknown_merchant");
    app.get("/v1/admin/stores/nanshan-tea?x=1", t).await.err(400, "invalid_query");

    // The QR code.
    let qr = app.get("/v1/admin/stores/nanshan-tea/qr.svg", t).await;
    assert_eq!(qr.status.as_u16(), 200);
    assert_eq!(qr.content_type, "image/svg+xml");
    assert!(qr.text().starts_with("<?xml") && qr.text().contains("<svg"), "{}", qr.text());
    app.get("/v1/admin/stores/nope/qr.svg", t).await.err(404, "unknown_merchant");
    app.shutdown().await;
}

async fn agents(backend: Backend) {
    let app = spawn_app(backend, "network-agents").await;
    let op = operator(&app).await;
    let t = Some(op.as_str());
    app.submit(&[
        r#"{"op":"register_member","member":"a-sz"}"#,
        r#"{"op":"register_member","member":"a-gd"}"#,
        r#"{"op":"register_member","member":"buyer"}"#,
        r#"{"op":"register_merchant","merchant":"nanshan","region":"440305"}"#,
        r#"{"op":"register_merchant","merchant":"tianhe","region":"440106"}"#,
        r#"{"op":"register_merchant","merchant":"dongguan","region":"441900"}"#,
    ])
    .await;
    let before = app.state_text().await;
    let agent = |level: &str, region: &str| json!({"member": "a-sz", "level": level, "region": region});
    app.post("/v1/admin/agents", t, &agent("city", "999900")).await.err(400, "invalid_region");
    app.post("/v1/admin/agents", t, &agent("province", "990000")).await.err(400, "invalid_region");
    app.post("/v1/admin/agents", t, &agent("district", "440300")).await.err(400, "invalid_region");
    app.post("/v1/admin/agents", t, &agent("town", "440305")).await.err(400, "invalid_command");
    app.post("/v1/admin/agents", t, &json!({"member": "nobody", "level": "city", "region": "440300"}))
        .await
        .err(404, "unknown_member");
    assert_eq!(app.state_text().await, before, "rejections change nothing");
    app.post("/v1/admin/agents", t, &agent("city", "440300")).await.ok();
    app.post("/v1/admin/agents", t, &json!({"member": "a-gd", "level": "province", "region": "440000"})).await.ok();
    let log = app.admin_get("/v1/admin/audit?action=appoint_agent").await;
    assert_eq!(log["items"].as_array().unwrap().len(), 2);
    app.post("/v1/admin/agents", t, &json!({"member": "buyer", "level": "city", "region": "440300"}))
        .await
        .err(409, "region_taken");
    app.submit(&[r#"{"op":"order","order":"o1","member":"buyer","merchant":"nanshan","amount":"1000"}"#]).await;

    let tree = app.get("/v1/admin/agents", t).await.ok();
    assert_eq!(tree["agents"], 2);
    let regions = tree["regions"].as_array().unwrap();
    let codes: Vec<&str> = regions.iter().map(|r| s(&r["code"])).collect();
    // The stores' regions with their cities and province, and nothing else.
    assert_eq!(codes, ["440000", "440100", "440106", "440300", "440305", "441900"]);
    let node = |code: &str| regions.iter().find(|r| r["code"] == code).unwrap().clone();
    let gd = node("440000");
    assert_eq!(
        (gd["level"].clone(), gd["agent"].clone(), gd["parent"].clone()),
        (json!("province"), json!("a-gd"), Value::Null)
    );
    assert_eq!(gd["stores"], 3);
    let sz = node("440300");
    assert_eq!((s(&sz["name"]), s(&sz["agent"]), s(&sz["parent"])), ("深圳市", "a-sz", "440000"));
    assert_eq!(sz["platform_keeps_share"], false);
    let state = app.admin_get("/v1/admin/state").await;
    assert_eq!(sz["agent_rewards"], state["members"]["a-sz"]["rewards"]);
    assert_ne!(sz["agent_rewards"], "0.00", "the Shenzhen agent earned on the Nanshan order");
    // No agent: the share stays with the platform.
    for code in ["440100", "440106", "440305", "441900"] {
        let n = node(code);
        assert_eq!((n["agent"].clone(), n["platform_keeps_share"].clone()), (Value::Null, json!(true)), "{code}");
    }
    assert_eq!(node("440305")["names"], json!(["广东省", "深圳市", "南山区"]));
    assert_eq!((s(&node("440305")["level"]), s(&node("440305")["parent"])), ("district", "440300"));
    assert_eq!(s(&node("441900")["level"]), "city", "东莞 has no districts");
    app.shutdown().await;
}

async fn shareholders(backend: Backend) {
    let app = spawn_app(backend, "network-shareholders").await;
    let op = operator(&app).await;
    let t = Some(op.as_str());
    app.user("fin", Role::Finance, PASSWORD).await;
    let fin = app.login("fin", PASSWORD).await;
    // A tenth of the platform part goes to the dividend pool.
    app.request(
        "PUT",
        "/v1/admin/rules",
        Some(&app.admin),
        Some(br#"{"dividends": {"share_of_platform": "0.1"}}"#.to_vec()),
    )
    .await
    .ok();
    app.submit(&[
        r#"{"op":"register_member","member":"h1"}"#,
        r#"{"op":"register_member","member":"h2"}"#,
        r#"{"op":"register_member","member":"h3"}"#,
        r#"{"op":"register_member","member":"buyer"}"#,
        r#"{"op":"register_merchant","merchant":"shop"}"#,
        r#"{"op":"order","order":"o1","member":"buyer","merchant":"shop","amount":"1234.56"}"#,
        r#"{"op":"order","order":"o2","member":"buyer","merchant":"shop","amount":"777.77"}"#,
    ])
    .await;
    let before = app.state_text().await;
    app.post("/v1/admin/shareholders", t, &json!({"member": "nobody", "weight": 1})).await.err(404, "unknown_member");
    app.post("/v1/admin/shareholders", t, &json!({"member": "h1", "weight": -1})).await.err(422, "invalid_amount");
    app.post("/v1/admin/shareholders", Some(&fin), &json!({"member": "h1", "weight": 1})).await.err(403, "forbidden");
    assert_eq!(app.state_text().await, before, "rejections change nothing");
    for (m, w) in [("h1", 3), ("h2", 2), ("h3", 2)] {
        app.post("/v1/admin/shareholders", t, &json!({"member": m, "weight": w})).await.ok();
    }
    assert_eq!(app.admin_get("/v1/admin/audit?action=set_shareholder").await["items"].as_array().unwrap().len(), 3);

    let view = app.get("/v1/admin/shareholders", t).await.ok();
    let pool_text = s(&view["dividend_pool"]).to_string();
    let (y, f) = pool_text.split_once('.').unwrap();
    let pool: i64 = y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
    assert!(pool > 0, "{view}");
    assert_eq!(view["total_weight"], 7);
    // Independently: each share is ⌊pool · w / 7⌋.
    let rows = view["shareholders"].as_array().unwrap();
    let mut expected_total = 0;
    for (row, w) in rows.iter().zip([3, 2, 2]) {
        let share = pool * w / 7;
        expected_total += share;
        assert_eq!(row["preview"], yuan(share), "{row}");
        assert_eq!(row["received"], "0.00");
    }
    assert_eq!(rows[0]["share"], "0.428571");
    assert_eq!(view["preview_total"], yuan(expected_total));
    assert_eq!(view["preview_remainder"], yuan(pool - expected_total));
    assert_eq!(view["history"], json!([]));

    // The distribution pays exactly the preview (finance decides; an operator may not).
    app.post("/v1/admin/dividends", t, &json!({})).await.err(403, "forbidden");
    let cash_before = app.admin_get("/v1/admin/state").await;
    app.post("/v1/admin/dividends", Some(&fin), &json!({})).await.ok();
    let cash_after = app.admin_get("/v1/admin/state").await;
    let fen = |v: &Value| {
        let (y, f) = s(v).split_once('.').unwrap();
        y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
    };
    for row in rows {
        let m = s(&row["member"]);
        let paid = fen(&cash_after["members"][m]["cash"]) - fen(&cash_before["members"][m]["cash"]);
        assert_eq!(yuan(paid), s(&row["preview"]), "{m}");
    }
    let after = app.get("/v1/admin/shareholders", t).await.ok();
    assert_eq!(after["dividend_pool"], yuan(pool - expected_total));
    let history = after["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["total"], yuan(expected_total));
    assert!(zengzhi_journal::time_fmt::parse_at(s(&history[0]["at"])).is_some());
    let payouts: Vec<(String, String)> = history[0]["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (s(&p["member"]).to_string(), s(&p["amount"]).to_string()))
        .collect();
    let want: Vec<(String, String)> = rows.iter().map(|r| (s(&r["member"]).into(), s(&r["preview"]).into())).collect();
    assert_eq!(payouts, want);
    assert_eq!(after["shareholders"][0]["received"], rows[0]["preview"]);
    // Weight 0 removes.
    app.post("/v1/admin/shareholders", t, &json!({"member": "h3", "weight": 0})).await.ok();
    let v = app.get("/v1/admin/shareholders", t).await.ok();
    assert_eq!(v["shareholders"].as_array().unwrap().len(), 2);
    assert_eq!(v["total_weight"], 5);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sqlite() {
    agents(Backend::Sqlite).await;
}
