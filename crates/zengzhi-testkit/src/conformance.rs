//! The conformance cases: `NAME.jsonl` (commands), optional `NAME.rules.toml` and
//! `NAME.expected.json` (the exact bytes `zengzhi replay` must write), in the repository's
//! `conformance/` folder. `ZENGZHI_CONFORMANCE_DIR` points the tests at another copy (e.g. a
//! newer set of cases before they are committed).

use std::path::{Path, PathBuf};

/// The folder of the cases: `ZENGZHI_CONFORMANCE_DIR`, else `conformance/` at the root of the
/// repository.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ZENGZHI_CONFORMANCE_DIR") {
        return dir.into();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

/// A file of the cases' folder, e.g. `file("seed-first-exit.jsonl")`. Panics, naming the path,
/// when it does not exist: a missing case must fail the test, never skip it.
pub fn file(name: &str) -> PathBuf {
    let path = dir().join(name);
    assert!(path.is_file(), "conformance file {} not found", path.display());
    path
}

/// The bytes of a file of the cases' folder (see [`file`]).
pub fn read(name: &str) -> Vec<u8> {
    let path = file(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub name: String,
    /// The commands.
    pub input: PathBuf,
    /// The rules, when the case has its own (else the defaults of SPEC §4).
    pub rules: Option<PathBuf>,
    /// The exact expected output.
    pub expected: PathBuf,
}

impl Case {
    /// The case's rules file as text, if it has one.
    pub fn rules_text(&self) -> Option<String> {
        self.rules
            .as_ref()
            .map(|p| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())))
    }
}

/// Every case of the folder, sorted by name. Panics when the folder cannot be read or holds no
/// case, and when a case lacks its expected output.
pub fn cases() -> Vec<Case> {
    cases_in(&dir())
}

/// Every case of `dir` (a folder laid out as `conformance/`), as [`cases`] reads them.
pub fn cases_in(dir: &Path) -> Vec<Case> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("the cases folder {} cannot be read: {e}", dir.display()));
    let mut cases: Vec<Case> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let name = name.strip_suffix(".jsonl")?.to_string();
            let rules = dir.join(format!("{name}.rules.toml"));
            let expected = dir.join(format!("{name}.expected.json"));
            assert!(expected.is_file(), "conformance case {name} has no {}", expected.display());
            Some(Case {
                input: dir.join(format!("{name}.jsonl")),
                rules: rules.is_file().then_some(rules),
                expected,
                name,
            })
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(!cases.is_empty(), "no conformance cases found in {}", dir.display());
    cases
}
