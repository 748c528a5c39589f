//! Property tests of the engine (SPEC §6, §7, §10).
//!
//! Random command sequences covering every op of SPEC §6, valid and invalid, are generated as
//! JSON text lines and run through the real line reader (`parse_line`) and `Engine::apply`,
//! under random starting rules. After every command:
//!
//! - (a) every invariant of SPEC §7 holds (`invariants::Checker`);
//! - (b) a rejected command leaves the state byte-identical (the state JSON without results,
//!   plus what the JSON does not show: campaign, rules, shareholders, referrers, agent levels,
//!   counts, reference price);
//! - (d) the indexed exit cascade and the naive scan give the same result (including
//!   `Applied::exits`) and the same state bytes;
//! - (e) the price never falls: `pool' · supply ≥ pool · supply'` when both supplies are > 0.
//!
//! After each sequence, (c) replaying the same input twice gives identical bytes, equal to the
//! step-by-step run. Also checked: every parsed command's canonical JSON (`Command::to_json`)
//! reads back to the same command, and `Engine::apply_batch` gives exactly the results and
//! state of applying the commands one by one.
//!
//! Case counts are modest so the file runs in a few seconds in debug mode; set
//! `PROPTEST_CASES` for a deeper run (e.g. `PROPTEST_CASES=5000 cargo test --release --test
//! properties`).

mod common;
use common::snapshot;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use zengzhi_core::command::parse_line;
use zengzhi_core::engine::{Aggregates, CascadeMode, Engine};
use zengzhi_core::error::Rejection;
use zengzhi_core::invariants::Checker;
use zengzhi_core::replay::replay;
use zengzhi_core::rules::Rules;
use zengzhi_core::state::write_state;

// ---------------------------------------------------------------------------------------------
// Running a sequence and checking the properties
// ---------------------------------------------------------------------------------------------

/// What the generators reached, so a generator that silently stops producing some op or error
/// path is noticed.
#[derive(Default, Debug)]
struct Coverage {
    accepted: BTreeMap<&'static str, u64>,
    rejected: BTreeMap<&'static str, u64>,
    exits: u64,
}

fn run_sequence(rules: &Rules, lines: &[String], cov: &RefCell<Coverage>) -> Result<(), TestCaseError> {
    let mut indexed = Engine::with_mode(rules.clone(), CascadeMode::Indexed);
    let mut naive = Engine::with_mode(rules.clone(), CascadeMode::NaiveScan);
    let mut checker = Checker::new();
    let mut naive_checker = Checker::new();
    checker.check(&indexed).map_err(|v| TestCaseError::fail(format!("initial state: {v}")))?;
    let mut results: Vec<Result<(), Rejection>> = Vec::new();
    // The commands that parsed, and their results one by one, for `apply_batch`.
    let mut batch = Vec::new();
    let mut batch_ats: Vec<Option<String>> = Vec::new();
    let mut batch_expected = Vec::new();

    for (n, line) in lines.iter().enumerate() {
        let at = n + 1;
        let before = snapshot(&indexed);
        let (pool0, supply0) = (indexed.pool_fen(), indexed.supply_units());

        let parsed = parse_line(line.as_bytes());
        let op = parsed.as_ref().ok().map(|p| p.command.op());
        if let Ok(p) = &parsed {
            // The canonical JSON of a command reads back to the same command.
            let canonical = p.command.to_json(p.at.as_deref());
            let again = parse_line(canonical.as_bytes());
            prop_assert_eq!(again.as_ref().ok(), Some(p), "line {}: {} → {}", at, line, canonical);
            batch.push(p.command.clone());
            batch_ats.push(p.at.as_deref().map(str::to_string));
        }
        // With its `at`: the daily mint cap counts by it.
        let result = parsed.and_then(|p| indexed.apply_at(&p.command, p.at.as_deref()));
        if op.is_some() {
            batch_expected.push(result);
        }
        let naive_result = parse_line(line.as_bytes()).and_then(|p| naive.apply_at(&p.command, p.at.as_deref()));

        // (d) same result and same state for both cascade implementations.
        prop_assert_eq!(result, naive_result, "line {}: {}: indexed and naive results differ", at, line);
        let after = snapshot(&indexed);
        prop_assert_eq!(&after, &snapshot(&naive), "line {}: {}: indexed and naive states differ", at, line);

        // (b) atomicity.
        if let Err(rejection) = result {
            prop_assert_eq!(
                &before,
                &after,
                "line {}: {} was rejected ({}) but changed the state",
                at,
                line,
                rejection
            );
        }

        // (a) SPEC §7 invariants, on both engines.
        checker.check(&indexed).map_err(|v| TestCaseError::fail(format!("line {at}: {line}: {v}")))?;
        naive_checker.check(&naive).map_err(|v| TestCaseError::fail(format!("line {at}: {line} (naive): {v}")))?;

        // The kept sums equal a full scan after every line.
        prop_assert_eq!(Some(*indexed.aggregates()), Aggregates::scan(indexed.members()), "line {}: {}", at, line);

        // (e) the price never falls, checked directly.
        let (pool1, supply1) = (indexed.pool_fen(), indexed.supply_units());
        if supply0.is_positive() && supply1.is_positive() {
            prop_assert!(
                i128::from(pool1) * i128::from(supply0) >= i128::from(pool0) * i128::from(supply1),
                "line {}: {}: price fell from {}/{} to {}/{}",
                at,
                line,
                pool0,
                supply0,
                pool1,
                supply1
            );
        }

        let mut c = cov.borrow_mut();
        match (&result, op) {
            (Ok(applied), Some(op)) => {
                *c.accepted.entry(op).or_default() += 1;
                c.exits += u64::from(applied.exits);
            }
            (Err(r), _) => *c.rejected.entry(r.code()).or_default() += 1,
            (Ok(_), None) => unreachable!("an accepted line was parsed"),
        }
        results.push(result.map(|_| ()));
    }

    // `apply_batch` gives exactly the results and state of applying one by one.
    let mut batched = Engine::with_mode(rules.clone(), CascadeMode::Indexed);
    let mut batch_results = Vec::new();
    let ats: Vec<Option<&str>> = batch_ats.iter().map(Option::as_deref).collect();
    batched.apply_batch_at(&batch, &ats, &mut batch_results);
    prop_assert_eq!(batch_results, batch_expected, "apply_batch results differ");
    prop_assert_eq!(snapshot(&batched), snapshot(&indexed), "apply_batch state differs");

    // (c) replay is deterministic and equals the step-by-step run.
    let input = if lines.is_empty() { String::new() } else { lines.join("\n") + "\n" };
    let mut outputs = Vec::new();
    for mode in [CascadeMode::Indexed, CascadeMode::Indexed, CascadeMode::NaiveScan] {
        let replayed = replay(Engine::with_mode(rules.clone(), mode), input.as_bytes(), true, |_| {})
            .map_err(|b| TestCaseError::fail(format!("replay: line {}: {}", b.line, b.violation)))?;
        let mut out = Vec::new();
        write_state(&replayed.engine, Some(&replayed.results), &mut out).unwrap();
        outputs.push(out);
    }
    let mut stepwise = Vec::new();
    write_state(&indexed, Some(&results), &mut stepwise).unwrap();
    prop_assert!(outputs[0] == outputs[1], "two replays of the same input differ");
    prop_assert!(outputs[0] == outputs[2], "replay with the naive cascade differs");
    prop_assert!(outputs[0] == stepwise, "replay differs from the step-by-step run");
    Ok(())
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config { cases: cases(default_cases), failure_persistence: None, ..Config::default() })
}

fn run_property(default_cases: u32, strategy: impl Strategy<Value = (String, Vec<String>)>) -> Coverage {
    let cov = RefCell::new(Coverage::default());
    let mut runner = runner(default_cases);
    let outcome = runner.run(&strategy, |(toml, lines)| {
        let rules = Rules::from_toml(&toml)
            .map_err(|e| TestCaseError::fail(format!("generated rules rejected: {e:?}\n{toml}")))?;
        run_sequence(&rules, &lines, &cov)
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    cov.into_inner()
}

// ---------------------------------------------------------------------------------------------
// Generators: JSON text
// ---------------------------------------------------------------------------------------------

/// A JSON string literal (generated texts contain no quote, backslash or control character).
fn q(s: &str) -> String {
    format!("\"{s}\"")
}

/// One command object. `fields` hold raw JSON values; `None` fields are left out.
/// An order line from its field values, in the order of `ORDER_FIELDS`.
fn render_order(values: [Option<String>; 7], at: &Option<String>) -> String {
    const ORDER_FIELDS: [&str; 7] = ["order", "member", "merchant", "amount", "commission", "pay_cash", "pay_coins"];
    let fields: Vec<(&str, Option<String>)> = ORDER_FIELDS.into_iter().zip(values).collect();
    render("order", &fields, at)
}

fn render(op: &str, fields: &[(&str, Option<String>)], at: &Option<String>) -> String {
    let mut s = format!("{{\"op\":{}", q(op));
    for (k, v) in fields {
        if let Some(v) = v {
            s.push_str(&format!(",\"{k}\":{v}"));
        }
    }
    if let Some(at) = at {
        s.push_str(&format!(",\"at\":{at}"));
    }
    s.push('}');
    s
}

/// Fen as money text in one of several valid spellings.
fn fen_text(fen: u64, style: u8) -> String {
    let (yuan, cents) = (fen / 100, fen % 100);
    match style % 5 {
        0 if cents == 0 => format!("{yuan}"),
        1 if cents % 10 == 0 => format!("{yuan}.{}", cents / 10),
        2 => format!("00{yuan}.{cents:02}"),
        _ => format!("{yuan}.{cents:02}"),
    }
}

const BAD_MONEY: &[&str] = &["1.234", "-5", "1e3", "abc", "100000000.01", " 7", ".5", "12.", "", "+5", "0.001", "1,5"];

/// Money arguments: mostly valid 0.01 .. 50,000, some zero, limits and malformed.
fn money() -> BoxedStrategy<String> {
    prop_oneof![
        12 => (1u64..=500_000, any::<u8>()).prop_map(|(f, s)| fen_text(f, s)),
        3 => (1u64..=100, any::<u8>()).prop_map(|(f, s)| fen_text(f, s)),
        3 => (500_000u64..=5_000_000, any::<u8>()).prop_map(|(f, s)| fen_text(f, s)),
        1 => Just("0".to_string()),
        1 => select(&["100000000", "99999999.99", "0.00"][..]).prop_map(String::from),
        2 => select(BAD_MONEY).prop_map(String::from),
    ]
    .prop_map(|s| q(&s))
    .boxed()
}

/// Small money (payments, redemptions, withdrawals): 0 .. 200 mostly.
fn small_money() -> BoxedStrategy<String> {
    prop_oneof![
        10 => (0u64..=20_000, any::<u8>()).prop_map(|(f, s)| q(&fen_text(f, s))),
        2 => money(),
    ]
    .boxed()
}

/// Redemptions: mostly 0.01 .. 20.00, within reach of a typical holding.
fn redeem_money() -> BoxedStrategy<String> {
    prop_oneof![
        6 => (1u64..=2_000, any::<u8>()).prop_map(|(f, s)| q(&fen_text(f, s))),
        1 => small_money(),
    ]
    .boxed()
}

/// Injections: large enough to push prices past exit caps.
fn inject_money() -> BoxedStrategy<String> {
    prop_oneof![
        3 => money(),
        3 => (100_000u64..=20_000_000, any::<u8>()).prop_map(|(f, s)| q(&fen_text(f, s))),
    ]
    .boxed()
}

/// `d · 10^e` points as text with at most 8 decimals.
fn points_text(d: u64, e: i32) -> String {
    let units = u128::from(d) * 10u128.pow((8 + e) as u32);
    let s = format!("{}.{:08}", units / 100_000_000, units % 100_000_000);
    let s = s.trim_end_matches('0');
    s.trim_end_matches('.').to_string()
}

fn points() -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just("all".to_string()),
        10 => (1u64..=99, -8i32..=3).prop_map(|(d, e)| points_text(d, e)),
        // Typical holdings are 0.1 .. 500 points.
        6 => (1u64..=99, -2i32..=1).prop_map(|(d, e)| points_text(d, e)),
        1 => select(
            &["0", "0.00000000", "1.123456789", "10000000000.00000001", "-1", "1e2", "10000000000", "ALL", ""][..]
        )
        .prop_map(String::from),
    ]
    .prop_map(|s| q(&s))
    .boxed()
}

/// Rates inside commands: valid in [0, 1] with ≤ 6 decimals, or invalid.
fn rate() -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(&["0", "0.1", "0.2", "0.05", "0.35", "1", "0.123456", "0.000001", "0.5"][..]),
        1 => select(&["1.5", "0.1234567", "-0.1", "abc", "1e-1"][..]),
    ]
    .prop_map(q)
    .boxed()
}

const MEMBERS: &[&str] = &["m0", "m1", "m2", "m3", "m4", "m5"];
const MERCHANTS: &[&str] = &["s0", "s1", "s2"];
const REGIONS: &[&str] = &["440305", "440306", "440300", "440399", "440104", "440000", "110105", "110000", "450100"];

fn member_id() -> BoxedStrategy<String> {
    prop_oneof![
        24 => select(MEMBERS).prop_map(q),
        2 => select(&["m6", "m7"][..]).prop_map(q),
        1 => Just(q("ghost")),
        1 => select(&["\"bad id\"", "\"\"", "5", "null", "\"m0\\u0031\""][..]).prop_map(String::from),
        1 => Just(q(&"x".repeat(65))),
    ]
    .boxed()
}

fn merchant_id() -> BoxedStrategy<String> {
    prop_oneof![
        12 => select(MERCHANTS).prop_map(q),
        1 => select(&["s3", "nowhere"][..]).prop_map(q),
        1 => Just("7".to_string()),
    ]
    .boxed()
}

fn region() -> BoxedStrategy<String> {
    prop_oneof![
        10 => select(REGIONS).prop_map(q),
        1 => select(&["44030", "4403051", "abcdef", "44 305"][..]).prop_map(q),
        1 => Just("440305".to_string()), // a number, not a string
    ]
    .boxed()
}

fn at() -> BoxedStrategy<Option<String>> {
    option::weighted(
        0.15,
        prop_oneof![
            4 => select(&["2026-11-25T08:00:00+08:00", "2024-02-29 23:59:60.5Z", "2026-01-01t00:00:00z"][..]).prop_map(q),
            1 => select(&["\"2026-02-30T00:00:00Z\"", "\"yesterday\"", "5", "null"][..]).prop_map(String::from),
        ],
    )
    .boxed()
}

/// Rule keys with valid and invalid values (as JSON strings unless noted).
const RULE_CHOICES: &[(&str, &str, &[&str])] = &[
    ("exit", "multiple", &["0", "1.0", "1.2", "2", "0.1", "0.15", "100", "100.5", "-1"]),
    ("exit", "multiple", &["0", "1.2", "0.12"]),
    ("sell", "retention", &["0", "0.2", "0.5", "1", "1.1"]),
    ("sell", "min_lifetime_consumption", &["0", "100", "abc"]),
    ("points", "initial_price", &["0.01", "1", "2", "0"]),
    ("points", "mint_ratio", &["0.5", "0.7", "1", "1.01", "0"]),
    ("commission", "default_rate", &["0.1", "0.2", "0.35"]),
    ("commission", "pool_share", &["0.8", "0.5", "0.95"]),
    ("commission", "distribution_share", &["0.1", "0.02", "0.3"]),
    ("referral", "direct", &["0.003", "0.05"]),
    ("referral", "merchant_recruiter", &["0.005", "0.2"]),
    ("agents", "peer", &["0", "0.5", "1"]),
    ("agents", "district", &["0.001", "0.01"]),
    ("agents", "province", &["0.003", "0.02"]),
    ("dividends", "share_of_platform", &["0", "0.5", "1"]),
    ("vesting", "release", &["0", "0.01", "0.5", "1"]),
    ("withdraw", "min", &["0", "1", "50"]),
    ("withdraw", "fee", &["0", "0.01", "0.1"]),
    ("limits", "max_mint_value_per_order", &["0", "10", "500", "100000000.01"]),
    ("limits", "self_dealing", &["allow", "no_mint", "reject", "reject", "Reject"]),
    ("limits", "max_mint_value_per_member_day", &["0", "20", "300", "100000000.01"]),
    ("nope", "x", &["1"]),
    ("exit", "nope", &["1"]),
];

fn rules_object() -> BoxedStrategy<String> {
    let picks = vec((0..RULE_CHOICES.len(), any::<prop::sample::Index>()), 1..=3).prop_map(|picks| {
        let mut doc: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for (i, value) in picks {
            let (section, key, values) = RULE_CHOICES[i];
            doc.entry(section).or_default().insert(key, values[value.index(values.len())]);
        }
        let sections: Vec<String> = doc
            .iter()
            .map(|(section, keys)| {
                let keys: Vec<String> = keys.iter().map(|(k, v)| format!("{}:{}", q(k), q(v))).collect();
                format!("{}:{{{}}}", q(section), keys.join(","))
            })
            .collect();
        format!("{{{}}}", sections.join(","))
    });
    prop_oneof![
        10 => picks,
        1 => select(
            &[
                r#"{"exit":{"multiple":2}}"#,
                r#"{"exit":{"multiple":null}}"#,
                r#"{"exit":"2"}"#,
                r#"{}"#,
                r#"{"exit":{}}"#,
                r#""x""#,
                r#"null"#,
                r#"[]"#,
            ][..]
        )
        .prop_map(String::from),
    ]
    .boxed()
}

const MALFORMED: &[&str] = &[
    "",
    "{",
    "[]",
    "null",
    "not json",
    "{}",
    r#"{"op":"nope"}"#,
    r#"{"op":"inject","amount":100}"#,
    r#"{"op":"inject","amount":"1","amount":"2"}"#,
    r#"{"op":"inject","amount":"1","extra":1}"#,
    r#"{"op":"order","order":"o1","member":"m0","amount":"1"}"#,
    r#"{"op":"inject","amount":NaN}"#,
    r#"{"op":"inject","amount":"\ud800"}"#,
    r#"{"op":"end_campaign","x":null}"#,
    r#"{"op":"release_locked","at":"2026-13-01T00:00:00Z"}"#,
    r#"{"op":"distribute_dividends"} x"#,
    r#"{"op":"sell","member":"m0"}"#,
    r#"{"op":"set_shareholder","member":"m0","weight":"2"}"#,
    r#"{"op":"appoint_agent","member":"m0","level":"mayor","region":"440305"}"#,
    r#"{"op":"update_rules","rules":{"exit":{"multiple":"1","multiple":"2"}}}"#,
    "{\"op\":\"end_campaign\"}\r",
    " {\"op\" : \"release_locked\" } ",
    r#"{"op":"register_member","member":"m9","referrer":null}"#,
];

fn command() -> BoxedStrategy<String> {
    let register_member =
        (member_id(), option::weighted(0.5, prop_oneof![4 => member_id(), 1 => Just("null".to_string())]), at())
            .prop_map(|(m, r, at)| render("register_member", &[("member", Some(m)), ("referrer", r)], &at));
    let register_merchant = (
        prop_oneof![4 => merchant_id(), 1 => Just(q("s3"))],
        option::weighted(0.4, rate()),
        option::weighted(0.2, member_id()),
        option::weighted(0.4, member_id()),
        option::weighted(0.6, region()),
        at(),
    )
        .prop_map(|(s, c, o, r, g, at)| {
            render(
                "register_merchant",
                &[("merchant", Some(s)), ("commission", c), ("owner", o), ("recruiter", r), ("region", g)],
                &at,
            )
        });
    let appoint_agent = (
        member_id(),
        prop_oneof![10 => select(&["district", "city", "province"][..]).prop_map(q), 1 => Just(q("mayor"))],
        region(),
        at(),
    )
        .prop_map(|(m, l, g, at)| {
            render("appoint_agent", &[("member", Some(m)), ("level", Some(l)), ("region", Some(g))], &at)
        });
    let set_shareholder = (
        member_id(),
        select(&["0", "1", "2", "3", "10", "4294967295", "4294967296", "2.0", "1e2", "-1", "\"2\"", "-0"][..]),
        at(),
    )
        .prop_map(|(m, w, at)| render("set_shareholder", &[("member", Some(m)), ("weight", Some(w.to_string()))], &at));
    let member_amount = |op: &'static str, amount: BoxedStrategy<String>| {
        (member_id(), amount, at())
            .prop_map(move |(m, a, at)| render(op, &[("member", Some(m)), ("amount", Some(a))], &at))
    };
    let order = (
        (0u32..60).prop_map(|n| q(&format!("o{n}"))),
        member_id(),
        option::weighted(0.9, merchant_id()),
        money(),
        option::weighted(0.12, small_money()),
        option::weighted(0.2, small_money()),
        option::weighted(0.2, small_money()),
        at(),
    )
        .prop_map(|(o, m, s, a, c, cash, coins, at)| render_order([Some(o), Some(m), s, Some(a), c, cash, coins], &at));
    let sell = (member_id(), points(), at())
        .prop_map(|(m, p, at)| render("sell", &[("member", Some(m)), ("points", Some(p))], &at));
    let inject = (inject_money(), at()).prop_map(|(a, at)| render("inject", &[("amount", Some(a))], &at));
    let start_campaign =
        (select(&["c0", "c1", "c2", "c3", "c4"][..]).prop_map(q), rate(), money(), at()).prop_map(|(c, r, b, at)| {
            render("start_campaign", &[("campaign", Some(c)), ("rate", Some(r)), ("budget", Some(b))], &at)
        });
    let bare = |op: &'static str| at().prop_map(move |at| render(op, &[], &at));
    let update_rules = (rules_object(), at()).prop_map(|(r, at)| render("update_rules", &[("rules", Some(r))], &at));
    let malformed = select(MALFORMED).prop_map(String::from);

    prop_oneof![
        2 => register_member,
        1 => register_merchant,
        1 => appoint_agent,
        1 => set_shareholder,
        2 => member_amount("grant_coins", money()),
        16 => order,
        8 => sell,
        3 => member_amount("redeem", redeem_money()),
        2 => member_amount("withdraw", small_money()),
        3 => inject,
        2 => start_campaign,
        1 => bare("end_campaign"),
        1 => bare("release_locked"),
        1 => bare("distribute_dividends"),
        3 => update_rules,
        1 => malformed,
    ]
    .boxed()
}

/// Members with referral chains, stores with recruiters and regions, and agents, so that the
/// random body's commands interact.
fn prologue() -> BoxedStrategy<Vec<String>> {
    (
        vec(option::weighted(0.6, 0usize..6), 6),
        vec((option::weighted(0.3, rate()), option::weighted(0.5, 0usize..6), option::weighted(0.8, 0usize..4)), 3),
        vec((0usize..6, select(&["district", "city", "province"][..]), 0usize..REGIONS.len()), 0..6),
    )
        .prop_map(|(referrers, stores, agents)| {
            let mut lines = Vec::new();
            for (i, r) in referrers.iter().enumerate() {
                let referrer = r.filter(|&r| r < i).map(|r| q(MEMBERS[r]));
                lines.push(render(
                    "register_member",
                    &[("member", Some(q(MEMBERS[i]))), ("referrer", referrer)],
                    &None,
                ));
            }
            for (i, (commission, recruiter, region)) in stores.into_iter().enumerate() {
                lines.push(render(
                    "register_merchant",
                    &[
                        ("merchant", Some(q(MERCHANTS[i]))),
                        ("commission", commission),
                        ("recruiter", recruiter.map(|r| q(MEMBERS[r]))),
                        ("region", region.map(|g| q(["440305", "440306", "440104", "110105"][g]))),
                    ],
                    &None,
                ));
            }
            for (m, level, g) in agents {
                lines.push(render(
                    "appoint_agent",
                    &[("member", Some(q(MEMBERS[m]))), ("level", Some(q(level))), ("region", Some(q(REGIONS[g])))],
                    &None,
                ));
            }
            lines
        })
        .boxed()
}

fn ppm_text(ppm: u32) -> String {
    if ppm >= 1_000_000 {
        "1".to_string()
    } else {
        format!("0.{ppm:06}")
    }
}

/// Valid starting rules as TOML (parsed by `Rules::from_toml`, so the TOML reader is exercised).
fn starting_rules() -> BoxedStrategy<String> {
    (
        (
            prop_oneof![2 => Just(200_000u32), 1 => Just(0u32), 3 => 0u32..=500_000],
            select(&["0", "1.0", "1.2", "2", "0.1", "0.15", "1.2", "1.2"][..]),
            select(&["0.70", "0.5", "1", "0.35", "0.70"][..]),
            select(&["1.00", "0.01", "3.33", "1000", "1.00"][..]),
            select(&["0.00", "0.1", "0.5"][..]),
            select(&["0.01", "0", "0.5", "1", "0.000001"][..]),
        ),
        (
            select(&["0.00", "1", "20"][..]),
            select(&["0.00", "0.01", "0.1"][..]),
            select(&["0.00", "0.00", "5", "200"][..]),
            select(&["0.00", "0.3"][..]),
            select(&["0.00", "0.00", "50"][..]),
            select(&["0.20", "0.1", "0.35", "1"][..]),
        ),
        (select(&["allow", "no_mint", "reject", "reject"][..]), select(&["0.00", "0.00", "50", "300"][..])),
    )
        .prop_map(
            |(
                (retention, multiple, mint, price, peer, release),
                (wmin, fee, maxmint, div, minlife, rate),
                (dealing, daycap),
            )| {
                format!(
                    "[points]\ninitial_price = \"{price}\"\nmint_ratio = \"{mint}\"\n\
                 [commission]\ndefault_rate = \"{rate}\"\n\
                 [sell]\nretention = \"{}\"\nmin_lifetime_consumption = \"{minlife}\"\n\
                 [exit]\nmultiple = \"{multiple}\"\n\
                 [agents]\npeer = \"{peer}\"\n\
                 [dividends]\nshare_of_platform = \"{div}\"\n\
                 [vesting]\nrelease = \"{release}\"\n\
                 [withdraw]\nmin = \"{wmin}\"\nfee = \"{fee}\"\n\
                 [limits]\nmax_mint_value_per_order = \"{maxmint}\"\nself_dealing = \"{dealing}\"\n\
                 max_mint_value_per_member_day = \"{daycap}\"\n",
                    ppm_text(retention)
                )
            },
        )
        .boxed()
}

fn sequences() -> impl Strategy<Value = (String, Vec<String>)> {
    (starting_rules(), prologue(), vec(command(), 0..=60)).prop_map(|(rules, mut lines, body)| {
        lines.extend(body);
        (rules, lines)
    })
}

// ---------------------------------------------------------------------------------------------
// Boundary amounts: overflow, amount_too_small, argument limits
// ---------------------------------------------------------------------------------------------

fn boundary_rules() -> BoxedStrategy<String> {
    (
        // Mostly a price of 1 fen per point and full mints, where a few maximal orders reach
        // the 64-bit bound of `supply` (2^63 − 1 units ≈ 9.2 · 10^10 points).
        select(&["0.01", "0.01", "0.01", "100000000", "1"][..]),
        select(&["1", "1", "0.7"][..]),
        select(
            &[
                "default_rate = \"1\"\npool_share = \"1\"\ndistribution_share = \"0\"",
                "default_rate = \"1\"\npool_share = \"1\"\ndistribution_share = \"0\"",
                "default_rate = \"1\"",
                "default_rate = \"0.2\"",
            ][..],
        ),
        select(&["0", "0", "0", "1.2", "100", "0.000001"][..]),
        select(&["0", "0.2", "1"][..]),
    )
        .prop_map(|(price, mint, commission, multiple, retention)| {
            format!(
                "[points]\ninitial_price = \"{price}\"\nmint_ratio = \"{mint}\"\n\
                 [commission]\n{commission}\n\
                 [exit]\nmultiple = \"{multiple}\"\n\
                 [sell]\nretention = \"{retention}\"\n"
            )
        })
        .boxed()
}

fn boundary_command() -> BoxedStrategy<String> {
    let who = || select(&["b0", "b1", "b2"][..]).prop_map(q);
    // Mostly the largest money argument, so a 64-bit bound is reached within a sequence.
    let big = || {
        prop_oneof![
            8 => Just("100000000"),
            4 => select(&["99999999.99", "50000000", "0.01", "0.02", "1"][..]),
            1 => select(&["100000000.01", "0"][..]),
        ]
        .prop_map(q)
    };
    let order = (
        (0u32..200).prop_map(|n| q(&format!("o{n}"))),
        who(),
        option::weighted(0.85, Just(q("s0"))),
        big(),
        option::weighted(0.1, big()),
        option::weighted(0.1, big()),
        option::weighted(0.15, big()),
    )
        .prop_map(|(o, m, s, a, c, cash, coins)| {
            // Without a store, an explicit commission is needed.
            let c = if s.is_none() && c.is_none() { Some(q("100000000")) } else { c };
            render_order([Some(o), Some(m), s, Some(a), c, cash, coins], &None)
        });
    let sell = (
        who(),
        prop_oneof![
            // Tiny sales (amount_too_small at a low price) ...
            6 => select(&["0.00000001", "0.00000099", "1", "0.001"][..]),
            // ... and sales at the points-argument limit, rarer so that supply can grow.
            1 => select(&["10000000000", "9999999999.99999999", "all", "10000000000.00000001"][..]),
        ]
        .prop_map(q),
    )
        .prop_map(|(m, p)| render("sell", &[("member", Some(m)), ("points", Some(p))], &None));
    prop_oneof![
        30 => order,
        4 => sell,
        1 => big().prop_map(|a| render("inject", &[("amount", Some(a))], &None)),
        2 => (who(), big()).prop_map(|(m, a)| render("redeem", &[("member", Some(m)), ("amount", Some(a))], &None)),
        2 => (who(), big()).prop_map(|(m, a)| render("grant_coins", &[("member", Some(m)), ("amount", Some(a))], &None)),
        1 => (who(), big()).prop_map(|(m, a)| render("withdraw", &[("member", Some(m)), ("amount", Some(a))], &None)),
        1 => select(&["0", "1.2", "100", "0.000001"][..])
            .prop_map(|m| render("update_rules", &[("rules", Some(format!("{{\"exit\":{{\"multiple\":{}}}}}", q(m))))], &None)),
        1 => (select(&["k0", "k1"][..]).prop_map(q), select(&["1", "0.5"][..]).prop_map(q), big())
            .prop_map(|(c, r, b)| render("start_campaign", &[("campaign", Some(c)), ("rate", Some(r)), ("budget", Some(b))], &None)),
        1 => Just(render("end_campaign", &[], &None)),
        1 => Just(render("release_locked", &[], &None)),
    ]
    .boxed()
}

fn boundary_sequences() -> impl Strategy<Value = (String, Vec<String>)> {
    (boundary_rules(), vec(boundary_command(), 1..=70)).prop_map(|(rules, body)| {
        let mut lines = vec![
            render("register_merchant", &[("merchant", Some(q("s0")))], &None),
            render("register_member", &[("member", Some(q("b0")))], &None),
            render("register_member", &[("member", Some(q("b1"))), ("referrer", Some(q("b0")))], &None),
            render("register_member", &[("member", Some(q("b2"))), ("referrer", Some(q("b1")))], &None),
        ];
        lines.extend(body);
        (rules, lines)
    })
}

// ---------------------------------------------------------------------------------------------
// Many members: long exit cascades through the trigger-price index
// ---------------------------------------------------------------------------------------------

const CROWD: u32 = 40;

fn crowd_command() -> BoxedStrategy<String> {
    let who = || (0..CROWD).prop_map(|i| q(&format!("c{i}")));
    // Amounts over five orders of magnitude spread the trigger prices over many buckets.
    let amount = || (1u64..=7, 0u32..=6).prop_map(|(d, e)| q(&fen_text(d * 10u64.pow(e), 3)));
    let order = ((0u32..400).prop_map(|n| q(&format!("o{n}"))), who(), amount()).prop_map(|(o, m, a)| {
        render(
            "order",
            &[("order", Some(o)), ("member", Some(m)), ("merchant", Some(q("s0"))), ("amount", Some(a))],
            &None,
        )
    });
    prop_oneof![
        20 => order,
        3 => amount().prop_map(|a| render("inject", &[("amount", Some(a))], &None)),
        3 => (who(), select(&["all", "1", "10", "0.5"][..]).prop_map(q))
            .prop_map(|(m, p)| render("sell", &[("member", Some(m)), ("points", Some(p))], &None)),
        1 => (who(), amount()).prop_map(|(m, a)| render("redeem", &[("member", Some(m)), ("amount", Some(a))], &None)),
        1 => select(&["0", "1.0", "1.2", "2", "0.15", "1.5"][..]).prop_map(|m| {
            render("update_rules", &[("rules", Some(format!("{{\"exit\":{{\"multiple\":{}}}}}", q(m))))], &None)
        }),
    ]
    .boxed()
}

fn crowd_sequences() -> impl Strategy<Value = (String, Vec<String>)> {
    (select(&["1.2", "2", "0.15", "1.0"][..]), select(&["0.2", "0", "0.5"][..]), vec(crowd_command(), 1..=120))
        .prop_map(|(multiple, retention, body)| {
            let rules = format!("[exit]\nmultiple = \"{multiple}\"\n[sell]\nretention = \"{retention}\"\n");
            let mut lines = vec![render("register_merchant", &[("merchant", Some(q("s0")))], &None)];
            for i in 0..CROWD {
                lines.push(render("register_member", &[("member", Some(q(&format!("c{i}"))))], &None));
            }
            lines.extend(body);
            (rules, lines)
        })
}

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

#[test]
fn random_sequences_keep_invariants_atomicity_determinism_and_cascade_equivalence() {
    let cov = run_property(128, sequences());
    eprintln!("coverage: {cov:?}");
    if cases(128) >= 64 {
        // Every op of SPEC §6 was accepted at least once, and exits happened: the generator
        // reaches the interesting paths, not only rejections.
        let ops = [
            "register_member",
            "register_merchant",
            "appoint_agent",
            "set_shareholder",
            "grant_coins",
            "order",
            "sell",
            "redeem",
            "withdraw",
            "inject",
            "start_campaign",
            "end_campaign",
            "release_locked",
            "distribute_dividends",
            "update_rules",
        ];
        for op in ops {
            assert!(cov.accepted.get(op).copied().unwrap_or(0) > 0, "no accepted {op}: {cov:?}");
        }
        assert!(cov.exits > 0, "no exit happened: {cov:?}");
        let codes: BTreeSet<&str> = cov.rejected.keys().copied().collect();
        // Every code but these four, which this test does not require (overflow and
        // amount_too_small are the boundary test's, below).
        let unreachable = ["below_sell_threshold", "below_minimum", "amount_too_small", "overflow"];
        for code in Rejection::ALL.iter().map(|r| r.code()).filter(|c| !unreachable.contains(c)) {
            assert!(codes.contains(code), "{code} never produced: {cov:?}");
        }
    }
}

#[test]
fn boundary_amounts_reach_overflow_and_amount_too_small_atomically() {
    let cov = run_property(64, boundary_sequences());
    eprintln!("coverage: {cov:?}");
    if cases(64) >= 32 {
        for code in ["overflow", "amount_too_small", "invalid_amount"] {
            assert!(cov.rejected.contains_key(code), "{code} never produced: {cov:?}");
        }
    }
}

#[test]
fn many_members_indexed_cascade_matches_the_naive_scan() {
    let cov = run_property(32, crowd_sequences());
    eprintln!("coverage: {cov:?}");
    if cases(32) >= 16 {
        assert!(cov.exits >= 20, "too few exits to exercise the index: {cov:?}");
    }
}

/// An engine with some state, for feeding parsed garbage to.
fn busy_engine() -> Engine {
    let mut e = Engine::new(Rules::default());
    for line in [
        r#"{"op":"register_merchant","merchant":"s0","region":"440305"}"#,
        r#"{"op":"register_member","member":"m0"}"#,
        r#"{"op":"register_member","member":"m1","referrer":"m0"}"#,
        r#"{"op":"appoint_agent","member":"m0","level":"district","region":"440305"}"#,
        r#"{"op":"grant_coins","member":"m1","amount":"50"}"#,
        r#"{"op":"order","order":"o0","member":"m0","merchant":"s0","amount":"1000"}"#,
        r#"{"op":"order","order":"o1","member":"m1","merchant":"s0","amount":"300","pay_coins":"50"}"#,
    ] {
        e.apply(&parse_line(line.as_bytes()).unwrap().command).unwrap();
    }
    e
}

/// Parses `bytes`; if it is a command, applies it and checks atomicity and invariants.
fn parse_and_apply(base: &Engine, bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(parsed) = parse_line(bytes) else { return Ok(()) };
    let mut e = base.clone();
    let before = snapshot(&e);
    let mut checker = Checker::new();
    checker.check(&e).map_err(|v| TestCaseError::fail(v.to_string()))?;
    if e.apply(&parsed.command).is_err() {
        prop_assert_eq!(before, snapshot(&e));
    }
    checker.check(&e).map_err(|v| TestCaseError::fail(v.to_string()))?;
    Ok(())
}

/// One edit of a line: replace, insert or delete a byte at a position.
#[derive(Debug, Clone)]
enum Edit {
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to JSON and to the number and id readers, plus any byte.
    let byte = prop_oneof![
        3 => select(&b"{}[]\":,\\.-+0123456789eEnul \r\t\x00\x7f\xff\xc3\xa9"[..]),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
    ]
}

fn mutate(line: &str, edits: &[Edit]) -> Vec<u8> {
    let mut b = line.as_bytes().to_vec();
    for e in edits {
        match e {
            Edit::Replace(i, x) if !b.is_empty() => {
                let i = i.index(b.len());
                b[i] = *x;
            }
            Edit::Insert(i, x) => {
                let i = i.index(b.len() + 1);
                b.insert(i, *x);
            }
            Edit::Delete(i) if !b.is_empty() => {
                let i = i.index(b.len());
                b.remove(i);
            }
            _ => {}
        }
    }
    b
}

#[test]
fn parse_line_never_panics_on_arbitrary_bytes() {
    let base = busy_engine();
    let mut runner = runner(512);
    let strategy = prop_oneof![
        vec(any::<u8>(), 0..200),
        // Mostly-JSON bytes, more likely to get past the first character.
        vec(select(&b"{}[]\":,\\.-+0123456789eEaflnrstu opm_ \t\r"[..]), 0..120),
    ];
    runner.run(&strategy, |bytes| parse_and_apply(&base, &bytes)).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn parse_line_never_panics_on_mutated_valid_lines() {
    let base = busy_engine();
    let mut runner = runner(512);
    runner
        .run(&(command(), vec(edit(), 1..6)), |(line, edits)| parse_and_apply(&base, &mutate(&line, &edits)))
        .unwrap_or_else(|e| panic!("{e}"));
}
