//! The state machine (SPEC §5–§6): one program's points economy.
//!
//! [`Engine::apply`] takes one command and either applies all of it or returns a
//! [`Rejection`] and changes nothing: every check runs before the first write. No clock, no
//! I/O, no randomness, no floating point.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::cascade::{ExitIndex, Places, TriggerKey, HOT, NOWHERE};
use crate::command::{Command, Level, SellQty};
use crate::error::Rejection;
use crate::ids::{IdMap, IdSet};
use crate::num::{mul_div_ceil, mul_div_floor, mul_rate_ceil, mul_rate_floor, PPM, UNITS_PER_POINT};
use crate::rules::Rules;

/// Marks an absent member reference.
pub const NONE: u32 = u32::MAX;

/// Commands warmed together by [`Engine::apply_batch`]: enough for the cache misses of many
/// commands to be in flight at once, few enough that the warmed lines stay in L2.
const WARM_BATCH: usize = 64;

/// One member's balances (SPEC §5).
#[derive(Debug, Clone)]
pub struct Member {
    /// Free points, units.
    pub points: i64,
    /// Locked points (not sellable until released), units.
    pub locked: i64,
    pub cash_fen: i64,
    pub coins_fen: i64,
    /// C: consumption in the current cycle.
    pub cycle_consumption_fen: i64,
    /// R: gross value realised by sales and redemptions in this cycle.
    pub cycle_realized_fen: i64,
    pub lifetime_consumption_fen: i64,
    /// All reward money ever credited.
    pub rewards_fen: i64,
    pub exits: u32,
    /// The referrer's index, or [`NONE`].
    pub referrer: u32,
    /// Bit set of [`Level`]s this member holds an appointment of.
    pub agent_levels: u8,
    /// The member's place in the exit index (kept here so a re-key touches one record).
    pub(crate) place: u32,
    pub(crate) place_pos: u32,
}

impl Default for Member {
    fn default() -> Self {
        Member {
            points: 0,
            locked: 0,
            cash_fen: 0,
            coins_fen: 0,
            cycle_consumption_fen: 0,
            cycle_realized_fen: 0,
            lifetime_consumption_fen: 0,
            rewards_fen: 0,
            exits: 0,
            referrer: NONE,
            agent_levels: 0,
            place: NOWHERE,
            place_pos: 0,
        }
    }
}

/// The engine's members as the exit index sees them.
struct MemberPlaces<'a> {
    members: &'a mut [Member],
    multiple_ppm: i64,
}

impl Places for MemberPlaces<'_> {
    fn place(&self, m: u32) -> (u32, u32) {
        let r = &self.members[m as usize];
        (r.place, r.place_pos)
    }
    fn set_place(&mut self, m: u32, place: u32, pos: u32) {
        let r = &mut self.members[m as usize];
        r.place = place;
        r.place_pos = pos;
    }
    fn key(&self, m: u32) -> TriggerKey {
        trigger_key(&self.members[m as usize], self.multiple_ppm).expect("indexed members have a key")
    }
}

/// Does a member with this key trigger at price `pool / supply`? For integers,
/// `R + ⌊h · pool / supply⌋ ≥ K  ⇔  (K − R) / h ≤ pool / supply`.
fn reached(key: TriggerKey, pool: i64, supply: i64) -> bool {
    if key.den == 0 {
        return key.num <= 0;
    }
    supply > 0 && key <= TriggerKey { num: i128::from(pool), den: supply }
}

impl Member {
    /// `points + locked`.
    pub fn held_units(&self) -> i64 {
        self.points + self.locked
    }
}

/// A partner store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub commission_ppm: i64,
    pub owner: u32,
    pub recruiter: u32,
    /// 6-digit region code, or [`NONE`].
    pub region: u32,
}

/// The running totals of SPEC §7 and §8 (money in fen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub commissions_fen: i64,
    pub injected_fen: i64,
    pub subsidies_fen: i64,
    pub subsidy_returned_fen: i64,
    /// Withdrawn, net of fee.
    pub withdrawn_fen: i64,
    pub cash_spent_fen: i64,
    pub redeemed_fen: i64,
    pub coins_issued_fen: i64,
    pub coins_spent_fen: i64,
    pub orders: u64,
    pub exits: u64,
}

/// The active subsidy campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: String,
    pub rate_ppm: i64,
    pub remaining_fen: i64,
}

/// How the exit cascade finds the next member to exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CascadeMode {
    /// The trigger-price index (the product).
    #[default]
    Indexed,
    /// A scan of all members per step: obviously correct and slow, for tests.
    NaiveScan,
}

/// What an accepted command did, for callers that report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Members exited by the cascade this command ran.
    pub exits: u32,
    /// Points minted (orders).
    pub minted: i64,
    /// The commission `c` of an order.
    pub commission_fen: i64,
}

/// Why a member's balance changed (the ledger's reason column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The buyer of an order: points minted, cash and coins spent.
    Order,
    /// A referral, recruitment, agent or peer reward.
    Reward,
    Sell,
    Redeem,
    Withdraw,
    /// A capped exit: points and locked points force-sold.
    Exit,
    /// `release_locked`: locked points freed.
    Release,
    Dividend,
    /// `grant_coins`.
    Coins,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Order => "order",
            Reason::Reward => "reward",
            Reason::Sell => "sell",
            Reason::Redeem => "redeem",
            Reason::Withdraw => "withdraw",
            Reason::Exit => "exit",
            Reason::Release => "release",
            Reason::Dividend => "dividend",
            Reason::Coins => "coins",
        }
    }
}

/// One change to one member's balances by one command (recorded when asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub member: u32,
    pub reason: Reason,
    pub points: i64,
    pub locked: i64,
    pub cash_fen: i64,
    pub coins_fen: i64,
}

/// A sale priced but not made ([`Engine::sell_quote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellQuote {
    /// The member's index.
    pub member: u32,
    /// Points sold, units.
    pub units: i64,
    pub gross_fen: i64,
    /// Kept in the pool (retention, rounded up).
    pub kept_fen: i64,
    pub payout_fen: i64,
}

/// What a withdrawal would take as fee and pay out ([`Engine::withdraw_quote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithdrawQuote {
    /// The member's index.
    pub member: u32,
    /// Platform revenue, rounded up.
    pub fee_fen: i64,
    pub payout_fen: i64,
}

/// The state of one program.
#[derive(Clone)]
pub struct Engine {
    pub(crate) rules: Rules,
    pub(crate) pool: i64,
    pub(crate) supply: i64,
    /// `(pool, supply)` after the latest step that left supply > 0; `None` before the first.
    pub(crate) last_positive: Option<(i64, i64)>,
    pub(crate) platform_revenue: i64,
    pub(crate) dividend_pool: i64,
    pub(crate) totals: Totals,
    pub(crate) members: Vec<Member>,
    pub(crate) member_ids: IdMap,
    pub(crate) merchants: Vec<Merchant>,
    pub(crate) merchant_ids: IdMap,
    pub(crate) order_ids: IdSet,
    pub(crate) campaign_ids: IdSet,
    pub(crate) campaign: Option<Campaign>,
    /// `(level bit << 32 | normalised region)` → member.
    pub(crate) agents: HashMap<u64, u32>,
    /// member → weight (> 0).
    pub(crate) shareholders: BTreeMap<u32, u32>,
    pub(crate) index: ExitIndex,
    pub(crate) mode: CascadeMode,
    /// Changes recorded since the last `take_changes`, when recording is on.
    pub(crate) changes: Option<Vec<Change>>,
}

pub(crate) fn agent_key(level: Level, region: u32) -> u64 {
    (level as u64) << 32 | u64::from(region)
}

/// The overflow bound of every stored quantity.
const MAX: i64 = i64::MAX;

fn fits(a: i64, b: i64) -> bool {
    a.checked_add(b).is_some()
}

impl Engine {
    pub fn new(rules: Rules) -> Self {
        Self::with_mode(rules, CascadeMode::Indexed)
    }

    pub fn with_mode(rules: Rules, mode: CascadeMode) -> Self {
        Engine {
            rules,
            pool: 0,
            supply: 0,
            last_positive: None,
            platform_revenue: 0,
            dividend_pool: 0,
            totals: Totals::default(),
            members: Vec::new(),
            member_ids: IdMap::new(),
            merchants: Vec::new(),
            merchant_ids: IdMap::new(),
            order_ids: IdSet::new(),
            campaign_ids: IdSet::new(),
            campaign: None,
            agents: HashMap::new(),
            shareholders: BTreeMap::new(),
            index: ExitIndex::default(),
            mode,
            changes: None,
        }
    }

    /// Turns recording of balance changes ([`Change`]) on or off.
    pub fn record_changes(&mut self, on: bool) {
        self.changes = if on { Some(self.changes.take().unwrap_or_default()) } else { None };
    }

    /// The changes recorded since the last call (empty when recording is off).
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.changes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    #[inline]
    fn note(&mut self, member: u32, reason: Reason, points: i64, locked: i64, cash_fen: i64, coins_fen: i64) {
        if let Some(changes) = &mut self.changes {
            if points != 0 || locked != 0 || cash_fen != 0 || coins_fen != 0 {
                changes.push(Change { member, reason, points, locked, cash_fen, coins_fen });
            }
        }
    }

    // ---- read access -------------------------------------------------------------------------

    pub fn rules(&self) -> &Rules {
        &self.rules
    }
    pub fn pool_fen(&self) -> i64 {
        self.pool
    }
    pub fn supply_units(&self) -> i64 {
        self.supply
    }
    pub fn platform_revenue_fen(&self) -> i64 {
        self.platform_revenue
    }
    pub fn dividend_pool_fen(&self) -> i64 {
        self.dividend_pool
    }
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
    pub fn campaign(&self) -> Option<&Campaign> {
        self.campaign.as_ref()
    }
    pub fn members(&self) -> &[Member] {
        &self.members
    }
    pub fn member_count(&self) -> usize {
        self.members.len()
    }
    pub fn member_id(&self, index: u32) -> crate::ids::IdName<'_> {
        self.member_ids.name(index)
    }
    pub fn member_index(&self, id: &str) -> Option<u32> {
        self.member_ids.get(id)
    }
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.member_ids.get(id).map(|i| &self.members[i as usize])
    }
    /// Has an order with this id been accepted?
    pub fn has_order(&self, id: &str) -> bool {
        self.order_ids.contains(id)
    }

    /// A merchant by id.
    pub fn merchant(&self, id: &str) -> Option<&Merchant> {
        self.merchant_ids.get(id).map(|i| &self.merchants[i as usize])
    }
    pub fn merchant_count(&self) -> usize {
        self.merchants.len()
    }
    pub fn shareholders(&self) -> &BTreeMap<u32, u32> {
        &self.shareholders
    }
    /// Member indexes sorted by id (the order of the state JSON).
    pub fn members_by_id(&self) -> Vec<u32> {
        let mut order: Vec<(crate::ids::IdName<'_>, u32)> =
            (0..self.members.len() as u32).map(|i| (self.member_ids.name(i), i)).collect();
        order.sort_unstable_by(|a, b| (*a.0).cmp(&*b.0));
        order.into_iter().map(|(_, i)| i).collect()
    }

    /// The reference price `(P_ref, N_ref)` of SPEC §3.
    pub fn reference_price(&self) -> (i64, i64) {
        if self.supply > 0 {
            (self.pool, self.supply)
        } else {
            self.last_positive.unwrap_or((self.rules.initial_price_fen, UNITS_PER_POINT))
        }
    }

    /// A member's held value `⌊(points + locked) · pool / supply⌋`.
    pub fn held_value_fen(&self, m: &Member) -> i64 {
        if self.supply <= 0 {
            return 0;
        }
        mul_div_floor(i128::from(m.held_units()), i128::from(self.pool), i128::from(self.supply)) as i64
    }

    /// A member's cap `K = ⌊C · multiple⌋`.
    pub fn cap_fen(&self, m: &Member) -> i128 {
        mul_div_floor(i128::from(m.cycle_consumption_fen), i128::from(self.rules.exit_multiple_ppm), i128::from(PPM))
    }

    /// Does this member trigger a capped exit now?
    pub fn triggers(&self, m: &Member) -> bool {
        self.rules.exit_multiple_ppm > 0
            && m.cycle_consumption_fen > 0
            && i128::from(m.cycle_realized_fen) + i128::from(self.held_value_fen(m)) >= self.cap_fen(m)
    }

    /// Members in the exactly ordered part of the exit index (a health figure for benchmarks).
    pub fn exit_index_hot_len(&self) -> usize {
        self.index.hot_len()
    }

    /// Heap bytes held by the engine's own structures (approximate; members included).
    pub fn heap_bytes(&self) -> usize {
        self.members.capacity() * std::mem::size_of::<Member>()
            + self.member_ids.heap_bytes()
            + self.merchants.capacity() * std::mem::size_of::<Merchant>()
            + self.merchant_ids.heap_bytes()
            + self.order_ids.heap_bytes()
            + self.index.heap_bytes()
    }

    // ---- the cascade index ---------------------------------------------------------------------

    fn trigger_key(&self, m: &Member) -> Option<TriggerKey> {
        trigger_key(m, self.rules.exit_multiple_ppm)
    }

    fn places(&mut self) -> MemberPlaces<'_> {
        MemberPlaces { members: &mut self.members, multiple_ppm: self.rules.exit_multiple_ppm }
    }

    fn unindex(&mut self, i: u32) {
        if self.mode == CascadeMode::Indexed {
            let key = self.trigger_key(&self.members[i as usize]);
            let mut places = MemberPlaces { members: &mut self.members, multiple_ppm: self.rules.exit_multiple_ppm };
            self.index.remove(&mut places, i, key);
        }
    }

    fn reindex(&mut self, i: u32) {
        if self.mode == CascadeMode::Indexed {
            let key = self.trigger_key(&self.members[i as usize]);
            let mut places = MemberPlaces { members: &mut self.members, multiple_ppm: self.rules.exit_multiple_ppm };
            self.index.insert(&mut places, i, key);
        }
    }

    /// Re-keys every member (after the exit multiple changed).
    pub(crate) fn rebuild_index(&mut self) {
        if self.mode == CascadeMode::Indexed {
            let mut index = std::mem::take(&mut self.index);
            index.clear(&mut self.places());
            self.index = index;
            for i in 0..self.members.len() as u32 {
                self.reindex(i);
            }
        }
    }

    /// Records `(pool, supply)` as the reference after a step that left supply > 0.
    fn mark_reference(&mut self) {
        if self.supply > 0 {
            self.last_positive = Some((self.pool, self.supply));
        }
    }

    /// The member that exits next, if any triggers.
    fn next_exit(&mut self) -> Option<u32> {
        match self.mode {
            CascadeMode::Indexed => {
                let (pool, supply) = (self.pool, self.supply);
                let mut places =
                    MemberPlaces { members: &mut self.members, multiple_ppm: self.rules.exit_multiple_ppm };
                self.index.advance_price(&mut places, pool, supply);
                let (i, key) = self.index.first()?;
                let next = reached(key, pool, supply).then_some(i);
                debug_assert_eq!(next.is_some(), self.triggers(&self.members[i as usize]));
                next
            }
            CascadeMode::NaiveScan => (0..self.members.len() as u32)
                .filter_map(|i| self.trigger_key(&self.members[i as usize]).map(|k| (k, i)))
                .min()
                .map(|(_, i)| i)
                .filter(|&i| self.triggers(&self.members[i as usize])),
        }
    }

    /// Runs the exit cascade (SPEC §6) and returns how many members exited.
    fn cascade(&mut self) -> u32 {
        let mut exits = 0;
        while let Some(i) = self.next_exit() {
            self.exit(i);
            exits += 1;
        }
        exits
    }

    fn exit(&mut self, i: u32) {
        self.unindex(i);
        let (_, payout) = self.exit_quote(&self.members[i as usize]);
        let m = &mut self.members[i as usize];
        let (points, locked) = (m.points, m.locked);
        self.pool -= payout;
        self.supply -= m.held_units();
        m.points = 0;
        m.locked = 0;
        m.cash_fen += payout;
        m.cycle_consumption_fen = 0;
        m.cycle_realized_fen = 0;
        m.exits += 1;
        self.totals.exits += 1;
        self.mark_reference();
        self.note(i, Reason::Exit, -points, -locked, payout, 0);
    }

    // ---- commands ------------------------------------------------------------------------------

    /// Applies commands in order, as [`apply`](Self::apply) does one by one, pushing one result
    /// per command to `results`. Faster than a loop of `apply`: the memory the commands will
    /// touch (ids, buyers, their referrers, recruiters, the exit index) is read for the whole
    /// batch first, in stages, so the cache misses of different commands overlap instead of
    /// waiting one after another. The results are exactly those of applying one by one.
    pub fn apply_batch(&mut self, commands: &[Command<'_>], results: &mut Vec<Result<Applied, Rejection>>) {
        for chunk in commands.chunks(WARM_BATCH) {
            std::hint::black_box(self.warm(chunk));
            results.extend(chunk.iter().map(|c| self.apply(c)));
        }
    }

    /// Reads, stage by stage, the memory `commands` are likely to touch, and returns a value
    /// made from it (so the reads are not optimised away). Changes nothing: a command that
    /// refers to something an earlier command of the batch creates is simply not warmed.
    fn warm(&self, commands: &[Command<'_>]) -> u64 {
        let n = commands.len().min(WARM_BATCH);
        let mut acc = 0u64;
        // A record spans two cache lines when it is not aligned to one: read both ends.
        let touch = |i: u32| -> u64 {
            let m = &self.members[i as usize];
            m.points as u64 ^ m.rewards_fen as u64 ^ u64::from(m.place_pos) ^ u64::from(m.agent_levels)
        };
        // Stage 1: id tables (each lookup independent of the others).
        let mut buyer = [NONE; WARM_BATCH];
        let mut recruiter = [NONE; WARM_BATCH];
        for (k, command) in commands[..n].iter().enumerate() {
            match command {
                Command::Order { order, member, merchant, .. } => {
                    acc ^= u64::from(self.order_ids.contains_hashed(self.order_ids.hash(order), order));
                    buyer[k] = self.member_ids.get(member).unwrap_or(NONE);
                    if let Some(s) = merchant.as_deref().and_then(|id| self.merchant_ids.get(id)) {
                        recruiter[k] = self.merchants[s as usize].recruiter;
                    }
                }
                Command::Sell { member, .. } | Command::Redeem { member, .. } | Command::Withdraw { member, .. } => {
                    buyer[k] = self.member_ids.get(member).unwrap_or(NONE);
                }
                _ => {}
            }
        }
        // Stage 2: the members themselves, and the recruiters.
        let mut direct = [NONE; WARM_BATCH];
        let mut tail = [NONE; WARM_BATCH];
        for k in 0..n {
            if buyer[k] != NONE {
                acc ^= touch(buyer[k]);
                let m = &self.members[buyer[k] as usize];
                direct[k] = m.referrer;
                if m.place < HOT {
                    tail[k] = self.index.cold_tail(m.place, m.place_pos).unwrap_or(NONE);
                }
            }
            if recruiter[k] != NONE {
                acc ^= touch(recruiter[k]);
            }
        }
        // Stage 3: direct referrers and the members a re-key will move.
        let mut indirect = [NONE; WARM_BATCH];
        for k in 0..n {
            if direct[k] != NONE {
                acc ^= touch(direct[k]);
                indirect[k] = self.members[direct[k] as usize].referrer;
            }
            if tail[k] != NONE {
                acc ^= touch(tail[k]);
            }
        }
        // Stage 4: indirect referrers.
        for &i in indirect[..n].iter().filter(|&&i| i != NONE) {
            acc ^= touch(i);
        }
        acc
    }

    /// Applies one command: all of it, or nothing and a [`Rejection`].
    pub fn apply(&mut self, command: &Command<'_>) -> Result<Applied, Rejection> {
        command.check()?;
        match command {
            Command::RegisterMember { member, referrer } => self.register_member(member, referrer.as_deref()),
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region } => {
                self.register_merchant(merchant, *commission_ppm, owner.as_deref(), recruiter.as_deref(), *region)
            }
            Command::AppointAgent { member, level, region } => self.appoint_agent(member, *level, level.normalise(*region)),
            Command::SetShareholder { member, weight } => self.set_shareholder(member, *weight),
            Command::GrantCoins { member, amount_fen } => self.grant_coins(member, *amount_fen),
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => self
                .order(order, member, merchant.as_deref(), *amount_fen, *commission_fen, *pay_cash_fen, *pay_coins_fen),
            Command::Sell { member, points } => self.sell(member, *points),
            Command::Redeem { member, amount_fen } => self.redeem(member, *amount_fen),
            Command::Withdraw { member, amount_fen } => self.withdraw(member, *amount_fen),
            Command::Inject { amount_fen } => self.inject(*amount_fen),
            Command::StartCampaign { campaign, rate_ppm, budget_fen } => {
                self.start_campaign(campaign, *rate_ppm, *budget_fen)
            }
            Command::EndCampaign => self.end_campaign(),
            Command::ReleaseLocked => self.release_locked(),
            Command::DistributeDividends => self.distribute_dividends(),
            Command::UpdateRules { rules } => {
                let next = self.rules.updated(rules).map_err(|_| Rejection::InvalidRules)?;
                self.set_rules(next)
            }
        }
    }

    fn known(&self, id: &str) -> Result<u32, Rejection> {
        self.member_ids.get(id).ok_or(Rejection::UnknownMember)
    }

    fn known_opt(&self, id: Option<&str>) -> Result<u32, Rejection> {
        id.map_or(Ok(NONE), |id| self.known(id))
    }

    fn register_member(&mut self, id: &str, referrer: Option<&str>) -> Result<Applied, Rejection> {
        if self.member_ids.contains(id) {
            return Err(Rejection::DuplicateId);
        }
        let referrer = self.known_opt(referrer)?;
        self.member_ids.insert(id).map_err(|_| Rejection::DuplicateId)?;
        self.members.push(Member { referrer, ..Member::default() });
        Ok(Applied::default())
    }

    fn register_merchant(
        &mut self,
        id: &str,
        commission_ppm: Option<i64>,
        owner: Option<&str>,
        recruiter: Option<&str>,
        region: Option<u32>,
    ) -> Result<Applied, Rejection> {
        if self.merchant_ids.contains(id) {
            return Err(Rejection::DuplicateId);
        }
        let owner = self.known_opt(owner)?;
        let recruiter = self.known_opt(recruiter)?;
        self.merchant_ids.insert(id).map_err(|_| Rejection::DuplicateId)?;
        self.merchants.push(Merchant {
            commission_ppm: commission_ppm.unwrap_or(self.rules.default_rate_ppm),
            owner,
            recruiter,
            region: region.unwrap_or(NONE),
        });
        Ok(Applied::default())
    }

    fn appoint_agent(&mut self, member: &str, level: Level, region: u32) -> Result<Applied, Rejection> {
        let m = self.known(member)?;
        let key = agent_key(level, region);
        if self.agents.contains_key(&key) {
            return Err(Rejection::RegionTaken);
        }
        self.agents.insert(key, m);
        self.members[m as usize].agent_levels |= level as u8;
        Ok(Applied::default())
    }

    fn set_shareholder(&mut self, member: &str, weight: u32) -> Result<Applied, Rejection> {
        let m = self.known(member)?;
        if weight == 0 {
            self.shareholders.remove(&m);
        } else {
            self.shareholders.insert(m, weight);
        }
        Ok(Applied::default())
    }

    fn grant_coins(&mut self, member: &str, amount: i64) -> Result<Applied, Rejection> {
        let m = self.known(member)?;
        if !fits(self.totals.coins_issued_fen, amount) {
            return Err(Rejection::Overflow);
        }
        self.members[m as usize].coins_fen += amount;
        self.totals.coins_issued_fen += amount;
        self.note(m, Reason::Coins, 0, 0, 0, amount);
        Ok(Applied::default())
    }

    /// All money that ever entered: every money balance is a part of it (SPEC §10).
    fn money_in(&self) -> i64 {
        self.totals.commissions_fen + self.totals.injected_fen + self.totals.subsidies_fen
    }

    #[allow(clippy::too_many_arguments)]
    fn order(
        &mut self,
        order: &str,
        member: &str,
        merchant: Option<&str>,
        amount: i64,
        commission: Option<i64>,
        pay_cash: i64,
        pay_coins: i64,
    ) -> Result<Applied, Rejection> {
        // 1. Validate, in the order of SPEC §10.
        let order_hash = self.order_ids.hash(order);
        if self.order_ids.contains_hashed(order_hash, order) {
            return Err(Rejection::DuplicateId);
        }
        let buyer = self.known(member)?;
        let store = match merchant {
            Some(id) => Some(self.merchant_ids.get(id).ok_or(Rejection::UnknownMerchant)?),
            None => None,
        };
        if commission.is_some_and(|c| c > amount) {
            return Err(Rejection::InvalidAmount);
        }
        let b = &self.members[buyer as usize];
        if pay_cash > b.cash_fen {
            return Err(Rejection::InsufficientCash);
        }
        if pay_coins > b.coins_fen {
            return Err(Rejection::InsufficientCoins);
        }
        if pay_cash + pay_coins > amount {
            return Err(Rejection::InvalidAmount);
        }
        let store = store.map(|s| &self.merchants[s as usize]);

        // 2. Split the commission.
        let rules = &self.rules;
        let c = match (commission, store) {
            (Some(c), _) => c,
            (None, Some(s)) => mul_rate_floor(amount, s.commission_ppm),
            (None, None) => unreachable!("an order names a merchant or a commission"),
        };
        let inflow_pool = mul_rate_floor(c, rules.pool_share_ppm);
        let budget = mul_rate_floor(c, rules.distribution_share_ppm);
        let mut platform = c - inflow_pool - budget;

        // 3. Rewards, in order, each capped by what is left of the budget.
        let mut left = budget;
        let mut paid: [(u32, i64); 9] = [(NONE, 0); 9];
        let mut n_paid = 0;
        let mut pay = |to: u32, due: i64, left: &mut i64| -> i64 {
            let x = due.min(*left);
            *left -= x;
            paid[n_paid] = (to, x);
            n_paid += 1;
            x
        };
        let direct = b.referrer;
        if direct != NONE {
            pay(direct, mul_rate_floor(amount, rules.referral_direct_ppm), &mut left);
            let indirect = self.members[direct as usize].referrer;
            if indirect != NONE {
                pay(indirect, mul_rate_floor(amount, rules.referral_indirect_ppm), &mut left);
            }
        }
        if let Some(s) = store {
            if s.recruiter != NONE {
                pay(s.recruiter, mul_rate_floor(amount, rules.referral_merchant_recruiter_ppm), &mut left);
            }
            if s.region != NONE {
                let mut paid_rate = 0;
                for (level, rate) in [
                    (Level::District, rules.agent_district_ppm),
                    (Level::City, rules.agent_city_ppm),
                    (Level::Province, rules.agent_province_ppm),
                ] {
                    let Some(&agent) = self.agents.get(&agent_key(level, level.normalise(s.region))) else {
                        continue;
                    };
                    let x = pay(agent, mul_rate_floor(amount, rate - paid_rate), &mut left);
                    paid_rate = rate;
                    let up = self.members[agent as usize].referrer;
                    if rules.agent_peer_ppm > 0
                        && up != NONE
                        && self.members[up as usize].agent_levels & level as u8 != 0
                    {
                        pay(up, mul_rate_floor(x, rules.agent_peer_ppm), &mut left);
                    }
                }
            }
        }
        platform += left;

        // 4. Dividends.
        let dividend = mul_rate_floor(platform, rules.dividend_share_of_platform_ppm);
        // 5. Subsidy.
        let subsidy = self.campaign.as_ref().map_or(0, |cp| mul_rate_floor(amount, cp.rate_ppm).min(cp.remaining_fen));
        // 6. Mint.
        let inflow = inflow_pool + subsidy;
        let mut value = mul_rate_floor(inflow, rules.mint_ratio_ppm);
        if rules.max_mint_value_per_order_fen > 0 {
            value = value.min(rules.max_mint_value_per_order_fen);
        }
        let (p_ref, n_ref) = self.reference_price();
        let minted = mul_div_floor(i128::from(value), i128::from(n_ref), i128::from(p_ref));
        let to_locked = if minted > 0 && pay_coins > 0 {
            mul_div_floor(minted, i128::from(pay_coins), i128::from(amount))
        } else {
            0
        };

        // Overflow: after every other check (SPEC §10).
        let b = &self.members[buyer as usize];
        let in_total = i128::from(self.money_in()) + i128::from(c) + i128::from(subsidy);
        if minted > i128::from(MAX - self.supply)
            || i128::from(b.points) + (minted - to_locked) > i128::from(MAX)
            || i128::from(b.locked) + to_locked > i128::from(MAX)
            || !fits(b.lifetime_consumption_fen, amount)
            || in_total > i128::from(MAX)
        {
            return Err(Rejection::Overflow);
        }
        let (minted, to_locked) = (minted as i64, to_locked as i64);

        // Apply.
        self.order_ids.insert_new_hashed(order_hash, order);
        for &(to, x) in &paid[..n_paid] {
            let r = &mut self.members[to as usize];
            r.cash_fen += x;
            r.rewards_fen += x;
            self.note(to, Reason::Reward, 0, 0, x, 0);
        }
        self.dividend_pool += dividend;
        self.platform_revenue += platform - dividend;
        if let Some(cp) = &mut self.campaign {
            cp.remaining_fen -= subsidy;
        }
        self.unindex(buyer);
        let m = &mut self.members[buyer as usize];
        m.cash_fen -= pay_cash;
        m.coins_fen -= pay_coins;
        m.points += minted - to_locked;
        m.locked += to_locked;
        m.cycle_consumption_fen += amount;
        m.lifetime_consumption_fen += amount;
        self.totals.cash_spent_fen += pay_cash;
        self.totals.coins_spent_fen += pay_coins;
        self.totals.commissions_fen += c;
        self.totals.subsidies_fen += subsidy;
        self.totals.orders += 1;
        self.pool += inflow;
        self.supply += minted;
        self.reindex(buyer);
        self.mark_reference();
        self.note(buyer, Reason::Order, minted - to_locked, to_locked, -pay_cash, -pay_coins);
        // 7. Cascade.
        let exits = self.cascade();
        Ok(Applied { exits, minted, commission_fen: c })
    }

    /// What selling `qty` of `member`'s points would do now, without doing it: every check of
    /// `sell`, then the quantity, the gross value, the part kept in the pool and the payout.
    pub fn sell_quote(&self, member: &str, qty: SellQty) -> Result<SellQuote, Rejection> {
        let i = self.known(member)?;
        let m = &self.members[i as usize];
        if m.lifetime_consumption_fen < self.rules.min_lifetime_consumption_fen {
            return Err(Rejection::BelowSellThreshold);
        }
        let units = match qty {
            SellQty::All => m.points,
            SellQty::Units(q) => q,
        };
        if units == 0 || units > m.points {
            return Err(Rejection::InsufficientPoints);
        }
        // points > 0 implies supply > 0.
        let gross_fen = mul_div_floor(i128::from(units), i128::from(self.pool), i128::from(self.supply)) as i64;
        if gross_fen == 0 {
            return Err(Rejection::AmountTooSmall);
        }
        if !fits(m.cycle_realized_fen, gross_fen) {
            return Err(Rejection::Overflow);
        }
        let kept_fen = mul_rate_ceil(gross_fen, self.rules.retention_ppm);
        Ok(SellQuote { member: i, units, gross_fen, kept_fen, payout_fen: gross_fen - kept_fen })
    }

    /// What a capped exit of this member would pay now: `(gross, payout)` (SPEC §6).
    pub fn exit_quote(&self, m: &Member) -> (i64, i64) {
        let room = self.cap_fen(m) - i128::from(m.cycle_realized_fen);
        let gross = room.clamp(0, i128::from(self.held_value_fen(m))) as i64;
        (gross, gross - mul_rate_ceil(gross, self.rules.retention_ppm))
    }

    fn sell(&mut self, member: &str, qty: SellQty) -> Result<Applied, Rejection> {
        let SellQuote { member: i, units: q, gross_fen: gross, payout_fen: payout, .. } = self.sell_quote(member, qty)?;
        self.unindex(i);
        let m = &mut self.members[i as usize];
        m.points -= q;
        m.cash_fen += payout;
        m.cycle_realized_fen += gross;
        self.pool -= payout;
        self.supply -= q;
        self.reindex(i);
        self.mark_reference();
        self.note(i, Reason::Sell, -q, 0, payout, 0);
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }

    fn redeem(&mut self, member: &str, amount: i64) -> Result<Applied, Rejection> {
        let i = self.known(member)?;
        let (p_ref, n_ref) = self.reference_price();
        let q = mul_div_ceil(i128::from(amount), i128::from(n_ref), i128::from(p_ref));
        let m = &self.members[i as usize];
        if q > i128::from(m.points) || self.pool < amount {
            return Err(Rejection::InsufficientPoints);
        }
        if !fits(m.cycle_realized_fen, amount) {
            return Err(Rejection::Overflow);
        }
        let q = q as i64;
        self.unindex(i);
        let m = &mut self.members[i as usize];
        m.points -= q;
        m.cycle_realized_fen += amount;
        self.pool -= amount;
        self.supply -= q;
        self.totals.redeemed_fen += amount;
        self.reindex(i);
        self.mark_reference();
        self.note(i, Reason::Redeem, -q, 0, 0, 0);
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }

    /// The fee (platform revenue) of withdrawing `amount` at the current rules, rounded up.
    pub fn withdraw_fee_fen(&self, amount: i64) -> i64 {
        mul_rate_ceil(amount, self.rules.withdraw_fee_ppm)
    }

    /// What withdrawing `amount` would take as fee and pay out, with `reserved_fen` of the
    /// member's cash already promised elsewhere (the service's queue of unpaid withdrawals);
    /// the checks of `withdraw`: known member, the minimum, enough cash.
    pub fn withdraw_quote(&self, member: &str, amount: i64, reserved_fen: i64) -> Result<WithdrawQuote, Rejection> {
        let i = self.known(member)?;
        if amount < self.rules.withdraw_min_fen {
            return Err(Rejection::BelowMinimum);
        }
        if i128::from(amount) + i128::from(reserved_fen) > i128::from(self.members[i as usize].cash_fen) {
            return Err(Rejection::InsufficientCash);
        }
        let fee_fen = self.withdraw_fee_fen(amount);
        Ok(WithdrawQuote { member: i, fee_fen, payout_fen: amount - fee_fen })
    }

    fn withdraw(&mut self, member: &str, amount: i64) -> Result<Applied, Rejection> {
        let WithdrawQuote { member: i, fee_fen, payout_fen } = self.withdraw_quote(member, amount, 0)?;
        self.members[i as usize].cash_fen -= amount;
        self.platform_revenue += fee_fen;
        self.totals.withdrawn_fen += payout_fen;
        self.note(i, Reason::Withdraw, 0, 0, -amount, 0);
        Ok(Applied::default())
    }

    fn inject(&mut self, amount: i64) -> Result<Applied, Rejection> {
        if !fits(self.money_in(), amount) {
            return Err(Rejection::Overflow);
        }
        self.pool += amount;
        self.totals.injected_fen += amount;
        self.mark_reference();
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }

    fn start_campaign(&mut self, id: &str, rate_ppm: i64, budget: i64) -> Result<Applied, Rejection> {
        if self.campaign_ids.contains(id) {
            return Err(Rejection::DuplicateId);
        }
        if self.campaign.is_some() {
            return Err(Rejection::CampaignActive);
        }
        self.campaign_ids.insert(id);
        self.campaign = Some(Campaign { id: id.to_string(), rate_ppm, remaining_fen: budget });
        Ok(Applied::default())
    }

    fn end_campaign(&mut self) -> Result<Applied, Rejection> {
        let campaign = self.campaign.take().ok_or(Rejection::NoCampaign)?;
        self.totals.subsidy_returned_fen += campaign.remaining_fen;
        Ok(Applied::default())
    }

    fn release_locked(&mut self) -> Result<Applied, Rejection> {
        let release = self.rules.vesting_release_ppm;
        // points + locked is unchanged, so no trigger key moves.
        for i in 0..self.members.len() {
            let m = &mut self.members[i];
            if m.locked > 0 {
                let freed = m.locked.min(mul_rate_floor(m.locked, release).max(1));
                m.locked -= freed;
                m.points += freed;
                self.note(i as u32, Reason::Release, freed, -freed, 0, 0);
            }
        }
        Ok(Applied::default())
    }

    fn distribute_dividends(&mut self) -> Result<Applied, Rejection> {
        let total_weight: i128 = self.shareholders.values().map(|&w| i128::from(w)).sum();
        if total_weight == 0 {
            return Ok(Applied::default());
        }
        let pot = i128::from(self.dividend_pool);
        let mut paid = 0;
        for (&m, &w) in &self.shareholders {
            let share = (pot * i128::from(w) / total_weight) as i64;
            self.members[m as usize].cash_fen += share;
            paid += share;
            if let Some(changes) = &mut self.changes {
                if share > 0 {
                    changes.push(Change { member: m, reason: Reason::Dividend, points: 0, locked: 0, cash_fen: share, coins_fen: 0 });
                }
            }
        }
        self.dividend_pool -= paid;
        Ok(Applied::default())
    }

    /// Replaces the rules (already validated) and runs the cascade at once.
    pub fn set_rules(&mut self, rules: Rules) -> Result<Applied, Rejection> {
        let rekey = rules.exit_multiple_ppm != self.rules.exit_multiple_ppm;
        self.rules = rules;
        if rekey {
            self.rebuild_index();
        }
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }
}

/// A member's trigger key under an exit multiple; `None` when it cannot trigger until its
/// balances change (exits off, not in a cycle, or nothing held and below the cap).
fn trigger_key(m: &Member, multiple_ppm: i64) -> Option<TriggerKey> {
    if multiple_ppm == 0 || m.cycle_consumption_fen == 0 {
        return None;
    }
    let cap = mul_div_floor(i128::from(m.cycle_consumption_fen), i128::from(multiple_ppm), i128::from(PPM));
    let num = cap - i128::from(m.cycle_realized_fen);
    let den = m.held_units();
    if den == 0 && num > 0 {
        return None;
    }
    Some(TriggerKey { num, den })
}
