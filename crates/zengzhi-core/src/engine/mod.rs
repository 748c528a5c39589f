//! The state machine (SPEC §5–§6): one program's points economy.
//!
//! [`Engine::apply`] takes one command and either applies all of it or returns a
//! [`Rejection`] and changes nothing: every check runs before the first write (an order is
//! planned in full, then committed; see `order.rs`). No clock, no I/O, no randomness, no
//! floating point. After every accepted command a few O(1) invariants are asserted, in release
//! builds too (see [`Engine::assert_invariants`]).

use std::collections::BTreeMap;

use hashbrown::HashMap;

use crate::cascade::ExitIndex;
use crate::command::{Command, Level};
use crate::error::Rejection;
use crate::ids::{IdMap, IdSet};
use crate::num::{Fen, Ppm, Units, UNITS_PER_POINT};
use crate::rules::Rules;

mod commands;
mod exits;
mod order;
mod warm;

pub use order::OrderArgs;

/// Marks an absent member reference.
pub const NONE: u32 = u32::MAX;

/// One member's balances (SPEC §5).
#[derive(Debug, Clone)]
pub struct Member {
    /// Free points.
    pub points: Units,
    /// Locked points (not sellable until released).
    pub locked: Units,
    pub cash_fen: Fen,
    pub coins_fen: Fen,
    /// C: consumption in the current cycle.
    pub cycle_consumption_fen: Fen,
    /// R: gross value realised by sales and redemptions in this cycle.
    pub cycle_realized_fen: Fen,
    pub lifetime_consumption_fen: Fen,
    /// All reward money ever credited.
    pub rewards_fen: Fen,
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
            points: Units::ZERO,
            locked: Units::ZERO,
            cash_fen: Fen::ZERO,
            coins_fen: Fen::ZERO,
            cycle_consumption_fen: Fen::ZERO,
            cycle_realized_fen: Fen::ZERO,
            lifetime_consumption_fen: Fen::ZERO,
            rewards_fen: Fen::ZERO,
            exits: 0,
            referrer: NONE,
            agent_levels: 0,
            place: crate::cascade::NOWHERE,
            place_pos: 0,
        }
    }
}

impl Member {
    /// `points + locked`.
    pub fn held_units(&self) -> Units {
        self.points + self.locked
    }
}

/// A partner store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merchant {
    pub commission_ppm: Ppm,
    pub owner: u32,
    pub recruiter: u32,
    /// 6-digit region code, or [`NONE`].
    pub region: u32,
}

/// The running totals of SPEC §7 and §8.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub commissions_fen: Fen,
    pub injected_fen: Fen,
    pub subsidies_fen: Fen,
    pub subsidy_returned_fen: Fen,
    /// Withdrawn, net of fee.
    pub withdrawn_fen: Fen,
    pub cash_spent_fen: Fen,
    pub redeemed_fen: Fen,
    pub coins_issued_fen: Fen,
    pub coins_spent_fen: Fen,
    pub orders: u64,
    pub exits: u64,
}

impl Totals {
    /// All money that ever entered: commissions, injections and subsidies (SPEC §7.3). Every
    /// money balance is a part of it, which bounds them all (SPEC §10).
    pub fn money_in(&self) -> i128 {
        i128::from(self.commissions_fen) + i128::from(self.injected_fen) + i128::from(self.subsidies_fen)
    }
}

/// Sums over all members, kept by every command (so reading them costs nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Aggregates {
    /// Members holding points (`points + locked > 0`).
    pub members_holding: u64,
    /// Σ cash. A part of the money that entered, so it fits.
    pub member_cash_fen: Fen,
    /// Σ coins. A part of the coins issued, so it fits.
    pub member_coins_fen: Fen,
    /// Σ (points + locked): the supply, by SPEC §7.2.
    pub member_held: Units,
}

impl Aggregates {
    /// The sums by a pass over `members` (`None` when one does not fit: a corrupt state).
    pub fn scan(members: &[Member]) -> Option<Aggregates> {
        let (mut holding, mut cash, mut coins, mut held) = (0u64, 0i128, 0i128, 0i128);
        for m in members {
            let h = i128::from(m.points) + i128::from(m.locked);
            holding += u64::from(h > 0);
            held += h;
            cash += i128::from(m.cash_fen);
            coins += i128::from(m.coins_fen);
        }
        Some(Aggregates {
            members_holding: holding,
            member_cash_fen: Fen::from_wide(cash)?,
            member_coins_fen: Fen::from_wide(coins)?,
            member_held: Units::from_wide(held)?,
        })
    }
}

/// The active subsidy campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: String,
    pub rate_ppm: Ppm,
    pub remaining_fen: Fen,
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
    pub minted: Units,
    /// The commission `c` of an order.
    pub commission_fen: Fen,
}

/// Why a member's balance changed (the ledger's reason column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The buyer of an order: points minted, cash and coins spent.
    Order,
    /// A referral, recruitment, agent or peer reward, by kind (`reward_<kind>`).
    Reward(RewardKind),
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

// A reward's kind makes no reason larger: one byte, as before kinds (recorded changes keep their
// size).
const _: () = assert!(std::mem::size_of::<Reason>() == 1);

impl Reason {
    /// Every reason, in the order of the enum (each reward kind in [`RewardKind::ALL`]'s).
    pub const ALL: [Reason; 15] = [
        Reason::Order,
        Reason::Reward(RewardKind::Direct),
        Reason::Reward(RewardKind::Indirect),
        Reason::Reward(RewardKind::Recruiter),
        Reason::Reward(RewardKind::District),
        Reason::Reward(RewardKind::City),
        Reason::Reward(RewardKind::Province),
        Reason::Reward(RewardKind::Peer),
        Reason::Sell,
        Reason::Redeem,
        Reason::Withdraw,
        Reason::Exit,
        Reason::Release,
        Reason::Dividend,
        Reason::Coins,
    ];

    /// The ledger's name of the reason: `order`, `reward_direct` … `reward_peer` (see
    /// [`RewardKind::reason`]), `sell`, `redeem`, `withdraw`, `exit`, `release`, `dividend`,
    /// `coins`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Order => "order",
            Reason::Reward(kind) => kind.reason(),
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

/// What a reward was paid for. Its ledger reason is `reward_` and the kind's name:
/// `reward_direct` (the buyer's referrer), `reward_indirect` (the referrer's referrer),
/// `reward_recruiter` (the store's recruiter), `reward_district`, `reward_city`,
/// `reward_province` (the store region's agent at that level) and `reward_peer` (an agent's
/// referrer who is an agent at the same level, at any level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RewardKind {
    Direct,
    Indirect,
    Recruiter,
    District,
    City,
    Province,
    Peer,
}

impl RewardKind {
    /// Every kind, in the order an order pays them (peers between the agent levels).
    pub const ALL: [RewardKind; 7] = [
        RewardKind::Direct,
        RewardKind::Indirect,
        RewardKind::Recruiter,
        RewardKind::District,
        RewardKind::City,
        RewardKind::Province,
        RewardKind::Peer,
    ];

    /// The kind's name: `direct`, `indirect`, `recruiter`, `district`, `city`, `province`,
    /// `peer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RewardKind::Direct => "direct",
            RewardKind::Indirect => "indirect",
            RewardKind::Recruiter => "recruiter",
            RewardKind::District => "district",
            RewardKind::City => "city",
            RewardKind::Province => "province",
            RewardKind::Peer => "peer",
        }
    }

    /// The ledger reason: `reward_` and [`as_str`](Self::as_str).
    pub const fn reason(self) -> &'static str {
        match self {
            RewardKind::Direct => "reward_direct",
            RewardKind::Indirect => "reward_indirect",
            RewardKind::Recruiter => "reward_recruiter",
            RewardKind::District => "reward_district",
            RewardKind::City => "reward_city",
            RewardKind::Province => "reward_province",
            RewardKind::Peer => "reward_peer",
        }
    }

    /// The agent reward of a level.
    pub const fn agent(level: crate::command::Level) -> RewardKind {
        match level {
            crate::command::Level::District => RewardKind::District,
            crate::command::Level::City => RewardKind::City,
            crate::command::Level::Province => RewardKind::Province,
        }
    }
}

/// One change to one member's balances by one command (recorded when asked for). The values
/// are signed changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub member: u32,
    pub reason: Reason,
    pub points: Units,
    pub locked: Units,
    pub cash_fen: Fen,
    pub coins_fen: Fen,
}

/// A sale priced but not made ([`Engine::sell_quote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellQuote {
    /// The member's index.
    pub member: u32,
    /// Points sold.
    pub units: Units,
    pub gross_fen: Fen,
    /// Kept in the pool (retention, rounded up).
    pub kept_fen: Fen,
    pub payout_fen: Fen,
}

/// What a withdrawal would take as fee and pay out ([`Engine::withdraw_quote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithdrawQuote {
    /// The member's index.
    pub member: u32,
    /// Platform revenue, rounded up.
    pub fee_fen: Fen,
    pub payout_fen: Fen,
}

/// The state of one program.
#[derive(Clone)]
pub struct Engine {
    pub(crate) rules: Rules,
    pub(crate) pool: Fen,
    pub(crate) supply: Units,
    /// `(pool, supply)` after the latest step that left supply > 0; `None` before the first.
    pub(crate) last_positive: Option<(Fen, Units)>,
    pub(crate) platform_revenue: Fen,
    pub(crate) dividend_pool: Fen,
    pub(crate) totals: Totals,
    pub(crate) aggregates: Aggregates,
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
    /// The tally of `limits.max_mint_value_per_member_day`.
    pub(crate) mint_tally: MintTally,
}

/// The value minted to each member on the current Beijing day, kept only while the daily mint
/// cap is on and only for members who minted that day (so it costs nothing per member).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MintTally {
    /// The Beijing day the tally counts (days since 1970-01-01); `None` before the first dated
    /// order counted.
    pub day: Option<i64>,
    /// member → mint value (fen) counted on `day`; only positive values.
    pub minted: HashMap<u32, Fen>,
}

impl MintTally {
    /// The day an order of Beijing day `at_day` (absent: undated) counts on: days never go
    /// back, so an undated order or one dated before the tally's day counts on the tally's day.
    pub fn day_of(&self, at_day: Option<i64>) -> Option<i64> {
        match (self.day, at_day) {
            (Some(d), Some(a)) => Some(d.max(a)),
            (d, a) => d.or(a),
        }
    }

    /// The value already counted for `member` on `day`.
    pub fn minted_on(&self, day: Option<i64>, member: u32) -> Fen {
        if day == self.day {
            self.minted.get(&member).copied().unwrap_or(Fen::ZERO)
        } else {
            Fen::ZERO
        }
    }

    /// Counts `value` minted to `member` on `day` (a later day starts a new tally).
    pub fn count(&mut self, day: Option<i64>, member: u32, value: Fen) {
        if day != self.day {
            self.minted.clear();
            self.day = day;
        }
        if value.is_positive() {
            *self.minted.entry(member).or_insert(Fen::ZERO) += value;
        }
    }
}

pub(crate) fn agent_key(level: Level, region: u32) -> u64 {
    (level as u64) << 32 | u64::from(region)
}

/// A signed change to one member's four balances.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delta {
    pub points: Units,
    pub locked: Units,
    pub cash: Fen,
    pub coins: Fen,
}

impl Engine {
    pub fn new(rules: Rules) -> Self {
        Self::with_mode(rules, CascadeMode::Indexed)
    }

    pub fn with_mode(rules: Rules, mode: CascadeMode) -> Self {
        Engine {
            rules,
            pool: Fen::ZERO,
            supply: Units::ZERO,
            last_positive: None,
            platform_revenue: Fen::ZERO,
            dividend_pool: Fen::ZERO,
            totals: Totals::default(),
            aggregates: Aggregates::default(),
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
            mint_tally: MintTally::default(),
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

    /// Applies `d` to member `i`'s balances, keeps the [`Aggregates`] and records the change.
    /// Every change to a member's points, locked points, cash or coins goes through here. The
    /// caller has checked that the new balances fit and are not negative (the operators panic
    /// otherwise), and keeps the exit index.
    #[inline(always)]
    pub(crate) fn post(&mut self, i: u32, reason: Reason, d: Delta) {
        let m = &mut self.members[i as usize];
        // Balances are never negative: a member holds points when either part is positive.
        let held_before = m.points.is_positive() || m.locked.is_positive();
        m.points += d.points;
        m.locked += d.locked;
        m.cash_fen += d.cash;
        m.coins_fen += d.coins;
        let held_after = m.points.is_positive() || m.locked.is_positive();
        let a = &mut self.aggregates;
        match (held_before, held_after) {
            (false, true) => a.members_holding += 1,
            (true, false) => a.members_holding -= 1,
            _ => {}
        }
        a.member_held += d.points + d.locked;
        a.member_cash_fen += d.cash;
        a.member_coins_fen += d.coins;
        if let Some(changes) = &mut self.changes {
            if !(d.points.is_zero() && d.locked.is_zero() && d.cash.is_zero() && d.coins.is_zero()) {
                changes.push(Change {
                    member: i,
                    reason,
                    points: d.points,
                    locked: d.locked,
                    cash_fen: d.cash,
                    coins_fen: d.coins,
                });
            }
        }
    }

    /// [`post`](Self::post) for a change of cash alone (no held points move): the hot path of
    /// rewards.
    #[inline(always)]
    pub(crate) fn post_cash(&mut self, i: u32, reason: Reason, cash: Fen) {
        self.members[i as usize].cash_fen += cash;
        self.aggregates.member_cash_fen += cash;
        if let Some(changes) = &mut self.changes {
            if !cash.is_zero() {
                changes.push(Change {
                    member: i,
                    reason,
                    points: Units::ZERO,
                    locked: Units::ZERO,
                    cash_fen: cash,
                    coins_fen: Fen::ZERO,
                });
            }
        }
    }

    // ---- read access -------------------------------------------------------------------------

    pub fn rules(&self) -> &Rules {
        &self.rules
    }
    pub fn pool_fen(&self) -> Fen {
        self.pool
    }
    pub fn supply_units(&self) -> Units {
        self.supply
    }
    pub fn platform_revenue_fen(&self) -> Fen {
        self.platform_revenue
    }
    pub fn dividend_pool_fen(&self) -> Fen {
        self.dividend_pool
    }
    pub fn totals(&self) -> &Totals {
        &self.totals
    }
    /// The sums over all members, kept incrementally: O(1).
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }
    /// The tally of the daily mint cap (empty while it is off).
    pub fn mint_tally(&self) -> &MintTally {
        &self.mint_tally
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
    /// What `distribute_dividends` would pay now: each shareholder's index and share
    /// `⌊pool · weight / Σ weights⌋`, by member index (empty without shareholders). The command
    /// pays exactly this plan, so a preview made with it equals the payout.
    pub fn dividend_plan(&self) -> Vec<(u32, Fen)> {
        let total_weight: i128 = self.shareholders.values().map(|&w| i128::from(w)).sum();
        if total_weight == 0 {
            return Vec::new();
        }
        let pot = self.dividend_pool;
        self.shareholders.iter().map(|(&m, &w)| (m, pot.mul_share_floor(i128::from(w), total_weight))).collect()
    }
    /// Every merchant: its id and record, in registration order.
    pub fn merchants(&self) -> impl Iterator<Item = (crate::ids::IdName<'_>, &Merchant)> + '_ {
        self.merchants.iter().enumerate().map(|(i, m)| (self.merchant_ids.name(i as u32), m))
    }
    /// Every appointed agent: level, normalised region and member index (in no fixed order).
    pub fn agents(&self) -> impl Iterator<Item = (crate::command::Level, u32, u32)> + '_ {
        self.agents.iter().map(|(&key, &member)| {
            let level = match key >> 32 {
                1 => Level::District,
                2 => Level::City,
                _ => Level::Province,
            };
            (level, key as u32, member)
        })
    }
    /// Member indexes sorted by id (the order of the state JSON).
    pub fn members_by_id(&self) -> Vec<u32> {
        let mut order: Vec<(crate::ids::IdName<'_>, u32)> =
            (0..self.index_count()).map(|i| (self.member_ids.name(i), i)).collect();
        order.sort_unstable_by(|a, b| (*a.0).cmp(&*b.0));
        order.into_iter().map(|(_, i)| i).collect()
    }

    /// The number of members as an index bound (member indexes are `u32`).
    fn index_count(&self) -> u32 {
        u32::try_from(self.members.len()).expect("member indexes are u32")
    }

    /// The reference price `(P_ref, N_ref)` of SPEC §3.
    pub fn reference_price(&self) -> (Fen, Units) {
        if self.supply.is_positive() {
            (self.pool, self.supply)
        } else {
            self.last_positive.unwrap_or((self.rules.initial_price_fen, Units::from_units(UNITS_PER_POINT)))
        }
    }

    /// A member's held value `⌊(points + locked) · pool / supply⌋`.
    pub fn held_value_fen(&self, m: &Member) -> Fen {
        if !self.supply.is_positive() {
            return Fen::ZERO;
        }
        m.held_units().value_floor(self.pool, self.supply)
    }

    /// A member's cap `K = ⌊C · multiple⌋` (may exceed `i64`).
    pub fn cap_fen(&self, m: &Member) -> i128 {
        m.cycle_consumption_fen.mul_rate_floor_wide(self.rules.exit_multiple_ppm)
    }

    /// Does this member trigger a capped exit now?
    pub fn triggers(&self, m: &Member) -> bool {
        self.rules.exit_multiple_ppm.is_positive()
            && m.cycle_consumption_fen.is_positive()
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
            + self.mint_tally.minted.capacity() * (std::mem::size_of::<(u32, Fen)>() + 1)
    }

    /// Records `(pool, supply)` as the reference after a step that left supply > 0.
    fn mark_reference(&mut self) {
        if self.supply.is_positive() {
            self.last_positive = Some((self.pool, self.supply));
        }
    }

    // ---- commands ------------------------------------------------------------------------------

    /// Applies one command: all of it, or nothing and a [`Rejection`]. The same as
    /// [`apply_at`](Self::apply_at) without a time.
    pub fn apply(&mut self, command: &Command<'_>) -> Result<Applied, Rejection> {
        self.apply_at(command, None)
    }

    /// Applies one command with its `at` time (an RFC 3339 date-time as SPEC §10 reads it, else
    /// `invalid_command`). The time changes the result only of an order while
    /// `limits.max_mint_value_per_member_day` is on: it names the Beijing day the order's mint
    /// counts on.
    pub fn apply_at(&mut self, command: &Command<'_>, at: Option<&str>) -> Result<Applied, Rejection> {
        command.check()?;
        let day = match at {
            Some(at) => Some(crate::command::beijing_day(at).ok_or(Rejection::InvalidCommand)?),
            None => None,
        };
        let applied = match command {
            Command::RegisterMember { member, referrer } => self.register_member(member, referrer.as_deref()),
            Command::RegisterMerchant { merchant, commission_ppm, owner, recruiter, region } => {
                self.register_merchant(merchant, *commission_ppm, owner.as_deref(), recruiter.as_deref(), *region)
            }
            Command::AppointAgent { member, level, region } => {
                self.appoint_agent(member, *level, level.normalise(*region))
            }
            Command::SetShareholder { member, weight } => self.set_shareholder(member, *weight),
            Command::GrantCoins { member, amount_fen } => self.grant_coins(member, *amount_fen),
            Command::Order { order, member, merchant, amount_fen, commission_fen, pay_cash_fen, pay_coins_fen } => self
                .order(&OrderArgs {
                    order,
                    member,
                    merchant: merchant.as_deref(),
                    amount: *amount_fen,
                    commission: *commission_fen,
                    pay_cash: *pay_cash_fen,
                    pay_coins: *pay_coins_fen,
                    day,
                }),
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
                Ok(self.set_rules(next))
            }
        }?;
        self.assert_invariants();
        Ok(applied)
    }

    /// The O(1) invariants, asserted after every accepted command in every build: no negative
    /// pool, supply, platform revenue or dividend pool; the kept sums agree with the supply
    /// (SPEC §7.2); money and coins add up (§7.3, §7.4). A failure is a bug in the engine, not
    /// a rejection. (The per-member checks cost a pass over all members: see
    /// [`invariants`](crate::invariants).)
    #[inline]
    #[track_caller]
    pub fn assert_invariants(&self) {
        let (t, a) = (&self.totals, &self.aggregates);
        assert!(
            !self.pool.is_negative()
                && !self.supply.is_negative()
                && !self.platform_revenue.is_negative()
                && !self.dividend_pool.is_negative(),
            "negative pool {}, supply {}, platform revenue {} or dividend pool {}",
            self.pool,
            self.supply,
            self.platform_revenue,
            self.dividend_pool
        );
        assert_eq!(a.member_held, self.supply, "Σ(points + locked) ≠ supply");
        let money_out = i128::from(self.pool)
            + i128::from(a.member_cash_fen)
            + i128::from(self.platform_revenue)
            + i128::from(self.dividend_pool)
            + i128::from(t.withdrawn_fen)
            + i128::from(t.cash_spent_fen)
            + i128::from(t.redeemed_fen);
        assert_eq!(t.money_in(), money_out, "money in ≠ money held and paid out");
        assert_eq!(
            i128::from(t.coins_issued_fen),
            i128::from(a.member_coins_fen) + i128::from(t.coins_spent_fen),
            "coins issued ≠ Σcoins + spent"
        );
    }

    fn known(&self, id: &str) -> Result<u32, Rejection> {
        self.member_ids.get(id).ok_or(Rejection::UnknownMember)
    }

    fn known_opt(&self, id: Option<&str>) -> Result<u32, Rejection> {
        id.map_or(Ok(NONE), |id| self.known(id))
    }

    /// Replaces the rules (already validated) and runs the cascade at once: the effect of an
    /// accepted `update_rules` command, the only way rules change after the start.
    pub(crate) fn set_rules(&mut self, rules: Rules) -> Applied {
        let rekey = rules.exit_multiple_ppm != self.rules.exit_multiple_ppm;
        if !rules.max_mint_value_per_member_day_fen.is_positive() {
            // The tally is kept only while the cap is on.
            self.mint_tally = MintTally::default();
        }
        self.rules = rules;
        if rekey {
            self.rebuild_index();
        }
        Applied { exits: self.cascade(), ..Applied::default() }
    }
}
