//! Every conformance case, reproduced byte for byte.
//!
//! Cases are discovered from the repository's `conformance/` folder (or
//! `ZENGZHI_CONFORMANCE_DIR`), so cases added later are picked up without code changes.

use std::path::PathBuf;

use zengzhi_core::engine::{CascadeMode, Engine};
use zengzhi_core::replay::replay;
use zengzhi_core::rules::Rules;
use zengzhi_core::state::write_state;

fn conformance_dir() -> PathBuf {
    zengzhi_testkit::conformance::dir()
}

/// This crate's own cases of rules beyond the upstream set (`tests/cases/`, laid out as
/// `conformance/`; their README derives each expected figure).
fn own_cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

/// The conformance cases, then this crate's own cases: each with its folder.
fn cases() -> Vec<(String, PathBuf)> {
    let own = own_cases_dir();
    zengzhi_testkit::conformance::cases()
        .into_iter()
        .map(|c| (c.name, conformance_dir()))
        .chain(zengzhi_testkit::conformance::cases_in(&own).into_iter().map(|c| (c.name, own.clone())))
        .collect()
}

fn run_case(name: &str, dir: &std::path::Path, mode: CascadeMode, check: bool) -> Result<(), String> {
    let rules_path = dir.join(format!("{name}.rules.toml"));
    let rules = match std::fs::read_to_string(&rules_path) {
        Ok(text) => Rules::from_toml(&text).map_err(|e| format!("{name}: rules rejected: {e:?}"))?,
        Err(_) => Rules::default(),
    };
    let input = std::fs::read(dir.join(format!("{name}.jsonl"))).map_err(|e| e.to_string())?;
    let expected = std::fs::read(dir.join(format!("{name}.expected.json")))
        .map_err(|e| format!("{name}: no expected.json: {e}"))?;
    let out = replay(Engine::with_mode(rules, mode), &input, check, |_| {})
        .map_err(|b| format!("{name}: line {}: {}", b.line, b.violation))?;
    let mut text = Vec::new();
    write_state(&out.engine, Some(&out.results), &mut text).unwrap();
    if text != expected {
        let got = String::from_utf8_lossy(&text);
        let want = String::from_utf8_lossy(&expected);
        let first = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
        let context = |s: &str| s.lines().skip(first.saturating_sub(3)).take(8).collect::<Vec<_>>().join("\n");
        return Err(format!(
            "{name} ({mode:?}): output differs at line {}\n--- got\n{}\n--- expected\n{}",
            first + 1,
            context(&got),
            context(&want)
        ));
    }
    Ok(())
}

#[test]
fn every_case_byte_for_byte() {
    let failures: Vec<String> =
        cases().iter().filter_map(|(name, dir)| run_case(name, dir, CascadeMode::Indexed, false).err()).collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn every_case_with_the_naive_cascade_and_invariants_checked() {
    let failures: Vec<String> =
        cases().iter().filter_map(|(name, dir)| run_case(name, dir, CascadeMode::NaiveScan, true).err()).collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n\n"));
}

/// Each case replayed in two halves with a snapshot and a restore in between gives the same
/// bytes: snapshots lose nothing, and the rebuilt exit index behaves as the live one.
#[test]
fn every_case_through_a_snapshot_midway() {
    use zengzhi_core::command::parse_line;
    use zengzhi_core::replay::lines;
    let mut failures = Vec::new();
    for (name, dir) in cases() {
        let rules = std::fs::read_to_string(dir.join(format!("{name}.rules.toml")))
            .map(|t| Rules::from_toml(&t).unwrap())
            .unwrap_or_default();
        let input = std::fs::read(dir.join(format!("{name}.jsonl"))).unwrap();
        let expected = std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap();
        let all: Vec<&[u8]> = lines(&input).collect();
        let half = all.len() / 2;
        let mut engine = Engine::new(rules);
        let mut results = Vec::new();
        for line in &all[..half] {
            results.push(parse_line(line).and_then(|p| engine.apply_at(&p.command, p.at.as_deref())).map(|_| ()));
        }
        let bytes = engine.to_snapshot();
        let mut engine = Engine::from_snapshot(&bytes, CascadeMode::Indexed).expect("own snapshot reads back");
        assert_eq!(engine.to_snapshot().len(), bytes.len());
        for line in &all[half..] {
            results.push(parse_line(line).and_then(|p| engine.apply_at(&p.command, p.at.as_deref())).map(|_| ()));
        }
        let mut text = Vec::new();
        write_state(&engine, Some(&results), &mut text).unwrap();
        if text != expected {
            failures.push(name);
        }
    }
    assert!(failures.is_empty(), "differs after a snapshot: {failures:?}");
}

/// Damaged snapshots are refused with an error, never a panic or a wrong state.
#[test]
fn damaged_snapshots_are_refused() {
    let dir = conformance_dir();
    let input = std::fs::read(dir.join("mixed-01.jsonl")).unwrap();
    let out = replay(Engine::new(Rules::default()), &input, false, |_| {}).unwrap();
    let bytes = out.engine.to_snapshot();
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(Engine::from_snapshot(&bytes[..cut], CascadeMode::Indexed).is_err(), "cut at {cut}");
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(Engine::from_snapshot(&extra, CascadeMode::Indexed).is_err());
    // Flipping any single byte either is detected or yields a state that still satisfies the
    // structural checks; it never panics.
    for i in (0..bytes.len()).step_by(7) {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x5a;
        let _ = Engine::from_snapshot(&flipped, CascadeMode::Indexed);
    }
}

/// With change recording on, every member's recorded changes add up to its final balances in
/// every case: no balance moves without a ledger line.
#[test]
fn recorded_changes_add_up_to_the_balances() {
    use std::collections::HashMap;
    use zengzhi_core::command::parse_line;
    use zengzhi_core::replay::lines;
    for (name, dir) in cases() {
        let rules = std::fs::read_to_string(dir.join(format!("{name}.rules.toml")))
            .map(|t| Rules::from_toml(&t).unwrap())
            .unwrap_or_default();
        let input = std::fs::read(dir.join(format!("{name}.jsonl"))).unwrap();
        let mut engine = Engine::new(rules);
        engine.record_changes(true);
        let mut sums: HashMap<u32, [i64; 4]> = HashMap::new();
        for line in lines(&input) {
            let before = engine.take_changes();
            assert!(before.is_empty());
            if parse_line(line).and_then(|p| engine.apply_at(&p.command, p.at.as_deref())).is_err() {
                assert!(engine.take_changes().is_empty(), "{name}: a rejected command recorded changes");
            }
            for c in engine.take_changes() {
                let s = sums.entry(c.member).or_default();
                s[0] += c.points.to_units();
                s[1] += c.locked.to_units();
                s[2] += c.cash_fen.to_fen();
                s[3] += c.coins_fen.to_fen();
            }
        }
        for (i, m) in engine.members().iter().enumerate() {
            let s = sums.get(&(i as u32)).copied().unwrap_or_default();
            assert_eq!(
                s,
                [m.points.to_units(), m.locked.to_units(), m.cash_fen.to_fen(), m.coins_fen.to_fen()],
                "{name}: member {}",
                engine.member_id(i as u32)
            );
        }
    }
}
