//! Helpers shared by the engine's integration tests.

use zengzhi_core::state::write_state;
use zengzhi_core::Engine;

/// The state JSON plus everything observable that the JSON does not show (campaign, rules,
/// shareholders, counts, referrers and agent levels, the reference price, the kept sums): equal strings mean
/// equal engines for every purpose but the exit index's private bookkeeping.
pub fn snapshot(e: &Engine) -> String {
    let mut buf = Vec::new();
    write_state(e, None, &mut buf).unwrap();
    let mut s = String::from_utf8(buf).unwrap();
    s.push_str(&format!(
        "{:?}\n{:?}\n{:?}\n{} {}\n{:?}\n{:?}\n",
        e.campaign(),
        e.rules(),
        e.shareholders(),
        e.member_count(),
        e.merchant_count(),
        e.reference_price(),
        e.aggregates()
    ));
    // Referrers and agent levels are not in the JSON (balances are); the exit-index bookkeeping
    // a member record may carry is internal and differs between cascade modes.
    for m in e.members() {
        s.push_str(&format!("{} {}\n", m.referrer, m.agent_levels));
    }
    // The daily mint tally, in member order.
    let tally = e.mint_tally();
    let mut minted: Vec<_> = tally.minted.iter().collect();
    minted.sort_unstable();
    s.push_str(&format!("{:?} {minted:?}\n", tally.day));
    s
}
