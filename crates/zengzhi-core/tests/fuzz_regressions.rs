//! The inputs the fuzz targets of `fuzz/` found, kept as regression tests on stable Rust.
//!
//! Every file under `fuzz/regressions/<target>/` goes through the same property check the
//! fuzz target runs (`fuzz/src/checks.rs`, included here): the crash or broken property it once
//! showed stays fixed. `bench/fuzz/run.sh` runs the targets themselves (nightly, cargo-fuzz).

#[path = "../../../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::PathBuf;

use zengzhi_core::engine::{CascadeMode, Engine};

/// The files of `fuzz/<folder>/<target>/` (none if the folder does not exist).
fn files(folder: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(folder).join(target);
    let mut files: Vec<_> =
        std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    files("regressions", target)
}

/// Runs `check` on every kept finding of `target` and every input of its seed corpus; returns
/// how many there were (the seeds, made from the conformance cases and the rules example, keep
/// each property exercised on stable even where the fuzzer has found nothing).
fn run(target: &str, check: fn(&[u8])) -> usize {
    let mut inputs = regressions(target);
    inputs.extend(files("corpus", target));
    for (path, bytes) in &inputs {
        if std::panic::catch_unwind(|| check(bytes)).is_err() {
            panic!("{} fails its fuzz property again", path.display());
        }
    }
    inputs.len()
}

/// The targets without a structure of their own: every finding kept and every seed still holds.
#[test]
fn command_amount_rules_and_body_regressions() {
    let targets: [(&str, fn(&[u8])); 4] = [
        ("command_line", checks::command_line),
        ("amounts", checks::amounts),
        ("rules_toml", checks::rules_toml),
        ("http_bodies", checks::http_bodies),
    ];
    for (target, check) in targets {
        assert!(run(target, check) > 0, "no inputs for {target}");
    }
}

#[test]
fn snapshot_regressions() {
    assert!(run("snapshot", checks::snapshot) > 0);
    assert!(run("snapshot_mutate", checks::snapshot_mutate) > 0);
}

/// The first finding: snapshot bytes whose totals do not add up decoded to a state that broke
/// SPEC §7.3/§7.4 (the next accepted command would have tripped the engine's own assertion).
/// They are refused now, with the invariant named.
#[test]
fn a_snapshot_whose_money_does_not_add_up_is_refused() {
    for (path, bytes) in regressions("snapshot") {
        let err = Engine::from_snapshot(&bytes, CascadeMode::Indexed).err();
        let err = err.unwrap_or_else(|| panic!("{} decodes", path.display()));
        assert!(err.0.contains("invariant"), "{}: {err}", path.display());
    }
}

/// The second finding: a member's rewards total near `i64::MAX` (and, from the first run, totals
/// that do not add up) in an edited snapshot; the next order's reward overflowed. Such edits are
/// refused now, with the broken bound named; the base snapshot still decodes.
#[test]
fn an_edited_snapshot_out_of_bounds_is_refused() {
    assert!(Engine::from_snapshot(&checks::mutated(&[]), CascadeMode::Indexed).is_ok());
    for (path, bytes) in regressions("snapshot_mutate") {
        let err = Engine::from_snapshot(&checks::mutated(&bytes), CascadeMode::NaiveScan).err();
        let err = err.unwrap_or_else(|| panic!("{} decodes", path.display()));
        let expected = match path.file_name().and_then(|n| n.to_str()) {
            Some("money-does-not-add-up") => "7.3 money adds up",
            Some("rewards-overflow") => "rewards above the commissions",
            _ => "",
        };
        assert!(err.0.contains(expected), "{}: {err}", path.display());
    }
}
