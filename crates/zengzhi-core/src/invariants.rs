//! The invariants of SPEC §7, checked on an engine's state.

use crate::engine::{Aggregates, Engine};
use crate::num::{format_money, Fen, Units};

/// A broken invariant: which one, and the numbers that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// e.g. `"7.3 money adds up"`.
    pub invariant: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invariant {} broken: {}", self.invariant, self.detail)
    }
}

/// Checks invariants between consecutive states. Keeps the previous `(pool, supply)`.
#[derive(Debug, Default, Clone)]
pub struct Checker {
    previous: Option<(Fen, Units)>,
}

fn fail(invariant: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, detail })
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `engine` now, and against the state seen by the previous call (7.1).
    /// Costs a pass over all members.
    pub fn check(&mut self, engine: &Engine) -> Result<(), Violation> {
        let (pool, supply) = (engine.pool_fen(), engine.supply_units());
        if let Some((p0, s0)) = self.previous {
            if s0.is_positive()
                && supply.is_positive()
                && i128::from(pool) * i128::from(s0) < i128::from(p0) * i128::from(supply)
            {
                return fail("7.1 price never falls", format!("{p0}/{s0} fen/unit became {pool}/{supply}"));
            }
        }
        self.previous = Some((pool, supply));
        check_state(engine)
    }
}

/// Invariants 7.2–7.5 on one state, and the engine's kept sums against a full scan.
pub fn check_state(engine: &Engine) -> Result<(), Violation> {
    let t = engine.totals();
    for (i, m) in engine.members().iter().enumerate() {
        let id = engine.member_id(u32::try_from(i).expect("member indexes are u32"));
        if m.points.is_negative()
            || m.locked.is_negative()
            || m.cash_fen.is_negative()
            || m.coins_fen.is_negative()
            || m.cycle_realized_fen.is_negative()
        {
            return fail("7.5 no negative balance", format!("member {id}: {m:?}"));
        }
        if engine.triggers(m) {
            return fail(
                "7.5 no member over the cap",
                format!(
                    "member {id}: realised {} + held {} ≥ cap {}",
                    format_money(m.cycle_realized_fen),
                    format_money(engine.held_value_fen(m)),
                    engine.cap_fen(m)
                ),
            );
        }
    }
    if engine.pool_fen().is_negative()
        || engine.supply_units().is_negative()
        || engine.dividend_pool_fen().is_negative()
        || engine.platform_revenue_fen().is_negative()
    {
        return fail("7.5 no negative balance", "pool, supply, dividend pool or platform revenue".into());
    }
    let Some(scan) = Aggregates::scan(engine.members()) else {
        return fail("7.3 money adds up", "a sum over members does not fit".into());
    };
    if scan != *engine.aggregates() {
        return fail("kept sums", format!("kept {:?} ≠ scanned {scan:?}", engine.aggregates()));
    }
    if scan.member_held != engine.supply_units() {
        return fail(
            "7.2 points add up",
            format!("supply {} ≠ Σ(points + locked) {}", engine.supply_units(), scan.member_held),
        );
    }
    let money_out = i128::from(engine.pool_fen())
        + i128::from(scan.member_cash_fen)
        + i128::from(engine.platform_revenue_fen())
        + i128::from(engine.dividend_pool_fen())
        + i128::from(t.withdrawn_fen)
        + i128::from(t.cash_spent_fen)
        + i128::from(t.redeemed_fen);
    if t.money_in() != money_out {
        return fail("7.3 money adds up", format!("in {} fen ≠ held and paid out {money_out} fen", t.money_in()));
    }
    if i128::from(t.coins_issued_fen) != i128::from(scan.member_coins_fen) + i128::from(t.coins_spent_fen) {
        return fail(
            "7.4 coins add up",
            format!("issued {} ≠ Σcoins {} + spent {}", t.coins_issued_fen, scan.member_coins_fen, t.coins_spent_fen),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_line;
    use crate::num::Units;
    use crate::rules::Rules;

    fn seeded() -> Engine {
        let mut e = Engine::new(Rules::default());
        for line in [
            r#"{"op":"register_merchant","merchant":"s"}"#,
            r#"{"op":"register_member","member":"u1"}"#,
            r#"{"op":"register_member","member":"u2","referrer":"u1"}"#,
            r#"{"op":"order","order":"o1","member":"u2","amount":"1000","merchant":"s"}"#,
        ] {
            e.apply(&parse_line(line.as_bytes()).unwrap().command).unwrap();
        }
        e
    }

    #[test]
    fn kept_sums_match_a_scan() {
        let e = seeded();
        // u2 holds the minted points; u1 has the direct reward ⌊100_000 · 0.003⌋ = 300 fen.
        let a = *e.aggregates();
        assert_eq!(a.members_holding, 1);
        assert_eq!(a.member_cash_fen, Fen::from_fen(300));
        assert_eq!(a.member_held, e.supply_units());
        assert_eq!(Aggregates::scan(e.members()), Some(a));
        assert_eq!(check_state(&e), Ok(()));
    }

    #[test]
    fn a_wrong_kept_sum_is_found() {
        let mut e = seeded();
        e.aggregates.member_cash_fen += Fen::from_fen(1);
        assert_eq!(check_state(&e).unwrap_err().invariant, "kept sums");
        let broken = std::panic::catch_unwind(|| e.assert_invariants());
        assert!(broken.is_err(), "money no longer adds up: the assertion fires");
        let mut e = seeded();
        e.aggregates.member_held += Units::from_units(1);
        assert!(std::panic::catch_unwind(|| e.assert_invariants()).is_err());
    }
}
