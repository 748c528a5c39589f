//! A believable demo economy, loaded on first start with `zengzhi serve --demo`: stores in
//! Dongguan, Shenzhen and Guangzhou with real region codes, members in referral trees (some bound
//! to a store owner by its QR code), agents at every level, shareholders, legacy coins, a subsidy
//! campaign, a financing injection, three weeks of orders with their times, some sales and exits.

use std::borrow::Cow;

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use zengzhi_core::command::{Level, SellQty};
use zengzhi_core::workload::SplitMix64;
use zengzhi_core::num::{Fen, Ppm};
use zengzhi_core::Command;
use zengzhi_journal::writer::WriterHandle;

/// (id, region) of the demo stores: Dongguan (441900), Shenzhen Nanshan (440305) and
/// Bao'an (440306), Guangzhou Tianhe (440106).
const STORES: &[(&str, u32)] = &[
    ("dg-songshanhu-coffee", 441900),
    ("dg-humen-garments", 441900),
    ("dg-changan-noodles", 441900),
    ("dg-dongcheng-fruit", 441900),
    ("dg-nancheng-hotpot", 441900),
    ("dg-guancheng-bakery", 441900),
    ("dg-houjie-furniture", 441900),
    ("dg-tangxia-pharmacy", 441900),
    ("sz-nanshan-tea", 440305),
    ("sz-nanshan-gym", 440305),
    ("sz-baoan-seafood", 440306),
    ("sz-baoan-laundry", 440306),
    ("gz-tianhe-bookshop", 440106),
    ("gz-tianhe-dimsum", 440106),
];

fn id(s: String) -> Cow<'static, str> {
    Cow::Owned(s)
}

/// The demo's commands with their times (three weeks up to now).
pub fn commands(seed: u64) -> Vec<(Command<'static>, Option<String>)> {
    let mut rng = SplitMix64::new(seed);
    let now = OffsetDateTime::now_utc();
    let start = now - Duration::days(21);
    let stamp = |t: OffsetDateTime| t.replace_nanosecond(0).ok().and_then(|t| t.format(&Rfc3339).ok());
    let mut out: Vec<(Command<'static>, Option<String>)> = Vec::new();
    let mut push = |c: Command<'static>, t: OffsetDateTime| out.push((c, stamp(t)));

    // Owners and promoters first, then the stores they own or recruited.
    let owners: Vec<String> = STORES.iter().map(|(s, _)| format!("owner-{s}")).collect();
    for o in &owners {
        push(Command::RegisterMember { member: id(o.clone()), referrer: None }, start);
    }
    for p in ["promoter-li", "promoter-chen", "promoter-wang"] {
        push(Command::RegisterMember { member: id(p.into()), referrer: None }, start);
    }
    for (n, (store, region)) in STORES.iter().enumerate() {
        push(
            Command::RegisterMerchant {
                merchant: id((*store).into()),
                commission_ppm: Some(if store.contains("furniture") { Ppm::from_ppm(150_000) } else { Ppm::from_ppm(200_000) }),
                owner: Some(id(owners[n].clone())),
                recruiter: Some(id(["promoter-li", "promoter-chen", "promoter-wang"][n % 3].into())),
                region: Some(*region),
            },
            start,
        );
    }
    // Agents: Guangdong province, Dongguan and Shenzhen cities, districts.
    for (member, level, region) in [
        ("agent-guangdong", Level::Province, 440000),
        ("agent-dongguan", Level::City, 441900),
        ("agent-shenzhen", Level::City, 440300),
        ("agent-nanshan", Level::District, 440305),
        ("agent-baoan", Level::District, 440306),
        ("agent-tianhe", Level::District, 440106),
    ] {
        push(Command::RegisterMember { member: id(member.into()), referrer: None }, start);
        push(Command::AppointAgent { member: id(member.into()), level, region }, start);
    }
    for (member, weight) in [("owner-dg-songshanhu-coffee", 5), ("agent-guangdong", 3), ("promoter-li", 2)] {
        push(Command::SetShareholder { member: id(member.into()), weight }, start);
    }

    // Members join over three weeks: most referred by an earlier member, some by a store's QR
    // code (bound to its owner).
    let mut members: Vec<String> = Vec::new();
    // Coins each legacy member still holds (the generator keeps count so coin payments fit).
    let mut coins_left: std::collections::HashMap<usize, i64> = std::collections::HashMap::new();
    // The first members are early birds: each buys once on the first day, then holds — the ones
    // the rising price carries to the cap.
    const EARLY: usize = 40;
    let days = 21;
    for day in 0..days {
        let day_start = start + Duration::days(day);
        // Besides the buyers' cohort, many join who never buy (or buy rarely): over 10,000 in all.
        let joins = if day == 0 { EARLY as i64 } else { 20 + day * 2 + 440 + day * 3 };
        for j in 0..joins {
            let n = members.len();
            let member = format!("u{:05}", n + 1);
            // Joins in order, between 07:00 and 08:00 (before the day's orders).
            let t = day_start + Duration::hours(7) + Duration::seconds(j * 3600 / joins);
            let referrer = match rng.below(10) {
                0..=5 if n > 0 => Some(members[rng.below(n as u64) as usize].clone()),
                6..=8 => Some(owners[rng.below(owners.len() as u64) as usize].clone()),
                _ => None,
            };
            push(Command::RegisterMember { member: id(member.clone()), referrer: referrer.map(id) }, t);
            members.push(member);
        }
        // Legacy conversion: a few old members' debts become coins.
        if day == 2 {
            for k in EARLY..(EARLY + 25).min(members.len()) {
                let amount = 50_000 + rng.below(150_000) as i64;
                coins_left.insert(k, amount);
                push(Command::GrantCoins { member: id(members[k].clone()), amount_fen: Fen::from_fen(amount) }, day_start + Duration::hours(9));
            }
        }
        if day == 9 {
            push(
                Command::StartCampaign { campaign: id("double-eleven".into()), rate_ppm: Ppm::from_ppm(50_000), budget_fen: Fen::from_fen(500_000) },
                day_start + Duration::hours(8),
            );
        }
        if day == 12 {
            push(Command::EndCampaign, day_start + Duration::hours(23));
        }
        if day == 14 {
            // Angel-round financing injected into the pool (融资注入).
            push(Command::Inject { amount_fen: Fen::from_fen(12_000_000) }, day_start + Duration::hours(10));
        }
        // Orders through the day.
        let orders = if day == 0 { EARLY as i64 } else { 120 + day * 12 };
        for k in 0..orders {
            let b = if day == 0 { k as usize } else { EARLY + rng.below((members.len() - EARLY) as u64) as usize };
            let buyer = members[b].clone();
            let (store, _) = STORES[rng.below(STORES.len() as u64) as usize];
            let amount = 2_000 + rng.below(40_000) as i64 + if rng.below(20) == 0 { 200_000 } else { 0 };
            let t = day_start + Duration::minutes(8 * 60 + rng.below(14 * 60) as i64);
            let pay_coins = match coins_left.get_mut(&b) {
                Some(left) if day > 2 => {
                    let pay = (amount / 2).min(*left);
                    *left -= pay;
                    pay
                }
                _ => 0,
            };
            push(
                Command::Order {
                    order: id(format!("D{day:02}-{k:04}")),
                    member: id(buyer),
                    merchant: Some(id(store.into())),
                    amount_fen: Fen::from_fen(amount),
                    commission_fen: None,
                    pay_cash_fen: Fen::ZERO,
                    pay_coins_fen: Fen::from_fen(pay_coins),
                },
                t,
            );
        }
        // Some members take profit.
        for _ in 0..(day / 2) {
            let seller = members[rng.below(members.len() as u64) as usize].clone();
            push(Command::Sell { member: id(seller), points: SellQty::All }, day_start + Duration::hours(21));
        }
        push(Command::ReleaseLocked, day_start + Duration::minutes(10));
        if day % 7 == 6 {
            push(Command::DistributeDividends, day_start + Duration::hours(22));
        }
    }
    // Commands must be journaled in time order.
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The demo's store bindings: members who registered through a store's QR code (referred by
/// the store's owner), with the store.
pub fn store_bindings(commands: &[(Command<'static>, Option<String>)]) -> Vec<(String, String)> {
    commands
        .iter()
        .filter_map(|(c, _)| match c {
            Command::RegisterMember { member, referrer: Some(r) } => {
                let store = r.strip_prefix("owner-")?;
                STORES.iter().any(|(s, _)| *s == store).then(|| (member.to_string(), store.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// Loads the demo through the writer; returns how many commands were accepted.
pub fn load(writer: &WriterHandle) -> zengzhi_journal::Result<usize> {
    let mut accepted = 0;
    let all = commands(20_261_126);
    for chunk in all.chunks(2_000) {
        accepted += writer.submit_many(chunk.to_vec())?.iter().filter(|o| o.seq.is_some()).count();
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_a_live_economy() {
        let mut engine = zengzhi_core::Engine::new(zengzhi_core::Rules::default());
        let mut rejected = 0;
        let all = commands(20_261_126);
        for (c, at) in &all {
            assert!(zengzhi_core::command::valid_at(at.as_deref().unwrap()));
            if engine.apply(c).is_err() {
                rejected += 1;
            }
        }
        zengzhi_core::invariants::check_state(&engine).unwrap();
        let t = engine.totals();
        assert!(t.orders > 3_000, "orders {}", t.orders);
        assert!(t.exits >= 5, "some members exited ({})", t.exits);
        assert!(t.coins_spent_fen.is_positive(), "legacy coins were spent");
        assert!(engine.member_count() >= 10_000, "members {}", engine.member_count());
        let bound = store_bindings(&all);
        assert!(bound.len() > 1_000 && bound.iter().all(|(m, _)| engine.member(m).is_some()));
        let never = engine.members().iter().filter(|m| !m.lifetime_consumption_fen.is_positive()).count();
        assert!(never > engine.member_count() / 3, "many never bought ({never})");
        // Sells of members without points are the only rejections.
        assert!(rejected < all.len() / 50, "{rejected} rejected");
    }
}

/// The demo's operator: user `admin` (superadmin) with `password`, or a random one. Created
/// only when the store has no `admin` yet; returns the password then (to be shown once).
pub fn admin_user(
    store: &mut dyn crate::store::Conn,
    password: Option<&str>,
) -> zengzhi_journal::Result<Option<String>> {
    if store.user_get("admin")?.is_some() {
        return Ok(None);
    }
    // First start of the demo: its members' store bindings too.
    crate::store::members::MemberStore::member_stores_bind(store, &store_bindings(&commands(20_261_126)))?;
    let password = match password {
        Some(p) => p.to_string(),
        None => {
            use base64::Engine as _;
            let mut bytes = [0u8; 12];
            getrandom::getrandom(&mut bytes)
                .map_err(|e| zengzhi_journal::Error::Config(format!("no randomness: {e}")))?;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        }
    };
    let hash = crate::accounts::hash_password(&password)
        .map_err(|e| zengzhi_journal::Error::Config(format!("ZENGZHI_DEMO_PASSWORD: {e}")))?;
    let user = crate::store::User {
        name: "admin".into(),
        role: crate::accounts::Role::Superadmin.as_str().into(),
        password_hash: hash,
        disabled: false,
        created_at: zengzhi_journal::time_fmt::now_rfc3339(),
    };
    Ok(store.user_insert(&user)?.then_some(password))
}
