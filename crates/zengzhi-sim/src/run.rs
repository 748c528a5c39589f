//! One simulated run: agents arrive, buy, sell and re-enter, day by day, on the real engine.
//!
//! Everything the ledger does happens inside [`zengzhi_core::Engine`]; this module only decides
//! which commands members and the operator send, and records what came out. Per-member agent
//! state lives in flat vectors indexed like the engine's members (the simulator registers
//! every member, so the indexes agree).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use zengzhi_core::command::{Command, SellQty};
use zengzhi_core::engine::{Applied, Reason};
use zengzhi_core::error::Rejection;
use zengzhi_core::num::{Fen, Ppm};
use zengzhi_core::{Engine, Rules};

use crate::random::Rng;
use crate::scenario::{ArrivalModel, Loaded};
use crate::stats::percentile;

/// A run never registers more members than this (a runaway growth curve stops arriving).
pub const MAX_MEMBERS: usize = 20_000_000;
/// Bins of the net-rebate histogram.
pub const HISTOGRAM_BINS: usize = 20;
/// Orders built and applied together: small enough that the commands stay in cache between
/// being built and being applied, large enough for the engine's batch warm-up.
const ORDER_BATCH: usize = 512;
/// Days in a join cohort ("month").
pub const COHORT_DAYS: u32 = 30;

const HOLD_TO_CAP: u8 = 0;
const TAKE_PROFIT: u8 = 1;
const PESSIMIST: u8 = 2;
const BEHAVIOUR: u8 = 3;
/// A member flag: holds coins (so a purchase reads `coins_fen`).
const HAS_COINS: u8 = 4;
/// A member flag: an attacker (a wash-trading owner, a referral farmer or a fake referee), left
/// out of the honest members' figures.
const ATTACKER: u8 = 8;
/// A member flag: a wash-trading store owner.
const WASH: u8 = 16;

const WAITING: u8 = 0;
const HOLDING: u8 = 1;
const EXITED: u8 = 2;

const INACTIVE: u32 = u32::MAX;

/// The figures of one day, at its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayStats {
    pub orders: u64,
    pub gmv_fen: i64,
    pub pool_fen: i64,
    pub supply_units: i64,
    /// Yuan per point (the reference price when supply is 0).
    pub price: f64,
    pub exits: u64,
    /// Cash paid that day by sales and exits.
    pub payouts_fen: i64,
    pub holding: u64,
    pub waiting: u64,
    pub exited: u64,
}

/// One join cohort's figures at the end of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CohortStats {
    pub members: u64,
    pub reached_cap: u64,
    pub median_days_to_exit: Option<f64>,
    pub p90_days_to_exit: Option<f64>,
}

/// End-of-run figures (money in fen, shares in [0, 1]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunMetrics {
    pub members: u64,
    pub orders: u64,
    pub rejected: u64,
    pub exits: u64,
    pub sells: u64,
    pub gmv_fen: i64,
    pub payouts_fen: i64,
    pub rewards_fen: i64,
    pub injected_fen: i64,
    pub subsidies_fen: i64,
    pub pool_fen: i64,
    pub supply_units: i64,
    pub platform_revenue_fen: i64,
    pub final_price: f64,
    pub cap_reached_share: f64,
    /// Σ payouts of sales and exits ÷ Σ consumption.
    pub avg_net_rebate_share: f64,
    /// Σ rewards ÷ Σ consumption (paid from the distribution budget, not the pool).
    pub rewards_share: f64,
    /// Members in a cycle (C > 0) at the end, share of all members.
    pub still_waiting_share: f64,
    pub price_growth_last_30_days: f64,
    pub median_days_to_exit: Option<f64>,
    pub late_vs_early_wait_ratio: Option<f64>,
    /// Value of all points still held at the end, at the current price.
    pub held_value_fen: i64,
    /// Honest members (not attackers): their number, the share who reached the cap at least
    /// once, their net rebate (payouts ÷ consumption) and median days to the first exit.
    pub honest_members: u64,
    pub honest_cap_reached_share: f64,
    pub honest_net_rebate_share: f64,
    /// (payouts + the value of their points at the end) ÷ consumption of honest members: all
    /// they got from the pool. Over all members these add up to the pool's inflows.
    pub honest_value_share: f64,
    pub honest_median_days_to_exit: Option<f64>,
    /// Reward money paid to members who never bought (lifetime consumption 0), share of all
    /// reward money (0 without rewards).
    pub rewards_to_non_buyers_share: f64,
    pub rewards_to_non_buyers_fen: i64,
    /// Wash-trading owners: the commission their own-store orders cost them (their only cost:
    /// the rest of the money comes back as the store's takings), and what they got (cash paid
    /// by sales and exits, rewards, and the value of their points at the end).
    pub wash_commission_fen: i64,
    pub wash_received_fen: i64,
}

/// What one run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunResult {
    pub days: Vec<DayStats>,
    pub cohorts: Vec<CohortStats>,
    /// Members per bin of net rebate ÷ consumption over `[0, histogram_max]`.
    pub histogram: Vec<u64>,
    pub histogram_max: f64,
    pub metrics: RunMetrics,
}

/// A planned purchase of the day.
#[derive(Clone, Copy)]
struct Buy {
    member: u32,
    store: u32,
    amount_fen: i64,
    pay_coins_fen: i64,
}

/// Store ids `s0, s1, …` in one string, built once (there are few stores).
#[derive(Default)]
struct Names {
    text: String,
    ends: Vec<u32>,
}

impl Names {
    fn push(&mut self, prefix: char, n: u64) {
        push_id(&mut self.text, prefix, n);
        self.ends.push(self.text.len() as u32);
    }
    fn get(&self, i: u32) -> &str {
        let end = self.ends[i as usize] as usize;
        let start = if i == 0 { 0 } else { self.ends[i as usize - 1] as usize };
        &self.text[start..end]
    }
}

/// Appends `prefix` and `n` in base 36 (lowercase): ids of up to 8 characters for up to 78
/// billion members or orders, which the engine's id tables keep inline. Writing the digits
/// costs less than reading a pre-built id from a table of millions (a cache miss per order).
fn push_id(out: &mut String, prefix: char, n: u64) {
    let mut bytes = Vec::with_capacity(14);
    push_id_bytes(&mut bytes, prefix as u8, n);
    out.push_str(std::str::from_utf8(&bytes).expect("ASCII id"));
}

/// [`push_id`] into bytes (the order arena: checked as UTF-8 once per batch, not per id).
fn push_id_bytes(out: &mut Vec<u8>, prefix: u8, mut n: u64) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buf = [0u8; 14];
    let mut k = buf.len();
    loop {
        k -= 1;
        buf[k] = DIGITS[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.push(prefix);
    out.extend_from_slice(&buf[k..]);
}

fn price_of(engine: &Engine) -> f64 {
    let (pool, supply) = engine.reference_price();
    pool.to_fen() as f64 * 1e6 / supply.to_units() as f64
}

/// A price as an ordered integer key (yuan per point × 10^8).
fn price_key(price: f64) -> u64 {
    (price * 1e8).min(u64::MAX as f64 / 2.0) as u64
}

struct Sim<'s> {
    s: &'s Loaded,
    engine: Engine,
    rng: Rng,
    /// The attackers' own draws, apart from `rng`: adding attackers leaves the honest members'
    /// draws as they were (until the economy itself diverges).
    attack_rng: Rng,
    /// Scratch space for the ids of one command.
    ids: String,
    stores: Names,
    /// Cumulative purchase share per store category, and each category's first store.
    category_cum: Vec<f64>,
    category_first: Vec<u32>,
    category_count: Vec<u32>,
    join_day: Vec<u32>,
    /// Per member: the behaviour, and [`HAS_COINS`].
    flags: Vec<u8>,
    status: Vec<u8>,
    first_exit_day: Vec<u32>,
    payouts_fen: Vec<i64>,
    coins_fen: Vec<i64>,
    active: Vec<u32>,
    active_pos: Vec<u32>,
    take_profit_target: Vec<u64>,
    take_profit_heap: BinaryHeap<Reverse<(u64, u32)>>,
    pessimists: Vec<u32>,
    counts: [u64; 3],
    next_order: u64,
    next_campaign: u64,
    arena: Vec<u8>,
    buys: Vec<Buy>,
    results: Vec<Result<Applied, Rejection>>,
    /// Wash-trading owners and their stores; fake referees.
    wash: Vec<(u32, u32)>,
    fakes: Vec<u32>,
    wash_commission_fen: i64,
    /// Today's `at` (noon, Beijing time): the day the daily mint cap counts orders on.
    at: String,
    prices: Vec<f64>,
    days: Vec<DayStats>,
    rejected: u64,
    sells: u64,
}

/// Runs `loaded` once with this seed. Fails only when an invariant of SPEC §7 is broken at the
/// end (which would be an engine bug): the message names it.
pub fn run_once(loaded: &Loaded, seed: u64) -> Result<RunResult, String> {
    run_once_until(loaded, seed, &|| false).map(|r| r.expect("never stopped"))
}

/// [`run_once`], asking `stop` before every day: `Ok(None)` when it said stop.
pub fn run_once_until(loaded: &Loaded, seed: u64, stop: &dyn Fn() -> bool) -> Result<Option<RunResult>, String> {
    let mut sim = Sim::new(loaded, seed);
    for day in 1..=loaded.scenario.horizon_days {
        if stop() {
            return Ok(None);
        }
        sim.day(day);
    }
    zengzhi_core::invariants::check_state(&sim.engine).map_err(|v| v.to_string())?;
    Ok(Some(sim.finish()))
}

/// Runs `loaded` once and hands back the engine as well (tests check its state).
pub fn run_with_engine(loaded: &Loaded, seed: u64) -> (RunResult, Engine) {
    let mut sim = Sim::new(loaded, seed);
    for day in 1..=loaded.scenario.horizon_days {
        sim.day(day);
    }
    let engine = sim.engine.clone();
    (sim.finish(), engine)
}

impl<'s> Sim<'s> {
    fn new(s: &'s Loaded, seed: u64) -> Self {
        let mut engine = Engine::new(s.rules.clone());
        engine.record_changes(true);
        let mut sim = Sim {
            s,
            engine,
            rng: Rng::new(seed),
            attack_rng: Rng::new(seed ^ 0x5eed_a77a_c45e_ed00),
            ids: String::new(),
            stores: Names::default(),
            category_cum: Vec::new(),
            category_first: Vec::new(),
            category_count: Vec::new(),
            join_day: Vec::new(),
            flags: Vec::new(),
            status: Vec::new(),
            first_exit_day: Vec::new(),
            payouts_fen: Vec::new(),
            coins_fen: Vec::new(),
            active: Vec::new(),
            active_pos: Vec::new(),
            take_profit_target: Vec::new(),
            take_profit_heap: BinaryHeap::new(),
            pessimists: Vec::new(),
            counts: [0; 3],
            next_order: 0,
            next_campaign: 0,
            arena: Vec::new(),
            buys: Vec::new(),
            results: Vec::new(),
            wash: Vec::new(),
            fakes: Vec::new(),
            wash_commission_fen: 0,
            at: String::new(),
            prices: Vec::new(),
            days: Vec::with_capacity(s.scenario.horizon_days as usize),
            rejected: 0,
            sells: 0,
        };
        sim.register_attackers();
        sim
    }

    /// The attackers of `[attacks]`, on day 1 before anyone else (with the stores, so that a
    /// wash-trading owner owns one): owners, then each farmer and its fake referees.
    fn register_attackers(&mut self) {
        let a = &self.s.scenario.attacks;
        let (wash_stores, farmers, fakes) = (a.wash_stores, a.farmers, a.fake_referees);
        let owners: Vec<u32> = (0..wash_stores).map(|_| self.register_attacker(None, WASH)).collect();
        self.register_stores(&owners);
        self.wash = owners.into_iter().enumerate().map(|(i, m)| (m, i as u32)).collect();
        for _ in 0..farmers {
            let farmer = self.register_attacker(None, 0);
            for _ in 0..fakes {
                let fake = self.register_attacker(Some(farmer), 0);
                self.fakes.push(fake);
            }
        }
    }

    /// Registers an attacker of day 1: holds to the cap, never among the ordinary buyers.
    fn register_attacker(&mut self, referrer: Option<u32>, flags: u8) -> u32 {
        let m = self.register_as(1, referrer, Some(HOLD_TO_CAP));
        self.deactivate(m);
        self.flags[m as usize] |= ATTACKER | flags;
        m
    }

    /// Registers the stores; store `i` is owned by `owners[i]` where there is one.
    fn register_stores(&mut self, owners: &[u32]) {
        let total: f64 = self.s.scenario.stores.iter().map(|c| c.share).sum();
        let mut cum = 0.0;
        let mut n = 0u32;
        for (category, &rate) in self.s.scenario.stores.iter().zip(&self.s.store_commission_ppm) {
            cum += category.share / total;
            self.category_cum.push(cum);
            self.category_first.push(n);
            self.category_count.push(category.count);
            for _ in 0..category.count {
                self.stores.push('s', u64::from(n));
                let id = self.stores.get(n).to_string();
                let owner = owners.get(n as usize).map(|&m| {
                    let mut id = String::new();
                    push_id(&mut id, 'm', u64::from(m));
                    Cow::Owned(id)
                });
                let command = Command::RegisterMerchant {
                    merchant: Cow::Owned(id),
                    commission_ppm: Some(Ppm::from_ppm(rate)),
                    owner,
                    recruiter: None,
                    region: None,
                };
                self.engine.apply(&command).expect("store ids are fresh and valid");
                n += 1;
            }
        }
    }

    /// A store for an attacker's order, drawn from the attackers' own draws.
    fn attack_store(&mut self) -> u32 {
        let n: u32 = self.category_count.iter().sum();
        self.attack_rng.below(u64::from(n)) as u32
    }

    fn pick_store(&mut self) -> u32 {
        let u = self.rng.unit();
        let c = self.category_cum.iter().position(|&x| u < x).unwrap_or(self.category_cum.len() - 1);
        self.category_first[c] + self.rng.below(u64::from(self.category_count[c])) as u32
    }

    fn apply(&mut self, command: &Command<'_>) -> bool {
        let ok = self.engine.apply(command).is_ok();
        self.rejected += u64::from(!ok);
        ok
    }

    // ---- one day ---------------------------------------------------------------------------

    fn day(&mut self, d: u32) {
        self.at = day_at(d);
        self.operator_before(d);
        let existing = self.active.len();
        self.arrivals(d);
        self.plan_orders(existing);
        let (orders, gmv_fen) = self.apply_orders();
        self.sell_decisions();
        self.operator_after(d);
        let (exits, payouts_fen) = self.settle(d);
        self.record(orders, gmv_fen, exits, payouts_fen);
    }

    fn operator_before(&mut self, d: u32) {
        for k in 0..self.s.injections_fen.len() {
            let (day, amount_fen) = self.s.injections_fen[k];
            if day == d {
                self.apply(&Command::Inject { amount_fen: Fen::from_fen(amount_fen) });
            }
        }
        for k in 0..self.s.campaigns.len() {
            let (start, _, rate_ppm, budget_fen) = self.s.campaigns[k];
            if start == d {
                self.next_campaign += 1;
                let id = format!("c{}", self.next_campaign);
                self.apply(&Command::StartCampaign {
                    campaign: Cow::Owned(id),
                    rate_ppm: Ppm::from_ppm(rate_ppm),
                    budget_fen: Fen::from_fen(budget_fen),
                });
            }
        }
        if let Some(legacy) = &self.s.scenario.legacy {
            if d == legacy.day {
                for _ in 0..legacy.members {
                    let m = self.register(d, false);
                    let amount_fen = self.rng.draw_fen(&legacy.coins);
                    self.ids.clear();
                    push_id(&mut self.ids, 'm', u64::from(m));
                    let command =
                        Command::GrantCoins { member: Cow::Borrowed(&self.ids), amount_fen: Fen::from_fen(amount_fen) };
                    let ok = self.engine.apply(&command).is_ok();
                    if ok {
                        self.coins_fen[m as usize] = amount_fen;
                        self.flags[m as usize] |= HAS_COINS;
                    }
                    self.rejected += u64::from(!ok);
                }
            } else if d > legacy.day && (d - legacy.day) % legacy.release_every_days == 0 {
                self.apply(&Command::ReleaseLocked);
            }
        }
    }

    fn operator_after(&mut self, d: u32) {
        let ends = self.s.campaigns.iter().any(|&(_, end, _, _)| end == d);
        if ends && self.engine.campaign().is_some() {
            self.apply(&Command::EndCampaign);
        }
    }

    /// Expected new members on day `d` (before shocks).
    fn expected_arrivals(&self, d: u32) -> f64 {
        let a = &self.s.scenario.arrivals;
        let t = f64::from(d - 1);
        match a.model {
            ArrivalModel::Constant => a.rate,
            ArrivalModel::Linear => (a.rate + a.growth * t).max(0.0),
            ArrivalModel::Exponential => a.rate * (1.0 + a.growth).powf(t),
            ArrivalModel::Decline => a.rate * (1.0 - a.growth).powf(t),
            ArrivalModel::Logistic => {
                let total = |t: f64| a.capacity / (1.0 + (a.capacity / a.rate.max(1e-9) - 1.0) * (-a.growth * t).exp());
                if d == 1 {
                    a.rate
                } else {
                    (total(t) - total(t - 1.0)).max(0.0)
                }
            }
        }
    }

    fn arrivals(&mut self, d: u32) {
        let a = &self.s.scenario.arrivals;
        let mut n = self.rng.poisson(self.expected_arrivals(d));
        n += a.shocks.iter().filter(|s| s.day == d).map(|s| u64::from(s.members)).sum::<u64>();
        if d == 1 {
            n += u64::from(a.initial_members);
        }
        let first_purchase = self.s.scenario.buying.first_purchase;
        for _ in 0..n {
            if self.join_day.len() >= MAX_MEMBERS {
                break;
            }
            let m = self.register(d, true);
            if self.rng.chance(first_purchase) {
                self.plan_buy(m);
            }
        }
    }

    /// Registers a member (referred with the scenario's probability) and makes it an active
    /// buyer. Returns its index.
    fn register(&mut self, d: u32, may_be_referred: bool) -> u32 {
        let m = self.join_day.len() as u32;
        let referred = may_be_referred && m > 0 && self.rng.chance(self.s.scenario.arrivals.referred_share);
        let referrer = referred.then(|| self.rng.below(u64::from(m)) as u32);
        self.register_as(d, referrer, None)
    }

    /// Registers member `m` (the next index) with this referrer and behaviour (`None`: drawn
    /// from the scenario's shares) and makes it an active buyer. Returns its index.
    fn register_as(&mut self, d: u32, referrer: Option<u32>, behaviour: Option<u8>) -> u32 {
        let m = self.join_day.len() as u32;
        self.ids.clear();
        push_id(&mut self.ids, 'm', u64::from(m));
        let split = self.ids.len();
        if let Some(r) = referrer {
            push_id(&mut self.ids, 'm', u64::from(r));
        }
        let command = Command::RegisterMember {
            member: Cow::Borrowed(&self.ids[..split]),
            referrer: referrer.map(|_| Cow::Borrowed(&self.ids[split..])),
        };
        self.engine.apply(&command).expect("member ids are fresh and referrers exist");
        let sell = &self.s.scenario.selling;
        let behaviour = behaviour.unwrap_or_else(|| {
            let u = self.rng.unit();
            if u < sell.take_profit {
                TAKE_PROFIT
            } else if u < sell.take_profit + sell.pessimist {
                PESSIMIST
            } else {
                HOLD_TO_CAP
            }
        });
        if behaviour == PESSIMIST {
            self.pessimists.push(m);
        }
        self.join_day.push(d);
        self.flags.push(behaviour);
        self.status.push(WAITING);
        self.counts[WAITING as usize] += 1;
        self.first_exit_day.push(0);
        self.payouts_fen.push(0);
        self.coins_fen.push(0);
        self.take_profit_target.push(0);
        self.active_pos.push(INACTIVE);
        self.activate(m);
        m
    }

    fn activate(&mut self, m: u32) {
        if self.active_pos[m as usize] == INACTIVE {
            self.active_pos[m as usize] = self.active.len() as u32;
            self.active.push(m);
        }
    }

    fn deactivate(&mut self, m: u32) {
        let pos = self.active_pos[m as usize];
        if pos != INACTIVE {
            let last = *self.active.last().expect("an active member is in the list");
            self.active.swap_remove(pos as usize);
            if last != m {
                self.active_pos[last as usize] = pos;
            }
            self.active_pos[m as usize] = INACTIVE;
        }
    }

    fn plan_buy(&mut self, m: u32) {
        let amount_fen = self.rng.draw_fen(&self.s.scenario.buying.amount);
        let store = self.pick_store();
        let flags = self.flags[m as usize];
        let mut pay_coins_fen = 0;
        if flags & HAS_COINS != 0 {
            let coins = &mut self.coins_fen[m as usize];
            pay_coins_fen = (*coins).min(amount_fen);
            *coins -= pay_coins_fen;
        }
        if flags & BEHAVIOUR == TAKE_PROFIT && self.take_profit_target[m as usize] == 0 {
            let target = price_key(price_of(&self.engine) * (1.0 + self.s.scenario.selling.take_profit_gain)).max(1);
            self.take_profit_target[m as usize] = target;
            self.take_profit_heap.push(Reverse((target, m)));
        }
        self.buys.push(Buy { member: m, store, amount_fen, pay_coins_fen });
    }

    /// Orders of the members who were active before today's arrivals.
    fn plan_orders(&mut self, existing: usize) {
        let n = self.rng.poisson(self.s.scenario.buying.orders_per_day * existing as f64);
        for _ in 0..n {
            let m = self.active[self.rng.below(existing as u64) as usize];
            self.plan_buy(m);
        }
        self.plan_attacks();
    }

    /// The attackers' orders of the day: each owner at their own store, each fake anywhere.
    fn plan_attacks(&mut self) {
        let a = &self.s.scenario.attacks;
        for k in 0..self.wash.len() {
            let (member, store) = self.wash[k];
            for _ in 0..self.attack_rng.poisson(a.wash_orders_per_day) {
                let amount_fen = self.attack_rng.draw_fen(&a.wash_amount);
                self.buys.push(Buy { member, store, amount_fen, pay_coins_fen: 0 });
            }
        }
        for k in 0..self.fakes.len() {
            let member = self.fakes[k];
            for _ in 0..self.attack_rng.poisson(a.fake_orders_per_day) {
                let amount_fen = self.attack_rng.draw_fen(&a.fake_amount);
                let store = self.attack_store();
                self.buys.push(Buy { member, store, amount_fen, pay_coins_fen: 0 });
            }
        }
    }

    /// Applies the day's planned orders in batches; returns (accepted orders, their GMV).
    fn apply_orders(&mut self) -> (u64, i64) {
        let buys = std::mem::take(&mut self.buys);
        let (mut orders, mut gmv) = (0u64, 0i64);
        for chunk in buys.chunks(ORDER_BATCH) {
            // The order id and the buyer's id of each order, back to back.
            self.arena.clear();
            let mut ends = [0u32; 2 * ORDER_BATCH];
            for (k, b) in chunk.iter().enumerate() {
                self.next_order += 1;
                push_id_bytes(&mut self.arena, b'o', self.next_order);
                ends[2 * k] = self.arena.len() as u32;
                push_id_bytes(&mut self.arena, b'm', u64::from(b.member));
                ends[2 * k + 1] = self.arena.len() as u32;
            }
            let (stores, arena) = (&self.stores, std::str::from_utf8(&self.arena).expect("ASCII ids"));
            let text = |i: usize| &arena[if i == 0 { 0 } else { ends[i - 1] as usize }..ends[i] as usize];
            let commands: Vec<Command<'_>> = chunk
                .iter()
                .enumerate()
                .map(|(k, b)| Command::Order {
                    order: Cow::Borrowed(text(2 * k)),
                    member: Cow::Borrowed(text(2 * k + 1)),
                    merchant: Some(Cow::Borrowed(stores.get(b.store))),
                    amount_fen: Fen::from_fen(b.amount_fen),
                    commission_fen: None,
                    pay_cash_fen: Fen::ZERO,
                    pay_coins_fen: Fen::from_fen(b.pay_coins_fen),
                })
                .collect();
            self.results.clear();
            let ats = [Some(self.at.as_str()); ORDER_BATCH];
            self.engine.apply_batch_at(&commands, &ats[..commands.len()], &mut self.results);
            for (b, r) in chunk.iter().zip(&self.results) {
                match r {
                    Ok(applied) => {
                        orders += 1;
                        gmv += b.amount_fen;
                        if self.flags[b.member as usize] & WASH != 0 {
                            self.wash_commission_fen += applied.commission_fen.to_fen();
                        }
                    }
                    Err(_) => self.rejected += 1,
                }
            }
        }
        self.buys = buys;
        self.buys.clear();
        (orders, gmv)
    }

    fn sell_all(&mut self, m: u32) {
        if self.engine.members()[m as usize].points.is_zero() {
            return;
        }
        self.ids.clear();
        push_id(&mut self.ids, 'm', u64::from(m));
        let command = Command::Sell { member: Cow::Borrowed(&self.ids), points: SellQty::All };
        let ok = self.engine.apply(&command).is_ok();
        self.rejected += u64::from(!ok);
        if ok {
            self.sells += 1;
            self.take_profit_target[m as usize] = 0;
            if !self.rng.chance(self.s.scenario.reentry.probability) {
                self.deactivate(m);
            }
        }
    }

    fn sell_decisions(&mut self) {
        let price = price_key(price_of(&self.engine));
        while let Some(&Reverse((target, m))) = self.take_profit_heap.peek() {
            if target > price {
                break;
            }
            self.take_profit_heap.pop();
            if self.take_profit_target[m as usize] == target {
                self.sell_all(m);
            }
        }
        let sell = &self.s.scenario.selling;
        let window = sell.pessimism_window_days as usize;
        if self.pessimists.is_empty() || self.prices.len() < window {
            return;
        }
        let then = self.prices[self.prices.len() - window];
        let growth = price_of(&self.engine) / then - 1.0;
        if growth >= sell.pessimism_growth_below {
            return;
        }
        let p = sell.pessimism_sell_probability;
        for k in 0..self.pessimists.len() {
            let m = self.pessimists[k];
            if self.rng.chance(p) {
                self.sell_all(m);
            }
        }
    }

    /// Reads the day's balance changes: exits, payouts, and members whose status moved.
    /// Returns (exits, payouts). Only a sale needs the engine's record (to see whether
    /// anything is left); rewards never move a status.
    fn settle(&mut self, d: u32) -> (u64, i64) {
        let changes = self.engine.take_changes();
        let (mut exits, mut payouts) = (0u64, 0i64);
        let mut sold = Vec::new();
        for c in &changes {
            let m = c.member as usize;
            match c.reason {
                Reason::Order if self.status[m] == WAITING && (c.points + c.locked).is_positive() => {
                    self.set_status(c.member, HOLDING)
                }
                Reason::Exit => {
                    exits += 1;
                    payouts += c.cash_fen.to_fen();
                    self.payouts_fen[m] += c.cash_fen.to_fen();
                    if self.first_exit_day[m] == 0 {
                        self.first_exit_day[m] = d;
                    }
                    self.take_profit_target[m] = 0;
                    self.set_status(c.member, EXITED);
                    if !self.rng.chance(self.s.scenario.reentry.probability) {
                        self.deactivate(c.member);
                    }
                }
                Reason::Sell => {
                    payouts += c.cash_fen.to_fen();
                    self.payouts_fen[m] += c.cash_fen.to_fen();
                    sold.push(c.member);
                }
                _ => {}
            }
        }
        for m in sold {
            if self.status[m as usize] == HOLDING && self.engine.members()[m as usize].held_units().is_zero() {
                self.set_status(m, WAITING);
            }
        }
        (exits, payouts)
    }

    fn set_status(&mut self, m: u32, status: u8) {
        let old = std::mem::replace(&mut self.status[m as usize], status);
        self.counts[old as usize] -= 1;
        self.counts[status as usize] += 1;
    }

    fn record(&mut self, orders: u64, gmv_fen: i64, exits: u64, payouts_fen: i64) {
        let price = price_of(&self.engine);
        self.prices.push(price);
        self.days.push(DayStats {
            orders,
            gmv_fen,
            pool_fen: self.engine.pool_fen().to_fen(),
            supply_units: self.engine.supply_units().to_units(),
            price,
            exits,
            payouts_fen,
            holding: self.counts[HOLDING as usize],
            waiting: self.counts[WAITING as usize],
            exited: self.counts[EXITED as usize],
        });
    }

    // ---- the end of the run ----------------------------------------------------------------

    fn finish(self) -> RunResult {
        let rules = self.engine.rules().clone();
        let histogram_max = histogram_max(&rules);
        let mut histogram = vec![0u64; HISTOGRAM_BINS];
        let months = self.s.scenario.horizon_days.div_ceil(COHORT_DAYS) as usize;
        let mut cohort_members = vec![0u64; months];
        let mut cohort_waits: Vec<Vec<f64>> = vec![Vec::new(); months];
        let (mut rewards, mut still_waiting, mut held_units) = (0i64, 0u64, 0i64);
        let mut all_waits = Vec::new();
        let mut a = AttackSums::default();
        for (m, rec) in self.engine.members().iter().enumerate() {
            a.add(&self.engine, rec, self.flags[m], self.payouts_fen[m], self.first_exit_day[m], self.join_day[m]);
            let month = ((self.join_day[m] - 1) / COHORT_DAYS) as usize;
            cohort_members[month] += 1;
            if self.first_exit_day[m] > 0 {
                let wait = f64::from(self.first_exit_day[m] - self.join_day[m]);
                cohort_waits[month].push(wait);
                all_waits.push(wait);
            }
            rewards += rec.rewards_fen.to_fen();
            still_waiting += u64::from(rec.cycle_consumption_fen.is_positive());
            held_units += rec.held_units().to_units();
            if rec.lifetime_consumption_fen.is_positive() {
                let share = self.payouts_fen[m] as f64 / rec.lifetime_consumption_fen.to_fen() as f64;
                let bin = ((share / histogram_max) * HISTOGRAM_BINS as f64) as usize;
                histogram[bin.min(HISTOGRAM_BINS - 1)] += 1;
            }
        }
        let cohorts: Vec<CohortStats> = cohort_members
            .iter()
            .zip(&mut cohort_waits)
            .map(|(&members, waits)| {
                waits.sort_by(f64::total_cmp);
                CohortStats {
                    members,
                    reached_cap: waits.len() as u64,
                    median_days_to_exit: percentile(waits, 0.5),
                    p90_days_to_exit: percentile(waits, 0.9),
                }
            })
            .collect();
        all_waits.sort_by(f64::total_cmp);
        let mut metrics = self.metrics(&cohorts, rewards, still_waiting, held_units, percentile(&all_waits, 0.5));
        a.fill(&mut metrics, self.wash_commission_fen);
        RunResult { days: self.days, cohorts, histogram, histogram_max, metrics }
    }

    fn metrics(
        &self,
        cohorts: &[CohortStats],
        rewards_fen: i64,
        still_waiting: u64,
        held_units: i64,
        median_days_to_exit: Option<f64>,
    ) -> RunMetrics {
        let e = &self.engine;
        let t = e.totals();
        let members = self.join_day.len() as u64;
        let gmv_fen: i64 = self.days.iter().map(|d| d.gmv_fen).sum();
        let payouts_fen: i64 = self.days.iter().map(|d| d.payouts_fen).sum();
        let share = |x: f64, of: f64| if of > 0.0 { x / of } else { 0.0 };
        let last = self.prices.last().copied().unwrap_or(0.0);
        let back = self.prices.len().saturating_sub(31);
        let first_of_window = self.prices.get(back).copied().unwrap_or(last);
        let held_value_fen = if e.supply_units().is_positive() {
            (i128::from(held_units) * i128::from(e.pool_fen()) / i128::from(e.supply_units())) as i64
        } else {
            0
        };
        RunMetrics {
            members,
            orders: t.orders,
            rejected: self.rejected,
            exits: t.exits,
            sells: self.sells,
            gmv_fen,
            payouts_fen,
            rewards_fen,
            injected_fen: t.injected_fen.to_fen(),
            subsidies_fen: t.subsidies_fen.to_fen(),
            pool_fen: e.pool_fen().to_fen(),
            supply_units: e.supply_units().to_units(),
            platform_revenue_fen: e.platform_revenue_fen().to_fen(),
            final_price: last,
            cap_reached_share: share(self.counts[EXITED as usize] as f64, members as f64),
            avg_net_rebate_share: share(payouts_fen as f64, gmv_fen as f64),
            rewards_share: share(rewards_fen as f64, gmv_fen as f64),
            still_waiting_share: share(still_waiting as f64, members as f64),
            price_growth_last_30_days: share(last, first_of_window) - 1.0,
            median_days_to_exit,
            late_vs_early_wait_ratio: late_vs_early(cohorts),
            held_value_fen,
            ..RunMetrics::default()
        }
    }
}

/// The figures of honest members, of rewards to members who never bought and of wash traders,
/// summed over the members at the end of a run.
#[derive(Default)]
struct AttackSums {
    honest: u64,
    honest_exited: u64,
    honest_payouts_fen: i64,
    honest_held_fen: i64,
    honest_consumption_fen: i64,
    honest_waits: Vec<f64>,
    rewards_fen: i64,
    non_buyer_rewards_fen: i64,
    wash_received_fen: i64,
}

impl AttackSums {
    fn add(
        &mut self,
        e: &Engine,
        m: &zengzhi_core::engine::Member,
        flags: u8,
        payouts: i64,
        first_exit: u32,
        joined: u32,
    ) {
        let rewards = m.rewards_fen.to_fen();
        self.rewards_fen += rewards;
        if m.lifetime_consumption_fen.is_zero() {
            self.non_buyer_rewards_fen += rewards;
        }
        if flags & WASH != 0 {
            self.wash_received_fen += payouts + rewards + e.held_value_fen(m).to_fen();
        }
        if flags & ATTACKER == 0 {
            self.honest += 1;
            self.honest_payouts_fen += payouts;
            self.honest_held_fen += e.held_value_fen(m).to_fen();
            self.honest_consumption_fen += m.lifetime_consumption_fen.to_fen();
            if first_exit > 0 {
                self.honest_exited += 1;
                self.honest_waits.push(f64::from(first_exit - joined));
            }
        }
    }

    fn fill(mut self, out: &mut RunMetrics, wash_commission_fen: i64) {
        let share = |x: i64, of: i64| if of > 0 { x as f64 / of as f64 } else { 0.0 };
        self.honest_waits.sort_by(f64::total_cmp);
        out.honest_members = self.honest;
        out.honest_cap_reached_share = share(self.honest_exited as i64, self.honest as i64);
        out.honest_net_rebate_share = share(self.honest_payouts_fen, self.honest_consumption_fen);
        out.honest_value_share = share(self.honest_payouts_fen + self.honest_held_fen, self.honest_consumption_fen);
        out.honest_median_days_to_exit = percentile(&self.honest_waits, 0.5);
        out.rewards_to_non_buyers_fen = self.non_buyer_rewards_fen;
        out.rewards_to_non_buyers_share = share(self.non_buyer_rewards_fen, self.rewards_fen);
        out.wash_commission_fen = wash_commission_fen;
        out.wash_received_fen = self.wash_received_fen;
    }
}

/// The `at` of simulated day `d`: noon (Beijing time) of the `d`-th day from 2026-01-01.
fn day_at(d: u32) -> String {
    // Days since 1970-01-01 → civil date (H. Hinnant's `civil_from_days`).
    let z = 20_454 + i64::from(d) - 1 + 719_468; // 2026-01-01 is day 20,454
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T12:00:00+08:00")
}

/// The histogram's upper edge: the most a member can get back per cycle, at least 1.
pub fn histogram_max(rules: &Rules) -> f64 {
    let per_cycle = rules.exit_multiple_ppm.to_ppm() as f64 / 1e6 * (1.0 - rules.retention_ppm.to_ppm() as f64 / 1e6);
    (per_cycle.max(1.0) * 10.0).ceil() / 10.0
}

/// Median days to exit of the last cohort with exits ÷ that of cohort 1; `None` unless cohort
/// 1 and a later cohort both have exits.
fn late_vs_early(cohorts: &[CohortStats]) -> Option<f64> {
    let first = cohorts.first()?.median_days_to_exit.filter(|&d| d > 0.0)?;
    let last = cohorts.iter().skip(1).rev().find_map(|c| c.median_days_to_exit)?;
    Some(last / first)
}

#[cfg(test)]
mod tests {
    use super::day_at;

    #[test]
    fn simulated_days_are_consecutive_beijing_days() {
        assert_eq!(day_at(1), "2026-01-01T12:00:00+08:00");
        assert_eq!(day_at(59), "2026-02-28T12:00:00+08:00");
        assert_eq!(day_at(60), "2026-03-01T12:00:00+08:00");
        assert_eq!(day_at(366), "2027-01-01T12:00:00+08:00");
        let day = |d| zengzhi_core::command::beijing_day(&day_at(d)).unwrap();
        for d in 1..3650 {
            assert_eq!(day(d + 1), day(d) + 1, "day {d}");
        }
    }
}
