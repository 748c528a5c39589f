//! The simulator workbench's routes: presets, validation by key, simulations as background jobs
//! (progress, report, cancel, at most two at once), the report folder as a zip, the seed's
//! projection, and what-if replays of the program's own journal. Expected figures come from the
//! simulator crate's own functions (or SPEC's worked example), not from the routes' output.

use std::io::Read as _;
use std::time::Duration;

use serde_json::{json, Value};
use zengzhi_testkit::app::{spawn_app, Backend, TestApp};

// Each of these runs on SQLite and on PostgreSQL (`sqlite::name`, `postgres::name`).
zengzhi_testkit::on_both_backends!(whatif);

/// A short scenario (a few runs finish in well under a second).
const SHORT: &str = "name = \"short\"\nhorizon_days = 40\n[arrivals]\nrate = 5.0\n";

async fn job(app: &TestApp, id: &Value) -> Value {
    app.admin_get(&format!("/v1/admin/sim/jobs/{id}")).await
}

/// Polls a job until it is no longer running.
async fn finished(app: &TestApp, id: &Value) -> Value {
    for _ in 0..1200 {
        let v = job(app, id).await;
        if v["job"]["state"] != "running" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

fn long_run() -> Value {
    // The steady preset with many runs: minutes of work on two cores.
    json!({"preset": "steady", "runs": 1000})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_and_validation_by_key() {
    let app = spawn_app(Backend::Sqlite, "sim-validate").await;
    let p = app.admin_get("/v1/admin/sim/presets").await;
    let names: Vec<&str> = p["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, zengzhi_sim::presets::names());
    for item in p["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "scenario") {
        let text = item["toml"].as_str().unwrap();
        assert!(zengzhi_sim::scenario::load_str(text, std::path::Path::new(".")).is_ok());
        let v = app.admin_post("/v1/admin/sim/validate", &json!({"toml": text})).await;
        assert_eq!(v["ok"], true, "{v}");
        assert!(!item["description"].as_str().unwrap().is_empty());
    }

    let ok = app.admin_post("/v1/admin/sim/validate", &json!({"toml": SHORT})).await;
    assert_eq!((ok["ok"].clone(), ok["horizon_days"].clone(), ok["problems"].clone()), (json!(true), json!(40), json!([])));

    // A wrong type: the key and its line.
    let bad = "horizon_days = 30\n[arrivals]\nrate = \"fast\"\n";
    let v = app.admin_post("/v1/admin/sim/validate", &json!({"toml": bad})).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"][0]["path"], "arrivals.rate", "{v}");
    assert_eq!(v["problems"][0]["line"], 3);
    // A value out of range: the simulator's own check names the key.
    let zero = "horizon_days = 0\n[arrivals]\nrate = 5.0\n";
    let expected = zengzhi_sim::scenario::load_str(zero, std::path::Path::new(".")).unwrap_err();
    let v = app.admin_post("/v1/admin/sim/validate", &json!({"toml": zero})).await;
    assert_eq!(v["problems"][0]["path"], expected.field.as_str());
    assert_eq!(v["problems"][0]["message"], expected.message.as_str());
    // Not TOML at all.
    let v = app.admin_post("/v1/admin/sim/validate", &json!({"toml": "[arrivals\n"})).await;
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"][0]["line"], 1);
    // No files read for a scenario.
    let v = app.admin_post("/v1/admin/sim/validate", &json!({"toml": "rules_file = \"/etc/passwd\"\n"})).await;
    assert_eq!(v["problems"][0]["path"], "rules_file");

    // An invalid scenario starts no job.
    let r = app.post("/v1/admin/sim/jobs", Some(&app.admin), &json!({"toml": bad})).await;
    let e = r.err(422, "invalid_scenario");
    assert_eq!(e["problems"][0]["path"], "arrivals.rate");
    assert!(e["message"].as_str().unwrap().contains(" / "));
    app.post("/v1/admin/sim/jobs", Some(&app.admin), &json!({"preset": "nope"})).await.err(400, "invalid_command");
    app.post("/v1/admin/sim/jobs", Some(&app.admin), &json!({"preset": "seed"})).await.err(400, "invalid_command");
    app.post("/v1/admin/sim/jobs", Some(&app.admin), &json!({"toml": SHORT, "runs": 0})).await.err(422, "invalid_scenario");
    app.post("/v1/admin/sim/jobs", Some(&app.admin), &json!({"toml": SHORT, "x": 1})).await.err(400, "invalid_command");
    assert_eq!(app.admin_get("/v1/admin/sim/jobs").await["items"], json!([]), "no job started");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulation_runs_to_its_report_and_zips() {
    let app = spawn_app(Backend::Sqlite, "sim-run").await;
    let length = app.admin_get("/v1/proof").await["journal_length"].clone();
    let started = app.admin_post("/v1/admin/sim/jobs", &json!({"toml": SHORT, "runs": 3, "seed": 9})).await;
    assert_eq!(started["state"], "running");
    assert_eq!(started["total"], 3);
    let v = finished(&app, &started["id"]).await;
    assert_eq!(v["job"]["state"], "done", "{v}");
    assert_eq!(v["job"]["done"], 3);

    // The report is the simulator's own, for the same scenario, runs and seed.
    let loaded = zengzhi_sim::scenario::load_str(SHORT, std::path::Path::new(".")).unwrap();
    let sim = zengzhi_sim::montecarlo::simulate(&loaded, 3, 9, &|| {}).unwrap();
    let report = &v["report"];
    assert_eq!(report["days"].as_array().unwrap().len(), 40);
    // Both through JSON text: the reader may round a float's last bit, the same way both times.
    let honest: serde_json::Value = serde_json::from_str(&serde_json::to_string(&sim.report.honest).unwrap()).unwrap();
    assert_eq!(report["honest"], honest);
    // Floats through JSON text may differ in the last bit: compare the files made from them.
    let data: zengzhi_report::model::ReportData = serde_json::from_value(report.clone()).unwrap();
    assert_eq!(zengzhi_sim::output::timeseries_csv(&data), zengzhi_sim::output::timeseries_csv(&sim.report));
    assert_eq!(data.totals, sim.report.totals);
    assert_eq!((data.runs, data.seed), (3, 9));
    assert_eq!(v["scenario_toml"], SHORT);
    assert_eq!(app.admin_get("/v1/proof").await["journal_length"], length, "nothing journaled");

    // The zip: the files of the report folder, deflated.
    let r = app.get(&format!("/v1/admin/sim/jobs/{}/report.zip", started["id"]), Some(&app.admin)).await;
    assert!(r.status.is_success(), "{}", r.status);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(r.body.to_vec())).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    for name in ["scenario.toml", "summary.json", "timeseries.csv", "report-data.json"] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let mut text = String::new();
    zip.by_name("timeseries.csv").unwrap().read_to_string(&mut text).unwrap();
    assert_eq!(text, zengzhi_sim::output::timeseries_csv(&sim.report));
    assert_eq!(zip.by_name("summary.json").unwrap().compression(), zip::CompressionMethod::Deflated);
    let list = app.admin_get("/v1/admin/sim/jobs").await;
    assert_eq!(list["items"][0]["id"], started["id"]);
    app.get("/v1/admin/sim/jobs/999", Some(&app.admin)).await.err(404, "not_found");
    app.get("/v1/admin/sim/jobs/x/report.zip", Some(&app.admin)).await.err(404, "not_found");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_and_two_at_most_run() {
    let app = spawn_app(Backend::Sqlite, "sim-cancel").await;
    let a = app.admin_post("/v1/admin/sim/jobs", &long_run()).await;
    let b = app.admin_post("/v1/admin/sim/jobs", &long_run()).await;
    // A third is refused while two run, and starts nothing.
    let r = app.post("/v1/admin/sim/jobs", Some(&app.admin), &json!({"toml": SHORT})).await;
    let e = r.err(429, "too_many_jobs");
    assert!(e["message"].as_str().unwrap().contains(" / "), "bilingual: {e}");
    assert_eq!(app.admin_get("/v1/admin/sim/jobs").await["items"].as_array().unwrap().len(), 2);
    // A what-if needs a slot too.
    app.post("/v1/admin/sim/whatif", Some(&app.admin), &json!({"exit": {"multiple": "1.5"}}))
        .await
        .err(429, "too_many_jobs");

    // Progress moves.
    let mut progressed = false;
    for _ in 0..600 {
        if job(&app, &a["id"]).await["job"]["done"].as_u64().unwrap() > 0 {
            progressed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(progressed, "some runs finish");

    for j in [&a, &b] {
        let c = app.admin_post(&format!("/v1/admin/sim/jobs/{}/cancel", j["id"]), &json!({})).await;
        assert_eq!(c["id"], j["id"]);
    }
    for j in [&a, &b] {
        let v = finished(&app, &j["id"]).await;
        assert_eq!(v["job"]["state"], "cancelled", "{v}");
        assert!(v["job"]["done"].as_u64().unwrap() < v["job"]["total"].as_u64().unwrap());
        assert_eq!(v["report"], Value::Null);
        app.get(&format!("/v1/admin/sim/jobs/{}/report.zip", j["id"]), Some(&app.admin)).await.err(409, "not_ready");
    }
    // The work really stopped: the counts no longer move.
    let done = job(&app, &a["id"]).await["job"]["done"].clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(job(&app, &a["id"]).await["job"]["done"], done);
    // And a new one may start.
    let c = app.admin_post("/v1/admin/sim/jobs", &json!({"toml": SHORT})).await;
    assert_eq!(finished(&app, &c["id"]).await["job"]["state"], "done");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_projection() {
    let app = spawn_app(Backend::Sqlite, "sim-seed").await;
    let v = app.admin_get("/v1/admin/sim/seed").await;
    let p = zengzhi_sim::presets::seed_projection(100_000, 100_000, |_, _| {});
    let exit = p.exit.unwrap();
    assert_eq!(v["exit"]["order"], exit.order);
    assert_eq!(v["exit"]["paid"], zengzhi_core::num::format_money(zengzhi_core::num::Fen::from_fen(exit.payout_fen)));
    // SPEC §9 (docs/rules.md): orders of 1000, the first member force-sold at 1200, paid 960.
    assert_eq!((v["exit"]["order"].clone(), v["exit"]["paid"].clone()), (json!(1137), json!("960.00")));
    assert_eq!(v["exit"]["gross"], "1200.00");
    assert_eq!(v["exit"]["retained"], "240.00");
    assert_eq!(v["exit"]["member"], "u1");
    assert_eq!(v["amount"], "1000.00");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1137);
    // The table of SPEC §9.
    assert_eq!(rows[0], json!({"order": 1, "minted": "112.00000000", "pool": "160.00", "supply": "112.00000000", "price": "1.42857142"}));
    assert_eq!(rows[2]["price"], "1.86741363");
    app.get("/v1/admin/sim/seed?amount=-1", Some(&app.admin)).await.err(400, "invalid_query");
    app.get("/v1/admin/sim/seed?amount=abc", Some(&app.admin)).await.err(400, "invalid_query");
    app.shutdown().await;
}

async fn whatif(backend: Backend) {
    let app = spawn_app(backend, "sim-whatif").await;
    app.admin_post("/v1/merchants", &json!({"merchant": "shop"})).await;
    for (i, m) in ["alice", "bob", "carol"].into_iter().enumerate() {
        app.admin_post("/v1/members", &json!({"member": m})).await;
        app.admin_post("/v1/orders", &json!({"order": format!("o{i}"), "member": m, "merchant": "shop", "amount": "1000"}))
            .await;
    }
    let stats = app.admin_get("/v1/stats").await;
    let state_before = app.state_text().await;
    let length = app.admin_get("/v1/proof").await["journal_length"].clone();

    // The live rules unchanged: the same as what happened.
    let same = app.admin_post("/v1/admin/sim/whatif", &json!({})).await;
    let fig = |v: &Value, key: &str| v["aggregate"].as_array().unwrap().iter().find(|f| f["key"] == key).unwrap().clone();
    assert_eq!(fig(&same, "pool")["original"], stats["pool"]);
    assert_eq!(fig(&same, "pool")["alternative"], stats["pool"]);
    assert_eq!(fig(&same, "orders")["original"], "3");
    assert_eq!(same["changes"], json!([]));
    assert_eq!((same["better"].clone(), same["worse"].clone()), (json!(0), json!(0)));

    // An exit multiple low enough that every buyer exits at once (points worth 160 of 1000 spent
    // after the first order: SPEC §9).
    let w = app.admin_post("/v1/admin/sim/whatif", &json!({"exit": {"multiple": "0.1"}})).await;
    assert_eq!(w["changes"][0]["key"], "exit.multiple", "{w}");
    assert_eq!(fig(&w, "exits")["original"], "0");
    assert_eq!(fig(&w, "pool")["original"], stats["pool"], "the original side is what happened");
    assert!(fig(&w, "exits")["alternative"].as_str().unwrap().parse::<u64>().unwrap() > 0, "{w}");
    assert_ne!(fig(&w, "pool")["alternative"], stats["pool"]);
    assert_eq!(w["members_total"], 3);
    let alice = w["members"].as_array().unwrap().iter().find(|m| m["member"] == "alice").unwrap();
    assert_eq!(alice["exits_original"], 0);
    assert!(alice["exits_alternative"].as_u64().unwrap() > 0);
    assert_ne!(alice["difference"], "0.00");
    assert_ne!(alice["total_original"], alice["total_alternative"]);

    // Read-only: the live economy is untouched.
    assert_eq!(app.state_text().await, state_before);
    assert_eq!(app.admin_get("/v1/proof").await["journal_length"], length);
    // Bad rules change nothing and say which key.
    let e = app.post("/v1/admin/sim/whatif", Some(&app.admin), &json!({"exit": {"multiple": "x"}})).await.err(422, "invalid_rules");
    assert_eq!(e["problems"][0]["path"], "exit.multiple");
    app.shutdown().await;
}
