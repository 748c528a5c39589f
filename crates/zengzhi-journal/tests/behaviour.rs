//! Behaviour of the journal crate, each test run against SQLite and PostgreSQL alike
//! (`sqlite::NAME` and `postgres::NAME`): the writer's answers and group commit, durability
//! across restarts, export + replay, initial rules, snapshots (used, and skipped when damaged),
//! corruption found at the right entry, verify, the projector's tables and the reads behind
//! the history endpoints, the service tables, back-pressure, writer statistics, and a storage
//! failure in the middle of a batch.
//!
//! Tests named `regression_*` expose defects found while writing this suite; they fail until the
//! defect is fixed (each says what it expects and why). `cargo test -- --skip regression_` runs the
//! rest.

#[macro_use]
mod common;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering::Relaxed;

use common::{at_plus, cmd, digest, export_and_replay, script, state_json, text_literal, Kind, Script, Store};
use zengzhi_core::command::{valid_at, Command};
use zengzhi_core::engine::{Reason, RewardKind};
use zengzhi_core::num::{Fen, Ppm, Units};
use zengzhi_core::{Engine, Rejection, Rules};
use zengzhi_journal::projector::Projector;
use zengzhi_journal::recovery::{recover, verify, Recovered};
use zengzhi_journal::writer::{Outcome, Writer, WriterConfig};
use zengzhi_journal::{chain_hash, sha256, Backend, Entry, Error, Hash, GENESIS};

both_backends!(
    writer_round_trip,
    initial_rules_are_journaled_first,
    recovery_starts_from_newest_snapshot,
    damaged_snapshots_are_skipped,
    corrupt_flipped_command_byte,
    corrupt_removed_entry,
    corrupt_changed_hash,
    corrupt_truncated_tail_behind_snapshot,
    corrupt_truncated_tail_behind_watermark,
    corrupt_entry_covered_by_snapshot_found_by_verify,
    projector_tables_match_the_engine,
    projector_buckets_every_valid_at_form,
    projector_from_a_snapshot_writes_the_same_tables,
    state_before_a_cutoff_starts_from_a_snapshot_and_equals_a_replay,
    bulk_load_writes_the_same_tables_and_builds_the_indexes,
    history_reads_match_the_tables,
    legacy_reward_rows_are_rebuilt_by_kind,
    newer_schema_version_is_refused,
    concurrent_submitters_get_gapless_seqs,
    back_pressure_says_busy_and_loses_nothing,
    failed_append_is_not_acknowledged,
    regression_writer_journals_an_invalid_at,
    regression_writer_journals_commands_that_do_not_read_back,
    regression_verify_passes_a_lost_tail_behind_the_watermark,
    regression_verify_passes_a_lost_tail_behind_a_snapshot,
    regression_snapshot_of_empty_journal_is_reported_bad,
    regression_projector_panics_on_an_at_near_year_9999,
    regression_concurrent_first_opens_fail,
    regression_member_history_pages_lose_rows_of_one_entry,
);

// ---- helpers --------------------------------------------------------------------------------

/// What a writer run left: every outcome, and the live state before shutdown.
struct Run {
    outcomes: Vec<Outcome>,
    live_digest: Hash,
    live_json: String,
    head: u64,
}

fn start(store: &Store, config: WriterConfig) -> Writer {
    Writer::start(store.open(), config).unwrap_or_else(|e| panic!("the writer does not start: {e}"))
}

/// Submits the commands in requests of the sizes in `sizes` (cycled; 1 = `submit`), then
/// queries the live state and shuts the writer down.
fn run_commands(writer: Writer, commands: &[(Command<'static>, Option<String>)], sizes: &[usize]) -> Run {
    let h = writer.handle();
    let mut outcomes = Vec::with_capacity(commands.len());
    let (mut i, mut k) = (0, 0);
    while i < commands.len() {
        let n = sizes[k % sizes.len()].min(commands.len() - i);
        k += 1;
        if n == 1 {
            let (c, at) = commands[i].clone();
            outcomes.push(h.submit(c, at).expect("submit"));
        } else {
            let got = h.submit_many(commands[i..i + n].to_vec()).expect("submit_many");
            assert_eq!(got.len(), n, "one outcome per command");
            outcomes.extend(got);
        }
        i += n;
    }
    let live_digest = h.query(digest).expect("query");
    let live_json = h.query(state_json).expect("query");
    drop(h);
    writer.shutdown().expect("clean shutdown");
    let head = outcomes.iter().filter_map(|o| o.seq).max().unwrap_or(0);
    Run { outcomes, live_digest, live_json, head }
}

/// Checks the outcomes against the script's reference answers and the numbering: accepted
/// commands get `first_seq`, `first_seq + 1`, … in order, rejected ones no seq and no time.
fn check_outcomes(s: &Script, outcomes: &[Outcome], first_seq: u64) {
    assert_eq!(outcomes.len(), s.commands.len());
    let mut next = first_seq;
    for (i, ((o, expected), (c, at))) in outcomes.iter().zip(&s.expected).zip(&s.commands).enumerate() {
        assert_eq!(
            &o.result,
            expected,
            "command {i} ({}) answered differently than the reference engine",
            c.to_json(None)
        );
        if o.result.is_ok() {
            assert_eq!(o.seq, Some(next), "command {i}: accepted commands are numbered without gaps");
            next += 1;
            let got_at = o.at.as_deref().expect("an accepted command has its time");
            match at {
                Some(given) => assert_eq!(got_at, given, "command {i}: the caller's time is kept"),
                None => assert!(valid_at(got_at), "command {i}: the writer's time {got_at:?} is not RFC 3339"),
            }
        } else {
            assert_eq!(
                (o.seq, o.at.as_deref()),
                (None, None),
                "command {i}: a rejected command has no place in the journal"
            );
        }
    }
    for &(i, code) in &s.must_reject {
        assert_eq!(
            outcomes[i].result,
            Err(code),
            "command {i} ({}) must be rejected with {code}",
            s.commands[i].0.to_json(None)
        );
    }
}

/// Every entry from the start.
fn read_all(backend: &mut dyn Backend) -> Vec<Entry> {
    backend.read(1, usize::MAX >> 1).expect("read")
}

/// Checks that each accepted command is stored at its seq, as its canonical line with its time,
/// and that the chain links up from the genesis hash.
fn check_journal(backend: &mut dyn Backend, commands: &[(Command<'static>, Option<String>)], outcomes: &[Outcome]) {
    let entries = read_all(backend);
    let mut prev = GENESIS;
    for (n, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, n as u64 + 1, "entries are numbered 1, 2, 3, …");
        assert_eq!(e.hash, chain_hash(&prev, e.seq, e.command.as_bytes()), "entry {}: chain hash", e.seq);
        prev = e.hash;
    }
    assert_eq!(backend.head().expect("head"), entries.last().map(|e| (e.seq, e.hash)));
    for ((c, _), o) in commands.iter().zip(outcomes) {
        if let (Some(seq), Some(at)) = (o.seq, o.at.as_deref()) {
            let e = &entries[seq as usize - 1];
            assert_eq!(e.command, c.to_json(Some(at)), "entry {seq} is the command as accepted");
            assert_eq!(e.at, at, "entry {seq}: its time column");
        }
    }
}

/// An error with its sources (PostgreSQL's own message is in the source).
fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn recovered(store: &Store) -> Recovered {
    recover(store.open().as_mut()).unwrap_or_else(|e| panic!("recovery fails: {e}"))
}

/// Recovery and the writer's start both refuse the store, naming entry `seq`.
fn expect_recover_corrupt(store: &Store, seq: u64) {
    match recover(store.open().as_mut()) {
        Err(Error::Corrupt { seq: s, what }) => assert_eq!(s, seq, "recover names the wrong entry: {what}"),
        Err(e) => panic!("recover: expected Corrupt at entry {seq}, got {e}"),
        Ok(r) => panic!("recover accepted a damaged journal (head {}, from snapshot {:?})", r.head.0, r.snapshot),
    }
    match Writer::start(store.open(), WriterConfig::default()) {
        Err(Error::Corrupt { seq: s, what }) => assert_eq!(s, seq, "Writer::start names the wrong entry: {what}"),
        Err(e) => panic!("Writer::start: expected Corrupt at entry {seq}, got {e}"),
        Ok(w) => {
            let _ = w.shutdown();
            panic!("the writer started on a damaged journal");
        }
    }
}

/// `verify` refuses the store, naming entry `seq`.
fn expect_verify_corrupt(store: &Store, seq: u64) {
    match verify(store.open().as_mut(), 10, |_| {}) {
        Err(Error::Corrupt { seq: s, what }) => assert_eq!(s, seq, "verify names the wrong entry: {what}"),
        Err(e) => panic!("verify: expected Corrupt at entry {seq}, got {e}"),
        Ok(v) => panic!("verify passed a damaged journal: {} entries, bad snapshots {:?}", v.entries, v.snapshots_bad),
    }
}

/// A journal of a few hundred entries, without snapshots unless `snapshot_every` > 0.
fn filled(store: &Store, snapshot_every: u64, seed: u64) -> (Script, Run) {
    let s = script(Engine::new(Rules::default()), "", 30, 200, seed, 0);
    let writer = start(store, WriterConfig { snapshot_every, ..WriterConfig::default() });
    let run = run_commands(writer, &s.commands, &[10]);
    assert!(run.head > 100, "the script should accept most commands (head {})", run.head);
    (s, run)
}

fn entry(store: &Store, seq: u64) -> Entry {
    let mut b = store.open();
    b.read(seq, 1).expect("read").into_iter().next().filter(|e| e.seq == seq).unwrap_or_else(|| panic!("entry {seq}"))
}

/// The command of entry `seq` with its middle character changed (still ASCII).
fn flip_middle_byte(store: &Store, seq: u64) {
    let e = entry(store, seq);
    let mut bytes = e.command.into_bytes();
    let k = bytes.len() / 2;
    bytes[k] = if bytes[k] == b'7' { b'8' } else { b'7' };
    let changed = String::from_utf8(bytes).expect("ASCII");
    store.exec(&format!("UPDATE journal SET command = {} WHERE seq = {seq}", text_literal(&changed)));
}

/// Projects the whole journal.
fn project_all(store: &Store) -> u64 {
    let mut b = store.open();
    let mut p = Projector::start(b.as_mut()).expect("projector start");
    p.catch_up(b.as_mut(), 1000).expect("catch up");
    p.watermark()
}

fn sqlite_or_pg<'a>(store: &Store, sqlite: &'a str, postgres: &'a str) -> &'a str {
    match store.kind() {
        Kind::Sqlite => sqlite,
        Kind::Postgres => postgres,
    }
}

// ---- the writer -----------------------------------------------------------------------------

/// A realistic mix through the writer: the answers are the engine's, accepted commands are
/// numbered 1, 2, 3, …, and after a restart recovery and export + replay give the live state.
fn writer_round_trip(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 360, 7, 0);
    let writer = start(store, WriterConfig::default());
    assert_eq!((writer.recovered_head, writer.recovered_from_snapshot, writer.recovered_replayed), (0, None, 0));
    let run = run_commands(writer, &s.commands, &[1, 5, 1, 23, 9, 40, 2]);
    check_outcomes(&s, &run.outcomes, 1);
    assert_eq!(run.head, s.accepted() as u64);
    assert!(s.must_reject.len() >= 20, "the script rejects enough commands ({})", s.must_reject.len());
    let t = s.engine.totals();
    assert!(
        t.orders > 150
            && t.exits > 0
            && t.withdrawn_fen > Fen::ZERO
            && t.redeemed_fen > Fen::ZERO
            && t.subsidies_fen > Fen::ZERO
            && t.cash_spent_fen > Fen::ZERO
            && t.coins_spent_fen > Fen::ZERO
            && t.injected_fen > Fen::ZERO,
        "the script exercises the whole engine: {t:?}"
    );
    assert_eq!(run.live_json, state_json(&s.engine), "the live state is the reference engine's");

    let mut b = store.open();
    check_journal(b.as_mut(), &s.commands, &run.outcomes);
    let r = recover(b.as_mut()).expect("recover");
    assert_eq!(r.head.0, run.head);
    assert_eq!((r.snapshot, r.replayed), (None, run.head));
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(state_json(&r.engine), run.live_json, "recovery gives the live state");
    assert_eq!(digest(&r.engine), run.live_digest);

    let (text, replayed) = export_and_replay(b.as_mut());
    assert_eq!(text.lines().count() as u64, run.head);
    assert_eq!(digest(&replayed), run.live_digest, "export + replay gives the live state");
    assert_eq!(state_json(&replayed), run.live_json);

    // A restarted writer continues the numbering from the recovered head.
    let writer = start(store, WriterConfig::default());
    assert_eq!(writer.recovered_head, run.head);
    let h = writer.handle();
    let late = h.submit(cmd(r#"{"op":"register_member","member":"late"}"#), None).expect("submit");
    assert_eq!(late.seq, Some(run.head + 1));
    let again = h.submit(cmd(r#"{"op":"register_member","member":"late"}"#), None).expect("submit");
    assert_eq!((again.result, again.seq), (Err(Rejection::DuplicateId), None));
    drop(h);
    writer.shutdown().expect("shutdown");
    assert_eq!(store.open().head().expect("head").map(|h| h.0), Some(run.head + 1));
}

/// Non-default initial rules are journaled as entry 1 (an update_rules), so replaying the
/// export with default rules gives the same state; they are ignored for an existing journal,
/// and default ones journal nothing.
fn initial_rules_are_journaled_first(store: &Store) {
    let rules = Rules {
        retention_ppm: Ppm::from_ppm(100_000),
        exit_multiple_ppm: Ppm::from_ppm(1_500_000),
        referral_direct_ppm: Ppm::from_ppm(10_000),
        withdraw_fee_ppm: Ppm::from_ppm(5_000),
        ..Rules::default()
    };
    let s = script(Engine::new(rules.clone()), "", 25, 150, 11, 0);
    let writer = start(store, WriterConfig { initial_rules: Some(rules.clone()), ..WriterConfig::default() });
    let run = run_commands(writer, &s.commands, &[16]);
    check_outcomes(&s, &run.outcomes, 2);
    assert_eq!(run.live_json, state_json(&s.engine), "the live engine ran on the initial rules");

    let mut b = store.open();
    let first = entry(store, 1);
    assert!(first.command.starts_with(r#"{"op":"update_rules","rules":{"#), "entry 1 is the rules: {}", first.command);
    let r = recover(b.as_mut()).expect("recover");
    // The script itself changes two rules on top of the initial ones.
    let final_rules = s.engine.rules().clone();
    assert_eq!(
        final_rules,
        Rules { dividend_share_of_platform_ppm: Ppm::from_ppm(100_000), exit_multiple_ppm: Ppm::from_ppm(300_000), ..rules.clone() }
    );
    assert_eq!(r.engine.rules(), &final_rules);
    assert_eq!(digest(&r.engine), run.live_digest);
    let (_, replayed) = export_and_replay(b.as_mut());
    assert_eq!(replayed.rules(), &final_rules, "the export carries the rules");
    assert_eq!(digest(&replayed), run.live_digest);

    // An existing journal keeps its rules.
    let other = Rules { retention_ppm: Ppm::from_ppm(300_000), ..Rules::default() };
    let writer = start(store, WriterConfig { initial_rules: Some(other), ..WriterConfig::default() });
    let kept = writer.handle().query(|e| e.rules().clone()).expect("query");
    writer.shutdown().expect("shutdown");
    assert_eq!(kept, final_rules);
    assert_eq!(store.open().head().expect("head").map(|h| h.0), Some(run.head));

    // Default initial rules journal nothing.
    let plain = store.fresh("initial_rules_default");
    let writer = start(&plain, WriterConfig { initial_rules: Some(Rules::default()), ..WriterConfig::default() });
    let o = writer.handle().submit(cmd(r#"{"op":"register_member","member":"u1"}"#), None).expect("submit");
    writer.shutdown().expect("shutdown");
    assert_eq!(o.seq, Some(1));
}

// ---- snapshots ------------------------------------------------------------------------------

/// With frequent snapshots, recovery starts from the newest one and replays only the tail, to
/// the same state as a full replay; verify checks every snapshot against the replayed state.
fn recovery_starts_from_newest_snapshot(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 400, 3, 0);
    let writer = start(store, WriterConfig { snapshot_every: 50, ..WriterConfig::default() });
    let run = run_commands(writer, &s.commands, &[10]);
    let mut b = store.open();
    let metas = b.snapshots().expect("snapshots");
    assert!(
        metas.len() >= 4,
        "snapshots every 50 entries of {}: {:?}",
        run.head,
        metas.iter().map(|m| m.seq).collect::<Vec<_>>()
    );
    assert!(metas.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    assert!(metas[0].seq <= run.head && metas[0].seq + 60 > run.head, "the newest snapshot is recent");
    for m in &metas {
        let rec = b.load_snapshot(m.seq).expect("load").expect("present");
        assert_eq!(rec.meta, *m);
        assert_eq!(sha256(&rec.state), m.sha256);
        assert_eq!(entry(store, m.seq).hash, m.chain, "a snapshot names the chain hash of its entry");
    }

    let r = recover(b.as_mut()).expect("recover");
    assert_eq!(r.snapshot, Some(metas[0].seq));
    assert_eq!(r.replayed, run.head - metas[0].seq);
    assert!(r.replayed < run.head);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert_eq!(r.head.0, run.head);
    assert_eq!(state_json(&r.engine), run.live_json);
    let (_, full) = export_and_replay(b.as_mut());
    assert_eq!(digest(&full), run.live_digest, "a full replay gives the same state");

    let v = verify(b.as_mut(), 25, |_| {}).expect("verify");
    assert_eq!(v.entries, run.head);
    assert_eq!(v.head, r.head.1);
    assert_eq!(v.snapshots_checked, metas.len());
    assert!(v.snapshots_bad.is_empty(), "{:?}", v.snapshots_bad);

    // The writer reports where it started from.
    let writer = start(store, WriterConfig::default());
    assert_eq!((writer.recovered_head, writer.recovered_from_snapshot), (run.head, Some(metas[0].seq)));
    let taken = writer.handle().snapshot().expect("snapshot on demand");
    assert_eq!(taken, run.head);
    writer.shutdown().expect("shutdown");
    assert_eq!(recovered(store).snapshot, Some(run.head));
}

/// Damaged snapshots (bytes, checksum, chain hash, undecodable bytes) are skipped, newest
/// first, and listed; recovery falls back to an older one, then to the start, always to the
/// same state. verify lists the damaged ones.
fn damaged_snapshots_are_skipped(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 400, 4, 0);
    let writer = start(store, WriterConfig { snapshot_every: 50, ..WriterConfig::default() });
    let run = run_commands(writer, &s.commands, &[10]);
    let metas = store.open().snapshots().expect("snapshots");
    assert!(metas.len() >= 5, "{} snapshots", metas.len());
    let seqs: Vec<u64> = metas.iter().map(|m| m.seq).collect();

    let check = |from: Option<u64>, skipped: usize| {
        let r = recovered(store);
        assert_eq!(r.snapshot, from, "skipped: {:?}", r.skipped);
        assert_eq!(r.replayed, run.head - from.unwrap_or(0));
        assert_eq!(r.skipped.len(), skipped, "{:?}", r.skipped);
        for (n, why) in r.skipped.iter().enumerate() {
            assert!(why.contains(&format!("after entry {}", seqs[n])), "skipped newest first: {why}");
        }
        assert_eq!(digest(&r.engine), run.live_digest, "recovered from {from:?}");
        r.skipped
    };

    // 1. One byte of the newest snapshot's state flipped: its SHA-256 no longer matches.
    let state = store.query(&format!("SELECT state FROM snapshots WHERE seq = {}", seqs[0]))[0][0].blob().to_vec();
    let mut damaged = state.clone();
    let k = damaged.len() / 2;
    damaged[k] ^= 0x20;
    store.exec(&format!("UPDATE snapshots SET state = {} WHERE seq = {}", store.blob_literal(&damaged), seqs[0]));
    let skipped = check(Some(seqs[1]), 1);
    assert!(skipped[0].contains("SHA-256"), "{}", skipped[0]);

    // 2. The next one's checksum changed.
    store.exec(&format!("UPDATE snapshots SET sha256 = {} WHERE seq = {}", store.blob_literal(&[0; 32]), seqs[1]));
    check(Some(seqs[2]), 2);

    // 3. The next one's chain hash changed: it no longer belongs to this journal.
    store.exec(&format!("UPDATE snapshots SET chain = {} WHERE seq = {}", store.blob_literal(&[7; 32]), seqs[2]));
    let skipped = check(Some(seqs[3]), 3);
    assert!(skipped[2].contains("chain"), "{}", skipped[2]);

    // 4. The next one replaced by bytes that match their checksum but are no snapshot.
    let junk = b"ZZSNAP01 this is not a state".to_vec();
    store.exec(&format!(
        "UPDATE snapshots SET state = {}, sha256 = {} WHERE seq = {}",
        store.blob_literal(&junk),
        store.blob_literal(&sha256(&junk)),
        seqs[3]
    ));
    check(Some(seqs[4]), 4);

    let v = verify(store.open().as_mut(), 0, |_| {}).expect("verify");
    assert_eq!(v.snapshots_checked, seqs.len());
    assert_eq!(v.snapshots_bad.len(), 4, "{:?}", v.snapshots_bad);
    for seq in &seqs[..4] {
        assert!(
            v.snapshots_bad.iter().any(|b| b.contains(&format!("after entry {seq}:"))),
            "{seq} in {:?}",
            v.snapshots_bad
        );
    }

    // 5. Every checksum wrong: recovery replays the whole journal.
    store.exec(&format!("UPDATE snapshots SET sha256 = {}", store.blob_literal(&[0; 32])));
    check(None, seqs.len());

    // The writer starts all the same, and says what it skipped.
    let writer = start(store, WriterConfig::default());
    assert_eq!(writer.recovered_from_snapshot, None);
    assert_eq!(writer.recovery_notes.len(), seqs.len());
    writer.shutdown().expect("shutdown");
}

// ---- corruption -----------------------------------------------------------------------------

/// One changed character in a stored command is found at that entry. An order's amount
/// changed and that entry's hash rewritten to match (the line still reads and applies) moves
/// the mismatch to the next entry: the chain.
fn corrupt_flipped_command_byte(store: &Store) {
    let (_, run) = filled(store, 0, 21);
    let mid = run.head / 2;
    let original = entry(store, mid);
    flip_middle_byte(store, mid);
    expect_recover_corrupt(store, mid);
    expect_verify_corrupt(store, mid);
    store.exec(&format!("UPDATE journal SET command = {} WHERE seq = {mid}", text_literal(&original.command)));
    assert_eq!(digest(&recovered(store).engine), run.live_digest, "repaired");

    // A plain order (no cash or coins paid) after the middle: its amount's first digit changed.
    let target = read_all(store.open().as_mut())
        .into_iter()
        .find(|e| {
            e.seq > mid && e.command.starts_with(r#"{"op":"order""#) && !e.command.contains("pay_") && e.seq < run.head
        })
        .expect("an order after the middle");
    let k = target.command.find(r#""amount":""#).expect("an amount") + 10;
    let mut bytes = target.command.clone().into_bytes();
    bytes[k] = if bytes[k] == b'9' { b'1' } else { bytes[k] + 1 };
    let changed = String::from_utf8(bytes).expect("ASCII");
    assert!(zengzhi_core::parse_line(changed.as_bytes()).is_ok(), "still a valid command: {changed}");
    store.exec(&format!("UPDATE journal SET command = {} WHERE seq = {}", text_literal(&changed), target.seq));
    expect_recover_corrupt(store, target.seq);
    expect_verify_corrupt(store, target.seq);
    let previous = entry(store, target.seq - 1);
    let consistent = chain_hash(&previous.hash, target.seq, changed.as_bytes());
    store.exec(&format!("UPDATE journal SET hash = {} WHERE seq = {}", store.blob_literal(&consistent), target.seq));
    expect_recover_corrupt(store, target.seq + 1);
    expect_verify_corrupt(store, target.seq + 1);
}

/// A deleted entry in the middle is found as missing; so is a deleted first entry.
fn corrupt_removed_entry(store: &Store) {
    let (_, run) = filled(store, 0, 22);
    let mid = run.head / 2;
    store.exec(&format!("DELETE FROM journal WHERE seq = {mid}"));
    expect_recover_corrupt(store, mid);
    expect_verify_corrupt(store, mid);
    store.exec("DELETE FROM journal WHERE seq = 1");
    expect_recover_corrupt(store, 1);
    expect_verify_corrupt(store, 1);
}

/// A changed hash (in the middle, at the head, or not even 32 bytes) is found at its entry.
fn corrupt_changed_hash(store: &Store) {
    let (_, run) = filled(store, 0, 23);
    let head_hash = entry(store, run.head).hash;
    store.exec(&format!("UPDATE journal SET hash = {} WHERE seq = {}", store.blob_literal(&[0xab; 32]), run.head));
    expect_recover_corrupt(store, run.head);
    expect_verify_corrupt(store, run.head);
    store.exec(&format!("UPDATE journal SET hash = {} WHERE seq = {}", store.blob_literal(&head_hash), run.head));
    assert_eq!(digest(&recovered(store).engine), run.live_digest, "repaired");

    let mid = run.head / 2;
    let mut hash = entry(store, mid).hash;
    hash[31] ^= 1;
    store.exec(&format!("UPDATE journal SET hash = {} WHERE seq = {mid}", store.blob_literal(&hash)));
    expect_recover_corrupt(store, mid);
    expect_verify_corrupt(store, mid);

    store.exec(&format!("UPDATE journal SET hash = {} WHERE seq = {mid}", store.blob_literal(&hash[..31])));
    expect_recover_corrupt(store, mid);
    expect_verify_corrupt(store, mid);
}

/// The last entries deleted while a snapshot was taken after them: the loss is found at the
/// first missing entry (not silently recovered to a shorter history).
fn corrupt_truncated_tail_behind_snapshot(store: &Store) {
    let (_, run) = filled(store, 0, 24);
    let writer = start(store, WriterConfig::default());
    assert_eq!(writer.handle().snapshot().expect("snapshot"), run.head);
    writer.shutdown().expect("shutdown");
    let keep = run.head - 7;
    store.exec(&format!("DELETE FROM journal WHERE seq > {keep}"));
    expect_recover_corrupt(store, keep + 1);
    // verify at least names the snapshot past the end (that it does not fail is
    // regression_verify_passes_a_lost_tail_behind_a_snapshot).
    match verify(store.open().as_mut(), 0, |_| {}) {
        Err(Error::Corrupt { seq, what }) => assert_eq!(seq, keep + 1, "{what}"),
        Err(e) => panic!("verify: {e}"),
        Ok(v) => assert!(v.snapshots_bad.iter().any(|b| b.contains("past the end")), "{:?}", v.snapshots_bad),
    }
}

/// The last entries deleted after the projector covered them: the loss is found at the first
/// missing entry, by recovery and by the projector.
fn corrupt_truncated_tail_behind_watermark(store: &Store) {
    let (_, run) = filled(store, 0, 25);
    assert_eq!(project_all(store), run.head);
    let keep = run.head - 5;
    store.exec(&format!("DELETE FROM journal WHERE seq > {keep}"));
    expect_recover_corrupt(store, keep + 1);
    match Projector::start(store.open().as_mut()) {
        Err(Error::Corrupt { seq, .. }) => assert_eq!(seq, keep + 1),
        Err(e) => panic!("projector: {e}"),
        Ok(p) => panic!("the projector started past the end of the journal (watermark {})", p.watermark()),
    }
}

/// Recovery verifies only the tail after the newest valid snapshot (that is its speed); verify
/// walks the whole chain and finds damage the snapshot covers. Damage after the snapshot is
/// found by both.
fn corrupt_entry_covered_by_snapshot_found_by_verify(store: &Store) {
    let (_, run) = filled(store, 40, 26);
    let newest = store.open().snapshots().expect("snapshots")[0].seq;
    assert!(newest > 20 && newest < run.head, "a snapshot in the middle ({newest} of {})", run.head);
    let covered = newest / 2;
    flip_middle_byte(store, covered);
    let r = recovered(store);
    assert_eq!(r.snapshot, Some(newest));
    assert_eq!(digest(&r.engine), run.live_digest);
    expect_verify_corrupt(store, covered);

    let tail = (newest + run.head) / 2 + 1;
    flip_middle_byte(store, tail);
    expect_recover_corrupt(store, tail);
}

// ---- the projector --------------------------------------------------------------------------

/// Orders of the journal with their seq, time and what the engine said: the rows the orders
/// table must hold.
type OrderRows = Vec<(String, i64, String, Option<String>, i64, i64, i64, String)>;

fn expected_orders(commands: &[(Command<'static>, Option<String>)], outcomes: &[Outcome]) -> OrderRows {
    let mut rows = Vec::new();
    for ((c, _), o) in commands.iter().zip(outcomes) {
        if let (Command::Order { order, member, merchant, amount_fen, .. }, Ok(applied), Some(seq), Some(at)) =
            (c, &o.result, o.seq, &o.at)
        {
            rows.push((
                order.to_string(),
                seq as i64,
                member.to_string(),
                merchant.as_ref().map(|m| m.to_string()),
                amount_fen.to_fen(),
                applied.commission_fen.to_fen(),
                applied.minted.to_units(),
                at.clone(),
            ));
        }
    }
    rows
}

/// The candles the journal implies, computed here independently: per interval and bucket
/// (minute, hour, day in UTC+8), the price after the first, highest, lowest and last entry.
/// interval, start, open, high, low, close, pool, supply.
type CandleRow = (String, String, i64, i64, i64, i64, i64, i64);

fn expected_candles(store: &Store) -> Vec<CandleRow> {
    use time::format_description::well_known::Rfc3339;
    let mut engine = Engine::new(Rules::default());
    let mut candles: BTreeMap<(String, String), [i64; 6]> = BTreeMap::new();
    for e in read_all(store.open().as_mut()) {
        let parsed = zengzhi_core::parse_line(e.command.as_bytes()).expect("reads");
        engine.apply(&parsed.command).expect("applies");
        let (p, n) = engine.reference_price();
        let price = if n > Units::ZERO {
            i64::try_from(i128::from(p) * 100_000_000_000_000 / i128::from(n)).unwrap_or(i64::MAX)
        } else {
            0
        };
        let t = time::OffsetDateTime::parse(&e.at, &Rfc3339).expect("an RFC 3339 time");
        let local = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("offset"));
        let date = local.date();
        let (h, m) = (local.hour(), local.minute());
        for (interval, start) in [
            ("minute", format!("{date}T{h:02}:{m:02}:00+08:00")),
            ("hour", format!("{date}T{h:02}:00:00+08:00")),
            ("day", format!("{date}T00:00:00+08:00")),
        ] {
            let c = candles.entry((interval.to_string(), start)).or_insert([price, price, price, price, 0, 0]);
            c[1] = c[1].max(price);
            c[2] = c[2].min(price);
            c[3] = price;
            c[4] = engine.pool_fen().to_fen();
            c[5] = engine.supply_units().to_units();
        }
    }
    candles.into_iter().map(|((i, s), c)| (i, s, c[0], c[1], c[2], c[3], c[4], c[5])).collect()
}

/// Checks the query tables against the journal and the final engine.
fn check_tables(store: &Store, engine: &Engine, orders: &OrderRows, head: u64) {
    let got: OrderRows = store
        .query("SELECT order_id, seq, member, merchant, amount_fen, commission_fen, minted_units, at FROM orders ORDER BY seq")
        .into_iter()
        .map(|r| {
            let merchant = match &r[3] {
                common::Value::Null => None,
                v => Some(v.text().to_string()),
            };
            (r[0].text().into(), r[1].int(), r[2].text().into(), merchant, r[4].int(), r[5].int(), r[6].int(), r[7].text().into())
        })
        .collect();
    assert_eq!(got.len(), orders.len(), "one row per accepted order");
    assert_eq!(&got, orders);
    assert_eq!(engine.totals().orders, orders.len() as u64);

    // The ledger adds up to every member's balances.
    let sums: BTreeMap<String, [i64; 4]> = store
        .query(
            "SELECT member, CAST(SUM(points) AS BIGINT), CAST(SUM(locked) AS BIGINT), CAST(SUM(cash_fen) AS BIGINT),
                    CAST(SUM(coins_fen) AS BIGINT) FROM ledger GROUP BY member",
        )
        .into_iter()
        .map(|r| (r[0].text().to_string(), [r[1].int(), r[2].int(), r[3].int(), r[4].int()]))
        .collect();
    let mut members = BTreeSet::new();
    for i in engine.members_by_id() {
        let id = engine.member_id(i).to_string();
        let m = &engine.members()[i as usize];
        let want = [m.points.to_units(), m.locked.to_units(), m.cash_fen.to_fen(), m.coins_fen.to_fen()];
        assert_eq!(sums.get(&id).copied().unwrap_or([0; 4]), want, "ledger sums of {id} (points, locked, cash, coins)");
        members.insert(id);
    }
    for id in sums.keys() {
        assert!(members.contains(id), "ledger rows for unknown member {id}");
    }
    assert!(
        store.query_int("SELECT COUNT(*) FROM ledger WHERE seq < 1 OR seq > (SELECT watermark FROM projection)") == 0
    );
    for reason in ["order", "reward_direct", "reward_indirect", "sell", "withdraw", "coins", "release"] {
        assert!(
            store.query_int(&format!("SELECT COUNT(*) FROM ledger WHERE reason = '{reason}'")) > 0,
            "ledger rows for {reason}"
        );
    }
    // Every row's reason is one the engine names (rewards by kind, never the bare `reward`).
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    for r in store.query("SELECT DISTINCT reason FROM ledger") {
        assert!(names.contains(&r[0].text()), "ledger reason {:?}", r[0].text());
    }
    // The rewards view holds every reward row, with its reason, and adds up to what the engine
    // says each member was rewarded.
    let reward_sums: BTreeMap<String, i64> = store
        .query("SELECT member, CAST(SUM(amount_fen) AS BIGINT) FROM rewards GROUP BY member")
        .into_iter()
        .map(|r| (r[0].text().to_string(), r[1].int()))
        .collect();
    for i in engine.members_by_id() {
        let id = engine.member_id(i).to_string();
        let want = engine.members()[i as usize].rewards_fen.to_fen();
        assert_eq!(reward_sums.get(&id).copied().unwrap_or(0), want, "rewards of {id}");
    }
    assert_eq!(
        store.query_int("SELECT COUNT(*) FROM rewards"),
        store.query_int("SELECT COUNT(*) FROM ledger WHERE reason LIKE 'reward%'")
    );
    assert_eq!(store.query_int("SELECT COUNT(*) FROM exits") as u64, engine.totals().exits, "one exits row per exit");

    // Candles, exactly.
    let got: Vec<CandleRow> = store
        .query("SELECT interval, start, open, high, low, close, pool_fen, supply_units FROM candles ORDER BY interval, start")
        .into_iter()
        .map(|r| (r[0].text().to_string(), r[1].text().to_string(), r[2].int(), r[3].int(), r[4].int(), r[5].int(), r[6].int(), r[7].int()))
        .collect();
    let mut want = expected_candles(store);
    want.sort();
    assert_eq!(got, want, "candles");
    assert!(got.iter().filter(|c| c.0 == "day").count() >= 2, "the script crosses midnight in Beijing");

    assert_eq!(store.query_int("SELECT watermark FROM projection"), head as i64);
}

/// Every projected row, in a stable order (ledger rows of one entry in the order written).
fn dump_tables(store: &Store) -> Vec<String> {
    let ledger_order = sqlite_or_pg(store, "seq, rowid", "seq, ctid");
    [
        "SELECT seq, order_id, member, merchant, amount_fen, commission_fen, minted_units, at FROM orders ORDER BY seq".to_string(),
        format!("SELECT seq, member, reason, points, locked, cash_fen, coins_fen FROM ledger ORDER BY {ledger_order}"),
        "SELECT interval, start, open, high, low, close, pool_fen, supply_units FROM candles ORDER BY interval, start".to_string(),
    ]
    .iter()
    .flat_map(|sql| store.query(sql).into_iter().map(|row| format!("{row:?}")))
    .collect()
}

/// How many of the query tables' secondary indexes exist.
fn projection_indexes(store: &Store) -> i64 {
    store.query_int(sqlite_or_pg(
        store,
        "SELECT COUNT(*) FROM q.sqlite_master WHERE type = 'index' AND name IN ('orders_member', 'ledger_member', 'ledger_exits')",
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()
           AND indexname IN ('orders_member', 'orders_seq', 'ledger_member', 'ledger_reason')",
    ))
}

/// `engine_before` (a record date's holdings) gives what a replay from entry 1 gives up to the
/// first entry stamped at or after the cutoff — for cutoffs before, between and after the
/// entries, one entry stamped out of order — and starts from a snapshot: a damaged entry below
/// the snapshot it uses does not stop it.
fn state_before_a_cutoff_starts_from_a_snapshot_and_equals_a_replay(store: &Store) {
    use zengzhi_journal::recovery::{engine_before, reapply};
    use zengzhi_journal::time_fmt::parse_at;
    let mut s = script(Engine::new(Rules::default()), "", 30, 200, 11, 0);
    // One command a minute; the 121st stamped an hour earlier than its place.
    for (i, (_, at)) in s.commands.iter_mut().enumerate() {
        *at = Some(at_plus(60 * i as i64 - if i == 120 { 3600 } else { 0 }));
    }
    let run = run_commands(start(store, WriterConfig { snapshot_every: 40, ..WriterConfig::default() }), &s.commands, &[1, 7]);
    let mut b = store.open();
    assert!(b.snapshots().unwrap().len() >= 3, "snapshots were taken");
    let entries = b.read(1, 100_000).unwrap();
    assert_eq!(entries.len() as u64, run.head);
    let replay = |cutoff: time::OffsetDateTime| {
        let mut engine = Engine::new(Rules::default());
        let mut through = 0;
        for e in entries.iter().take_while(|e| parse_at(&e.at).is_none_or(|t| t < cutoff)) {
            reapply(&mut engine, e.seq, &e.command).unwrap();
            through = e.seq;
        }
        (state_json(&engine), through)
    };
    let cutoff = |minute: i64| parse_at(&at_plus(60 * minute - 30)).unwrap();
    let mut throughs = BTreeSet::new();
    for minute in [-5, 0, 1, 33, 61, 119, 121, 150, 199, 200, 10_000] {
        let (engine, through) = engine_before(b.as_mut(), cutoff(minute)).unwrap();
        assert_eq!((state_json(&engine), through), replay(cutoff(minute)), "cutoff at minute {minute}");
        throughs.insert(through);
    }
    assert!(throughs.contains(&0) && throughs.contains(&run.head) && throughs.len() > 5, "{throughs:?}");
    // Damage an entry below the newest snapshots: the late cutoffs still answer (from a
    // snapshot), the same as before.
    let late = replay(cutoff(10_000));
    flip_middle_byte(store, 3);
    let (engine, through) = engine_before(b.as_mut(), cutoff(10_000)).unwrap();
    assert_eq!((state_json(&engine), through), late);
}

/// A projector started from a snapshot (the newest at or below the watermark) continues with
/// exactly the rows one started from entry 1 writes; one whose watermark is below every
/// snapshot starts from entry 1.
fn projector_from_a_snapshot_writes_the_same_tables(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 400, 9, 0);
    let run = run_commands(start(store, WriterConfig { snapshot_every: 100, ..WriterConfig::default() }), &s.commands, &[25]);
    let snapshots: Vec<u64> = store.open().snapshots().expect("snapshots").iter().map(|m| m.seq).collect();
    assert!(snapshots.len() >= 2 && snapshots.iter().all(|&q| q < run.head), "snapshots {snapshots:?} below {}", run.head);
    let newest_below = |w: u64| snapshots.iter().copied().filter(|&q| q <= w).max().unwrap_or(0);

    // From entry 1 all the way: the reference tables.
    project_all(store);
    let reference = dump_tables(store);
    let orders = expected_orders(&s.commands, &run.outcomes);
    check_tables(store, &s.engine, &orders, run.head);

    // Again, stopping part-way past the first snapshot, then a new projector from there.
    let mut b = store.open();
    b.reset_projection().expect("reset");
    let mut p = Projector::start(b.as_mut()).expect("start");
    assert_eq!(p.started_from(), 0, "an empty projection starts from entry 1");
    let first = snapshots.iter().copied().min().expect("a snapshot");
    while p.watermark() <= first + 7 {
        assert!(p.project_page(b.as_mut(), 13).expect("page") > 0);
    }
    let w = p.watermark();
    drop(p);
    let mut p = Projector::start(b.as_mut()).expect("restart");
    assert_eq!(p.watermark(), w);
    assert_eq!(p.started_from(), newest_below(w), "the newest snapshot at or below watermark {w}");
    assert!(p.started_from() > 0);
    p.catch_up(b.as_mut(), 50).expect("catch up");
    assert_eq!(dump_tables(store), reference, "the same rows as from entry 1");
    // Its own snapshot is the writer's at the same entry.
    let mine = p.snapshot().expect("a snapshot");
    assert_eq!(mine.meta.seq, run.head);
    assert_eq!(state_json(&Engine::from_snapshot(&mine.state, Default::default()).expect("loads")), run.live_json);
}

/// A bulk load (indexes dropped, built at the end) writes exactly the rows of the incremental
/// path, and the indexes are there afterwards: also when it stops early, and when it is cut
/// off between pages (a crash) and the next projector starts.
fn bulk_load_writes_the_same_tables_and_builds_the_indexes(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 300, 4, 0);
    let run = run_commands(start(store, WriterConfig::default()), &s.commands, &[20]);
    let all = projection_indexes(store);
    assert!(all >= 3, "the migrations make the indexes ({all})");
    let mut b = store.open();
    let mut p = Projector::start(b.as_mut()).expect("start").with_bulk_load_min(u64::MAX);
    p.catch_up(b.as_mut(), 64).expect("incremental");
    let reference = dump_tables(store);

    // In bulk, stopped after three pages: the indexes are built at the end all the same.
    b.reset_projection().expect("reset");
    let mut p = Projector::start(b.as_mut()).expect("start").with_bulk_load_min(1);
    let mut pages = 0;
    p.catch_up_while(b.as_mut(), 40, || {
        pages += 1;
        pages <= 3
    })
    .expect("bulk, stopped");
    assert_eq!(p.watermark(), 120);
    assert_eq!(projection_indexes(store), all, "indexes built when the bulk load stops");
    // An empty projection again, in bulk to the end.
    b.reset_projection().expect("reset");
    let mut p = Projector::start(b.as_mut()).expect("start").with_bulk_load_min(1);
    assert_eq!(p.catch_up(b.as_mut(), 64).expect("bulk"), run.head);
    assert_eq!(projection_indexes(store), all);
    assert_eq!(dump_tables(store), reference, "bulk rows = incremental rows");

    // A crash in the middle of a bulk load: indexes dropped, some pages written, no end.
    b.reset_projection().expect("reset");
    b.begin_bulk().expect("begin bulk");
    assert_eq!(projection_indexes(store), 0);
    let mut p = Projector::start(b.as_mut()).expect("start").with_bulk_load_min(u64::MAX);
    assert_eq!(projection_indexes(store), all, "a projector's start builds what a bulk load left out");
    b.begin_bulk().expect("begin bulk");
    p.project_page(b.as_mut(), 50).expect("page");
    drop(p);
    drop(b);
    let mut b = store.open();
    let mut p = Projector::start(b.as_mut()).expect("restart");
    assert_eq!(projection_indexes(store), all);
    assert_eq!(p.watermark(), 50);
    p.catch_up(b.as_mut(), 64).expect("catch up");
    assert_eq!(dump_tables(store), reference, "resumed rows = incremental rows");
}

/// The projector writes orders, ledger and candles up to the head; catching up again writes
/// nothing; a new projector after more commands continues from the watermark without
/// duplicating rows.
fn projector_tables_match_the_engine(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 400, 5, 0);
    let run = run_commands(start(store, WriterConfig::default()), &s.commands, &[50]);
    let mut b = store.open();
    let mut p = Projector::start(b.as_mut()).expect("start");
    assert_eq!(p.watermark(), 0);
    assert_eq!(p.catch_up(b.as_mut(), 64).expect("catch up"), run.head, "pages of 64");
    assert_eq!(p.watermark(), run.head);
    assert_eq!(b.watermark().expect("watermark"), run.head);
    let mut orders = expected_orders(&s.commands, &run.outcomes);
    assert!(s.engine.totals().exits > 0, "the script makes members exit");
    check_tables(store, &s.engine, &orders, run.head);

    let counts =
        |store: &Store| ["orders", "ledger", "candles"].map(|t| store.query_int(&format!("SELECT COUNT(*) FROM {t}")));
    let before = counts(store);
    assert_eq!(p.catch_up(b.as_mut(), 64).expect("again"), 0);
    assert_eq!(counts(store), before, "catching up again writes nothing");
    drop(b);

    // More commands (times continuing the first run's), then a new projector.
    let s2 = script(s.engine.clone(), "b", 15, 150, 6, 7 * s.commands.len() as i64);
    let run2 = run_commands(start(store, WriterConfig::default()), &s2.commands, &[30]);
    check_outcomes(&s2, &run2.outcomes, run.head + 1);
    let ledger_before = store.query_int(&format!("SELECT COUNT(*) FROM ledger WHERE seq <= {}", run.head));
    let mut b = store.open();
    let mut p = Projector::start(b.as_mut()).expect("restart");
    assert_eq!(p.watermark(), run.head, "the new projector starts at the watermark");
    assert_eq!(p.catch_up(b.as_mut(), 1000).expect("catch up"), run2.head - run.head);
    orders.extend(expected_orders(&s2.commands, &run2.outcomes));
    check_tables(store, &s2.engine, &orders, run2.head);
    assert_eq!(
        store.query_int(&format!("SELECT COUNT(*) FROM ledger WHERE seq <= {}", run.head)),
        ledger_before,
        "no row twice"
    );

    // Rebuilding from scratch gives the same tables.
    b.reset_projection().expect("reset");
    assert_eq!(store.query_int("SELECT COUNT(*) FROM ledger"), 0);
    assert_eq!(project_all(store), run2.head);
    check_tables(store, &s2.engine, &orders, run2.head);
}

/// Every form of `at` the engine accepts (SPEC §10: space or `t` separator, `z`, a leap
/// second, any number of fraction digits, any offset) lands in the right Beijing-time bucket.
fn projector_buckets_every_valid_at_form(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let at = |s: &str| Some(s.to_string());
    let commands = vec![
        (cmd(r#"{"op":"register_merchant","merchant":"shop"}"#), at("2026-03-01T15:59:30Z")),
        (cmd(r#"{"op":"register_member","member":"u1"}"#), at("2026-03-01T15:59:31Z")),
        (
            cmd(r#"{"op":"order","order":"o1","member":"u1","merchant":"shop","amount":"100.00"}"#),
            at("2026-03-01 16:00:00.5z"),
        ),
        (
            cmd(r#"{"op":"order","order":"o2","member":"u1","merchant":"shop","amount":"100.00"}"#),
            at("2026-03-01t15:59:60Z"),
        ),
        (
            cmd(r#"{"op":"order","order":"o3","member":"u1","merchant":"shop","amount":"100.00"}"#),
            at("2026-03-01T23:59:59.1234567890123+08:00"),
        ),
        (
            cmd(r#"{"op":"order","order":"o4","member":"u1","merchant":"shop","amount":"100.00"}"#),
            at("2026-03-01T10:00:00-06:00"),
        ),
    ];
    for (_, a) in &commands {
        assert!(valid_at(a.as_deref().expect("given")), "{a:?} is a valid at");
    }
    let outcomes = h.submit_many(commands).expect("submit");
    assert!(outcomes.iter().all(|o| o.seq.is_some()), "{outcomes:?}");
    drop(h);
    writer.shutdown().expect("shutdown");
    assert_eq!(project_all(store), 6);
    let starts = |interval: &str| -> Vec<String> {
        store
            .query(&format!("SELECT start FROM candles WHERE interval = '{interval}' ORDER BY start"))
            .into_iter()
            .map(|r| r[0].text().to_string())
            .collect()
    };
    assert_eq!(starts("day"), ["2026-03-01T00:00:00+08:00", "2026-03-02T00:00:00+08:00"]);
    assert_eq!(starts("hour"), ["2026-03-01T23:00:00+08:00", "2026-03-02T00:00:00+08:00"]);
    assert_eq!(starts("minute"), ["2026-03-01T23:59:00+08:00", "2026-03-02T00:00:00+08:00"]);
    // The day of 2026-03-02 saw orders o1 and o4: its open is the price after o1.
    let mut engine = Engine::new(Rules::default());
    let mut prices = Vec::new();
    for e in read_all(store.open().as_mut()) {
        engine.apply(&zengzhi_core::parse_line(e.command.as_bytes()).expect("reads").command).expect("applies");
        let (p, n) = engine.reference_price();
        prices.push(i64::try_from(i128::from(p) * 100_000_000_000_000 / i128::from(n)).expect("fits"));
    }
    let day2 =
        store.query("SELECT open, close FROM candles WHERE interval = 'day' AND start = '2026-03-02T00:00:00+08:00'");
    assert_eq!((day2[0][0].int(), day2[0][1].int()), (prices[2], prices[5]));
}

/// The reads behind the service's history endpoints: one order with its journaled line, a
/// member's ledger page by page (newest first), the newest candles (oldest first).
fn history_reads_match_the_tables(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 30, 250, 8, 0);
    let run = run_commands(start(store, WriterConfig::default()), &s.commands, &[25]);
    assert_eq!(project_all(store), run.head);
    let mut b = store.open();
    let entries = read_all(b.as_mut());

    let orders = expected_orders(&s.commands, &run.outcomes);
    for o in orders.iter().step_by(17) {
        let (row, line) = b.order(&o.0).expect("order").unwrap_or_else(|| panic!("order {} is found", o.0));
        let got = (
            row.order_id,
            row.seq as i64,
            row.member,
            row.merchant,
            row.amount_fen,
            row.commission_fen,
            row.minted_units,
            row.at,
        );
        assert_eq!(&got, o);
        assert_eq!(line, entries[o.1 as usize - 1].command, "the order's journaled line");
    }
    assert_eq!(b.order("no-such-order").expect("order"), None);

    // All orders by journal position, in pages of 7: every accepted order once, in order.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = b.orders_after(after, 7).expect("orders page");
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page.into_iter().map(|r| {
            (r.order_id, r.seq as i64, r.member, r.merchant, r.amount_fen, r.commission_fen, r.minted_units, r.at)
        }));
    }
    assert_eq!(paged, orders, "the export pages are the accepted orders in journal order");

    // Each member's whole ledger, newest first, adds up to its balances; a small page is the
    // newest rows.
    for i in s.engine.members_by_id() {
        let id = s.engine.member_id(i).to_string();
        let rows = b.member_history(&id, u64::MAX, 100_000).expect("history");
        assert!(rows.windows(2).all(|w| w[0].seq >= w[1].seq), "newest first");
        assert!(rows.iter().all(|r| r.member == id && r.reason != "unknown"));
        let want = store.query_int(&format!("SELECT COUNT(*) FROM ledger WHERE member = {}", text_literal(&id)));
        assert_eq!(rows.len() as i64, want, "the whole history of {id}");
        let m = &s.engine.members()[i as usize];
        // Rewards by kind: each kind's sum of the history's rows of its reason, adding up to
        // the member's rewards.
        let by_kind = b.member_rewards(&id).expect("rewards by kind");
        assert_eq!(by_kind.iter().map(|k| k.0).collect::<Vec<_>>(), RewardKind::ALL);
        for (kind, sum) in &by_kind {
            let want: i64 = rows.iter().filter(|r| r.reason == kind.reason()).map(|r| r.cash_fen).sum();
            assert_eq!(*sum, want, "{id}: {kind:?}");
        }
        assert_eq!(by_kind.iter().map(|k| k.1).sum::<i64>(), m.rewards_fen.to_fen(), "{id}: rewards");
        let sums = rows
            .iter()
            .fold([0i64; 4], |a, r| [a[0] + r.points, a[1] + r.locked, a[2] + r.cash_fen, a[3] + r.coins_fen]);
        assert_eq!(sums, [m.points.to_units(), m.locked.to_units(), m.cash_fen.to_fen(), m.coins_fen.to_fen()], "the history of {id} adds up");
        // A page of 3 is the newest rows through the whole entry of the third newest row.
        let page = b.member_history(&id, u64::MAX, 3).expect("history");
        let boundary = rows.get(2).or(rows.last()).map_or(0, |r| r.seq);
        assert_eq!(
            page.iter().map(|r| r.seq).collect::<Vec<_>>(),
            rows.iter().take_while(|r| r.seq >= boundary).map(|r| r.seq).collect::<Vec<_>>()
        );
        if let Some(r) = rows.get(5) {
            assert!(
                b.member_history(&id, r.seq, 100_000).expect("history").iter().all(|x| x.seq < r.seq),
                "before is exclusive"
            );
        }
    }

    // The newest candles, oldest first.
    for interval in zengzhi_journal::backend::Interval::ALL {
        let all: Vec<String> = store
            .query(&format!("SELECT start FROM candles WHERE interval = '{}' ORDER BY start", interval.as_str()))
            .into_iter()
            .map(|r| r[0].text().to_string())
            .collect();
        let got = b.candles(interval, 5).expect("candles");
        let starts: Vec<String> = got.iter().map(|c| c.start.clone()).collect();
        assert_eq!(starts, all[all.len().saturating_sub(5)..], "{interval:?}");
        assert!(got
            .iter()
            .all(|c| c.interval == interval && c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close)));
    }
}

/// A store written by a newer program (a schema version this one does not know) is refused
/// with `Config`, not migrated or used.
/// A store whose query tables were projected when every reward had the one reason `reward`
/// (SQLite's query file at version 1, PostgreSQL's schema at version 4): opening it empties
/// them, and the projector writes them again with each reward's kind.
fn legacy_reward_rows_are_rebuilt_by_kind(store: &Store) {
    let s = script(Engine::new(Rules::default()), "", 40, 400, 5, 0);
    let run = run_commands(start(store, WriterConfig::default()), &s.commands, &[25]);
    assert_eq!(project_all(store), run.head);
    let reference = dump_tables(store);
    assert!(store.query_int("SELECT COUNT(*) FROM rewards") > 0, "the script pays rewards");

    // What the previous version left: the bare reason, the old view, the old version.
    store.exec(sqlite_or_pg(
        store,
        "UPDATE q.ledger SET reason = 'reward' WHERE reason LIKE 'reward_%';
         DROP VIEW q.rewards;
         CREATE VIEW q.rewards AS SELECT seq, member, cash_fen AS amount_fen FROM ledger WHERE reason = 'reward';
         PRAGMA q.user_version = 1;",
        "UPDATE ledger SET reason = 'reward' WHERE reason LIKE 'reward_%';
         DROP VIEW rewards;
         CREATE VIEW rewards AS SELECT seq, member, cash_fen AS amount_fen FROM ledger WHERE reason = 'reward';
         UPDATE schema_version SET version = 4;",
    ));
    assert!(store.query_int("SELECT COUNT(*) FROM ledger WHERE reason = 'reward'") > 0);

    let mut b = store.open();
    assert_eq!(b.watermark().expect("watermark"), 0, "the query tables are emptied");
    assert_eq!(store.query_int("SELECT COUNT(*) FROM ledger"), 0);
    drop(b);
    assert_eq!(project_all(store), run.head);
    assert_eq!(dump_tables(store), reference, "rebuilt as a new store has them");
    assert_eq!(store.query_int("SELECT COUNT(*) FROM ledger WHERE reason = 'reward'"), 0);
    let orders = expected_orders(&s.commands, &run.outcomes);
    check_tables(store, &s.engine, &orders, run.head);
    // Opening it again keeps the tables.
    assert_eq!(store.open().watermark().expect("watermark"), run.head);
}

fn newer_schema_version_is_refused(store: &Store) {
    drop(store.open());
    store.exec(sqlite_or_pg(store, "PRAGMA user_version = 99", "UPDATE schema_version SET version = 99"));
    match store.try_open() {
        Err(Error::Config(why)) => assert!(why.contains("99"), "{why}"),
        Err(e) => panic!("expected Config, got {}", describe(&e)),
        Ok(_) => panic!("a store with schema version 99 was opened"),
    }
}

// ---- concurrency ----------------------------------------------------------------------------

/// Several threads submit through cloned handles at once: all are answered, accepted commands
/// get unique, gapless numbers (each thread's in its own order), and the journal holds them.
fn concurrent_submitters_get_gapless_seqs(store: &Store) {
    const THREADS: usize = 4;
    const ROUNDS: usize = 30;
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let first = h.submit(cmd(r#"{"op":"register_merchant","merchant":"shop"}"#), None).expect("submit");
    assert_eq!(first.seq, Some(1));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let h = h.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for r in 0..ROUNDS {
                    let mut batch = vec![(cmd(&format!(r#"{{"op":"register_member","member":"t{t}m{r}"}}"#)), None)];
                    batch.push((cmd(&format!(r#"{{"op":"order","order":"t{t}o{r}","member":"t{t}m{r}","merchant":"shop","amount":"{}.00"}}"#, 100 + r)), None));
                    if r % 3 == 0 {
                        // Rejected: already registered.
                        batch.push((cmd(&format!(r#"{{"op":"register_member","member":"t{t}m{r}"}}"#)), Some(at_plus(r as i64))));
                    }
                    if r % 5 == 4 {
                        batch.push((cmd(&format!(r#"{{"op":"sell","member":"t{t}m{r}","points":"all"}}"#)), None));
                    }
                    let outcomes = if r % 2 == 0 {
                        h.submit_many(batch.clone()).expect("submit_many")
                    } else {
                        h.submit_many_async(batch.clone()).expect("queued").recv().expect("answered").expect("stored")
                    };
                    assert_eq!(outcomes.len(), batch.len());
                    mine.extend(batch.into_iter().zip(outcomes));
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        let mine = t.join().expect("a submitter panicked");
        let seqs: Vec<u64> = mine.iter().filter_map(|(_, o)| o.seq).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one caller's commands are journaled in its order");
        for ((c, _), o) in &mine {
            if let Command::RegisterMember { member, .. } = c {
                let dup = matches!(o.result, Err(Rejection::DuplicateId));
                assert!(dup || o.result.is_ok(), "{member}: {:?}", o.result);
                assert_eq!(dup, o.seq.is_none());
            }
            if let Command::Order { .. } = c {
                assert!(o.result.is_ok(), "{:?}", o.result);
            }
        }
        all.extend(mine);
    }

    // Pipelined requests from one caller are committed in groups.
    let batches_before = h.stats().batches.load(Relaxed);
    let pending: Vec<_> = (0..100)
        .map(|i| {
            let c = cmd(&format!(r#"{{"op":"register_member","member":"p{i}"}}"#));
            let rx = h.submit_many_async(vec![(c.clone(), None)]).expect("queued");
            (c, rx)
        })
        .collect();
    for (c, rx) in pending {
        let o = rx.recv().expect("answered").expect("stored");
        all.push(((c, None), o[0].clone()));
    }
    let batches = h.stats().batches.load(Relaxed) - batches_before;
    assert!(batches < 100, "100 pipelined requests took {batches} group commits");
    assert!(h.stats().largest_batch.load(Relaxed) > 1);

    let live = h.query(digest).expect("query");
    let stats = h.stats();
    let n_all = all.iter().filter(|(_, o)| o.seq.is_some()).count() as u64 + 1;
    assert_eq!(stats.entries.load(Relaxed), n_all, "stats count every entry");
    assert_eq!(stats.head().0, n_all);
    assert_eq!(stats.queue_depth.load(Relaxed), 0, "nothing waits");
    let stats_head = stats.head();
    drop(h);
    writer.shutdown().expect("shutdown");
    assert_eq!(store.open().head().expect("head"), Some(stats_head), "stats name the stored head");

    let mut seqs: Vec<u64> = all.iter().filter_map(|(_, o)| o.seq).chain([1]).collect();
    seqs.sort_unstable();
    let n = seqs.len() as u64;
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "unique and gapless");
    assert!(n >= (THREADS * ROUNDS * 2 + 100) as u64);
    let (commands, outcomes): (Vec<_>, Vec<_>) = all.into_iter().unzip();
    let mut b = store.open();
    check_journal(b.as_mut(), &commands, &outcomes);
    assert_eq!(b.head().expect("head").map(|h| h.0), Some(n));
    let r = recover(b.as_mut()).expect("recover");
    assert_eq!(digest(&r.engine), live);
    assert_eq!(r.engine.totals().orders, (THREADS * ROUNDS) as u64);
}

/// With a queue of one request, a flood of `try_submit_many` gets `Busy` at least once; every
/// request that was queued is answered and journaled, and none that was refused is.
fn back_pressure_says_busy_and_loses_nothing(store: &Store) {
    let writer = start(store, WriterConfig { queue_capacity: 1, max_batch: 4, ..WriterConfig::default() });
    let h = writer.handle();
    let mut setup = vec![(cmd(r#"{"op":"register_merchant","merchant":"shop"}"#), None)];
    setup.extend((0..10).map(|i| (cmd(&format!(r#"{{"op":"register_member","member":"u{i}"}}"#)), None)));
    let setup_len = setup.len() as u64;
    assert!(h.submit_many(setup).expect("setup").iter().all(|o| o.result.is_ok()));

    let order = |k: usize, j: usize| {
        cmd(&format!(
            r#"{{"op":"order","order":"o{k}x{j}","member":"u{}","merchant":"shop","amount":"20.00"}}"#,
            (k + j) % 10
        ))
    };
    let mut queued = Vec::new();
    let mut refused = Vec::new();
    for k in 0..20_000 {
        match h.try_submit_many(vec![(order(k, 0), None), (order(k, 1), None)]) {
            Ok(rx) => queued.push((k, rx)),
            Err(Error::Busy) => refused.push(k),
            Err(e) => panic!("try_submit_many: {e}"),
        }
        if refused.len() >= 20 && queued.len() >= 3 {
            break;
        }
    }
    assert!(!refused.is_empty(), "a full queue of one request says Busy");
    let mut accepted = BTreeSet::new();
    for (k, rx) in queued {
        let outcomes = rx.recv().expect("every queued request is answered").expect("and stored");
        assert_eq!(outcomes.len(), 2);
        for (j, o) in outcomes.iter().enumerate() {
            assert!(o.result.is_ok(), "{:?}", o.result);
            assert!(o.seq.is_some());
            accepted.insert(format!("o{k}x{j}"));
        }
    }
    let live = h.query(digest).expect("query");
    drop(h);
    writer.shutdown().expect("shutdown");

    let mut b = store.open();
    assert_eq!(b.head().expect("head").map(|h| h.0), Some(setup_len + accepted.len() as u64));
    let journaled: BTreeSet<String> = read_all(b.as_mut())
        .iter()
        .filter_map(|e| match zengzhi_core::parse_line(e.command.as_bytes()).expect("reads").command {
            Command::Order { order, .. } => Some(order.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(journaled, accepted, "exactly the queued orders are journaled");
    for k in refused {
        assert!(!journaled.contains(&format!("o{k}x0")), "a refused request left no trace");
    }
    assert_eq!(digest(&recover(b.as_mut()).expect("recover").engine), live);
}

/// When the storage refuses a batch, none of its commands is acknowledged, the engine is
/// reloaded from storage (the batch's effects are gone), and the writer goes on numbering
/// from the stored head.
fn failed_append_is_not_acknowledged(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let setup = vec![
        (cmd(r#"{"op":"register_merchant","merchant":"shop"}"#), None),
        (cmd(r#"{"op":"register_member","member":"u1"}"#), None),
        (cmd(r#"{"op":"order","order":"o1","member":"u1","merchant":"shop","amount":"100.00"}"#), None),
    ];
    assert_eq!(h.submit_many(setup).expect("setup").last().and_then(|o| o.seq), Some(3));
    let before = h.query(state_json).expect("query");

    // The storage now refuses any entry that mentions "poison".
    store.exec(sqlite_or_pg(
        store,
        "CREATE TRIGGER poison BEFORE INSERT ON journal WHEN NEW.command LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
        "ALTER TABLE journal ADD CONSTRAINT poison CHECK (command NOT LIKE '%poison%')",
    ));
    let batch = vec![
        (cmd(r#"{"op":"register_member","member":"u2"}"#), None),
        (cmd(r#"{"op":"order","order":"o2","member":"u1","merchant":"shop","amount":"200.00"}"#), None),
        (cmd(r#"{"op":"register_member","member":"poison"}"#), None),
    ];
    match h.submit_many(batch) {
        Err(Error::WriterStopped(why)) => assert!(why.contains("not stored"), "{why}"),
        Err(e) => panic!("expected the batch to be refused, got {e}"),
        Ok(o) => panic!("a batch the storage refused was acknowledged: {o:?}"),
    }
    let after = h.query(state_json).expect("the writer still answers");
    assert_eq!(after, before, "the refused batch left no trace in the engine");

    // Not poisoned: accepted, numbered after the stored head; u2 and o2 were never stored.
    let again = h
        .submit_many(vec![
            (cmd(r#"{"op":"register_member","member":"u2"}"#), None),
            (cmd(r#"{"op":"order","order":"o2","member":"u1","merchant":"shop","amount":"200.00"}"#), None),
        ])
        .expect("submit");
    assert_eq!(again.iter().map(|o| o.seq).collect::<Vec<_>>(), vec![Some(4), Some(5)]);
    let live = h.query(digest).expect("query");
    drop(h);
    writer.shutdown().expect("shutdown");
    store.exec(sqlite_or_pg(store, "DROP TRIGGER poison", "ALTER TABLE journal DROP CONSTRAINT poison"));
    let r = recovered(store);
    assert_eq!((r.head.0, digest(&r.engine)), (5, live));
}

// ---- defects found --------------------------------------------------------------------------

/// Regression (fixed): the writer journals the caller's `at` without checking it. `submit(cmd, Some("yesterday"))`
/// is acknowledged with seq 1, the journal stores `{"op":…,"at":"yesterday"}`, and every later
/// start fails: `parse_line` refuses the line (`invalid_command`), so `recover` returns
/// `Corrupt { seq: 1, "the command no longer reads" }` — one bad request bricks the program.
/// Expected: such a command is refused (not journaled), and the store still recovers.
fn regression_writer_journals_an_invalid_at(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let answer = h.submit(cmd(r#"{"op":"register_member","member":"u1"}"#), Some("yesterday".into()));
    let ok = h.submit(cmd(r#"{"op":"register_member","member":"u2"}"#), None).expect("submit");
    drop(h);
    writer.shutdown().expect("shutdown");
    let recovery = recover(store.open().as_mut()).map(|r| r.head.0).map_err(|e| e.to_string());
    let acknowledged = answer.as_ref().ok().and_then(|o| o.seq).is_some();
    assert!(
        !acknowledged && recovery.is_ok(),
        "a command with the time \"yesterday\" was answered {answer:?}; recovery afterwards: {recovery:?}"
    );
    assert_eq!(ok.seq, Some(1));
}

/// Regression (fixed): the writer journals `command.to_json(at)` without checking that the line reads back to
/// the same command. The engine does not re-validate what `parse_line` validates (id syntax,
/// positive amounts), so a `Command` built in code — e.g. `RegisterMember { member: "bad id" }`
/// or `GrantCoins { amount_fen: -100 }` — is accepted and journaled as a line that
/// `parse_line` refuses; every later start then fails with `Corrupt { seq: 1 }`.
/// Expected: the writer refuses (e.g. `invalid_command`) any command whose canonical line does
/// not read back to it, and the store still recovers.
fn regression_writer_journals_commands_that_do_not_read_back(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let bad_id =
        h.submit(Command::RegisterMember { member: Cow::Borrowed("bad id"), referrer: None }, None).expect("submit");
    let fine = h.submit(cmd(r#"{"op":"register_member","member":"u1"}"#), None).expect("submit");
    let negative =
        h.submit(Command::GrantCoins { member: Cow::Borrowed("u1"), amount_fen: Fen::from_fen(-100) }, None).expect("submit");
    drop(h);
    writer.shutdown().expect("shutdown");
    let r = recover(store.open().as_mut());
    assert!(
        r.is_ok(),
        "answers {:?} / {:?} / {:?}, and now the store no longer recovers: {}",
        (bad_id.result, bad_id.seq),
        (fine.result, fine.seq),
        (negative.result, negative.seq),
        r.err().map(|e| e.to_string()).unwrap_or_default()
    );
    assert_eq!(bad_id.seq, None, "a command that does not read back is not journaled");
    assert_eq!(negative.seq, None, "a command that does not read back is not journaled");
}

/// Regression (fixed): `verify` does not compare the journal's end with the projection watermark. After the
/// last entries are deleted while the query tables cover them, `recover` (and the writer's
/// start) refuse the store with `Corrupt { seq: new_head + 1, "entries were lost" }`, but
/// `verify` returns `Ok` with `entries = new_head` and nothing bad — the operator's check says
/// all is well on a store that will not start. Expected: `Corrupt { seq: new_head + 1 }`.
fn regression_verify_passes_a_lost_tail_behind_the_watermark(store: &Store) {
    let (_, run) = filled(store, 0, 31);
    assert_eq!(project_all(store), run.head);
    let keep = run.head - 5;
    store.exec(&format!("DELETE FROM journal WHERE seq > {keep}"));
    expect_recover_corrupt(store, keep + 1);
    expect_verify_corrupt(store, keep + 1);
}

/// Regression (fixed): `verify` reports a snapshot taken after the journal's end only as a bad snapshot and
/// returns `Ok`, while `recover` refuses the same store with `Corrupt { seq: new_head + 1,
/// "entries were lost" }`. Expected: `verify` fails with the same `Corrupt` as recovery.
fn regression_verify_passes_a_lost_tail_behind_a_snapshot(store: &Store) {
    let (_, run) = filled(store, 0, 32);
    let writer = start(store, WriterConfig::default());
    writer.handle().snapshot().expect("snapshot");
    writer.shutdown().expect("shutdown");
    let keep = run.head - 7;
    store.exec(&format!("DELETE FROM journal WHERE seq > {keep}"));
    expect_recover_corrupt(store, keep + 1);
    expect_verify_corrupt(store, keep + 1);
}

/// Regression (fixed): `WriterHandle::snapshot` on an empty journal stores a snapshot "after entry 0"
/// (chain = the genesis hash). Nothing treats seq 0 as "before the first entry": `verify`
/// lists it in `snapshots_bad` ("past the end of the journal") forever after, even on a
/// healthy journal, and `recover` lists it in `skipped` ("its chain hash does not match the
/// journal") while no newer snapshot exists. Expected: no bad or skipped snapshot (either it
/// is not stored, or seq 0 with the genesis hash is accepted as the empty state).
fn regression_snapshot_of_empty_journal_is_reported_bad(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let at = h.snapshot().expect("snapshot");
    assert_eq!(at, 0);
    h.submit_many((0..5).map(|i| (cmd(&format!(r#"{{"op":"register_member","member":"u{i}"}}"#)), None)).collect())
        .expect("submit");
    drop(h);
    writer.shutdown().expect("shutdown");
    let r = recovered(store);
    let v = verify(store.open().as_mut(), 0, |_| {}).expect("verify");
    assert!(
        v.snapshots_bad.is_empty() && r.skipped.is_empty(),
        "a healthy store reports bad snapshots: verify {:?}, recover {:?}",
        v.snapshots_bad,
        r.skipped
    );
}

/// Regression (fixed): the projector panics on an `at` the writer and the engine accept. Candles are cut in
/// Beijing time, and `time_fmt::bucket_start` converts with `OffsetDateTime::to_offset`, which
/// panics ("local datetime out of valid range", time_fmt.rs, `t.to_offset(CST)`) when UTC+8
/// is past year 9999 — e.g. `at = "9999-12-31T20:00:00Z"`, a valid RFC 3339 time (SPEC §10).
/// The entry is journaled and recovers fine, but every `catch_up` panics on it, so the query
/// tables can never pass it. Expected: `catch_up` projects it (bucketed or without a candle)
/// and the watermark reaches the head.
fn regression_projector_panics_on_an_at_near_year_9999(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let o = h
        .submit(cmd(r#"{"op":"register_member","member":"u1"}"#), Some("9999-12-31T20:00:00Z".into()))
        .expect("submit");
    assert_eq!(o.seq, Some(1), "a valid at is accepted");
    drop(h);
    writer.shutdown().expect("shutdown");
    assert_eq!(recovered(store).head.0, 1);
    let mut b = store.open();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut p = Projector::start(b.as_mut())?;
        p.catch_up(b.as_mut(), 100)?;
        Ok::<u64, Error>(p.watermark())
    }));
    match outcome {
        Ok(Ok(watermark)) => assert_eq!(watermark, 1),
        Ok(Err(e)) => panic!("catch_up failed: {e}"),
        Err(panic) => {
            let why =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            panic!("catch_up panicked on at 9999-12-31T20:00:00Z: {}", why.unwrap_or_default());
        }
    }
}

/// Regression (fixed): opening a new store from several connections at once fails for all but one.
/// SQLite (`Sqlite::migrate`): `user_version` is read outside the migration's transaction, so
/// every opener sees version 0 and runs migration 1; all but the first fail with "table
/// journal already exists". PostgreSQL (`Postgres::connect_schema`): `CREATE SCHEMA IF NOT
/// EXISTS` runs before the advisory lock that is meant to serialise migrators, and concurrent
/// `CREATE SCHEMA IF NOT EXISTS` race in PostgreSQL ("duplicate key value violates unique
/// constraint pg_namespace_nspname_index"). E.g. a writer and a projector process started
/// together on a new database. Expected: every opener succeeds and the schema is migrated once.
fn regression_concurrent_first_opens_fail(store: &Store) {
    use std::sync::Barrier;
    const OPENERS: usize = 6;
    let mut failures = Vec::new();
    for round in 0..8 {
        let fresh = (round > 0).then(|| store.fresh("concurrent_first_open"));
        let target = fresh.as_ref().unwrap_or(store);
        let barrier = Barrier::new(OPENERS);
        let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..OPENERS)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        target.try_open().map(drop).map_err(|e| describe(&e))
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().expect("no panic")).collect()
        });
        failures.extend(results.into_iter().filter_map(|r| r.err().map(|e| format!("round {round}: {e}"))));
        // Whatever happened, the store opens afterwards and works.
        let mut b = target.open();
        assert_eq!(b.head().expect("head"), None);
    }
    assert!(failures.is_empty(), "{} of {} concurrent first opens failed: {:?}", failures.len(), 8 * OPENERS, failures);
}

/// Regression (fixed): `Backend::member_history(member, before_seq, limit)` pages by entry (`seq < before_seq`
/// … `LIMIT limit`), but one entry can leave several ledger rows for one member (the buyer of
/// an order who is also the store's recruiter gets an `order` row and a `reward` row; a buyer
/// who exits in the same order gets an `exit` row too). When a page ends between two rows of
/// one entry, the next page (`before_seq` = the last row's seq — the cursor the service's
/// `next_before` hands out) starts below that entry, and the rest of its rows are never
/// returned. Expected: paging returns every row exactly once (e.g. a cursor that can point
/// inside an entry, or pages that never split an entry).
fn regression_member_history_pages_lose_rows_of_one_entry(store: &Store) {
    let writer = start(store, WriterConfig::default());
    let h = writer.handle();
    let outcomes = h
        .submit_many(vec![
            (cmd(r#"{"op":"register_member","member":"u1"}"#), None),
            (cmd(r#"{"op":"register_merchant","merchant":"shop","recruiter":"u1"}"#), None),
            (cmd(r#"{"op":"order","order":"o1","member":"u1","merchant":"shop","amount":"1000.00"}"#), None),
        ])
        .expect("submit");
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    drop(h);
    writer.shutdown().expect("shutdown");
    assert_eq!(project_all(store), 3);
    let mut b = store.open();
    let all = b.member_history("u1", u64::MAX, 100).expect("history");
    assert_eq!(all.len(), 2, "u1 has an order row and a recruiter reward row at entry 3: {all:?}");
    assert!(all.iter().all(|r| r.seq == 3));
    // Page by page, one row per page, with the last row's seq as the cursor.
    // A page holds whole entries (here both rows of entry 3 although the limit is 1).
    let mut paged = Vec::new();
    let mut before = u64::MAX;
    loop {
        let page = b.member_history("u1", before, 1).expect("history");
        let Some(last) = page.last() else { break };
        before = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged.len(), all.len(), "paging returns every row: got {paged:?}");
}
