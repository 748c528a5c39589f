//! Writes the seed snapshots of the `snapshot` fuzz target: the state after the first lines of
//! each conformance case. `cargo +nightly run --release --example seed_snapshots -- OUT_DIR`.

use zengzhi_core::command::parse_line;
use zengzhi_core::engine::Engine;
use zengzhi_core::rules::Rules;

fn main() {
    let out = std::env::args().nth(1).expect("an output folder");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance");
    let mut cases: Vec<_> = std::fs::read_dir(root).unwrap().flatten().map(|e| e.path()).collect();
    cases.sort();
    for case in cases.iter().filter(|p| p.extension().is_some_and(|x| x == "jsonl")) {
        let rules_path = case.with_extension("rules.toml");
        let rules = std::fs::read_to_string(&rules_path).map_or(Rules::default(), |t| Rules::from_toml(&t).unwrap());
        let mut e = Engine::new(rules);
        for line in std::fs::read(case).unwrap().split(|&b| b == b'\n').take(40) {
            if let Ok(p) = parse_line(line) {
                let _ = e.apply(&p.command);
            }
        }
        let name = case.file_stem().unwrap().to_string_lossy();
        std::fs::write(format!("{out}/seed-{name}.snap"), e.to_snapshot()).unwrap();
    }
}
