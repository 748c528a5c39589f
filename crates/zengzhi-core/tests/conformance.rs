//! Every case in the shared conformance folder, reproduced byte for byte.
//!
//! Cases are discovered from the folder (`../shared/conformance` beside the checkout, or
//! `ZENGZHI_CONFORMANCE_DIR`), so cases added later are picked up without code changes.

use std::path::PathBuf;

use zengzhi_core::engine::{CascadeMode, Engine};
use zengzhi_core::replay::replay;
use zengzhi_core::rules::Rules;
use zengzhi_core::state::write_state;

fn conformance_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ZENGZHI_CONFORMANCE_DIR") {
        return dir.into();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
}

fn cases() -> Vec<(String, PathBuf)> {
    let dir = conformance_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the conformance folder {} cannot be read: {e}", dir.display()));
    let mut cases: Vec<(String, PathBuf)> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let case = name.strip_suffix(".jsonl")?.to_string();
            Some((case, dir.clone()))
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no conformance cases found in {}", dir.display());
    cases
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
