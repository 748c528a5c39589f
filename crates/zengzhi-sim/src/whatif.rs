//! What-if replays: a real history (commands as in SPEC §8) run again under other rules.
//!
//! The original replay starts from the given base rules and follows the history's own
//! `update_rules` commands; the alternative starts from the alternative rules and skips them
//! (they would overwrite the rules being tested). Both sides run the same accepted and rejected
//! lines through the real engine; the differences are reported in aggregate and per member.

use std::fmt::Write as _;

use serde::Serialize;
use zengzhi_core::command::{parse_line, Command};
use zengzhi_core::engine::Reason;
use zengzhi_core::num::{format_money, format_points, format_price, Fen, Units};
use zengzhi_core::replay::lines;
use zengzhi_core::{Engine, Rules};

/// One side's aggregate figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub accepted: u64,
    pub rejected: u64,
    /// `update_rules` lines skipped (the alternative side only).
    pub skipped_rule_updates: u64,
    pub orders: u64,
    pub exits: u64,
    pub pool_fen: i64,
    pub supply_units: i64,
    /// The price as text (yuan per point, 8 decimals).
    pub price: String,
    /// Cash paid to members by sales and exits.
    pub payouts_fen: i64,
    pub rewards_fen: i64,
    pub platform_revenue_fen: i64,
    /// Value of all points held at the end, at the end price.
    pub held_value_fen: i64,
}

/// One member under both rule sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberDiff {
    pub member: String,
    pub exits: [u32; 2],
    pub cash_fen: [i64; 2],
    pub points_value_fen: [i64; 2],
}

impl MemberDiff {
    /// Cash plus the value of points held: what the member has under each side.
    pub fn total_fen(&self, side: usize) -> i64 {
        self.cash_fen[side] + self.points_value_fen[side]
    }
    pub fn difference_fen(&self) -> i64 {
        self.total_fen(1) - self.total_fen(0)
    }
}

/// The comparison: `sides[0]` original, `sides[1]` alternative.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WhatIf {
    pub lines: u64,
    pub sides: [Outcome; 2],
    pub members: Vec<MemberDiff>,
}

fn replay_side(input: &[u8], rules: Rules, skip_rule_updates: bool) -> (Engine, Outcome) {
    let mut engine = Engine::new(rules);
    engine.record_changes(true);
    let mut out = Outcome::default();
    for line in lines(input) {
        let Ok(parsed) = parse_line(line) else {
            out.rejected += 1;
            continue;
        };
        if skip_rule_updates && matches!(parsed.command, Command::UpdateRules { .. }) {
            out.skipped_rule_updates += 1;
            continue;
        }
        match engine.apply_at(&parsed.command, parsed.at.as_deref()) {
            Ok(_) => out.accepted += 1,
            Err(_) => out.rejected += 1,
        }
        for c in engine.take_changes() {
            match c.reason {
                Reason::Sell | Reason::Exit => out.payouts_fen += c.cash_fen.to_fen(),
                Reason::Reward(_) => out.rewards_fen += c.cash_fen.to_fen(),
                _ => {}
            }
        }
    }
    let (p, n) = engine.reference_price();
    out.orders = engine.totals().orders;
    out.exits = engine.totals().exits;
    out.pool_fen = engine.pool_fen().to_fen();
    out.supply_units = engine.supply_units().to_units();
    out.price = format_price(p, n);
    out.platform_revenue_fen = engine.platform_revenue_fen().to_fen();
    out.held_value_fen = engine.members().iter().map(|m| engine.held_value_fen(m).to_fen()).sum();
    (engine, out)
}

/// Replays `input` under `base` (following its `update_rules`) and under `alternative`.
pub fn compare(input: &[u8], base: Rules, alternative: Rules) -> WhatIf {
    let (a, side_a) = replay_side(input, base, false);
    let (b, side_b) = replay_side(input, alternative, true);
    let mut members = Vec::with_capacity(a.member_count());
    for i in a.members_by_id() {
        let id = a.member_id(i).to_string();
        let ma = &a.members()[i as usize];
        let mut diff = MemberDiff {
            member: id.clone(),
            exits: [ma.exits, 0],
            cash_fen: [ma.cash_fen.to_fen(), 0],
            points_value_fen: [a.held_value_fen(ma).to_fen(), 0],
        };
        if let Some(mb) = b.member(&id) {
            diff.exits[1] = mb.exits;
            diff.cash_fen[1] = mb.cash_fen.to_fen();
            diff.points_value_fen[1] = b.held_value_fen(mb).to_fen();
        }
        members.push(diff);
    }
    WhatIf { lines: lines(input).count() as u64, sides: [side_a, side_b], members }
}

/// The per-member CSV: ids sorted, money in yuan.
pub fn members_csv(w: &WhatIf) -> String {
    let mut out = String::from(
        "member,exits_original,exits_alternative,cash_original,cash_alternative,points_value_original,points_value_alternative,total_original,total_alternative,difference\n",
    );
    for m in &w.members {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            m.member,
            m.exits[0],
            m.exits[1],
            format_money(Fen::from_fen(m.cash_fen[0])),
            format_money(Fen::from_fen(m.cash_fen[1])),
            format_money(Fen::from_fen(m.points_value_fen[0])),
            format_money(Fen::from_fen(m.points_value_fen[1])),
            format_money(Fen::from_fen(m.total_fen(0))),
            format_money(Fen::from_fen(m.total_fen(1))),
            format_money(Fen::from_fen(m.difference_fen()))
        );
    }
    out
}

/// The aggregate comparison as a table of text rows: (label, original, alternative, change).
pub fn aggregate_rows(w: &WhatIf) -> Vec<[String; 4]> {
    let [a, b] = &w.sides;
    let money =
        |label: &str, x: i64, y: i64| [label.to_string(), format_money(Fen::from_fen(x)), format_money(Fen::from_fen(y)), format_money(Fen::from_fen(y - x))];
    let count = |label: &str, x: u64, y: u64| {
        [label.to_string(), x.to_string(), y.to_string(), (y as i64 - x as i64).to_string()]
    };
    vec![
        count("接受的命令 accepted commands", a.accepted, b.accepted),
        count("被拒的命令 rejected commands", a.rejected, b.rejected),
        count("订单 orders", a.orders, b.orders),
        count("出局 exits", a.exits, b.exits),
        money("盈利池 pool", a.pool_fen, b.pool_fen),
        [
            "流通积分 supply".into(),
            format_points(Units::from_units(a.supply_units)),
            format_points(Units::from_units(b.supply_units)),
            format_points(Units::from_units(b.supply_units - a.supply_units)),
        ],
        ["积分价格 price".into(), a.price.clone(), b.price.clone(), String::new()],
        money("卖出与出局到账 payouts", a.payouts_fen, b.payouts_fen),
        money("奖励 rewards", a.rewards_fen, b.rewards_fen),
        money("平台收入 platform revenue", a.platform_revenue_fen, b.platform_revenue_fen),
        money("持有积分价值 value of points held", a.held_value_fen, b.held_value_fen),
    ]
}

/// Members better off and worse off under the alternative (cash plus points value).
pub fn better_and_worse(w: &WhatIf) -> (usize, usize) {
    let better = w.members.iter().filter(|m| m.difference_fen() > 0).count();
    let worse = w.members.iter().filter(|m| m.difference_fen() < 0).count();
    (better, worse)
}
