//! `export-journal`, `replay`, `verify` and `project` on a real store.

use std::path::Path;
use std::process::{Command, Output};

use zengzhi_core::command::parse_line;
use zengzhi_journal::writer::{Writer, WriterConfig};

fn zengzhi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zengzhi")).args(args).output().expect("the binary runs")
}

/// Fills a fresh SQLite store with a conformance history through the writer; returns the
/// live state JSON (without results).
fn fill(dir: &Path, rules: Option<zengzhi_core::Rules>) -> Vec<u8> {
    let input = zengzhi_testkit::conformance::read("mixed-02.jsonl");
    let backend = zengzhi_journal::open(dir, None).unwrap();
    let writer =
        Writer::start(backend, WriterConfig { snapshot_every: 100, initial_rules: rules, ..WriterConfig::default() }).unwrap();
    let handle = writer.handle();
    let commands: Vec<_> = zengzhi_core::replay::lines(&input)
        .filter_map(|l| parse_line(l).ok())
        .map(|p| (p.command.to_json(None), p.at.map(|a| a.into_owned())))
        .collect();
    let mut accepted = 0;
    for chunk in commands.chunks(37) {
        let owned: Vec<_> = chunk
            .iter()
            .map(|(line, at)| {
                let parsed = parse_line(line.as_bytes()).unwrap();
                (into_static(parsed.command), at.clone())
            })
            .collect();
        accepted += handle.submit_many(owned).unwrap().iter().filter(|o| o.seq.is_some()).count();
    }
    assert!(accepted > 100, "the history was mostly accepted");
    let state = handle
        .query(move |e| {
            let mut out = Vec::new();
            zengzhi_core::state::write_state(e, None, &mut out).unwrap();
            out
        })
        .unwrap();
    drop(handle);
    writer.shutdown().unwrap();
    state
}

fn into_static(c: zengzhi_core::Command<'_>) -> zengzhi_core::Command<'static> {
    // Round-trip through the canonical line with a leaked buffer: fine in a test.
    let line: &'static str = Box::leak(c.to_json(None).into_boxed_str());
    parse_line(line.as_bytes()).unwrap().command
}

#[test]
fn export_then_replay_reproduces_the_live_state() {
    let dir = std::env::temp_dir().join(format!("zengzhi-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rules = zengzhi_core::Rules::from_toml("[sell]\nretention = \"0.05\"\n[referral]\ndirect = \"0.05\"").unwrap();
    let live = fill(&dir, Some(rules));
    let d = dir.to_str().unwrap();
    let exported = dir.join("commands.jsonl");
    let o = zengzhi(&["export-journal", "--data-dir", d, "--out", exported.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(text.lines().next().unwrap().starts_with(r#"{"op":"update_rules""#), "the program's rules come first");
    assert!(text.lines().all(|l| l.contains(r#""at":""#)), "every exported line has its time");
    let state = dir.join("state.json");
    let o = zengzhi(&["replay", "--input", exported.to_str().unwrap(), "--out", state.to_str().unwrap()]);
    assert!(o.status.success());
    let replayed = String::from_utf8(std::fs::read(&state).unwrap()).unwrap();
    // Every exported line is accepted again, and the state before `results` is the live one.
    assert!(!replayed.contains("\"ok\": false"), "an exported command was rejected on replay");
    let (before_results, _) = replayed.split_once(",\n  \"results\"").expect("results present");
    let live = String::from_utf8(live).unwrap();
    assert!(format!("{before_results}\n}}\n") == live, "the replayed state differs from the live state");

    // verify: a good store passes.
    let o = zengzhi(&["verify", "--data-dir", d, "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"].as_u64().unwrap() as usize, text.lines().count());
    assert!(v["snapshots_checked"].as_u64().unwrap() > 0);

    // project: the query tables fill up to the head.
    let o = zengzhi(&["project", "--data-dir", d]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("watermark {}", text.lines().count())));

    // A changed byte in the middle of the journal: verify fails and says where.
    let conn = rusqlite_connection(&dir);
    let middle = text.lines().count() / 2;
    conn.execute_batch(&format!("UPDATE journal SET command = replace(command, '\"op\"', '\"op\" ') WHERE seq = {middle}")).unwrap();
    drop(conn);
    let o = zengzhi(&["verify", "--data-dir", d]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("entry {middle}")), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn rusqlite_connection(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("zengzhi.db")).unwrap()
}

#[test]
fn commands_on_a_missing_store_say_so() {
    let o = zengzhi(&["verify", "--data-dir", "/nonexistent/zengzhi"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no store"));
}
