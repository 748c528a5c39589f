//! Crash safety: a loader process submits commands through the writer and prints every
//! acknowledgement; it is killed with SIGKILL at random moments, many rounds, on both backends.
//! After each kill the store must hold every acknowledged command exactly as acknowledged, the
//! chain must verify, and the recovered state must equal a fresh replay of the journal (so
//! nothing unacknowledged is half-applied).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use zengzhi_core::workload::SplitMix64;
use zengzhi_core::{Engine, Rules};
use zengzhi_journal::backend::Backend;
use zengzhi_journal::recovery::{export, recover, state_digest};

/// One loader run killed after `ms` milliseconds; returns the acknowledged `(seq, line)`s.
fn run_and_kill(store_args: &[String], run: u64, ms: u64) -> Vec<(u64, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zengzhi"))
        .arg("crash-load")
        .args(store_args)
        .args(["--run", &run.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the loader starts");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let rest = line.strip_prefix("ack ").expect("ack lines only");
            let (seq, command) = rest.split_once(' ').unwrap();
            acks.push((seq.parse().unwrap(), command.to_string()));
        }
        acks
    });
    std::thread::sleep(Duration::from_millis(ms));
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success(), "the loader was killed, it cannot have finished");
    reader.join().unwrap()
}

fn check_store(backend: &mut dyn Backend, acked: &BTreeMap<u64, String>) -> usize {
    // A server may still finish the dead client's last COMMIT (committed, never acknowledged:
    // allowed). Wait until the journal stops growing before comparing.
    let mut head = backend.head().unwrap();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = backend.head().unwrap();
        if now == head {
            break;
        }
        head = now;
    }
    let mut text = Vec::new();
    let n = export(backend, &mut text).expect("export");
    let journal: Vec<&str> = std::str::from_utf8(&text).unwrap().lines().collect();
    assert_eq!(journal.len() as u64, n);
    for (seq, line) in acked {
        let stored = journal.get(*seq as usize - 1).unwrap_or_else(|| panic!("acknowledged entry {seq} is missing"));
        assert_eq!(stored, line, "entry {seq} differs from what was acknowledged");
    }
    let recovered = recover(backend).expect("the chain verifies and every entry applies");
    assert_eq!(recovered.head.0, n);
    let fresh = zengzhi_core::replay::replay(Engine::new(Rules::default()), &text, false, |_| {}).unwrap();
    assert!(fresh.results.iter().all(|r| r.is_ok()), "every journaled command is accepted on replay");
    assert_eq!(state_digest(&recovered.engine), state_digest(&fresh.engine), "recovered state = fresh replay");
    journal.len()
}

fn crash_rounds(store_args: Vec<String>, open: impl Fn() -> Box<dyn Backend>, rounds: u64, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    let mut acked = BTreeMap::new();
    let mut total_acks = 0;
    for run in 1..=rounds {
        let ms = 150 + rng.below(500);
        let acks = run_and_kill(&store_args, run, ms);
        total_acks += acks.len();
        for (seq, line) in acks {
            assert!(acked.insert(seq, line).is_none(), "entry {seq} acknowledged twice");
        }
        let entries = check_store(open().as_mut(), &acked);
        eprintln!("round {run}: killed after {ms} ms, {entries} entries stored, {total_acks} acknowledged so far");
    }
    assert!(total_acks > 100, "the loader made progress between kills ({total_acks} acks)");
}

#[test]
fn sigkill_sqlite() {
    let dir = std::env::temp_dir().join(format!("zengzhi-crash-sqlite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args = vec!["--data-dir".to_string(), dir.to_str().unwrap().to_string()];
    let d = dir.clone();
    crash_rounds(args, move || zengzhi_journal::open(&d, None).unwrap(), 12, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigkill_postgres() {
    // A real server: the configured or local one, else a throwaway cluster (never skipped).
    let url = zengzhi_testkit::pg::url().to_string();
    let schema = format!("crash_{}", std::process::id());
    if let Err(e) = zengzhi_journal::postgres::Postgres::connect_schema(&url, &schema) {
        panic!("PostgreSQL is needed for this test and is not reachable at {url}: {e}");
    }
    let args = vec!["--database-url".to_string(), url.clone(), "--pg-schema".to_string(), schema.clone()];
    let (u, s) = (url.clone(), schema.clone());
    crash_rounds(args, move || Box::new(zengzhi_journal::postgres::Postgres::connect_schema(&u, &s).unwrap()), 10, 2);
    let _ = zengzhi_journal::postgres::Postgres::drop_schema(&url, &schema);
}
