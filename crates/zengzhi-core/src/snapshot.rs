//! Snapshots: the whole engine state as bytes, and back.
//!
//! The format is private to this crate and versioned by its magic. Decoding checks every
//! length and value and returns an error for bytes that do not make a valid state; it never
//! panics. The exit index is not stored: it is rebuilt from the members.
//!
//! Versions: `ZZSNAP02` (written) is the first format with, at the end, the values of the rule
//! keys added since (`limits.self_dealing`, `limits.max_mint_value_per_member_day`) and the
//! daily mint tally; everything before keeps its place. `ZZSNAP01` (the first format: 20 rule
//! values, no tail) still loads, the later rules at their defaults.

use crate::command::{valid_id, Level};
use crate::engine::{Aggregates, Campaign, CascadeMode, Engine, Member, Merchant, MintTally, Totals, NONE};
use crate::num::{Fen, Ppm, Units};
use crate::rules::Rules;

const MAGIC: &[u8; 8] = b"ZZSNAP02";
/// The first format's magic.
const MAGIC_V1: &[u8; 8] = b"ZZSNAP01";

/// Why snapshot bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotError(pub String);

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid snapshot: {}", self.0)
    }
}

impl std::error::Error for SnapshotError {}

struct Writer(Vec<u8>);

impl Writer {
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn fens(&mut self, values: &[Fen]) {
        values.iter().for_each(|v| self.i64(v.to_fen()));
    }
    fn units(&mut self, v: Units) {
        self.i64(v.to_units());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn id(&mut self, id: &[u8]) {
        self.u8(id.len() as u8);
        self.0.extend_from_slice(id);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

type Read<T> = Result<T, SnapshotError>;

fn bad(what: &str) -> SnapshotError {
    SnapshotError(what.to_string())
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Read<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| bad("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn i64(&mut self) -> Read<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn nonneg(&mut self, what: &str) -> Read<i64> {
        let v = self.i64()?;
        if v < 0 {
            return Err(bad(&format!("negative {what}")));
        }
        Ok(v)
    }
    fn fen(&mut self, what: &str) -> Read<Fen> {
        self.nonneg(what).map(Fen::from_fen)
    }
    fn units(&mut self, what: &str) -> Read<Units> {
        self.nonneg(what).map(Units::from_units)
    }
    fn u64(&mut self) -> Read<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn u32(&mut self) -> Read<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u8(&mut self) -> Read<u8> {
        Ok(self.take(1)?[0])
    }
    fn id(&mut self) -> Read<&'a str> {
        let len = self.u8()? as usize;
        let id = std::str::from_utf8(self.take(len)?).map_err(|_| bad("id is not UTF-8"))?;
        if !valid_id(id) {
            return Err(bad("invalid id"));
        }
        Ok(id)
    }
    /// A count of records, each at least `min_size` bytes: bounded by the bytes left.
    fn count(&mut self, min_size: usize) -> Read<usize> {
        let n = self.u64()?;
        if n > ((self.bytes.len() - self.at) / min_size.max(1)) as u64 {
            return Err(bad("count larger than the data"));
        }
        Ok(n as usize)
    }
    fn member_ref(&mut self, members: usize) -> Read<u32> {
        let r = self.u32()?;
        if r != NONE && r as usize >= members {
            return Err(bad("member reference out of range"));
        }
        Ok(r)
    }
}

impl Engine {
    /// The whole state as snapshot bytes.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64 + self.members.len() * 96 + self.order_ids.len() * 10));
        w.0.extend_from_slice(MAGIC);
        let values = self.rules.to_values();
        let (first, later) = values.split_at(crate::rules::KEYS_V1);
        w.u64(first.len() as u64);
        first.iter().for_each(|&v| w.i64(v));
        w.fens(&[self.pool]);
        w.units(self.supply);
        match self.last_positive {
            Some((p, s)) => {
                w.u8(1);
                w.fens(&[p]);
                w.units(s);
            }
            None => w.u8(0),
        }
        w.fens(&[self.platform_revenue, self.dividend_pool]);
        let t = &self.totals;
        w.fens(&[
            t.commissions_fen,
            t.injected_fen,
            t.subsidies_fen,
            t.subsidy_returned_fen,
            t.withdrawn_fen,
            t.cash_spent_fen,
            t.redeemed_fen,
            t.coins_issued_fen,
            t.coins_spent_fen,
        ]);
        w.u64(t.orders);
        w.u64(t.exits);
        w.u64(self.members.len() as u64);
        for (i, m) in self.members.iter().enumerate() {
            w.id(self.member_ids.name(i as u32).as_bytes());
            w.units(m.points);
            w.units(m.locked);
            w.fens(&[
                m.cash_fen,
                m.coins_fen,
                m.cycle_consumption_fen,
                m.cycle_realized_fen,
                m.lifetime_consumption_fen,
                m.rewards_fen,
            ]);
            w.u32(m.exits);
            w.u32(m.referrer);
            w.u8(m.agent_levels);
        }
        w.u64(self.merchants.len() as u64);
        for (i, s) in self.merchants.iter().enumerate() {
            w.id(self.merchant_ids.name(i as u32).as_bytes());
            w.i64(s.commission_ppm.to_ppm());
            w.u32(s.owner);
            w.u32(s.recruiter);
            w.u32(s.region);
        }
        for set in [&self.order_ids, &self.campaign_ids] {
            w.u64(set.len() as u64);
            set.for_each(|id| w.id(id));
        }
        match &self.campaign {
            Some(c) => {
                w.u8(1);
                w.id(c.id.as_bytes());
                w.i64(c.rate_ppm.to_ppm());
                w.fens(&[c.remaining_fen]);
            }
            None => w.u8(0),
        }
        let mut agents: Vec<(u64, u32)> = self.agents.iter().map(|(&k, &m)| (k, m)).collect();
        agents.sort_unstable();
        w.u64(agents.len() as u64);
        for (k, m) in agents {
            w.u64(k);
            w.u32(m);
        }
        w.u64(self.shareholders.len() as u64);
        for (&m, &weight) in &self.shareholders {
            w.u32(m);
            w.u32(weight);
        }
        w.u64(later.len() as u64);
        later.iter().for_each(|&v| w.i64(v));
        let tally = &self.mint_tally;
        match tally.day {
            Some(d) => {
                w.u8(1);
                w.i64(d);
            }
            None => w.u8(0),
        }
        let mut minted: Vec<(u32, Fen)> = tally.minted.iter().map(|(&m, &v)| (m, v)).collect();
        minted.sort_unstable();
        w.u64(minted.len() as u64);
        for (m, v) in minted {
            w.u32(m);
            w.fens(&[v]);
        }
        w.0
    }

    /// The state from snapshot bytes, with the exit index rebuilt.
    pub fn from_snapshot(bytes: &[u8], mode: CascadeMode) -> Result<Engine, SnapshotError> {
        let mut r = Reader { bytes, at: 0 };
        let v1 = match r.take(MAGIC.len())? {
            m if m == MAGIC => false,
            m if m == MAGIC_V1 => true,
            _ => return Err(bad("not a zengzhi snapshot (or another version)")),
        };
        let n = r.count(8)?;
        let values = (0..n).map(|_| r.i64()).collect::<Read<Vec<i64>>>()?;
        if values.len() != crate::rules::KEYS_V1 {
            return Err(bad("invalid rules"));
        }
        // The later rules come at the end: decode with these, then set the whole.
        let rules = Rules::from_first_values(&values).ok_or_else(|| bad("invalid rules"))?;
        let mut e = Engine::with_mode(rules, mode);
        e.pool = r.fen("pool")?;
        e.supply = r.units("supply")?;
        e.last_positive = match r.u8()? {
            0 => None,
            1 => Some((r.fen("reference pool")?, r.units("reference supply")?)),
            _ => return Err(bad("bad flag")),
        };
        // A reference price is recorded only while supply > 0; an order divides by its pool.
        if e.last_positive.is_some_and(|(p, s)| !p.is_positive() || !s.is_positive()) {
            return Err(bad("reference price not positive"));
        }
        e.platform_revenue = r.fen("platform revenue")?;
        e.dividend_pool = r.fen("dividend pool")?;
        e.totals = Totals {
            commissions_fen: r.fen("total")?,
            injected_fen: r.fen("total")?,
            subsidies_fen: r.fen("total")?,
            subsidy_returned_fen: r.fen("total")?,
            withdrawn_fen: r.fen("total")?,
            cash_spent_fen: r.fen("total")?,
            redeemed_fen: r.fen("total")?,
            coins_issued_fen: r.fen("total")?,
            coins_spent_fen: r.fen("total")?,
            orders: r.u64()?,
            exits: r.u64()?,
        };
        let members = r.count(2 + 8 * 8 + 9)?;
        e.members.reserve_exact(members);
        for _ in 0..members {
            let id = r.id()?;
            if e.member_ids.insert(id).is_err() {
                return Err(bad("duplicate member id"));
            }
            let mut m = Member {
                points: r.units("points")?,
                locked: r.units("locked")?,
                cash_fen: r.fen("cash")?,
                coins_fen: r.fen("coins")?,
                cycle_consumption_fen: r.fen("consumption")?,
                cycle_realized_fen: r.fen("realised")?,
                lifetime_consumption_fen: r.fen("consumption")?,
                rewards_fen: r.fen("rewards")?,
                ..Member::default()
            };
            m.exits = r.u32()?;
            m.referrer = r.member_ref(members)?;
            m.agent_levels = r.u8()?;
            if m.agent_levels & !7 != 0 {
                return Err(bad("bad agent levels"));
            }
            e.members.push(m);
        }
        let merchants = r.count(2 + 8 + 12)?;
        for _ in 0..merchants {
            let id = r.id()?;
            if e.merchant_ids.insert(id).is_err() {
                return Err(bad("duplicate merchant id"));
            }
            let commission_ppm = Ppm::from_ppm(r.nonneg("commission")?);
            if commission_ppm > Ppm::ONE {
                return Err(bad("commission above 1"));
            }
            let owner = r.member_ref(members)?;
            let recruiter = r.member_ref(members)?;
            let region = r.u32()?;
            if region != NONE && region > 999_999 {
                return Err(bad("region out of range"));
            }
            e.merchants.push(Merchant { commission_ppm, owner, recruiter, region });
        }
        for set in [&mut e.order_ids, &mut e.campaign_ids] {
            let n = r.count(2)?;
            for _ in 0..n {
                if !set.insert(r.id()?) {
                    return Err(bad("duplicate order or campaign id"));
                }
            }
        }
        e.campaign = match r.u8()? {
            0 => None,
            1 => Some(Campaign {
                id: r.id()?.to_string(),
                rate_ppm: Ppm::from_ppm(r.nonneg("rate")?),
                remaining_fen: r.fen("budget")?,
            }),
            _ => return Err(bad("bad flag")),
        };
        if e.campaign.as_ref().is_some_and(|c| c.rate_ppm > Ppm::ONE || !e.campaign_ids.contains(&c.id)) {
            return Err(bad("bad campaign"));
        }
        let agents = r.count(12)?;
        for _ in 0..agents {
            let key = r.u64()?;
            let m = r.member_ref(members)?;
            // The key is a level bit and a region normalised to it, held by that member.
            let level = match key >> 32 {
                1 => Level::District,
                2 => Level::City,
                4 => Level::Province,
                _ => return Err(bad("bad agent")),
            };
            let region = key as u32;
            if m == NONE
                || region > 999_999
                || level.normalise(region) != region
                || e.members[m as usize].agent_levels & level as u8 == 0
                || e.agents.insert(key, m).is_some()
            {
                return Err(bad("bad agent"));
            }
        }
        let holders = r.count(8)?;
        for _ in 0..holders {
            let m = r.member_ref(members)?;
            let weight = r.u32()?;
            if m == NONE || weight == 0 || e.shareholders.insert(m, weight).is_some() {
                return Err(bad("bad shareholder"));
            }
        }
        if !v1 {
            let n = r.count(8)?;
            let mut all = values;
            for _ in 0..n {
                all.push(r.i64()?);
            }
            e.rules = Rules::from_values(&all).ok_or_else(|| bad("invalid rules"))?;
            e.mint_tally = read_tally(&mut r, &e)?;
        }
        if r.at != bytes.len() {
            return Err(bad("trailing bytes"));
        }
        e.aggregates = Aggregates::scan(&e.members).ok_or_else(|| bad("balances do not fit"))?;
        if e.aggregates.member_held != e.supply {
            return Err(bad("supply does not add up"));
        }
        // Bytes that decode must also hold a state the engine could have reached: money and
        // coins add up, nothing negative, nobody over the cap (SPEC §7). Commands assume it.
        crate::invariants::check_state(&e).map_err(|v| bad(&v.to_string()))?;
        check_bounds(&e)?;
        e.rebuild_index();
        Ok(e)
    }
}

/// The daily mint tally: a day flag and day, then (member, value) records in member order, each
/// value positive and within the money that entered (the cap may have been lowered since); none
/// while the cap is off.
fn read_tally(r: &mut Reader<'_>, e: &Engine) -> Read<MintTally> {
    let day = match r.u8()? {
        0 => None,
        1 => Some(r.i64()?),
        _ => return Err(bad("bad flag")),
    };
    let n = r.count(12)?;
    let cap = e.rules.max_mint_value_per_member_day_fen;
    if n > 0 && !cap.is_positive() {
        return Err(bad("a mint tally while the daily cap is off"));
    }
    let mut tally = MintTally { day, minted: Default::default() };
    let mut last = None;
    for _ in 0..n {
        let m = r.member_ref(e.members.len())?;
        let v = r.fen("minted today")?;
        if m == NONE || last.is_some_and(|l| l >= m) || !v.is_positive() || i128::from(v) > e.totals.money_in() {
            return Err(bad("bad mint tally"));
        }
        last = Some(m);
        tally.minted.insert(m, v);
    }
    Ok(tally)
}

/// The bounds a reached state keeps and commands rely on to add without overflow: money in fits
/// in `i64` (every balance and payout total is a part of it), rewards are a part of the
/// commissions, a cycle's consumption is a part of the lifetime's, every order id was counted
/// and every exit too, and campaign money is within the budgets that could have been given.
fn check_bounds(e: &Engine) -> Read<()> {
    let t = &e.totals;
    if t.money_in() > i128::from(i64::MAX) {
        return Err(bad("money in does not fit"));
    }
    let (mut rewards, mut exits) = (0i128, 0u128);
    for m in &e.members {
        if m.cycle_consumption_fen > m.lifetime_consumption_fen {
            return Err(bad("cycle consumption above lifetime consumption"));
        }
        rewards += i128::from(m.rewards_fen);
        exits += u128::from(m.exits);
    }
    if rewards > i128::from(t.commissions_fen) {
        return Err(bad("rewards above the commissions"));
    }
    if u128::from(t.orders) != e.order_ids.len() as u128 || u128::from(t.exits) != exits || t.exits > t.orders {
        return Err(bad("order or exit count does not add up"));
    }
    let budgets = e.campaign_ids.len() as i128 * i128::from(crate::num::MAX_MONEY_ARG_FEN);
    let remaining = e.campaign.as_ref().map_or(0, |c| i128::from(c.remaining_fen));
    if i128::from(t.subsidies_fen) + i128::from(t.subsidy_returned_fen) + remaining > budgets {
        return Err(bad("campaign money above the budgets"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_line;

    fn engine(rules: &str, lines: &[&str]) -> Engine {
        let mut e = Engine::new(Rules::from_toml(rules).unwrap());
        for line in lines {
            let p = parse_line(line.as_bytes()).unwrap();
            e.apply_at(&p.command, p.at.as_deref()).unwrap();
        }
        e
    }

    /// The state JSON (hash-set order of ids differs between engines, so bytes may not).
    fn state(e: &Engine) -> Vec<u8> {
        let mut out = Vec::new();
        crate::state::write_state(e, None, &mut out).unwrap();
        out
    }

    const HISTORY: &[&str] = &[
        r#"{"op":"register_member","member":"a"}"#,
        r#"{"op":"register_member","member":"b"}"#,
        r#"{"op":"register_merchant","merchant":"s","owner":"b"}"#,
        r#"{"op":"order","order":"o1","member":"a","merchant":"s","amount":"1000","at":"2026-12-01T10:00:00+08:00"}"#,
        r#"{"op":"order","order":"o2","member":"b","merchant":"s","amount":"1000"}"#,
    ];

    #[test]
    fn the_new_rules_and_the_tally_round_trip() {
        let e = engine("[limits]\nself_dealing = \"no_mint\"\nmax_mint_value_per_member_day = \"50\"", HISTORY);
        // a minted the cap, 5000 fen; b's own-store order minted nothing and is not counted.
        assert_eq!(e.mint_tally.minted.len(), 1);
        assert_eq!(e.mint_tally.minted.get(&0), Some(&Fen::from_fen(5_000)));
        let bytes = e.to_snapshot();
        let back = Engine::from_snapshot(&bytes, CascadeMode::Indexed).unwrap();
        assert_eq!(back.rules, e.rules);
        assert_eq!(back.mint_tally, e.mint_tally);
        assert_eq!(state(&back), state(&e));
        // A tally value of 0 or above all the money that entered (the last 8 bytes) is refused.
        for v in [0i64, 400_001] {
            let mut bad = bytes.clone();
            let n = bad.len();
            bad[n - 8..].copy_from_slice(&v.to_le_bytes());
            assert!(Engine::from_snapshot(&bad, CascadeMode::Indexed).is_err(), "{v}");
        }
    }

    /// A snapshot of the first format (20 rule values, no tail) loads, the later rules at
    /// their defaults: it is this format's bytes less the tail, under the old magic.
    #[test]
    fn a_first_format_snapshot_still_loads() {
        let e = engine("", HISTORY);
        let bytes = e.to_snapshot();
        // The tail of a state with the later rules at their defaults and no tally: a count of
        // 2 and two zero values, then a flag 0 and a count 0.
        let tail = 8 + 2 * 8 + 1 + 8;
        let mut v1 = bytes[..bytes.len() - tail].to_vec();
        v1[..8].copy_from_slice(MAGIC_V1);
        let back = Engine::from_snapshot(&v1, CascadeMode::Indexed).unwrap();
        assert_eq!(back.rules, Rules::default());
        assert_eq!(state(&back), state(&e));
        assert_eq!(back.to_snapshot().len(), bytes.len());
        // The old magic with the new tail is trailing bytes.
        let mut mixed = bytes.clone();
        mixed[..8].copy_from_slice(MAGIC_V1);
        assert!(Engine::from_snapshot(&mixed, CascadeMode::Indexed).is_err());
    }
}
