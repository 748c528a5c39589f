//! The `zengzhi` binary end to end: exit statuses, files written, messages.

use std::path::Path;
use std::process::{Command, Output};
use zengzhi_testkit::conformance::dir as conformance;
use zengzhi_testkit::scratch_dir as temp_dir;

fn zengzhi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zengzhi")).args(args).output().expect("the binary runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn replay_writes_the_expected_bytes() {
    let dir = temp_dir("replay");
    let case = conformance();
    let out = dir.join("state.json");
    let o = zengzhi(&[
        "replay",
        "--rules",
        s(&case.join("exit-multiple-2x.rules.toml")),
        "--input",
        s(&case.join("exit-multiple-2x.jsonl")),
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(case.join("exit-multiple-2x.expected.json")).unwrap());
    // --check passes on a valid history and gives the same bytes.
    let checked = dir.join("checked.json");
    let o = zengzhi(&["replay", "--check", "--input", s(&case.join("seed-first-exit.jsonl")), "--out", s(&checked)]);
    assert!(o.status.success());
    assert_eq!(std::fs::read(&checked).unwrap(), std::fs::read(case.join("seed-first-exit.expected.json")).unwrap());
}

#[test]
fn invalid_rules_exit_2_and_write_nothing() {
    let dir = temp_dir("badrules");
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, "[exit]\nmultiple = \"101\"\n[nope]\nx = \"1\"\n").unwrap();
    let input = dir.join("in.jsonl");
    std::fs::write(&input, "{\"op\":\"release_locked\"}\n").unwrap();
    let out = dir.join("state.json");
    let o = zengzhi(&["replay", "--rules", s(&rules), "--input", s(&input), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("exit.multiple") && err.contains("nope"), "{err}");
    assert!(!out.exists());
    // A rules file that cannot be read: also 2, no output.
    let o = zengzhi(&["replay", "--rules", s(&dir.join("missing.toml")), "--input", s(&input), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn replay_never_panics_on_garbage() {
    let dir = temp_dir("garbage");
    let input = dir.join("in.jsonl");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    bytes.extend_from_slice(b"\n{\"op\":\"inject\",\"amount\":\"1\"}\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n");
    bytes.extend(std::iter::repeat(b'[').take(1_000_000));
    std::fs::write(&input, &bytes).unwrap();
    let out = dir.join("state.json");
    let o = zengzhi(&["replay", "--input", s(&input), "--out", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let lines = bytes.split(|&b| b == b'\n').count();
    assert!(text.contains(&format!("\"line\": {lines},")), "one result per line");
    assert!(text.contains("\"injected\": \"1.00\""));
}

#[test]
fn check_rules_reports_errors_and_warnings() {
    let dir = temp_dir("check");
    let ok = dir.join("ok.toml");
    std::fs::write(&ok, "[exit]\nmultiple = \"2\"\n").unwrap();
    let o = zengzhi(&["check-rules", s(&ok)]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("警告 warning") && text.contains("illegal-fundraising"), "{text}");

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[agents]\ndistrict = \"0.5\"\n").unwrap();
    let o = zengzhi(&["check-rules", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("district ≤ city ≤ province"));

    let o = zengzhi(&["check-rules", "--json", s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"][0]["path"], "agents");
    let o = zengzhi(&["check-rules", "--json", s(&ok)]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["warnings"][0]["path"], "exit.multiple");
}

#[test]
fn seed_prints_the_table_to_the_first_exit() {
    let o = zengzhi(&["seed"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    // SPEC §9: the first three prices, and the forced sale paying 960.
    for price in ["1.42857142", "1.68067226", "1.86741363"] {
        assert!(text.contains(price), "{price} missing");
    }
    assert!(text.contains("960.00"), "{text}");
}

#[test]
fn bench_engine_json_has_the_figures() {
    let o =
        zengzhi(&["bench", "engine", "--members", "2000", "--stores", "50", "--orders", "20000", "--check", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["orders_per_s", "orders", "exits", "members", "bytes_per_member"] {
        assert!(report.get(key).is_some(), "{key} missing in {report}");
    }
    assert_eq!(report["orders"], 20_000);
    assert_eq!(report["members"], 2_000);
    assert_eq!(report["invariants_checked"], true);
}

/// `zengzhi users …` with the password on standard input.
fn users(args: &[&str], data: &Path, stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_zengzhi"))
        .arg("users")
        .args(args)
        .args(["--data-dir", s(data)])
        .env_remove("ZENGZHI_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stored_user(data: &Path, name: &str) -> Option<zengzhi_server::store::User> {
    let mut store = zengzhi_server::store::open(data, None, "zengzhi").expect("the store opens");
    store.user_get(name).expect("a read")
}

#[test]
fn users_add_list_disable_and_passwd_with_the_password_on_stdin() {
    let data = temp_dir("users").join("data");
    let o = users(&["add", "lina", "--role", "finance", "--password-stdin"], &data, Some("first password\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = users(&["add", "wang", "--role", "operator", "--password-stdin"], &data, Some("second password\r\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The hash verifies the line read (without its line ending), and nothing printed shows it.
    let lina = stored_user(&data, "lina").expect("lina stored");
    assert!(lina.password_hash.starts_with("$argon2id$"));
    assert!(zengzhi_server::accounts::verify_password("first password", &lina.password_hash));
    let wang = stored_user(&data, "wang").unwrap();
    assert!(zengzhi_server::accounts::verify_password("second password", &wang.password_hash));

    let list = users(&["list"], &data, None);
    assert!(list.status.success());
    let text = String::from_utf8(list.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').take(3).collect()).collect();
    assert_eq!(rows, [["lina", "finance", "active"], ["wang", "operator", "active"]]);
    assert!(!text.contains("argon2") && !text.contains("password"), "{text}");

    // Refused: a taken name, a bad role, a short password, a password on the command line,
    // no --password-stdin; none of them changes the users.
    let refused: [(&[&str], Option<&str>); 5] = [
        (&["add", "lina", "--role", "auditor", "--password-stdin"], Some("another password\n")),
        (&["add", "zhao", "--role", "root", "--password-stdin"], Some("another password\n")),
        (&["add", "zhao", "--role", "auditor", "--password-stdin"], Some("short\n")),
        (&["add", "zhao", "--role", "auditor", "--password", "on the command line"], None),
        (&["add", "zhao", "--role", "auditor"], None),
    ];
    for (args, stdin) in refused {
        let o = users(args, &data, stdin);
        assert!(!o.status.success(), "{args:?} is refused");
        assert!(!String::from_utf8_lossy(&o.stderr).contains("another password"), "no password in messages");
    }
    assert!(stored_user(&data, "zhao").is_none());
    assert_eq!(stored_user(&data, "lina").unwrap().role, "finance");

    // A new password; then disabling.
    let o = users(&["passwd", "lina", "--password-stdin"], &data, Some("changed password\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lina = stored_user(&data, "lina").unwrap();
    assert!(zengzhi_server::accounts::verify_password("changed password", &lina.password_hash));
    assert!(!zengzhi_server::accounts::verify_password("first password", &lina.password_hash));
    assert!(!users(&["passwd", "ghost", "--password-stdin"], &data, Some("changed password\n")).status.success());
    let o = users(&["disable", "wang"], &data, None);
    assert!(o.status.success());
    assert!(stored_user(&data, "wang").unwrap().disabled);
    assert!(!users(&["disable", "ghost"], &data, None).status.success());
    let text = String::from_utf8(users(&["list"], &data, None).stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("wang\toperator\tdisabled\t")), "{text}");

    // Each change is in the operation log, as the command line's.
    let mut store = zengzhi_server::store::open(&data, None, "zengzhi").unwrap();
    let log = store.audit_entries(&zengzhi_server::store::AuditFilter { limit: 100, ..Default::default() }).unwrap();
    let actions: Vec<(&str, &str, Option<&str>)> =
        log.iter().map(|e| (e.who.as_str(), e.action.as_str(), e.target.as_deref())).collect();
    assert_eq!(
        actions,
        [
            ("cli", "users_create", Some("user:lina")),
            ("cli", "users_create", Some("user:wang")),
            ("cli", "users_passwd", Some("user:lina")),
            ("cli", "users_disable", Some("user:wang")),
        ]
    );
}
