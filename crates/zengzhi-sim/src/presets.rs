//! Built-in scenarios (`zengzhi simulate --preset NAME`) and the seed's projection.

use std::borrow::Cow;

use zengzhi_core::command::Command;
use zengzhi_core::num::Fen;
use zengzhi_core::engine::Reason;
use zengzhi_core::{Engine, Rules};

use crate::scenario::{load_str, Loaded, ScenarioError};

/// The scenario presets, by name (`seed` is the projection of [`seed_projection`] instead).
pub const PRESETS: &[(&str, &str)] = &[
    ("steady", include_str!("../presets/steady.toml")),
    ("boom-bust", include_str!("../presets/boom-bust.toml")),
    ("legacy-conversion", include_str!("../presets/legacy-conversion.toml")),
    ("inventory-clearance", include_str!("../presets/inventory-clearance.toml")),
    ("wash-trading", include_str!("../presets/wash-trading.toml")),
    ("referral-farming", include_str!("../presets/referral-farming.toml")),
];

/// Every preset name, `seed` first.
pub fn names() -> Vec<&'static str> {
    std::iter::once("seed").chain(PRESETS.iter().map(|(n, _)| *n)).collect()
}

/// A scenario preset by name; `None` for an unknown name (and for `seed`, which is not a
/// scenario but the projection).
pub fn preset(name: &str) -> Option<Result<Loaded, ScenarioError>> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| load_str(text, std::path::Path::new(".")))
}

/// One row of the seed's table (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRow {
    pub order: u64,
    pub minted_units: i64,
    pub pool_fen: i64,
    pub supply_units: i64,
}

/// The first capped exit of the projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedExit {
    /// The order after which it happened.
    pub order: u64,
    pub member: String,
    pub gross_fen: i64,
    pub payout_fen: i64,
    /// What stayed in the pool (`gross − payout`).
    pub retained_fen: i64,
}

/// The seed's projection: each order is a new member buying `amount_fen` at a store with the
/// default 20% commission, as in the conformance cases `seed-three-orders` and
/// `seed-first-exit`; it stops at the first capped exit (or after `max_orders`).
pub struct SeedProjection {
    pub rows: Vec<SeedRow>,
    pub exit: Option<SeedExit>,
    /// The engine after the last order.
    pub engine: Engine,
}

/// The member and order ids of the projection's order `n` (1-based): `u{n}` buys `o{n}`.
pub fn seed_ids(n: u64) -> (String, String) {
    (format!("u{n}"), format!("o{n}"))
}

/// Runs the seed's projection. `each_order` sees every engine state after an order (tests
/// compare them with the conformance cases).
pub fn seed_projection(amount_fen: i64, max_orders: u64, mut each_order: impl FnMut(u64, &Engine)) -> SeedProjection {
    let mut engine = Engine::new(Rules::default());
    engine.record_changes(true);
    let store = Command::RegisterMerchant {
        merchant: "store1".into(),
        commission_ppm: None,
        owner: None,
        recruiter: None,
        region: None,
    };
    engine.apply(&store).expect("a fresh engine accepts the store");
    let mut rows = Vec::new();
    let mut exit = None;
    for n in 1..=max_orders {
        let (member, order) = seed_ids(n);
        engine
            .apply(&Command::RegisterMember { member: Cow::Borrowed(&member), referrer: None })
            .expect("fresh member ids");
        // Before the order, the room under every member's cap: an exit's gross is that room.
        let rooms: Vec<i128> =
            engine.members().iter().map(|m| engine.cap_fen(m) - i128::from(m.cycle_realized_fen)).collect();
        engine.take_changes();
        let applied = engine
            .apply(&Command::Order {
                order: Cow::Borrowed(&order),
                member: Cow::Borrowed(&member),
                merchant: Some("store1".into()),
                amount_fen: Fen::from_fen(amount_fen),
                commission_fen: None,
                pay_cash_fen: Fen::ZERO,
                pay_coins_fen: Fen::ZERO,
            })
            .expect("the seed's orders are valid");
        rows.push(SeedRow {
            order: n,
            minted_units: applied.minted.to_units(),
            pool_fen: engine.pool_fen().to_fen(),
            supply_units: engine.supply_units().to_units(),
        });
        each_order(n, &engine);
        if let Some(c) = engine.take_changes().into_iter().find(|c| c.reason == Reason::Exit) {
            let gross_fen = rooms.get(c.member as usize).map_or(0, |&r| r as i64);
            exit = Some(SeedExit {
                order: n,
                member: engine.member_id(c.member).to_string(),
                gross_fen,
                payout_fen: c.cash_fen.to_fen(),
                retained_fen: gross_fen - c.cash_fen.to_fen(),
            });
            break;
        }
    }
    SeedProjection { rows, exit, engine }
}

/// Expected orders per member arriving per day in the benchmark scenario (measured on the
/// steady preset with `orders_per_day = 0.2` over 365 days; exits without re-entry and sales
/// of everything make it lower than the `0.2 · 365² / 2` of members who never stop).
const BENCH_ORDERS_PER_DAILY_ARRIVAL: f64 = 31_000.0;

/// The steady preset scaled so that one run makes about `orders` orders (benchmarks).
pub fn bench_scenario(orders: u64) -> Result<Loaded, ScenarioError> {
    let steady = preset("steady").expect("the steady preset exists")?;
    let steady = crate::scenario::with_parameter(&steady, "buying.orders_per_day", "0.5")?;
    let steady = crate::scenario::with_parameter(&steady, "arrivals.initial_members", "0")?;
    let rate = (orders as f64 / BENCH_ORDERS_PER_DAILY_ARRIVAL).max(1.0);
    crate::scenario::with_parameter(&steady, "arrivals.rate", &format!("{rate:.3}"))
}
