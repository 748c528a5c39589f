//! The console's insight routes: per-day figures, period over period, leaderboards, the
//! per-day conservation table, the rules' dry run and history, the journal chain check as a
//! background job, and legacy-debt coins in a batch. Figures are checked against values worked
//! out here from the orders posted, not read back from the output.

use std::time::Duration;

use serde_json::{json, Value};
use zengzhi_server::accounts::Role;
use zengzhi_testkit::app::{spawn_app, Backend, TestApp};

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(daily_figures, verify_job, coins_batch);

/// Today in Beijing, worked out here.
fn beijing_today() -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    time::OffsetDateTime::now_utc().to_offset(offset).date().to_string()
}

/// alice, bob and carol (bob and carol referred by alice), the store shop, and two orders.
async fn economy(app: &TestApp) {
    app.admin_post("/v1/merchants", &json!({"merchant": "shop"})).await;
    app.admin_post("/v1/merchants", &json!({"merchant": "cafe"})).await;
    app.admin_post("/v1/members", &json!({"member": "alice"})).await;
    app.admin_post("/v1/members", &json!({"member": "bob", "referrer": "alice"})).await;
    app.admin_post("/v1/members", &json!({"member": "carol"})).await;
    app.admin_post("/v1/orders", &json!({"order": "o1", "member": "alice", "merchant": "shop", "amount": "1000"})).await;
    app.admin_post("/v1/orders", &json!({"order": "o2", "member": "bob", "merchant": "shop", "amount": "500"})).await;
    app.admin_post("/v1/orders", &json!({"order": "o3", "member": "carol", "merchant": "cafe", "amount": "200"})).await;
    app.admin_post("/v1/admin/inject", &json!({"amount": "100"})).await;
}

async fn daily_figures(backend: Backend) {
    let app = spawn_app(backend, "insight-daily").await;
    economy(&app).await;
    let today = beijing_today();
    let v = app.admin_get(&format!("/v1/admin/stats/daily?from={today}&to={today}")).await;
    assert_eq!(v["timezone"], "Asia/Shanghai");
    let days = v["days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    let d = &days[0];
    assert_eq!(d["date"], today.as_str());
    assert_eq!(d["orders"], 3);
    assert_eq!(d["gmv"], "1700.00", "1000 + 500 + 200");
    // The default commission is 20% of each order.
    assert_eq!(d["commissions"], "340.00");
    assert_eq!(d["new_members"], 3);
    assert_eq!(d["injections"], 1);
    assert_eq!(d["injected"], "100.00");
    assert_eq!(d["exits"], 0);
    assert_eq!(d["sells"], 0);
    // The day closes where the engine is now; the pool started empty today.
    let stats = app.admin_get("/v1/stats").await;
    assert_eq!(d["close_pool"], stats["pool"]);
    assert_eq!(d["close_supply"], stats["supply"]);
    assert_eq!(d["close_price"], stats["price"]);
    let cents = |m: &Value| -> i64 { m.as_str().unwrap().replace('.', "").parse().unwrap() };
    assert_eq!(cents(&d["pool_in"]) - cents(&d["pool_out"]), cents(&stats["pool"]));

    // A range of days: the days before have nothing and carry no closing figures.
    let v = app.admin_get(&format!("/v1/admin/stats/daily?to={today}")).await;
    let days = v["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the default range is 30 days");
    assert_eq!(days[29]["orders"], 3);
    assert_eq!(days[0]["orders"], 0);
    assert_eq!(days[0]["close_pool"], "0.00");

    // Bad ranges are 400s.
    app.get(&format!("/v1/admin/stats/daily?from={today}&to=2020-01-01"), Some(&app.admin))
        .await
        .err(400, "invalid_query");
    app.get("/v1/admin/stats/daily?from=2020-01-01&to=2026-01-01", Some(&app.admin)).await.err(400, "invalid_query");
    app.get("/v1/admin/stats/daily?from=2026-02-30", Some(&app.admin)).await.err(400, "invalid_query");
    app.get("/v1/admin/stats/daily?day=2026-01-01", Some(&app.admin)).await.err(400, "invalid_query");

    // Period over period: nothing yesterday.
    let c = app.admin_get("/v1/admin/stats/compare").await;
    assert_eq!(c["today"], today.as_str());
    assert_eq!(c["day"]["orders"], json!({"current": "3", "previous": "0", "change": "3", "change_pct": null}));
    assert_eq!(c["day"]["gmv"]["current"], "1700.00");
    assert_eq!(c["week"]["gmv"]["current"], "1700.00");
    assert_eq!(c["day"]["new_members"]["current"], "3");

    // Leaderboards: shop (1500) before cafe (200); alice was rewarded for bob's order.
    let b = app.admin_get("/v1/admin/leaderboards?days=7&limit=5").await;
    assert_eq!(b["stores"][0], json!({"merchant": "shop", "orders": 2, "gmv": "1500.00"}));
    assert_eq!(b["stores"][1]["merchant"], "cafe");
    let referrers = b["referrers"].as_array().unwrap();
    assert!(referrers.iter().any(|r| r["member"] == "alice"), "{b}");
    app.get("/v1/admin/leaderboards?days=0", Some(&app.admin)).await.err(400, "invalid_query");
    app.get("/v1/admin/leaderboards?limit=1000", Some(&app.admin)).await.err(400, "invalid_query");

    // The conservation table adds up and ends where /v1/proof is.
    let f = app.admin_get(&format!("/v1/admin/finance/daily?from={today}&to={today}")).await;
    let proof = app.admin_get("/v1/proof").await;
    let row = &f["days"][0];
    assert_eq!(f["balanced"], true);
    assert_eq!(row["balanced"], true);
    assert_eq!(row["in_total"], proof["conservation"]["money_in"]["total"]);
    assert_eq!(row["where_total"], proof["conservation"]["money_where"]["total"]);
    assert_eq!(row["day_commissions"], "340.00");
    assert_eq!(row["day_injected"], "100.00");
    assert_eq!(row["day_in"], "440.00");
    assert_eq!(row["pool"], proof["conservation"]["money_where"]["pool"]);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_changes_nothing_and_the_history_names_who() {
    let app = spawn_app(Backend::Sqlite, "insight-rules").await;
    let rules_before = app.admin_get("/v1/admin/rules").await;
    let length_before = app.admin_get("/v1/proof").await["journal_length"].clone();
    let multiple_before = rules_before["rules"]["exit"]["multiple"].as_str().unwrap().to_string();

    // An exit multiple of 2 is valid but a compliance risk.
    let d = app.admin_post("/v1/admin/rules/dry-run", &json!({"exit": {"multiple": "2"}})).await;
    assert_eq!(d["valid"], true);
    assert!(d["warnings"].as_array().unwrap().iter().any(|w| w["path"] == "exit.multiple"), "{d}");
    let diff = d["diff"].as_array().unwrap();
    assert_eq!(diff.len(), 1, "{d}");
    assert_eq!(diff[0]["key"], "exit.multiple");
    assert_eq!(diff[0]["before"], multiple_before.as_str());
    assert_eq!(d["rules"]["exit"]["multiple"], diff[0]["after"]);
    // Invalid rules: every problem, and still nothing changes.
    let bad = app.admin_post("/v1/admin/rules/dry-run", &json!({"commission": {"pool_share": "0.95"}})).await;
    assert_eq!(bad["valid"], false);
    assert!(!bad["problems"].as_array().unwrap().is_empty());
    app.post("/v1/admin/rules/dry-run", Some(&app.admin), &json!([1])).await.err(400, "invalid_command");
    assert_eq!(app.admin_get("/v1/admin/rules").await, rules_before, "the rules are unchanged");
    assert_eq!(app.admin_get("/v1/proof").await["journal_length"], length_before, "nothing journaled");

    // A change by an operator: the history names the operator and the key.
    app.user("ops", Role::Operator, "a long password").await;
    let session = app.login("ops", "a long password").await;
    let put = app
        .request("PUT", "/v1/admin/rules", Some(&session), Some(br#"{"exit":{"multiple":"2"}}"#.to_vec()))
        .await
        .ok();
    let h = app.admin_get("/v1/admin/rules/history").await;
    let newest = &h["items"][0];
    assert_eq!(newest["seq"], put["seq"]);
    assert_eq!(newest["who"], "user:ops");
    assert_eq!(newest["changes"][0]["key"], "exit.multiple");
    assert_eq!(newest["changes"][0]["before"], multiple_before.as_str());
    assert_eq!(newest["changes"][0]["after"], put["rules"]["exit"]["multiple"]);
    app.shutdown().await;
}

/// Polls a job until it is no longer running (bounded).
async fn finished(app: &TestApp, id: &Value) -> Value {
    for _ in 0..600 {
        let j = app.admin_get(&format!("/v1/admin/jobs/{id}")).await;
        if j["state"] != "running" {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} still running");
}

/// Changes one stored journal entry behind the service's back.
async fn corrupt(app: &TestApp, seq: u64) {
    let store = (app.store.dir.clone(), app.store.pg.clone());
    tokio::task::spawn_blocking(move || match store {
        (_, Some((url, schema))) => {
            let mut pg = zengzhi_journal::postgres::Postgres::connect_schema(&url, &schema).unwrap();
            pg.client()
                .batch_execute(&format!("UPDATE journal SET command = replace(command, 'alice', 'alicf') WHERE seq = {seq}"))
                .unwrap();
        }
        (dir, None) => {
            let mut db = zengzhi_journal::sqlite::Sqlite::open(&dir.join("data").join("zengzhi.db")).unwrap();
            db.connection()
                .execute_batch(&format!("UPDATE journal SET command = replace(command, 'alice', 'alicf') WHERE seq = {seq}"))
                .unwrap();
        }
    })
    .await
    .unwrap();
}

async fn verify_job(backend: Backend) {
    let app = spawn_app(backend, "insight-verify").await;
    economy(&app).await;
    let length = app.admin_get("/v1/proof").await["journal_length"].as_u64().unwrap();
    let started = app.admin_post("/v1/admin/jobs/verify", &json!({})).await;
    assert_eq!(started["started"], true);
    assert_eq!(started["job"]["total"], length);
    let job = finished(&app, &started["job"]["id"]).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["checked"], length);
    assert_eq!(job["total"], length);
    assert_eq!(job["result"]["ok"], true);
    assert_eq!(job["result"]["head_hash"], app.admin_get("/v1/proof").await["head_hash"]);
    let list = app.admin_get("/v1/admin/jobs").await;
    assert_eq!(list["items"][0]["id"], started["job"]["id"]);
    assert!(list["scheduled"].as_array().unwrap().is_empty(), "the test app schedules nothing");
    app.get("/v1/admin/jobs/999", Some(&app.admin)).await.err(404, "not_found");
    app.post("/v1/admin/jobs/verify", Some(&app.admin), &json!({"x": 1})).await.err(400, "invalid_command");

    // A coin grant to alice, then its entry changed behind the service's back.
    let granted = app.admin_post("/v1/coins", &json!({"member": "alice", "amount": "5"})).await;
    let seq = granted["seq"].as_u64().unwrap();
    corrupt(&app, seq).await;
    let started = app.admin_post("/v1/admin/jobs/verify", &json!({})).await;
    let job = finished(&app, &started["job"]["id"]).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["result"]["ok"], false);
    assert_eq!(job["result"]["bad_seq"], seq);
    assert!(job["result"]["problem"].as_str().unwrap().contains("hash"), "{job}");
    app.shutdown().await;
}

async fn coins_batch(backend: Backend) {
    let app = spawn_app(backend, "insight-coins").await;
    economy(&app).await;
    let issued = || async { app.admin_get("/v1/proof").await["conservation"]["coins"]["issued"].clone() };
    assert_eq!(issued().await, "0.00");
    let length = app.admin_get("/v1/proof").await["journal_length"].clone();

    // One unknown member and one bad amount: nothing applied, the rows named.
    let csv = "member,amount\nalice,10\nnobody,5\nbob,abc\n";
    let r = app.admin_post("/v1/admin/coins/batch", &json!({"csv": csv})).await;
    assert_eq!(r["applied"], false);
    assert_eq!(r["granted"], 0);
    assert_eq!(r["failed"], 2);
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows[0]["row"], 2);
    assert_eq!(rows[0]["ok"], true);
    assert_eq!(rows[0]["seq"], Value::Null);
    assert_eq!((rows[1]["row"].clone(), rows[1]["error"].clone()), (json!(3), json!("unknown_member")));
    assert_eq!(rows[2]["row"], 4);
    assert_eq!(rows[2]["ok"], false);
    assert_eq!(issued().await, "0.00", "nothing granted");
    assert_eq!(app.admin_get("/v1/proof").await["journal_length"], length, "nothing journaled");
    // A line without two fields.
    let r = app.admin_post("/v1/admin/coins/batch", &json!({"csv": "alice,1\nbob\n"})).await;
    assert_eq!(r["applied"], false);
    assert_eq!(r["rows"][0]["row"], 2);

    // All valid: every row granted with its seq.
    let r = app.admin_post("/v1/admin/coins/batch", &json!({"csv": "alice,10\nbob,2.50\n"})).await;
    assert_eq!(r["applied"], true);
    assert_eq!(r["granted"], 2);
    assert_eq!(r["total"], "12.50");
    assert!(r["rows"][0]["seq"].as_u64().unwrap() < r["rows"][1]["seq"].as_u64().unwrap());
    assert_eq!(issued().await, "12.50");
    let rows = app.admin_post("/v1/admin/coins/batch", &json!({"rows": [{"member": "carol", "amount": "1"}]})).await;
    assert_eq!(rows["granted"], 1);
    assert_eq!(issued().await, "13.50");

    app.post("/v1/admin/coins/batch", Some(&app.admin), &json!({})).await.err(400, "invalid_command");
    app.post("/v1/admin/coins/batch", Some(&app.admin), &json!({"csv": "", "rows": []}))
        .await
        .err(400, "invalid_command");
    app.post("/v1/admin/coins/batch", Some(&app.admin), &json!({"csv": "member,amount\n"}))
        .await
        .err(400, "invalid_command");
    // Audited.
    let audit = app.admin_get("/v1/admin/audit?action=grant_coins_batch").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "the two applied batches");
    app.shutdown().await;
}
