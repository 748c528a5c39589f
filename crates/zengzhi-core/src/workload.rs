//! A synthetic, deterministic economy for benchmarks: members in referral trees, stores in
//! several regions with agents at every level, orders with sells mixed in.

use std::borrow::Cow;

use crate::command::{Command, Level, SellQty};
use crate::engine::Engine;
use crate::num::{Fen, Units};

/// SplitMix64: a small, fast, deterministic generator (benchmarks only, never the ledger).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// The shape of a synthetic economy.
#[derive(Debug, Clone)]
pub struct Workload {
    pub members: u32,
    pub stores: u32,
    /// Orders after set-up; sells come on top (see `sell_per_mille`).
    pub orders: u64,
    /// Share of operations that are sells, per mille.
    pub sell_per_mille: u32,
    pub seed: u64,
}

impl Default for Workload {
    /// The figures of the engine benchmark: 1,000,000 members, 1,000 stores, 5,000,000
    /// orders with 10% sells mixed in.
    fn default() -> Self {
        Workload { members: 1_000_000, stores: 1_000, orders: 5_000_000, sell_per_mille: 100, seed: 42 }
    }
}

/// Provinces, cities per province and districts per city of the synthetic map.
const PROVINCES: [u32; 5] = [44, 45, 35, 43, 36];
const CITIES_PER_PROVINCE: u32 = 4;
const DISTRICTS_PER_CITY: u32 = 5;

pub fn member_id(i: u32) -> String {
    format!("m{i}")
}

fn store_id(i: u32) -> String {
    format!("s{i}")
}

fn district_code(n: u32) -> u32 {
    let province = PROVINCES[(n / (CITIES_PER_PROVINCE * DISTRICTS_PER_CITY)) as usize % PROVINCES.len()];
    let city = 1 + (n / DISTRICTS_PER_CITY) % CITIES_PER_PROVINCE;
    let district = 1 + n % DISTRICTS_PER_CITY;
    province * 10_000 + city * 100 + district
}

impl Workload {
    /// Number of districts in the synthetic map.
    pub fn districts(&self) -> u32 {
        PROVINCES.len() as u32 * CITIES_PER_PROVINCE * DISTRICTS_PER_CITY
    }

    /// The set-up commands: members (each but the first few referred by an earlier member, so
    /// referral trees form), stores with recruiters and regions, agents at all three levels.
    /// Generated lazily, so a million members cost no memory before they are applied.
    pub fn setup(&self) -> impl Iterator<Item = Command<'static>> + '_ {
        let mut rng = SplitMix64::new(self.seed);
        let members = (0..self.members).map(move |i| {
            // One in ten members joins without a referrer; the rest pick an earlier member.
            let referrer = (i > 0 && rng.below(10) != 0).then(|| Cow::Owned(member_id(rng.below(u64::from(i)) as u32)));
            Command::RegisterMember { member: Cow::Owned(member_id(i)), referrer }
        });
        members.chain(self.stores_and_agents())
    }

    /// Set-up sizes: commands in [`setup`](Self::setup).
    pub fn setup_len(&self) -> u64 {
        u64::from(self.members) + self.stores_and_agents().len() as u64
    }

    fn stores_and_agents(&self) -> Vec<Command<'static>> {
        let mut rng = SplitMix64::new(self.seed ^ 0x5707e);
        let mut out = Vec::new();
        for s in 0..self.stores {
            out.push(Command::RegisterMerchant {
                merchant: Cow::Owned(store_id(s)),
                commission_ppm: None,
                owner: Some(Cow::Owned(member_id(rng.below(u64::from(self.members)) as u32))),
                recruiter: Some(Cow::Owned(member_id(rng.below(u64::from(self.members)) as u32))),
                region: Some(district_code(s % self.districts())),
            });
        }
        let appoint = |level: Level, region: u32, rng: &mut SplitMix64| Command::AppointAgent {
            member: Cow::Owned(member_id(rng.below(u64::from(self.members)) as u32)),
            level,
            region: level.normalise(region),
        };
        for d in 0..self.districts() {
            let code = district_code(d);
            out.push(appoint(Level::District, code, &mut rng));
            if code % 100 == 1 {
                out.push(appoint(Level::City, code, &mut rng));
                if code % 10_000 == 101 {
                    out.push(appoint(Level::Province, code, &mut rng));
                }
            }
        }
        out
    }

    /// The operations, generated one at a time against the live engine (a sell takes half of a
    /// random member's free points, or all of them when fewer than 2 units).
    pub fn operations(&self) -> Operations {
        Operations { rng: SplitMix64::new(self.seed ^ 0x5eed), work: self.clone(), orders: 0 }
    }
}

/// The operation stream of a [`Workload`].
pub struct Operations {
    rng: SplitMix64,
    work: Workload,
    orders: u64,
}

/// One generated operation, owning its ids.
pub enum Op {
    Order { order: u64, member: u32, store: u32, amount_fen: Fen },
    Sell { member: u32 },
}

impl Operations {
    /// The next operation, or `None` when all are done.
    pub fn next_op(&mut self) -> Option<Op> {
        if self.orders == self.work.orders {
            return None;
        }
        let member = self.rng.below(u64::from(self.work.members)) as u32;
        if self.rng.below(1000) < u64::from(self.work.sell_per_mille) {
            return Some(Op::Sell { member });
        }
        self.orders += 1;
        Some(Op::Order {
            order: self.orders,
            member,
            store: self.rng.below(u64::from(self.work.stores)) as u32,
            // 10.00 to 509.99 yuan.
            amount_fen: Fen::from_fen(1_000 + i64::try_from(self.rng.below(50_000)).expect("below 50,000")),
        })
    }

    /// The command for `op`, given its ids as text (see [`Op::ids_into`]).
    pub fn command<'a>(op: &Op, ids: &'a OpIds, engine: &Engine) -> Command<'a> {
        let (member, store) = (ids.member.as_str(), ids.store.as_str());
        match op {
            Op::Order { amount_fen, .. } => Command::Order {
                order: Cow::Borrowed(&ids.order),
                member: Cow::Borrowed(member),
                merchant: Some(Cow::Borrowed(store)),
                amount_fen: *amount_fen,
                commission_fen: None,
                pay_cash_fen: Fen::ZERO,
                pay_coins_fen: Fen::ZERO,
            },
            Op::Sell { .. } => {
                let free = engine.member(member).map_or(Units::ZERO, |m| m.points);
                let points = if free.to_units() >= 2 { SellQty::Units(free.half_floor()) } else { SellQty::All };
                Command::Sell { member: Cow::Borrowed(member), points }
            }
        }
    }
}

/// Reusable text buffers for one operation's ids.
#[derive(Debug, Default, Clone)]
pub struct OpIds {
    pub order: String,
    pub member: String,
    pub store: String,
}

impl Op {
    /// Writes this operation's ids into reusable buffers (as a request handler would have
    /// them: fresh, in cache).
    pub fn ids_into(&self, ids: &mut OpIds) {
        use std::fmt::Write;
        ids.order.clear();
        ids.member.clear();
        ids.store.clear();
        match self {
            Op::Order { order, member, store, .. } => {
                let _ = write!(ids.order, "o{order}");
                let _ = write!(ids.member, "m{member}");
                let _ = write!(ids.store, "s{store}");
            }
            Op::Sell { member } => {
                let _ = write!(ids.member, "m{member}");
            }
        }
    }
}
