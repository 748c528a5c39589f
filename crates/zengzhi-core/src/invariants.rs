//! The invariants of SPEC §7, checked on an engine's state.

use crate::engine::Engine;
use crate::num::format_money;

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
    previous: Option<(i64, i64)>,
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
            if s0 > 0 && supply > 0 && i128::from(pool) * i128::from(s0) < i128::from(p0) * i128::from(supply) {
                return fail("7.1 price never falls", format!("{p0}/{s0} fen/unit became {pool}/{supply}"));
            }
        }
        self.previous = Some((pool, supply));
        check_state(engine)
    }
}

/// Invariants 7.2–7.5 on one state.
pub fn check_state(engine: &Engine) -> Result<(), Violation> {
    let t = engine.totals();
    let mut held: i128 = 0;
    let mut cash: i128 = 0;
    let mut coins: i128 = 0;
    for (i, m) in engine.members().iter().enumerate() {
        let id = engine.member_id(i as u32);
        if m.points < 0 || m.locked < 0 || m.cash_fen < 0 || m.coins_fen < 0 || m.cycle_realized_fen < 0 {
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
        held += i128::from(m.points) + i128::from(m.locked);
        cash += i128::from(m.cash_fen);
        coins += i128::from(m.coins_fen);
    }
    if engine.pool_fen() < 0
        || engine.supply_units() < 0
        || engine.dividend_pool_fen() < 0
        || engine.platform_revenue_fen() < 0
    {
        return fail("7.5 no negative balance", "pool, supply, dividend pool or platform revenue".into());
    }
    if engine.supply_units() == 0 && engine.pool_fen() < 0 {
        return fail("7.5 no negative balance", "pool".into());
    }
    if held != i128::from(engine.supply_units()) {
        return fail("7.2 points add up", format!("supply {} ≠ Σ(points + locked) {held}", engine.supply_units()));
    }
    let money_in = i128::from(t.commissions_fen) + i128::from(t.injected_fen) + i128::from(t.subsidies_fen);
    let money_out = i128::from(engine.pool_fen())
        + cash
        + i128::from(engine.platform_revenue_fen())
        + i128::from(engine.dividend_pool_fen())
        + i128::from(t.withdrawn_fen)
        + i128::from(t.cash_spent_fen)
        + i128::from(t.redeemed_fen);
    if money_in != money_out {
        return fail("7.3 money adds up", format!("in {money_in} fen ≠ held and paid out {money_out} fen"));
    }
    if i128::from(t.coins_issued_fen) != coins + i128::from(t.coins_spent_fen) {
        return fail(
            "7.4 coins add up",
            format!("issued {} ≠ Σcoins {coins} + spent {}", t.coins_issued_fen, t.coins_spent_fen),
        );
    }
    Ok(())
}
