//! The state JSON of the replay contract (SPEC §8), written byte for byte.
//!
//! The layout is Python's `json.dumps(state, indent=2) + "\n"`. Every value is a number or a
//! string that needs no escaping (ids are `[A-Za-z0-9_.:-]`), so the text is written directly,
//! which keeps `zengzhi replay` of a million lines fast.

use std::io::{self, Write};

use crate::engine::Engine;
use crate::error::Rejection;
use crate::num::{format_money, format_points, format_price};

/// Writes the state, with `results` when given (one per input line, 1-based).
pub fn write_state<W: Write>(
    engine: &Engine,
    results: Option<&[Result<(), Rejection>]>,
    out: &mut W,
) -> io::Result<()> {
    let t = engine.totals();
    let (p_ref, n_ref) = engine.reference_price();
    writeln!(out, "{{")?;
    writeln!(out, "  \"pool\": \"{}\",", format_money(engine.pool_fen()))?;
    writeln!(out, "  \"supply\": \"{}\",", format_points(engine.supply_units()))?;
    writeln!(out, "  \"price\": \"{}\",", format_price(p_ref, n_ref))?;
    writeln!(out, "  \"platform_revenue\": \"{}\",", format_money(engine.platform_revenue_fen()))?;
    writeln!(out, "  \"dividend_pool\": \"{}\",", format_money(engine.dividend_pool_fen()))?;
    writeln!(out, "  \"totals\": {{")?;
    for (key, fen) in [
        ("commissions", t.commissions_fen),
        ("injected", t.injected_fen),
        ("subsidies", t.subsidies_fen),
        ("subsidy_returned", t.subsidy_returned_fen),
        ("withdrawn", t.withdrawn_fen),
        ("cash_spent", t.cash_spent_fen),
        ("redeemed", t.redeemed_fen),
        ("coins_issued", t.coins_issued_fen),
        ("coins_spent", t.coins_spent_fen),
    ] {
        writeln!(out, "    \"{key}\": \"{}\",", format_money(fen))?;
    }
    writeln!(out, "    \"orders\": {},", t.orders)?;
    writeln!(out, "    \"exits\": {}", t.exits)?;
    writeln!(out, "  }},")?;
    let order = engine.members_by_id();
    if order.is_empty() {
        write!(out, "  \"members\": {{}}")?;
    } else {
        writeln!(out, "  \"members\": {{")?;
        for (n, &i) in order.iter().enumerate() {
            let m = &engine.members()[i as usize];
            writeln!(out, "    \"{}\": {{", engine.member_id(i))?;
            writeln!(out, "      \"points\": \"{}\",", format_points(m.points))?;
            writeln!(out, "      \"locked\": \"{}\",", format_points(m.locked))?;
            writeln!(out, "      \"cash\": \"{}\",", format_money(m.cash_fen))?;
            writeln!(out, "      \"coins\": \"{}\",", format_money(m.coins_fen))?;
            writeln!(out, "      \"cycle_consumption\": \"{}\",", format_money(m.cycle_consumption_fen))?;
            writeln!(out, "      \"cycle_realized\": \"{}\",", format_money(m.cycle_realized_fen))?;
            writeln!(out, "      \"lifetime_consumption\": \"{}\",", format_money(m.lifetime_consumption_fen))?;
            writeln!(out, "      \"exits\": {},", m.exits)?;
            writeln!(out, "      \"rewards\": \"{}\"", format_money(m.rewards_fen))?;
            let comma = if n + 1 < order.len() { "," } else { "" };
            writeln!(out, "    }}{comma}")?;
        }
        write!(out, "  }}")?;
    }
    match results {
        None => writeln!(out)?,
        Some([]) => writeln!(out, ",\n  \"results\": []")?,
        Some(results) => {
            writeln!(out, ",\n  \"results\": [")?;
            for (n, r) in results.iter().enumerate() {
                let comma = if n + 1 < results.len() { "," } else { "" };
                match r {
                    Ok(()) => write!(out, "    {{\n      \"line\": {},\n      \"ok\": true\n    }}{comma}\n", n + 1)?,
                    Err(e) => write!(
                        out,
                        "    {{\n      \"line\": {},\n      \"ok\": false,\n      \"error\": \"{}\"\n    }}{comma}\n",
                        n + 1,
                        e.code()
                    )?,
                }
            }
            writeln!(out, "  ]")?;
        }
    }
    writeln!(out, "}}")
}
