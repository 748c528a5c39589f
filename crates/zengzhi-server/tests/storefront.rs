//! The store's own page (routes/storefront.rs) in process, on both backends: store tokens issued
//! by the integration and by an operator (audited, the token never logged); the page's figures
//! (today, 7 and 30 days, derived here from the orders journaled) equal the console's store
//! detail; the bound members paged; the QR code; a store token reads its own store only, and
//! member tokens, keys and bad or expired store tokens are refused.

use serde_json::{json, Value};
use zengzhi_server::accounts::Role;
use zengzhi_testkit::app::{spawn_app, Backend};

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(storefront);

const PASSWORD: &str = "storefront test password";

/// Yuan with two decimals of a number of fen (the API's money format).
fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// RFC 3339 (UTC) of `days` days before now.
fn days_ago(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

async fn storefront(backend: Backend) {
    let app = spawn_app(backend, "storefront").await;
    app.user("op", Role::Operator, PASSWORD).await;
    app.user("aud", Role::Auditor, PASSWORD).await;
    let op = app.login("op", PASSWORD).await;
    let aud = app.login("aud", PASSWORD).await;
    let integration = app.key("integration").await;
    let readonly = app.key("readonly").await;

    // Two stores; m1 and m2 bound to nanshan-tea (their referrer is its owner), m3 to dg-cafe.
    // Orders: 20 days ago, 5 days ago and today at nanshan-tea (10%), one at dg-cafe.
    let at = days_ago(25);
    let mut lines: Vec<String> = [
        r#"{"op":"register_member","member":"owner1"}"#,
        r#"{"op":"register_member","member":"scout"}"#,
        r#"{"op":"register_merchant","merchant":"nanshan-tea","commission":"0.1","owner":"owner1","recruiter":"scout","region":"440305"}"#,
        r#"{"op":"register_merchant","merchant":"dg-cafe","owner":"scout","region":"441900"}"#,
        r#"{"op":"register_member","member":"m1","referrer":"owner1"}"#,
        r#"{"op":"register_member","member":"m2","referrer":"owner1"}"#,
        r#"{"op":"register_member","member":"m3","referrer":"scout"}"#,
    ]
    .iter()
    .map(|l| l.replacen('{', &format!(r#"{{"at":"{at}","#), 1))
    .collect();
    let order = |id: &str, member: &str, store: &str, amount: &str, days: i64| {
        format!(
            r#"{{"op":"order","order":"{id}","member":"{member}","merchant":"{store}","amount":"{amount}","at":"{}"}}"#,
            days_ago(days)
        )
    };
    lines.push(order("o20", "m1", "nanshan-tea", "300", 20));
    lines.push(order("o5", "m2", "nanshan-tea", "40.10", 5));
    lines.push(order("x1", "m3", "dg-cafe", "80", 5));
    app.submit_at(&lines).await;
    app.submit(&[
        r#"{"op":"order","order":"t1","member":"m1","merchant":"nanshan-tea","amount":"1000"}"#,
        r#"{"op":"order","order":"t2","member":"m2","merchant":"nanshan-tea","amount":"250.50"}"#,
    ])
    .await;

    // Issuing: the integration (or admin), and an operator in the console (audited).
    let before = app.state_text().await;
    app.post("/v1/merchants/nope/token", Some(&integration), &Value::Null).await.err(404, "unknown_merchant");
    app.post("/v1/merchants/nanshan-tea/token", Some(&readonly), &Value::Null).await.err(403, "forbidden");
    app.post("/v1/merchants/nanshan-tea/token", None, &Value::Null).await.err(401, "unauthorized");
    app.post("/v1/admin/stores/nanshan-tea/token", Some(&aud), &json!({})).await.err(403, "forbidden");
    app.post("/v1/admin/stores/nope/token", Some(&op), &json!({})).await.err(404, "unknown_merchant");
    app.post("/v1/admin/stores/nanshan-tea/token", Some(&op), &json!({"x": 1})).await.err(400, "invalid_command");
    assert_eq!(app.state_text().await, before, "rejections change nothing");
    let log = app.admin_get("/v1/admin/audit?action=issue_store_token").await;
    assert_eq!(log["items"].as_array().unwrap().len(), 0, "refused issues are not logged as issued");

    let issued = app.post("/v1/merchants/nanshan-tea/token", Some(&integration), &Value::Null).await.ok();
    assert_eq!(issued["store"], "nanshan-tea");
    let token = issued["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("st."), "{token}");
    assert_eq!(issued["page_path"], format!("/store/#token={token}"));
    let now = zengzhi_server::auth::now_unix();
    let expires = issued["expires_unix"].as_u64().unwrap();
    assert!(expires > now && expires <= now + app.state().config.member_token_ttl_s, "{expires}");

    let console = app.post("/v1/admin/stores/nanshan-tea/token", Some(&op), &json!({})).await.ok();
    let console_token = console["token"].as_str().unwrap().to_string();
    let log = app.admin_get("/v1/admin/audit?action=issue_store_token").await;
    let entry = &log["items"][0];
    assert_eq!((entry["target"].as_str(), entry["who"].as_str()), (Some("merchant:nanshan-tea"), Some("user:op")));
    assert!(!log.to_string().contains(&console_token), "the token is not in the log: {log}");
    // An empty body is fine too.
    let r = app.request("POST", "/v1/admin/stores/nanshan-tea/token", Some(&op), None).await;
    assert!(r.status.is_success(), "{}", r.text());

    // The page's figures: derived from the orders above, and equal to the console's.
    let me = app.get("/v1/store/me", Some(&token)).await.ok();
    let me_console = app.get("/v1/store/me", Some(&console_token)).await.ok();
    assert_eq!(me, me_console, "either token reads the same page");
    let today_fen = 100_000 + 25_050;
    let week_fen = today_fen + 4_010;
    let month_fen = week_fen + 30_000;
    for (period, gmv, orders) in [("today", today_fen, 2), ("last_7_days", week_fen, 3), ("last_30_days", month_fen, 4)] {
        assert_eq!(me[period]["gmv"], yuan(gmv), "{period}");
        assert_eq!(me[period]["commission"], yuan(gmv / 10), "{period}: 10% of the flow");
        assert_eq!(me[period]["orders"], orders, "{period}");
    }
    assert_eq!(me["store"], "nanshan-tea");
    assert_eq!(me["region"], json!({"code": "440305", "names": ["广东省", "深圳市", "南山区"]}));
    assert_eq!((me["owner"].as_str(), me["recruiter"].as_str()), (Some("owner1"), Some("scout")));
    assert_eq!(me["bound_members"], 2);
    assert_eq!(me["join_link"], "http://in-process.test/join?store=nanshan-tea");
    let daily = me["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    assert_eq!((daily[29]["gmv"].as_str(), daily[29]["orders"].as_u64()), (Some(yuan(today_fen).as_str()), Some(2)));
    assert_eq!(daily.iter().filter(|d| d["orders"] != 0).count(), 3, "three days with orders");

    let detail = app.get("/v1/admin/stores/nanshan-tea", Some(&op)).await.ok();
    let row = &detail["store"];
    for k in ["today", "last_7_days", "last_30_days", "region", "owner", "recruiter", "commission_rate", "bound_members"]
    {
        assert_eq!(me[k], row[k], "{k} as the console has it");
    }
    for k in ["daily", "owner_rewards", "recruiter_rewards", "join_link"] {
        assert_eq!(me[k], detail[k], "{k} as the console has it");
    }
    let state = app.admin_get("/v1/admin/state").await;
    assert_eq!(me["owner_rewards"], state["members"]["owner1"]["rewards"]);
    assert_eq!(me["recruiter_rewards"], state["members"]["scout"]["rewards"]);

    // The bound members, paged, as the console lists them.
    let all = app.get("/v1/store/members", Some(&token)).await.ok();
    assert_eq!(all["items"], detail["members"]);
    assert_eq!((all["total"].as_u64(), all["page"].as_u64(), all["page_size"].as_u64()), (Some(2), Some(1), Some(20)));
    let p2 = app.get("/v1/store/members?page=2&page_size=1", Some(&token)).await.ok();
    assert_eq!((p2["items"].as_array().unwrap().len(), p2["items"][0]["id"].as_str()), (1, Some("m2")));
    let past = app.get("/v1/store/members?page=3&page_size=1", Some(&token)).await.ok();
    assert_eq!(past["items"], json!([]));
    app.get("/v1/store/members?page=0", Some(&token)).await.err(400, "invalid_query");
    // No way to name another store.
    app.get("/v1/store/members?store=dg-cafe", Some(&token)).await.err(400, "invalid_query");

    // The QR code: the console's.
    let qr = app.get("/v1/store/qr.svg", Some(&token)).await;
    assert_eq!((qr.status.as_u16(), qr.content_type.as_str()), (200, "image/svg+xml"));
    let console_qr = app.get("/v1/admin/stores/nanshan-tea/qr.svg", Some(&op)).await;
    assert!(qr.text().contains("<svg"));
    assert_eq!(qr.text(), console_qr.text());

    // Another store's token reads that store only.
    let other = app.post("/v1/merchants/dg-cafe/token", Some(&integration), &Value::Null).await.ok();
    let other = other["token"].as_str().unwrap().to_string();
    let theirs = app.get("/v1/store/me", Some(&other)).await.ok();
    assert_eq!((theirs["store"].as_str(), theirs["bound_members"].as_u64()), (Some("dg-cafe"), Some(1)));
    assert_eq!(theirs["last_7_days"]["gmv"], yuan(8_000));
    let theirs = app.get("/v1/store/members", Some(&other)).await.ok();
    assert_eq!(theirs["items"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect::<Vec<_>>(), [json!("m3")]);
    assert_ne!(app.get("/v1/store/qr.svg", Some(&other)).await.text(), qr.text());
    // A store token is not a console caller, nor a member.
    app.get("/v1/admin/stores/nanshan-tea", Some(&other)).await.err(403, "forbidden");
    app.get("/v1/me", Some(&other)).await.err(403, "forbidden");
    app.post("/v1/merchants/nanshan-tea/token", Some(&other), &Value::Null).await.err(403, "forbidden");

    // Refused: no token, a member token, keys and sessions, a tampered or expired store token.
    let member = app.member_token("owner1").await;
    for path in ["/v1/store/me", "/v1/store/members", "/v1/store/qr.svg"] {
        app.get(path, None).await.err(401, "unauthorized");
        let v = app.get(path, Some(&member)).await.err(403, "forbidden");
        assert!(v["message"].as_str().unwrap().contains("store tokens / "), "bilingual, and says why: {v}");
        for caller in [&app.admin, &integration, &readonly, &op] {
            app.get(path, Some(caller)).await.err(403, "forbidden");
        }
    }
    // The member token relabelled as a store token, and a store's payload swapped.
    let relabelled = member.replacen("mt.", "st.", 1);
    app.get("/v1/store/me", Some(&relabelled)).await.err(401, "unauthorized");
    let (_, sig) = token.rsplit_once('.').unwrap();
    let other_payload = other.split('.').nth(1).unwrap();
    app.get("/v1/store/me", Some(&format!("st.{other_payload}.{sig}"))).await.err(401, "unauthorized");
    let secret = app.state().token_secret.clone();
    let expired = zengzhi_server::auth::issue_store_token(&secret, "nanshan-tea", now - 1);
    let v = app.get("/v1/store/me", Some(&expired)).await.err(401, "unauthorized");
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    app.shutdown().await;
}
