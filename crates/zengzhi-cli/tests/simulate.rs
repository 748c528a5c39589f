//! `zengzhi simulate`, `whatif` and `report` end to end: files, bytes, messages, exit statuses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use zengzhi_testkit::conformance::dir as conformance;
use zengzhi_testkit::scratch_dir as temp_dir;

fn zengzhi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zengzhi")).args(args).output().expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SCENARIO: &str = r#"
name = "测试 test"
horizon_days = 60
[arrivals]
model = "exponential"
initial_members = 20
rate = 10.0
growth = 0.03
[buying]
orders_per_day = 0.02
[selling]
hold_to_cap = 0.8
take_profit = 0.1
pessimist = 0.1
[[injections]]
day = 30
amount = "50000"
"#;

#[test]
fn the_seed_preset_prints_the_seed_table_to_the_first_exit() {
    let o = zengzhi(&["simulate", "--preset", "seed"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 5 && w[0].parse::<u64>().is_ok())
        .collect();
    // SPEC §9's table, order by order.
    assert_eq!(rows[0], ["1", "112.00000000", "160.00", "112.00000000", "1.42857142"]);
    assert_eq!(rows[1], ["2", "78.40000000", "320.00", "190.40000000", "1.68067226"]);
    assert_eq!(rows[2], ["3", "66.64000000", "480.00", "257.04000000", "1.86741363"]);
    // The state after three orders is the conformance case's.
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(conformance().join("seed-three-orders.expected.json")).unwrap())
            .unwrap();
    assert_eq!(rows[2][2], case["pool"].as_str().unwrap());
    assert_eq!(rows[2][3], case["supply"].as_str().unwrap());
    assert_eq!(rows[2][4], case["price"].as_str().unwrap());
    // Every order is printed, numbered 1, 2, 3, … up to the exit.
    assert!(rows.iter().enumerate().all(|(i, r)| r[0] == (i + 1).to_string()));
    let exit_line = out.lines().find(|l| l.starts_with("After order")).expect("the exit is reported");
    assert!(exit_line.contains(&format!("After order {}, u1", rows.len())), "{exit_line}");
    // Paid as in seed-first-exit: 1200 gross, 960 paid, 240 kept.
    assert!(
        exit_line.contains("1200.00") && exit_line.contains("960.00") && exit_line.contains("240.00"),
        "{exit_line}"
    );
}

#[test]
fn simulate_writes_the_outputs_and_the_report() {
    let dir = temp_dir("outputs");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = dir.join("out");
    let o = zengzhi(&["simulate", s(&scenario), "--out", s(&out), "--runs", "3", "--seed", "5"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("模拟完成 / simulation finished"));
    // Every file the command lists exists and is not empty.
    let listed: Vec<PathBuf> = text(&o.stdout).lines().map(PathBuf::from).collect();
    for name in ["summary.json", "timeseries.csv", "report-data.json"] {
        assert!(listed.contains(&out.join(name)), "{name} not listed");
    }
    for path in &listed {
        assert!(std::fs::metadata(path).unwrap().len() > 0, "{} is empty", path.display());
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["runs"], 3);
    assert_eq!(summary["seed"], 5);
    assert!(summary["honest"]["net_rebate_bound"].as_f64().unwrap() > 0.0);
    assert!(!summary["honest"]["statements"].as_array().unwrap().is_empty());
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert_eq!(csv.lines().count(), 61, "a header and one row per day");
    assert!(csv.starts_with("day,orders,gmv,pool,supply,price,exits,payouts,holding,waiting,exited"));

    // Byte-identical a second time.
    let again = dir.join("again");
    let o = zengzhi(&["simulate", s(&scenario), "--out", s(&again), "--runs", "3", "--seed", "5"]);
    assert!(o.status.success());
    for name in ["summary.json", "timeseries.csv", "report-data.json"] {
        assert!(std::fs::read(out.join(name)).unwrap() == std::fs::read(again.join(name)).unwrap(), "{name} differs");
    }

    // `zengzhi report DIR` draws the report again from report-data.json: every file the
    // renderer wrote comes back.
    let drawn: Vec<&PathBuf> =
        listed.iter().filter(|p| !p.ends_with("summary.json") && !p.ends_with("timeseries.csv")).collect();
    for path in &drawn {
        if !path.ends_with("report-data.json") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let o = zengzhi(&["report", s(&out)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for path in &drawn {
        assert!(std::fs::metadata(path).is_ok_and(|m| m.len() > 0), "{} was not drawn again", path.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_invalid_scenario_is_refused_with_the_key_named() {
    let dir = temp_dir("invalid");
    let scenario = dir.join("bad.toml");
    std::fs::write(&scenario, "horizon_days = 30\n[arrivals]\nrates = 3.0\n").unwrap();
    let o = zengzhi(&["simulate", s(&scenario), "--out", s(&dir.join("out"))]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("rates") && err.contains("invalid scenario"), "{err}");
    assert!(!dir.join("out").exists(), "nothing written");
    let o = zengzhi(&["simulate", "--preset", "nonsense", "--out", s(&dir.join("out"))]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("steady"), "the presets are listed");
    let o = zengzhi(&["simulate", "--preset", "steady"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("--out"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn whatif_compares_a_journal_under_other_rules() {
    let dir = temp_dir("whatif");
    let rules = dir.join("alt.toml");
    std::fs::write(&rules, "[exit]\nmultiple = \"2\"\n").unwrap();
    let journal = conformance().join("seed-first-exit.jsonl");
    let out = dir.join("out");
    let o = zengzhi(&["whatif", "--journal", s(&journal), "--rules", s(&rules), "--out", s(&out)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    let exits = stdout.lines().find(|l| l.starts_with("出局 exits")).expect("an exits row");
    assert_eq!(exits.split_whitespace().skip(2).collect::<Vec<_>>(), ["1", "0", "-1"], "{exits}");
    let csv = std::fs::read_to_string(out.join("whatif-members.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("whatif.json")).unwrap()).unwrap();
    assert_eq!(json["sides"][0]["exits"], 1);
    assert_eq!(json["sides"][1]["exits"], 0);
    let o = zengzhi(&["whatif", "--rules", s(&rules)]);
    assert!(!o.status.success(), "a history is required");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn whatif_reads_the_history_of_a_data_dir() {
    use zengzhi_journal::writer::{Writer, WriterConfig};
    let dir = temp_dir("whatif-store");
    let store = dir.join("data");
    let input = std::fs::read(conformance().join("seed-first-exit.jsonl")).unwrap();
    let backend = zengzhi_journal::open(&store, None).unwrap();
    let writer = Writer::start(backend, WriterConfig::default()).unwrap();
    let handle = writer.handle();
    let commands: Vec<_> = zengzhi_core::replay::lines(&input)
        .map(|l| {
            let line: &'static [u8] = Box::leak(l.to_vec().into_boxed_slice());
            (zengzhi_core::parse_line(line).unwrap().command, None)
        })
        .collect();
    let outcomes = handle.submit_many(commands).unwrap();
    assert!(outcomes.iter().all(|o| o.seq.is_some()));
    drop(handle);
    writer.shutdown().unwrap();

    let rules = dir.join("alt.toml");
    std::fs::write(&rules, "[exit]\nmultiple = \"2\"\n").unwrap();
    let o = zengzhi(&["whatif", "--data-dir", s(&store), "--rules", s(&rules)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("6 行命令 / lines"), "{stdout}");
    let exits = stdout.lines().find(|l| l.starts_with("出局 exits")).expect("an exits row");
    assert_eq!(exits.split_whitespace().skip(2).collect::<Vec<_>>(), ["1", "0", "-1"], "{exits}");
    let o = zengzhi(&["whatif", "--data-dir", s(&dir.join("missing")), "--rules", s(&rules)]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("zengzhi.db"));
    std::fs::remove_dir_all(&dir).unwrap();
}
