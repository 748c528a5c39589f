//! Hand-derived unit tests: the seed's worked example (SPEC §9), one test per error code of
//! SPEC §8, and the reward, vesting, dividend, redemption and exit-cascade rules of SPEC §6/§10.
//!
//! Every expected number is derived in a comment from the formulas of SPEC, never pasted from
//! engine output. Units: money in fen (1 yuan = 100 fen), points in units (1 point = 10^8
//! units), rates in ppm. Every command goes through the real line reader (`parse_line`) and is
//! applied to two engines, one with the indexed exit cascade and one with the naive scan; after
//! every command both must write the same state bytes and pass every invariant of SPEC §7, and a
//! rejected command must leave the state byte-identical.

mod common;
use common::snapshot;
use zengzhi_core::command::parse_line;
use zengzhi_core::engine::{Applied, CascadeMode, Engine, Member, Reason, RewardKind};
use zengzhi_core::invariants::Checker;
use zengzhi_core::num::{format_money, format_points, format_price, Fen, Units};
use zengzhi_core::rules::Rules;

/// 1 point in units.
const PT: i64 = 100_000_000;

/// Two engines (indexed and naive cascade) driven in lockstep, with invariant checkers.
struct Harness {
    engine: Engine,
    naive: Engine,
    checker: Checker,
    naive_checker: Checker,
}

impl Harness {
    fn new() -> Self {
        Self::with_rules(Rules::default())
    }

    fn with_toml(toml: &str) -> Self {
        Self::with_rules(Rules::from_toml(toml).expect("test rules are valid"))
    }

    fn with_rules(rules: Rules) -> Self {
        Harness {
            engine: Engine::with_mode(rules.clone(), CascadeMode::Indexed),
            naive: Engine::with_mode(rules, CascadeMode::NaiveScan),
            checker: Checker::new(),
            naive_checker: Checker::new(),
        }
    }

    /// Applies one JSON line to both engines; returns the result as a stable code.
    fn run(&mut self, line: &str) -> Result<Applied, &'static str> {
        let before = snapshot(&self.engine);
        let result = parse_line(line.as_bytes()).and_then(|p| self.engine.apply(&p.command));
        let naive_result = parse_line(line.as_bytes()).and_then(|p| self.naive.apply(&p.command));
        assert_eq!(result, naive_result, "indexed and naive results differ on {line}");
        let after = snapshot(&self.engine);
        assert_eq!(after, snapshot(&self.naive), "indexed and naive states differ after {line}");
        if result.is_err() {
            assert_eq!(before, after, "rejected command {line} changed the state");
        }
        self.checker.check(&self.engine).unwrap_or_else(|v| panic!("after {line}: {v}"));
        self.naive_checker.check(&self.naive).unwrap_or_else(|v| panic!("after {line} (naive): {v}"));
        result.map_err(|r| r.code())
    }

    fn ok(&mut self, line: &str) -> Applied {
        self.run(line).unwrap_or_else(|code| panic!("{line} was rejected with {code}"))
    }

    /// Asserts that `line` is rejected with `code` (and, via `run`, that nothing changed).
    fn err(&mut self, line: &str, code: &str) {
        assert_eq!(self.run(line).err(), Some(code), "{line}");
    }

    fn m(&self, id: &str) -> &Member {
        self.engine.member(id).unwrap_or_else(|| panic!("no member {id}"))
    }

    fn pool(&self) -> i64 {
        self.engine.pool_fen().to_fen()
    }

    fn supply(&self) -> i64 {
        self.engine.supply_units().to_units()
    }

    fn price(&self) -> String {
        let (p, n) = self.engine.reference_price();
        format_price(p, n)
    }
}

fn order(id: &str, member: &str, merchant: &str, amount: &str) -> String {
    format!(r#"{{"op":"order","order":"{id}","member":"{member}","merchant":"{merchant}","amount":"{amount}"}}"#)
}

fn member(id: &str) -> String {
    format!(r#"{{"op":"register_member","member":"{id}"}}"#)
}

fn member_ref(id: &str, referrer: &str) -> String {
    format!(r#"{{"op":"register_member","member":"{id}","referrer":"{referrer}"}}"#)
}

fn agent(id: &str, level: &str, region: &str) -> String {
    format!(r#"{{"op":"appoint_agent","member":"{id}","level":"{level}","region":"{region}"}}"#)
}

// ---------------------------------------------------------------------------------------------
// SPEC §9: the seed's worked example
// ---------------------------------------------------------------------------------------------

/// Three members each buy 1000 at a 20% store (default rules).
fn seed_three_orders() -> Harness {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    for u in ["u1", "u2", "u3"] {
        h.ok(&member(u));
    }

    // Order 1, amount 1000.00 = 100_000 fen.
    //   c = ⌊100_000 · 0.20⌋ = 20_000; I = ⌊20_000 · 0.80⌋ = 16_000; D = ⌊20_000 · 0.10⌋ = 2_000;
    //   platform part = 20_000 − 16_000 − 2_000 = 2_000, plus the unused D (nobody to reward)
    //   = 4_000 fen = 40.00.
    //   V = ⌊16_000 · 0.70⌋ = 11_200 fen (worth 112 yuan). Before any mint the reference price is
    //   (initial_price, 10^8) = (100 fen, 10^8 units), so M = ⌊11_200 · 10^8 / 100⌋ = 11_200_000_000
    //   units = 112 points. pool = 16_000, supply = 11_200_000_000.
    //   price = ⌊16_000 · 10^14 / 11_200_000_000⌋ = ⌊142_857_142.857…⌋ → 1.42857142.
    let a = h.ok(&order("o1", "u1", "store1", "1000"));
    assert_eq!(a.minted.to_units(), 11_200_000_000);
    assert_eq!(format_points(a.minted), "112.00000000");
    assert_eq!(h.pool(), 16_000);
    assert_eq!(h.supply(), 11_200_000_000);
    assert_eq!(h.price(), "1.42857142");
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 4_000);

    // Order 2: same split, V = 11_200; reference = current (16_000, 11_200_000_000):
    //   M = ⌊11_200 · 11_200_000_000 / 16_000⌋ = ⌊125_440_000_000_000 / 16_000⌋ = 7_840_000_000
    //   = 78.4 points. pool = 32_000, supply = 19_040_000_000.
    //   price = ⌊32_000 · 10^14 / 19_040_000_000⌋ = ⌊168_067_226.89…⌋ → 1.68067226.
    let a = h.ok(&order("o2", "u2", "store1", "1000"));
    assert_eq!(a.minted.to_units(), 7_840_000_000);
    assert_eq!(format_points(a.minted), "78.40000000");
    assert_eq!(h.pool(), 32_000);
    assert_eq!(h.supply(), 19_040_000_000);
    assert_eq!(h.price(), "1.68067226");

    // Order 3: M = ⌊11_200 · 19_040_000_000 / 32_000⌋ = ⌊213_248_000_000_000 / 32_000⌋
    //   = 6_664_000_000 = 66.64 points. pool = 48_000, supply = 25_704_000_000.
    //   price = ⌊48_000 · 10^14 / 25_704_000_000⌋ = ⌊186_741_363.2…⌋ → 1.86741363.
    let a = h.ok(&order("o3", "u3", "store1", "1000"));
    assert_eq!(a.minted.to_units(), 6_664_000_000);
    assert_eq!(format_points(a.minted), "66.64000000");
    assert_eq!(h.pool(), 48_000);
    assert_eq!(h.supply(), 25_704_000_000);
    assert_eq!(h.price(), "1.86741363");
    assert_eq!(format_money(h.engine.pool_fen()), "480.00");
    assert_eq!(format_points(h.engine.supply_units()), "257.04000000");
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 12_000);
    h
}

#[test]
fn seed_table_three_orders() {
    let h = seed_three_orders();
    for (u, units) in [("u1", 11_200_000_000), ("u2", 7_840_000_000), ("u3", 6_664_000_000)] {
        assert_eq!(h.m(u).points.to_units(), units);
        assert_eq!(h.m(u).cycle_consumption_fen.to_fen(), 100_000);
    }
}

#[test]
fn seed_first_exit_pays_960_and_keeps_240() {
    let mut h = seed_three_orders();
    // u1: C = 100_000 fen, cap K = ⌊100_000 · 1.2⌋ = 120_000 fen, R = 0, holds 11_200_000_000
    // of 25_704_000_000 units. Held value = ⌊11_200_000_000 · pool / 25_704_000_000⌋ reaches
    // 120_000 exactly when pool ≥ 120_000 · 25_704 / 11_200 = 275_400 fen (an exact quotient),
    // i.e. a price of 275_400 / 257.04 ≈ 1071.43 fen = 10.714 yuan per point = 1200 / 112.
    // The pool holds 48_000, so an injection of 227_400 fen (2274.00) reaches it, and one of
    // 227_399 fen (2273.99) leaves u1 at ⌊11_200 · 275_399 / 25_704⌋ = 119_999 < K.
    // u2 and u3 need pool ≥ 120_000 · 25_704 / 7_840 ≈ 393_428 and ≥ 462_857: they stay.
    let a = h.ok(r#"{"op":"inject","amount":"2273.99"}"#);
    assert_eq!(a.exits, 0);
    assert_eq!(h.pool(), 275_399);
    let a = h.ok(r#"{"op":"inject","amount":"0.01"}"#);
    assert_eq!(a.exits, 1);
    // The forced sale: gross = min(held 120_000, K − R = 120_000) = 120_000;
    // kept = ⌈120_000 · 0.2⌉ = 24_000 (240.00 stays in the pool); payout = 96_000 (960.00).
    let u1 = h.m("u1");
    assert_eq!(format_money(u1.cash_fen), "960.00");
    assert_eq!(
        (
            u1.points.to_units(),
            u1.locked.to_units(),
            u1.cycle_consumption_fen.to_fen(),
            u1.cycle_realized_fen.to_fen(),
            u1.exits
        ),
        (0, 0, 0, 0, 1)
    );
    // pool = 275_400 − 96_000 = 179_400 (of which 240.00 is the retention of this exit);
    // supply = 25_704_000_000 − 11_200_000_000 = 14_504_000_000.
    assert_eq!(h.pool(), 179_400);
    assert_eq!(h.supply(), 14_504_000_000);
    // price = ⌊179_400 · 10^14 / 14_504_000_000⌋ = ⌊1_236_900_165.4…⌋ → 12.36900165.
    assert_eq!(h.price(), "12.36900165");
    // u2 now holds ⌊7_840_000_000 · 179_400 / 14_504_000_000⌋ = 96_972 < 120_000: no further exit.
    assert_eq!(h.engine.held_value_fen(h.m("u2")).to_fen(), 96_972);
    assert_eq!(h.engine.totals().exits, 1);
    // Re-entry (复投): u1 consumes again and starts a new cycle with C = 100_000.
    h.ok(&order("o4", "u1", "store1", "1000"));
    assert_eq!(h.m("u1").cycle_consumption_fen.to_fen(), 100_000);
    assert_eq!(h.m("u1").lifetime_consumption_fen.to_fen(), 200_000);
}

// ---------------------------------------------------------------------------------------------
// SPEC §8: one test per error code; `Harness::err` also checks that nothing changed.
// ---------------------------------------------------------------------------------------------

/// A small economy so that rejections have something to leave unchanged.
fn busy() -> Harness {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1","region":"440305"}"#);
    h.ok(&member("u1"));
    h.ok(&member_ref("u2", "u1"));
    h.ok(&agent("u1", "district", "440305"));
    h.ok(&order("o1", "u1", "store1", "1000"));
    h.ok(&order("o2", "u2", "store1", "500"));
    h.ok(r#"{"op":"grant_coins","member":"u2","amount":"100"}"#);
    h
}

#[test]
fn error_invalid_command() {
    let mut h = busy();
    h.err(r#"{"op":"register_member","member":"u9","nickname":"Li"}"#, "invalid_command");
    h.err(r#"{"op":"inject","amount":100}"#, "invalid_command");
    h.err(r#"{"op":"teleport"}"#, "invalid_command");
    h.err("", "invalid_command");
    h.err(r#"{"op":"inject","amount":"1","amount":"2"}"#, "invalid_command");
    h.err(r#"{"op":"order","order":"o9","member":"u1","amount":"1"}"#, "invalid_command");
    h.err(r#"{"op":"register_member","member":"bad id"}"#, "invalid_command");
    h.err(r#"{"op":"update_rules","rules":"x"}"#, "invalid_command");
    h.err(r#"{"op":"inject","amount":"1","at":"2026-02-30T00:00:00Z"}"#, "invalid_command");
}

#[test]
fn error_invalid_amount() {
    let mut h = busy();
    // Value formats (SPEC §10).
    h.err(&order("o9", "u1", "store1", "1.234"), "invalid_amount");
    h.err(&order("o9", "u1", "store1", "0"), "invalid_amount");
    h.err(&order("o9", "u1", "store1", "100000000.01"), "invalid_amount");
    h.err(r#"{"op":"sell","member":"u1","points":"0.00000000"}"#, "invalid_amount");
    // A zero amount is a format check, made before unknown_member.
    h.err(r#"{"op":"withdraw","member":"ghost","amount":"0"}"#, "invalid_amount");
    h.err(r#"{"op":"register_merchant","merchant":"s9","commission":"1.5"}"#, "invalid_amount");
    h.err(r#"{"op":"set_shareholder","member":"u1","weight":2.0}"#, "invalid_amount");
    // State checks of `order` (SPEC §6 step 1): explicit commission ≤ amount, and
    // pay_cash + pay_coins ≤ amount (u2 has 100.00 coins, so the coin check itself passes).
    h.err(r#"{"op":"order","order":"o9","member":"u1","amount":"10","commission":"10.01"}"#, "invalid_amount");
    h.err(
        r#"{"op":"order","order":"o9","member":"u2","merchant":"store1","amount":"50","pay_coins":"50.01"}"#,
        "invalid_amount",
    );
}

#[test]
fn error_invalid_rules() {
    let mut h = busy();
    // pool_share + distribution_share = 0.95 + 0.10 > 1.
    h.err(r#"{"op":"update_rules","rules":{"commission":{"pool_share":"0.95"}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"exit":{"multiple":"100.000001"}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"points":{"mint_ratio":"1.01"}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"agents":{"district":"0.01"}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"points":{"initial_price":"0"}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"nope":{"x":"1"}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"exit":{"multiple":null}}}"#, "invalid_rules");
    h.err(r#"{"op":"update_rules","rules":{"exit":"2"}}"#, "invalid_rules");
    // A valid key next to an invalid one: validated as a whole, nothing applied.
    h.err(
        r#"{"op":"update_rules","rules":{"exit":{"multiple":"2"},"sell":{"retention":"0.1234567"}}}"#,
        "invalid_rules",
    );
    assert_eq!(h.engine.rules(), &Rules::default());
}

#[test]
fn error_invalid_region() {
    let mut h = busy();
    h.err(r#"{"op":"register_merchant","merchant":"s9","region":"44030"}"#, "invalid_region");
    h.err(r#"{"op":"register_merchant","merchant":"s9","region":"44030x"}"#, "invalid_region");
    h.err(&agent("u2", "city", "4403051"), "invalid_region");
}

#[test]
fn error_duplicate_id() {
    let mut h = busy();
    h.err(&member("u1"), "duplicate_id");
    h.err(r#"{"op":"register_merchant","merchant":"store1"}"#, "duplicate_id");
    h.err(&order("o1", "u2", "store1", "10"), "duplicate_id");
    h.ok(r#"{"op":"start_campaign","campaign":"c1","rate":"0.1","budget":"10"}"#);
    h.ok(r#"{"op":"end_campaign"}"#);
    // Campaign ids are unique over the whole history (SPEC §10).
    h.err(r#"{"op":"start_campaign","campaign":"c1","rate":"0.1","budget":"10"}"#, "duplicate_id");
}

#[test]
fn error_unknown_member() {
    let mut h = busy();
    h.err(&order("o9", "ghost", "store1", "10"), "unknown_member");
    h.err(&member_ref("u9", "ghost"), "unknown_member");
    h.err(r#"{"op":"register_merchant","merchant":"s9","recruiter":"ghost"}"#, "unknown_member");
    h.err(r#"{"op":"sell","member":"ghost","points":"all"}"#, "unknown_member");
    h.err(r#"{"op":"set_shareholder","member":"ghost","weight":1}"#, "unknown_member");
}

#[test]
fn error_unknown_merchant() {
    let mut h = busy();
    h.err(&order("o9", "u1", "nowhere", "10"), "unknown_merchant");
}

#[test]
fn error_insufficient_cash() {
    let mut h = busy();
    // u1's rewards in `busy`: as the district agent of store1's region, ⌊100_000 · 0.001⌋ = 100
    // on o1 and ⌊50_000 · 0.001⌋ = 50 on o2; as u2's referrer, the direct ⌊50_000 · 0.003⌋ = 150
    // on o2. Cash 300 fen = 3.00.
    assert_eq!(h.m("u1").cash_fen.to_fen(), 300);
    h.err(r#"{"op":"withdraw","member":"u1","amount":"3.01"}"#, "insufficient_cash");
    h.err(
        r#"{"op":"order","order":"o9","member":"u1","merchant":"store1","amount":"10","pay_cash":"3.01"}"#,
        "insufficient_cash",
    );
    h.ok(r#"{"op":"withdraw","member":"u1","amount":"3.00"}"#);
}

#[test]
fn error_insufficient_coins() {
    let mut h = busy();
    h.err(
        r#"{"op":"order","order":"o9","member":"u2","merchant":"store1","amount":"500","pay_coins":"100.01"}"#,
        "insufficient_coins",
    );
    h.err(
        r#"{"op":"order","order":"o9","member":"u1","merchant":"store1","amount":"500","pay_coins":"0.01"}"#,
        "insufficient_coins",
    );
}

#[test]
fn error_insufficient_points() {
    let mut h = busy();
    let held = h.m("u1").points;
    h.err(
        &format!(r#"{{"op":"sell","member":"u1","points":"{}"}}"#, format_points(held + Units::from_units(1))),
        "insufficient_points",
    );
    h.ok(&member("u3"));
    // "all" with no free points.
    h.err(r#"{"op":"sell","member":"u3","points":"all"}"#, "insufficient_points");
    h.err(r#"{"op":"redeem","member":"u3","amount":"0.01"}"#, "insufficient_points");
    h.err(r#"{"op":"redeem","member":"u1","amount":"1000"}"#, "insufficient_points");
}

#[test]
fn error_below_sell_threshold() {
    let mut h = Harness::with_toml("[sell]\nmin_lifetime_consumption = \"100\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&order("o1", "u1", "store1", "99.99"));
    // lifetime 9_999 fen < 10_000 fen.
    h.err(r#"{"op":"sell","member":"u1","points":"all"}"#, "below_sell_threshold");
    h.ok(&order("o2", "u1", "store1", "0.01"));
    h.ok(r#"{"op":"sell","member":"u1","points":"all"}"#);
}

#[test]
fn error_below_minimum() {
    let mut h = Harness::with_toml("[withdraw]\nmin = \"5\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&member_ref("u2", "u1"));
    // u1 earns the direct reward ⌊500_000 · 0.003⌋ = 1_500 fen on u2's 5000 order.
    h.ok(&order("o1", "u2", "store1", "5000"));
    assert_eq!(h.m("u1").cash_fen.to_fen(), 1_500);
    h.err(r#"{"op":"withdraw","member":"u1","amount":"4.99"}"#, "below_minimum");
    h.ok(r#"{"op":"withdraw","member":"u1","amount":"5"}"#);
}

#[test]
fn error_amount_too_small() {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&order("o1", "u1", "store1", "1000"));
    // pool 16_000 fen, supply 11_200_000_000 units: 700_000 units are worth exactly 1 fen.
    // gross = ⌊q · 16_000 / 11_200_000_000⌋ = ⌊q / 700_000⌋: 0 for q = 1 and q = 699_999.
    h.err(r#"{"op":"sell","member":"u1","points":"0.00000001"}"#, "amount_too_small");
    h.err(r#"{"op":"sell","member":"u1","points":"0.00699999"}"#, "amount_too_small");
    // q = 700_000: gross 1 fen, kept = ⌈0.2⌉ = 1, payout 0; accepted, R = 1.
    h.ok(r#"{"op":"sell","member":"u1","points":"0.007"}"#);
    assert_eq!(h.m("u1").cycle_realized_fen.to_fen(), 1);
    assert_eq!(h.m("u1").cash_fen.to_fen(), 0);
    assert_eq!(h.pool(), 16_000);
}

#[test]
fn error_region_taken() {
    let mut h = busy();
    // u1 holds district 440305.
    h.err(&agent("u2", "district", "440305"), "region_taken");
    h.ok(&agent("u2", "city", "440305"));
    // City regions are normalised to PPCC00: 440399 is the same city as 440305.
    h.err(&agent("u1", "city", "440399"), "region_taken");
    h.ok(&agent("u1", "province", "449999"));
    h.err(&agent("u2", "province", "440000"), "region_taken");
}

#[test]
fn error_campaign_active_and_no_campaign() {
    let mut h = busy();
    h.err(r#"{"op":"end_campaign"}"#, "no_campaign");
    h.ok(r#"{"op":"start_campaign","campaign":"c1","rate":"0.1","budget":"10"}"#);
    h.err(r#"{"op":"start_campaign","campaign":"c2","rate":"0.1","budget":"10"}"#, "campaign_active");
    h.ok(r#"{"op":"end_campaign"}"#);
    h.err(r#"{"op":"end_campaign"}"#, "no_campaign");
}

#[test]
fn error_overflow_of_supply() {
    // Price fixed at 1 fen per point: initial price 0.01, mint_ratio 1 (V = J), the whole
    // commission into the pool, a 100% store. An order of A fen then mints
    // M = ⌊A · 10^8 / 1⌋ = A · 10^8 units, and the price stays 1 fen per 10^8 units because
    // each mint adds exactly pool-proportional supply.
    let mut h = Harness::with_toml(
        "[points]\ninitial_price = \"0.01\"\nmint_ratio = \"1\"\n\
         [commission]\ndefault_rate = \"1\"\npool_share = \"1\"\ndistribution_share = \"0\"\n\
         [exit]\nmultiple = \"0\"",
    );
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("whale"));
    // 9 orders of 100,000,000.00 = 10^10 fen: supply 9 · 10^18 units.
    for i in 0..9 {
        h.ok(&order(&format!("o{i}"), "whale", "store1", "100000000"));
    }
    assert_eq!(h.supply(), 9 * 10i64.pow(18));
    // i64::MAX = 9_223_372_036_854_775_807: room 223_372_036_854_775_807 units, i.e. at most
    // ⌊room / 10^8⌋ = 2_233_720_368 fen of further mint value.
    h.err(&order("o9", "whale", "store1", "100000000"), "overflow");
    h.err(&order("o9", "whale", "store1", "22337203.69"), "overflow");
    // The failed order id stays unused.
    h.ok(&order("o9", "whale", "store1", "22337203.68"));
    assert_eq!(h.supply(), 9 * 10i64.pow(18) + 2_233_720_368 * PT);
    // A 0.01 order still mints 10^8 units > the 54_775_807 left.
    h.err(&order("o10", "whale", "store1", "0.01"), "overflow");
}

#[test]
fn error_self_dealing() {
    // Under `self_dealing = "reject"` an order at a store by its owner or by its recruiter is
    // refused and (via `err`) changes nothing; the same member buying at another store, and
    // anyone else buying at this one, is an ordinary order.
    let mut h = Harness::with_toml("[limits]\nself_dealing = \"reject\"");
    for id in ["owner", "recruiter", "buyer"] {
        h.ok(&member(id));
    }
    h.ok(r#"{"op":"register_merchant","merchant":"s","owner":"owner","recruiter":"recruiter"}"#);
    h.ok(r#"{"op":"register_merchant","merchant":"t"}"#);
    h.ok(&order("o1", "buyer", "s", "1000"));
    h.err(&order("o2", "owner", "s", "1000"), "self_dealing");
    h.err(&order("o2", "recruiter", "s", "1000"), "self_dealing");
    // With an explicit commission too: the store is still named.
    h.err(
        r#"{"op":"order","order":"o2","member":"owner","merchant":"s","amount":"10","commission":"1"}"#,
        "self_dealing",
    );
    // A fault checked earlier wins: the order id is used.
    h.err(&order("o1", "owner", "s", "1000"), "duplicate_id");
    h.ok(&order("o2", "owner", "t", "1000"));
    // A platform order names no store, so it is never self-dealing.
    h.ok(r#"{"op":"order","order":"o3","member":"owner","amount":"10","commission":"1"}"#);
    // `allow` (set by update_rules) accepts it again.
    h.ok(r#"{"op":"update_rules","rules":{"limits":{"self_dealing":"allow"}}}"#);
    h.ok(&order("o4", "owner", "s", "1000"));
}

#[test]
fn self_dealing_no_mint_keeps_consumption_and_points_unchanged() {
    // `no_mint`: the owner's order of 1000 yuan moves cash and coins as asked, puts
    // I = ⌊200000 · 0.8⌋ = 160000 fen in the pool, pays the owner's referrer nothing and the
    // whole D = 20000 fen goes to the platform: platform = 200000 − 160000 − 20000 + 20000.
    let mut h = Harness::with_toml("[limits]\nself_dealing = \"no_mint\"");
    h.ok(&member("up"));
    h.ok(&member_ref("owner", "up"));
    h.ok(r#"{"op":"register_merchant","merchant":"s","owner":"owner"}"#);
    h.ok(r#"{"op":"grant_coins","member":"owner","amount":"300"}"#);
    let applied =
        h.ok(r#"{"op":"order","order":"o1","member":"owner","merchant":"s","amount":"1000","pay_coins":"300"}"#);
    assert_eq!(applied.minted, Units::ZERO);
    assert_eq!(applied.commission_fen.to_fen(), 20_000);
    assert_eq!(h.pool(), 16_000);
    assert_eq!(h.supply(), 0);
    let o = h.m("owner");
    assert_eq!((o.points, o.locked, o.coins_fen.to_fen()), (Units::ZERO, Units::ZERO, 0));
    assert_eq!((o.cycle_consumption_fen.to_fen(), o.lifetime_consumption_fen.to_fen()), (0, 0));
    assert_eq!(h.m("up").cash_fen.to_fen(), 0);
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 4_000);
}

/// The codes the `error_*` tests above assert. Keeps this file honest if SPEC §8 (or the
/// engine's list of codes) gains one.
const CODES_TESTED_HERE: [&str; 18] = [
    "invalid_command",
    "invalid_amount",
    "invalid_rules",
    "invalid_region",
    "duplicate_id",
    "unknown_member",
    "unknown_merchant",
    "insufficient_cash",
    "insufficient_coins",
    "insufficient_points",
    "below_sell_threshold",
    "below_minimum",
    "amount_too_small",
    "region_taken",
    "campaign_active",
    "no_campaign",
    "self_dealing",
    "overflow",
];

#[test]
fn every_error_code_is_covered_here() {
    let engine_codes: Vec<&str> = zengzhi_core::error::Rejection::ALL.iter().map(|r| r.code()).collect();
    let mut a = engine_codes.clone();
    let mut b = CODES_TESTED_HERE.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Rewards (SPEC §6 step 3)
// ---------------------------------------------------------------------------------------------

#[test]
fn rewards_direct_indirect_recruiter_and_agent_differential() {
    let mut h = Harness::new();
    for id in ["boss", "a", "promoter", "other"] {
        h.ok(&member(id));
    }
    h.ok(&member_ref("b", "a"));
    h.ok(&member_ref("c", "b"));
    h.ok(&agent("boss", "province", "440000"));
    h.ok(&agent("a", "city", "440300"));
    h.ok(&agent("b", "district", "440305"));
    h.ok(r#"{"op":"register_merchant","merchant":"sz","recruiter":"promoter","region":"440305"}"#);
    // c buys 1000 = 100_000 fen at sz (20%): c = 20_000, I = 16_000, D = 2_000.
    //   direct (b)          ⌊100_000 · 0.003⌋ = 300
    //   indirect (a)        ⌊100_000 · 0.002⌋ = 200
    //   recruiter (promoter)⌊100_000 · 0.005⌋ = 500
    //   district (b)        ⌊100_000 · 0.001⌋ = 100
    //   city (a)            ⌊100_000 · (0.002 − 0.001)⌋ = 100
    //   province (boss)     ⌊100_000 · (0.003 − 0.002)⌋ = 100
    //   peer = 0 by default. Paid 1_300, left 700 → platform 2_000 + 700 = 2_700.
    h.ok(&order("o1", "c", "sz", "1000"));
    for (id, fen) in [("b", 400), ("a", 300), ("promoter", 500), ("boss", 100), ("c", 0), ("other", 0)] {
        assert_eq!(h.m(id).cash_fen.to_fen(), fen, "{id}");
        assert_eq!(h.m(id).rewards_fen.to_fen(), fen, "{id}");
    }
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 2_700);
    assert_eq!(h.pool(), 16_000);

    // An order without referrer at a store without recruiter or region pays no reward.
    h.ok(r#"{"op":"register_merchant","merchant":"plain"}"#);
    h.ok(&order("o2", "other", "plain", "1000"));
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 2_700 + 4_000);

    // Explicit commission with a store: it replaces only c; the recruiter and agents still come
    // from the store (SPEC §10). c = 5_000 (50.00): I = 4_000, D = 500.
    //   direct b 300 (left 200), indirect a 200 (left 0), recruiter and agents cut to 0.
    h.ok(r#"{"op":"order","order":"o3","member":"c","merchant":"sz","amount":"1000","commission":"50"}"#);
    assert_eq!(h.m("b").rewards_fen.to_fen(), 400 + 300);
    assert_eq!(h.m("a").rewards_fen.to_fen(), 300 + 200);
    assert_eq!(h.m("promoter").rewards_fen.to_fen(), 500);
    assert_eq!(h.m("boss").rewards_fen.to_fen(), 100);
    // platform part 5_000 − 4_000 − 500 = 500, nothing left of D.
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 6_700 + 500);
}

#[test]
fn rewards_differential_with_a_missing_middle_level() {
    let mut h = Harness::new();
    for id in ["d", "p", "buyer"] {
        h.ok(&member(id));
    }
    h.ok(&agent("d", "district", "110105"));
    h.ok(&agent("p", "province", "110000"));
    // No city agent for 110100.
    h.ok(r#"{"op":"register_merchant","merchant":"bj","region":"110105"}"#);
    h.ok(r#"{"op":"register_merchant","merchant":"bj2","region":"110228"}"#);
    // Order 1000 at bj: district ⌊100_000 · 0.001⌋ = 100; no city; province pays the rate above
    // the highest lower level that has an agent (district): ⌊100_000 · (0.003 − 0.001)⌋ = 200.
    h.ok(&order("o1", "buyer", "bj", "1000"));
    assert_eq!(h.m("d").rewards_fen.to_fen(), 100);
    assert_eq!(h.m("p").rewards_fen.to_fen(), 200);
    // At bj2 (district 110228 has no agent, city none): province gets ⌊100_000 · 0.003⌋ = 300.
    h.ok(&order("o2", "buyer", "bj2", "1000"));
    assert_eq!(h.m("d").rewards_fen.to_fen(), 100);
    assert_eq!(h.m("p").rewards_fen.to_fen(), 200 + 300);
    // platform: 2 · 2_000 + left (2_000 − 300) + (2_000 − 300) = 7_400.
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 7_400);
}

#[test]
fn rewards_peer_goes_to_a_same_level_referrer_anywhere() {
    let mut h = Harness::with_toml("[agents]\npeer = \"0.5\"");
    h.ok(&member("d0"));
    h.ok(&member("c0"));
    h.ok(&member_ref("d1", "d0"));
    h.ok(&member_ref("c1", "c0"));
    h.ok(&member_ref("p1", "d0"));
    h.ok(&member("buyer"));
    h.ok(&agent("d0", "district", "440306")); // same level, another district
    h.ok(&agent("d1", "district", "440305"));
    h.ok(&agent("c0", "city", "450100")); // same level, another province
    h.ok(&agent("c1", "city", "440300"));
    h.ok(&agent("p1", "province", "440000")); // referrer d0 is not a province agent
    h.ok(r#"{"op":"register_merchant","merchant":"sz","region":"440305"}"#);
    // Order 1000, D = 2_000:
    //   district d1 ⌊100_000 · 0.001⌋ = 100 → peer d0 ⌊100 · 0.5⌋ = 50
    //   city c1 ⌊100_000 · 0.001⌋ = 100 → peer c0 50
    //   province p1 ⌊100_000 · 0.001⌋ = 100 → no peer (d0 holds no province appointment)
    //   paid 400, left 1_600 → platform 2_000 + 1_600 = 3_600.
    h.ok(&order("o1", "buyer", "sz", "1000"));
    for (id, fen) in [("d1", 100), ("d0", 50), ("c1", 100), ("c0", 50), ("p1", 100)] {
        assert_eq!(h.m(id).rewards_fen.to_fen(), fen, "{id}");
    }
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 3_600);

    // The peer reward is capped by what is left of D: a store at 1.2% gives
    // c = ⌊100_000 · 0.012⌋ = 1_200, I = 960, D = 120. d1 gets 100 (left 20), the peer due
    // ⌊100 · 0.5⌋ = 50 is cut to 20, then nothing is left for c1, c0, p1.
    h.ok(r#"{"op":"register_merchant","merchant":"thin","region":"440305","commission":"0.012"}"#);
    h.ok(&order("o2", "buyer", "thin", "1000"));
    for (id, fen) in [("d1", 200), ("d0", 70), ("c1", 100), ("c0", 50), ("p1", 100)] {
        assert_eq!(h.m(id).rewards_fen.to_fen(), fen, "{id}");
    }
    // platform part 1_200 − 960 − 120 = 120, nothing left.
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 3_600 + 120);
}

#[test]
fn rewards_changes_name_their_kind() {
    // Every kind in one order: direct, indirect, recruiter, the three agent levels and a peer at
    // each level. Expected amounts come from the rules' rates (SPEC §6 step 3).
    let mut h = Harness::with_toml("[agents]\npeer = \"0.5\"");
    for id in ["top", "promoter", "dp", "cp", "pp"] {
        h.ok(&member(id));
    }
    h.ok(&member_ref("mid", "top"));
    h.ok(&member_ref("buyer", "mid"));
    h.ok(&member_ref("d", "dp"));
    h.ok(&member_ref("c", "cp"));
    h.ok(&member_ref("p", "pp"));
    h.ok(&agent("d", "district", "440305"));
    h.ok(&agent("dp", "district", "440306"));
    h.ok(&agent("c", "city", "440300"));
    h.ok(&agent("cp", "city", "450100"));
    h.ok(&agent("p", "province", "440000"));
    h.ok(&agent("pp", "province", "450000"));
    h.ok(r#"{"op":"register_merchant","merchant":"sz","recruiter":"promoter","region":"440305"}"#);
    h.engine.record_changes(true);
    h.ok(&order("o1", "buyer", "sz", "1000"));

    let r = h.engine.rules().clone();
    let amount = Fen::from_fen(100_000);
    let due = |rate| amount.mul_rate_floor(rate);
    let district = due(r.agent_district_ppm);
    let city = due(r.agent_city_ppm - r.agent_district_ppm);
    let province = due(r.agent_province_ppm - r.agent_city_ppm);
    let peer = |x: Fen| x.mul_rate_floor(r.agent_peer_ppm);
    let expected = [
        ("mid", RewardKind::Direct, due(r.referral_direct_ppm)),
        ("top", RewardKind::Indirect, due(r.referral_indirect_ppm)),
        ("promoter", RewardKind::Recruiter, due(r.referral_merchant_recruiter_ppm)),
        ("d", RewardKind::District, district),
        ("dp", RewardKind::Peer, peer(district)),
        ("c", RewardKind::City, city),
        ("cp", RewardKind::Peer, peer(city)),
        ("p", RewardKind::Province, province),
        ("pp", RewardKind::Peer, peer(province)),
    ];
    // Nothing is cut by the budget (the store's default rate times the distribution share).
    let budget = due(r.default_rate_ppm).mul_rate_floor(r.distribution_share_ppm);
    let total = expected.iter().map(|e| e.2.to_fen()).sum::<i64>();
    assert!(total <= budget.to_fen(), "{total} > {budget:?}");
    assert!(expected.iter().all(|e| e.2.is_positive()));

    let rewards: Vec<(String, RewardKind, Fen)> = h
        .engine
        .take_changes()
        .into_iter()
        .filter_map(|c| match c.reason {
            Reason::Reward(kind) => {
                assert_eq!((c.points, c.locked, c.coins_fen), (Units::ZERO, Units::ZERO, Fen::ZERO));
                Some((h.engine.member_id(c.member).to_string(), kind, c.cash_fen))
            }
            _ => None,
        })
        .collect();
    let expected: Vec<(String, RewardKind, Fen)> =
        expected.into_iter().map(|(id, kind, x)| (id.to_string(), kind, x)).collect();
    assert_eq!(rewards, expected);
    for (id, kind, x) in &expected {
        assert_eq!(h.m(id).rewards_fen, *x, "{id}");
        assert_eq!(Reason::Reward(*kind).as_str(), format!("reward_{}", kind.as_str()));
    }
    // Every kind was paid, and each reason's name is listed once.
    let kinds: std::collections::BTreeSet<RewardKind> = expected.iter().map(|e| e.1).collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), RewardKind::ALL);
    let names: std::collections::BTreeSet<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names.len(), Reason::ALL.len());
}

#[test]
fn rewards_budget_cap_cuts_later_rewards_in_order() {
    let mut h = Harness::new();
    h.ok(&member("a"));
    h.ok(&member_ref("b", "a"));
    h.ok(&member_ref("c", "b"));
    h.ok(&member("promoter"));
    h.ok(&member("d"));
    h.ok(&agent("d", "district", "440305"));
    h.ok(r#"{"op":"register_merchant","merchant":"s4","commission":"0.04","recruiter":"promoter","region":"440305"}"#);
    // c = ⌊100_000 · 0.04⌋ = 4_000, I = 3_200, D = 400.
    //   direct b: 300 (left 100); indirect a: due 200, paid 100 (left 0);
    //   recruiter: due 500, paid 0; district d: due 100, paid 0.
    //   platform part 4_000 − 3_200 − 400 = 400 + 0 left.
    h.ok(&order("o1", "c", "s4", "1000"));
    assert_eq!(h.m("b").rewards_fen.to_fen(), 300);
    assert_eq!(h.m("a").rewards_fen.to_fen(), 100);
    assert_eq!(h.m("promoter").rewards_fen.to_fen(), 0);
    assert_eq!(h.m("d").rewards_fen.to_fen(), 0);
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 400);
    assert_eq!(h.pool(), 3_200);
}

// ---------------------------------------------------------------------------------------------
// Vesting, dividends, redemption
// ---------------------------------------------------------------------------------------------

#[test]
fn release_locked_frees_at_least_one_unit() {
    // initial_price 1,000,000 yuan = 10^8 fen per point = 1 fen per unit, so small orders lock
    // a countable number of units.
    let mut h = Harness::with_toml("[points]\ninitial_price = \"1000000\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("small"));
    h.ok(&member("big"));
    h.ok(r#"{"op":"grant_coins","member":"small","amount":"1"}"#);
    h.ok(r#"{"op":"grant_coins","member":"big","amount":"100000"}"#);
    // small: order 1.00 = 100 fen paid in coins: c = 20, I = 16, V = ⌊16 · 0.7⌋ = 11,
    // M = ⌊11 · 10^8 / 10^8⌋ = 11 units, all coin-paid: locked ⌊11 · 100 / 100⌋ = 11.
    h.ok(r#"{"op":"order","order":"o1","member":"small","merchant":"store1","amount":"1","pay_coins":"1"}"#);
    assert_eq!((h.m("small").points.to_units(), h.m("small").locked.to_units()), (0, 11));
    // big: order 100000.00 = 10^7 fen, half in coins: c = 2_000_000, I = 1_600_000,
    // V = 1_120_000, M = ⌊1_120_000 · 11 / 16⌋ = 770_000 units (reference = pool 16, supply 11),
    // locked = ⌊770_000 · 5_000_000 / 10_000_000⌋ = 385_000.
    h.ok(r#"{"op":"order","order":"o2","member":"big","merchant":"store1","amount":"100000","pay_coins":"50000"}"#);
    assert_eq!((h.m("big").points.to_units(), h.m("big").locked.to_units()), (385_000, 385_000));
    // release = 0.01: small frees min(11, max(1, ⌊0.11⌋ = 0)) = 1; big frees ⌊3_850⌋ = 3_850.
    h.ok(r#"{"op":"release_locked"}"#);
    assert_eq!((h.m("small").points.to_units(), h.m("small").locked.to_units()), (1, 10));
    assert_eq!((h.m("big").points.to_units(), h.m("big").locked.to_units()), (388_850, 381_150));
    // Ten more releases free small's last 10 units one by one; then nothing is left to free.
    for _ in 0..10 {
        h.ok(r#"{"op":"release_locked"}"#);
    }
    assert_eq!((h.m("small").points.to_units(), h.m("small").locked.to_units()), (11, 0));
    h.ok(r#"{"op":"release_locked"}"#);
    assert_eq!((h.m("small").points.to_units(), h.m("small").locked.to_units()), (11, 0));
}

#[test]
fn distribute_dividends_keeps_the_remainder() {
    let mut h = Harness::with_toml("[dividends]\nshare_of_platform = \"0.5\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    for id in ["x", "y", "z", "buyer"] {
        h.ok(&member(id));
    }
    // Platform part of a 1000 order with nobody to reward: 2_000 + 2_000 left = 4_000;
    // d = ⌊4_000 · 0.5⌋ = 2_000 → dividend pool; 2_000 → platform revenue.
    h.ok(&order("o1", "buyer", "store1", "1000"));
    assert_eq!(h.engine.dividend_pool_fen().to_fen(), 2_000);
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 2_000);
    // No shareholders: a no-op.
    h.ok(r#"{"op":"distribute_dividends"}"#);
    assert_eq!(h.engine.dividend_pool_fen().to_fen(), 2_000);
    h.ok(r#"{"op":"set_shareholder","member":"x","weight":1}"#);
    h.ok(r#"{"op":"set_shareholder","member":"y","weight":2}"#);
    h.ok(r#"{"op":"set_shareholder","member":"z","weight":4}"#);
    h.ok(r#"{"op":"set_shareholder","member":"buyer","weight":9}"#);
    h.ok(r#"{"op":"set_shareholder","member":"buyer","weight":0}"#); // 0 removes
                                                                     // Σw = 7: x ⌊2_000 · 1 / 7⌋ = 285, y ⌊4_000 / 7⌋ = 571, z ⌊8_000 / 7⌋ = 1_142;
                                                                     // paid 1_998, remainder 2 stays.
    h.ok(r#"{"op":"distribute_dividends"}"#);
    assert_eq!(h.m("x").cash_fen.to_fen(), 285);
    assert_eq!(h.m("y").cash_fen.to_fen(), 571);
    assert_eq!(h.m("z").cash_fen.to_fen(), 1_142);
    assert_eq!(h.m("buyer").cash_fen.to_fen(), 0);
    assert_eq!(h.engine.dividend_pool_fen().to_fen(), 2);
    // Dividends are cash, not rewards.
    assert_eq!(h.m("z").rewards_fen.to_fen(), 0);
    // Again: ⌊2 · w / 7⌋ = 0, 0, 1 (z: ⌊8 / 7⌋ = 1): 1 fen remains.
    h.ok(r#"{"op":"distribute_dividends"}"#);
    assert_eq!(h.m("z").cash_fen.to_fen(), 1_143);
    assert_eq!(h.engine.dividend_pool_fen().to_fen(), 1);
}

#[test]
fn redeem_burns_points_at_the_reference_price_rounded_up() {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&order("o1", "u1", "store1", "1000"));
    // pool 16_000, supply 11_200_000_000. Sell 10 points = 10^9 units:
    //   gross = ⌊10^9 · 16_000 / 11_200_000_000⌋ = ⌊1_428.57⌋ = 1_428;
    //   kept = ⌈1_428 · 0.2⌉ = ⌈285.6⌉ = 286; payout 1_142.
    //   pool 16_000 − 1_142 = 14_858; supply 10_200_000_000; R = 1_428.
    h.ok(r#"{"op":"sell","member":"u1","points":"10"}"#);
    assert_eq!(
        (h.pool(), h.supply(), h.m("u1").cash_fen.to_fen(), h.m("u1").cycle_realized_fen.to_fen()),
        (14_858, 10_200_000_000, 1_142, 1_428)
    );
    // Redeem 1.00 = 100 fen: q = ⌈100 · 10_200_000_000 / 14_858⌉ = ⌈68_649_885.58…⌉ = 68_649_886.
    // pool 14_758, supply 10_200_000_000 − 68_649_886 = 10_131_350_114, R = 1_428 + 100.
    h.ok(r#"{"op":"redeem","member":"u1","amount":"1"}"#);
    assert_eq!(h.pool(), 14_758);
    assert_eq!(h.supply(), 10_131_350_114);
    assert_eq!(h.m("u1").points.to_units(), 10_131_350_114);
    assert_eq!(h.m("u1").cycle_realized_fen.to_fen(), 1_528);
    assert_eq!(h.engine.totals().redeemed_fen.to_fen(), 100);
    // No retention on a redemption: no cash.
    assert_eq!(h.m("u1").cash_fen.to_fen(), 1_142);
}

#[test]
fn mint_at_supply_zero_uses_the_last_positive_price() {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&member("u2"));
    h.ok(&order("o1", "u1", "store1", "1000"));
    // u1 is the only holder: held = pool. K = 120_000, so inject 104_000 (1040.00): pool 120_000.
    // The injection leaves supply > 0: reference (120_000, 11_200_000_000). Then u1 exits:
    // gross 120_000, kept 24_000, payout 96_000, pool 24_000, supply 0.
    let a = h.ok(r#"{"op":"inject","amount":"1040"}"#);
    assert_eq!(a.exits, 1);
    assert_eq!((h.pool(), h.supply(), h.m("u1").cash_fen.to_fen()), (24_000, 0, 96_000));
    // Shown price at supply 0 = reference: ⌊120_000 · 10^14 / 11_200_000_000⌋ = 1_071_428_571.
    assert_eq!(h.price(), "10.71428571");
    // u2 buys 1000: V = 11_200, M = ⌊11_200 · 11_200_000_000 / 120_000⌋ = ⌊1_045_333_333.3⌋.
    let a = h.ok(&order("o2", "u2", "store1", "1000"));
    assert_eq!(a.minted.to_units(), 1_045_333_333);
    assert_eq!(h.pool(), 24_000 + 16_000);
}

// ---------------------------------------------------------------------------------------------
// Exit cascade ordering (SPEC §6, §10)
// ---------------------------------------------------------------------------------------------

/// Two members with the same trigger key (K − R) / h but different sizes; `first` registers
/// first. Returns the shown price after both exit.
fn tie(first: &str, second: &str) -> (Harness, String) {
    // mint_ratio 1 keeps the price at exactly 1.00 across orders: each order adds J = 16_000 to
    // the pool and M = ⌊16_000 · supply / pool⌋ = 1.6 · 10^10 units (supply/pool = 10^6).
    let mut h = Harness::with_toml("[points]\nmint_ratio = \"1\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member(first));
    h.ok(&member(second));
    // "big" consumes 2000 in two orders (h = 3.2 · 10^10, K = 240_000);
    // "small" consumes 1000 (h = 1.6 · 10^10, K = 120_000). Both keys: 120_000 / 1.6 · 10^10.
    h.ok(&order("o1", "big", "store1", "1000"));
    h.ok(&order("o2", "small", "store1", "1000"));
    h.ok(&order("o3", "big", "store1", "1000"));
    assert_eq!((h.pool(), h.supply()), (48_000, 48_000_000_000));
    // Both trigger when pool / supply ≥ 120_000 / 1.6 · 10^10, i.e. pool ≥ 360_000:
    // inject 312_000 (3120.00).
    let a = h.ok(r#"{"op":"inject","amount":"3120"}"#);
    assert_eq!(a.exits, 2);
    // Each exit pays K − R (×0.8): small 96_000, big 192_000; pool 360_000 − 288_000 = 72_000.
    assert_eq!(h.m("small").cash_fen.to_fen(), 96_000);
    assert_eq!(h.m("big").cash_fen.to_fen(), 192_000);
    assert_eq!((h.pool(), h.supply()), (72_000, 0));
    let price = h.price();
    (h, price)
}

#[test]
fn exit_cascade_ties_go_by_registration_order() {
    // big registered first exits first: pool 360_000 − 192_000 = 168_000 over 1.6 · 10^10;
    // then small exits and leaves supply 0, so the reference price is the state after the first
    // exit: ⌊168_000 · 10^14 / 16_000_000_000⌋ = 1_050_000_000 → 10.50000000.
    let (_, price) = tie("big", "small");
    assert_eq!(price, "10.50000000");
    // small first: pool 360_000 − 96_000 = 264_000 over 3.2 · 10^10 → 8.25000000.
    let (mut h, price) = tie("small", "big");
    assert_eq!(price, "8.25000000");
    // The next mint uses that reference: V = 16_000, M = ⌊16_000 · 3.2 · 10^10 / 264_000⌋
    // = ⌊1_939_393_939.39⌋.
    h.ok(&member("next"));
    let a = h.ok(&order("o4", "next", "store1", "1000"));
    assert_eq!(a.minted.to_units(), 1_939_393_939);
}

#[test]
fn exit_with_no_points_left_and_realised_over_cap_exits_first_with_gross_zero() {
    let mut h = Harness::with_toml("[exit]\nmultiple = \"0\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&member("u2"));
    h.ok(&order("o1", "u1", "store1", "1000"));
    h.ok(&order("o2", "u2", "store1", "1000"));
    // Pool 32_000 + 2_000_000 injected = 2_032_000 over 19_040_000_000 units.
    h.ok(r#"{"op":"inject","amount":"20000"}"#);
    // u1 sells all 11_200_000_000 units: gross = ⌊11_200_000_000 · 2_032_000 / 19_040_000_000⌋
    // = ⌊1_195_294.1⌋ = 1_195_294 ≥ K = 120_000 once exits are on; kept ⌈239_058.8⌉ = 239_059.
    h.ok(r#"{"op":"sell","member":"u1","points":"all"}"#);
    assert_eq!(h.m("u1").cycle_realized_fen.to_fen(), 1_195_294);
    assert_eq!(h.m("u1").cash_fen.to_fen(), 1_195_294 - 239_059);
    let cash = h.m("u1").cash_fen;
    let pool = h.pool();
    // Re-enable exits: update_rules runs the cascade at once. u1 (no points, R ≥ K: key −∞)
    // exits first with gross 0; u2 (K = 120_000, held ≫ K) exits with gross 120_000.
    let a = h.ok(r#"{"op":"update_rules","rules":{"exit":{"multiple":"1.2"}}}"#);
    assert_eq!(a.exits, 2);
    assert_eq!(h.m("u1").cash_fen, cash);
    assert_eq!(
        (h.m("u1").exits, h.m("u1").cycle_consumption_fen.to_fen(), h.m("u1").cycle_realized_fen.to_fen()),
        (1, 0, 0)
    );
    assert_eq!(h.m("u2").cash_fen.to_fen(), 96_000);
    assert_eq!(h.pool(), pool - 96_000);
    assert_eq!(h.supply(), 0);
}

// ---------------------------------------------------------------------------------------------
// Readings of SPEC §10
// ---------------------------------------------------------------------------------------------

#[test]
fn reference_price_before_the_first_mint_is_the_current_initial_price() {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(r#"{"op":"update_rules","rules":{"points":{"initial_price":"2"}}}"#);
    assert_eq!(h.price(), "2.00000000");
    // An order of 0.01 = 1 fen: c = ⌊1 · 0.2⌋ = 0, so V = 0 and M = 0: supply stays 0 and the
    // reference price is not fixed by it.
    let a = h.ok(&order("o1", "u1", "store1", "0.01"));
    assert_eq!(a.minted.to_units(), 0);
    h.ok(r#"{"op":"update_rules","rules":{"points":{"initial_price":"4"}}}"#);
    // Order 1000: V = 11_200 fen at the current initial price 400 fen per 10^8 units:
    // M = ⌊11_200 · 10^8 / 400⌋ = 2_800_000_000 = 28 points.
    let a = h.ok(&order("o2", "u1", "store1", "1000"));
    assert_eq!(a.minted.to_units(), 28 * PT);
    // Now supply > 0: a later change of initial_price does not move the price.
    h.ok(r#"{"op":"update_rules","rules":{"points":{"initial_price":"8"}}}"#);
    // price = 16_000 fen / 28 points = 571.43 fen → ⌊16_000 · 10^14 / 2_800_000_000⌋ = 571_428_571.
    assert_eq!(h.price(), "5.71428571");
}

#[test]
fn campaign_subsidy_adds_to_the_inflow_and_a_used_up_campaign_stays_active() {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(r#"{"op":"start_campaign","campaign":"c1","rate":"0.5","budget":"1"}"#);
    // Order 100 = 10_000 fen: c = 2_000, I = 1_600, D = 200 (unused → platform 200 + 200).
    // S = min(⌊10_000 · 0.5⌋ = 5_000, remaining 100) = 100; J = 1_700; V = ⌊1_700 · 0.7⌋ = 1_190;
    // M = ⌊1_190 · 10^8 / 100⌋ = 1_190_000_000.
    let a = h.ok(&order("o1", "u1", "store1", "100"));
    assert_eq!(a.minted.to_units(), 1_190_000_000);
    assert_eq!(h.pool(), 1_700);
    assert_eq!(h.engine.totals().subsidies_fen.to_fen(), 100);
    assert_eq!(h.engine.campaign().map(|c| c.remaining_fen.to_fen()), Some(0));
    // Used up, but only end_campaign ends it.
    h.err(r#"{"op":"start_campaign","campaign":"c2","rate":"0.1","budget":"5"}"#, "campaign_active");
    h.ok(r#"{"op":"end_campaign"}"#);
    assert_eq!(h.engine.totals().subsidy_returned_fen.to_fen(), 0);
    // A new campaign; its unused budget is counted as returned, not pooled.
    h.ok(r#"{"op":"start_campaign","campaign":"c2","rate":"0.1","budget":"5"}"#);
    h.ok(r#"{"op":"end_campaign"}"#);
    assert_eq!(h.engine.totals().subsidy_returned_fen.to_fen(), 500);
    assert_eq!(h.pool(), 1_700);
}

#[test]
fn withdraw_fee_is_rounded_up_and_kept_as_platform_revenue() {
    let mut h = Harness::with_toml("[withdraw]\nfee = \"0.01\"");
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&member_ref("u2", "u1"));
    // u1 earns the direct reward ⌊500_000 · 0.003⌋ = 1_500 fen on u2's 5000 order; the platform
    // keeps 100_000 − 80_000 − 10_000 = 10_000 plus the unused 10_000 − 1_500 = 8_500.
    h.ok(&order("o1", "u2", "store1", "5000"));
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 18_500);
    // Withdraw 10.01 = 1_001 fen: fee = ⌈1_001 · 0.01⌉ = ⌈10.01⌉ = 11 fen; withdrawn (net) 990.
    h.ok(r#"{"op":"withdraw","member":"u1","amount":"10.01"}"#);
    assert_eq!(h.m("u1").cash_fen.to_fen(), 499);
    assert_eq!(h.engine.platform_revenue_fen().to_fen(), 18_511);
    assert_eq!(h.engine.totals().withdrawn_fen.to_fen(), 990);
}

#[test]
fn cash_and_coins_pay_orders_and_coin_paid_points_are_locked() {
    let mut h = Harness::new();
    h.ok(r#"{"op":"register_merchant","merchant":"store1"}"#);
    h.ok(&member("u1"));
    h.ok(&member_ref("u2", "u1"));
    h.ok(r#"{"op":"grant_coins","member":"u1","amount":"300"}"#);
    // u2's 5000 order pays u1 the direct reward 1_500 fen (cash).
    h.ok(&order("o1", "u2", "store1", "5000"));
    // pool 80_000 fen, supply ⌊56_000 · 10^8 / 100⌋ = 56_000_000_000 (price 1.428…).
    assert_eq!((h.pool(), h.supply()), (80_000, 56_000_000_000));
    // u1 orders 1000 paying 15.00 cash and 300.00 coins:
    //   V = 11_200, M = ⌊11_200 · 56_000_000_000 / 80_000⌋ = 7_840_000_000;
    //   locked = ⌊7_840_000_000 · 30_000 / 100_000⌋ = 2_352_000_000; free 5_488_000_000.
    h.ok(r#"{"op":"order","order":"o2","member":"u1","merchant":"store1","amount":"1000","pay_cash":"15","pay_coins":"300"}"#);
    let u1 = h.m("u1");
    assert_eq!(
        (u1.points.to_units(), u1.locked.to_units(), u1.cash_fen.to_fen(), u1.coins_fen.to_fen()),
        (5_488_000_000, 2_352_000_000, 0, 0)
    );
    assert_eq!(h.engine.totals().cash_spent_fen.to_fen(), 1_500);
    assert_eq!(h.engine.totals().coins_spent_fen.to_fen(), 30_000);
    // Locked points are not sellable: "all" sells the free ones only.
    h.ok(r#"{"op":"sell","member":"u1","points":"all"}"#);
    assert_eq!((h.m("u1").points.to_units(), h.m("u1").locked.to_units()), (0, 2_352_000_000));
}
