//! The order (SPEC §6): a plan with every amount computed and checked first, then its commit.
//!
//! [`Engine::plan_order`] takes `&self`, so a rejected order changes nothing by construction;
//! [`Engine::commit_order`] only writes what the plan holds, and cannot fail.

use super::{agent_key, Applied, Delta, Engine, Merchant, Reason, RewardKind, NONE};
use crate::command::Level;
use crate::error::Rejection;
use crate::num::{Fen, Units};
use crate::rules::SelfDealing;

/// The arguments of an order command.
#[derive(Debug, Clone, Copy)]
pub struct OrderArgs<'a> {
    pub order: &'a str,
    pub member: &'a str,
    pub merchant: Option<&'a str>,
    pub amount: Fen,
    pub commission: Option<Fen>,
    pub pay_cash: Fen,
    pub pay_coins: Fen,
    /// The Beijing day of the command's `at`, if it has one (for the daily mint cap).
    pub day: Option<i64>,
}

/// At most: direct, indirect, recruiter, and an agent and a peer at each of three levels.
const MAX_REWARDS: usize = 9;

/// The rewards of one order, in the order they are paid: to whom, how much, for what (the
/// kind fits in the padding of the pair: no larger than without it).
#[derive(Debug, Clone, Copy)]
struct Rewards {
    paid: [(u32, Fen, RewardKind); MAX_REWARDS],
    len: usize,
    /// What is left of the distribution budget.
    left: Fen,
}

// The kind rides in the padding of `(u32, Fen)`: the plan is no larger for it.
const _: () = assert!(std::mem::size_of::<(u32, Fen, RewardKind)>() == std::mem::size_of::<(u32, Fen)>());

impl Rewards {
    #[inline(always)]
    fn new() -> Self {
        Rewards { paid: [(NONE, Fen::ZERO, RewardKind::Direct); MAX_REWARDS], len: 0, left: Fen::ZERO }
    }

    /// Pays `due`, capped by what is left of the budget; returns what was paid.
    #[inline(always)]
    fn pay(&mut self, to: u32, kind: RewardKind, due: Fen) -> Fen {
        let x = due.min(self.left);
        self.left -= x;
        self.paid[self.len] = (to, x, kind);
        self.len += 1;
        x
    }

    #[inline(always)]
    fn paid(&self) -> &[(u32, Fen, RewardKind)] {
        &self.paid[..self.len]
    }
}

/// Everything an accepted order writes (with its [`Rewards`], kept apart so that neither is
/// copied on the way from the plan to the commit).
#[derive(Debug, Clone, Copy)]
struct OrderPlan {
    order_hash: u64,
    buyer: u32,
    pay_cash: Fen,
    pay_coins: Fen,
    /// What counts as consumption: the amount, or 0 for a `no_mint` self-dealing order.
    consumption: Fen,
    /// The mint value counted by the daily cap, and its day (`None`: the cap is off).
    tally: Option<(Option<i64>, Fen)>,
    /// The commission `c`.
    commission: Fen,
    dividend: Fen,
    /// Platform revenue: the platform's part less the dividend.
    platform_net: Fen,
    subsidy: Fen,
    /// Into the pool: the pool's part and the subsidy.
    inflow: Fen,
    /// Points minted, free and locked.
    free: Units,
    locked: Units,
}

impl Engine {
    #[inline(always)]
    pub(super) fn order(&mut self, args: &OrderArgs<'_>) -> Result<Applied, Rejection> {
        let mut rewards = Rewards::new();
        let plan = self.plan_order(args, &mut rewards)?;
        Ok(self.commit_order(args.order, &plan, &rewards))
    }

    /// Step 1 of an order: the checks of SPEC §10 before any amount. Returns the order id's
    /// hash, the buyer and the store.
    #[inline(always)]
    fn check_order(&self, a: &OrderArgs<'_>) -> Result<(u64, u32, Option<&Merchant>), Rejection> {
        let order_hash = self.order_ids.hash(a.order);
        if self.order_ids.contains_hashed(order_hash, a.order) {
            return Err(Rejection::DuplicateId);
        }
        let buyer = self.known(a.member)?;
        let store = match a.merchant {
            Some(id) => Some(&self.merchants[self.merchant_ids.get(id).ok_or(Rejection::UnknownMerchant)? as usize]),
            None => None,
        };
        if a.commission.is_some_and(|c| c > a.amount) {
            return Err(Rejection::InvalidAmount);
        }
        let b = &self.members[buyer as usize];
        if a.pay_cash > b.cash_fen {
            return Err(Rejection::InsufficientCash);
        }
        if a.pay_coins > b.coins_fen {
            return Err(Rejection::InsufficientCoins);
        }
        // Both are at most the argument bound, so the sum fits.
        if a.pay_cash + a.pay_coins > a.amount {
            return Err(Rejection::InvalidAmount);
        }
        Ok((order_hash, buyer, store))
    }

    /// Steps 1–6 of an order: every check in the order of SPEC §10 and every amount.
    #[inline(always)]
    fn plan_order(&self, a: &OrderArgs<'_>, rewards: &mut Rewards) -> Result<OrderPlan, Rejection> {
        // 1. Validate.
        let (order_hash, buyer, store) = self.check_order(a)?;
        let rules = &self.rules;
        // A store's own owner or recruiter buying there (刷单): `limits.self_dealing`.
        let no_mint = match rules.self_dealing {
            SelfDealing::Allow => false,
            mode if store.is_some_and(|s| s.owner == buyer || s.recruiter == buyer) => {
                if mode == SelfDealing::Reject {
                    return Err(Rejection::SelfDealing);
                }
                true
            }
            _ => false,
        };
        // 2. Split the commission.
        let commission = match (a.commission, store) {
            (Some(c), _) => c,
            (None, Some(s)) => a.amount.mul_rate_floor(s.commission_ppm),
            (None, None) => unreachable!("an order names a merchant or a commission"),
        };
        let inflow_pool = commission.mul_rate_floor(rules.pool_share_ppm);
        let budget = commission.mul_rate_floor(rules.distribution_share_ppm);
        // 3. Rewards, in order, each capped by what is left of the budget.
        self.rewards(buyer, store, a.amount, budget, !no_mint, rewards);
        let platform = commission - inflow_pool - budget + rewards.left;
        // 4. Dividends.
        let dividend = platform.mul_rate_floor(rules.dividend_share_of_platform_ppm);
        // 5. Subsidy.
        let subsidy = match &self.campaign {
            Some(cp) if !no_mint => a.amount.mul_rate_floor(cp.rate_ppm).min(cp.remaining_fen),
            _ => Fen::ZERO,
        };
        // 6. Mint.
        let inflow = inflow_pool + subsidy;
        let mut value = if no_mint { Fen::ZERO } else { inflow.mul_rate_floor(rules.mint_ratio_ppm) };
        if rules.max_mint_value_per_order_fen.is_positive() {
            value = value.min(rules.max_mint_value_per_order_fen);
        }
        let tally = rules.max_mint_value_per_member_day_fen.is_positive().then(|| {
            let day = self.mint_tally.day_of(a.day);
            // Not below 0: the cap may have been lowered below what was counted today.
            let left = (rules.max_mint_value_per_member_day_fen - self.mint_tally.minted_on(day, buyer)).max(Fen::ZERO);
            value = value.min(left);
            (day, value)
        });
        let (p_ref, n_ref) = self.reference_price();
        let minted = value.to_units_floor(p_ref, n_ref);

        // Overflow: after every other check (SPEC §10).
        let fits = |x: i128| x <= i128::from(i64::MAX);
        let minted = minted.filter(|m| fits(i128::from(*m) + i128::from(self.supply))).ok_or(Rejection::Overflow)?;
        let locked = if minted.is_positive() && a.pay_coins.is_positive() {
            minted.mul_share_floor(a.pay_coins, a.amount)
        } else {
            Units::ZERO
        };
        let free = minted - locked;
        let b = &self.members[buyer as usize];
        let consumption = if no_mint { Fen::ZERO } else { a.amount };
        if !fits(i128::from(b.points) + i128::from(free))
            || !fits(i128::from(b.locked) + i128::from(locked))
            || !fits(i128::from(b.lifetime_consumption_fen) + i128::from(consumption))
            || !fits(self.totals.money_in() + i128::from(commission) + i128::from(subsidy))
        {
            return Err(Rejection::Overflow);
        }
        Ok(OrderPlan {
            order_hash,
            buyer,
            pay_cash: a.pay_cash,
            pay_coins: a.pay_coins,
            consumption,
            tally,
            commission,
            dividend,
            platform_net: platform - dividend,
            subsidy,
            inflow,
            free,
            locked,
        })
    }

    /// Step 3: the referral, recruiter, agent and peer rewards of an order from `buyer`; the
    /// referral and recruiter rewards only with `referrals` (not for a `no_mint` self-dealing
    /// order).
    #[inline(always)]
    fn rewards(
        &self,
        buyer: u32,
        store: Option<&Merchant>,
        amount: Fen,
        budget: Fen,
        referrals: bool,
        rewards: &mut Rewards,
    ) {
        let rules = &self.rules;
        rewards.left = budget;
        let direct = if referrals { self.members[buyer as usize].referrer } else { NONE };
        if direct != NONE {
            rewards.pay(direct, RewardKind::Direct, amount.mul_rate_floor(rules.referral_direct_ppm));
            let indirect = self.members[direct as usize].referrer;
            if indirect != NONE {
                rewards.pay(indirect, RewardKind::Indirect, amount.mul_rate_floor(rules.referral_indirect_ppm));
            }
        }
        let Some(s) = store else {
            return;
        };
        if referrals && s.recruiter != NONE {
            rewards.pay(
                s.recruiter,
                RewardKind::Recruiter,
                amount.mul_rate_floor(rules.referral_merchant_recruiter_ppm),
            );
        }
        if s.region == NONE {
            return;
        }
        // Each level pays its rate less the rate a lower level already paid (rates rise with
        // the level: the rules guarantee it).
        let mut paid_rate = crate::num::Ppm::ZERO;
        for (level, rate) in [
            (Level::District, rules.agent_district_ppm),
            (Level::City, rules.agent_city_ppm),
            (Level::Province, rules.agent_province_ppm),
        ] {
            let Some(&agent) = self.agents.get(&agent_key(level, level.normalise(s.region))) else {
                continue;
            };
            let x = rewards.pay(agent, RewardKind::agent(level), amount.mul_rate_floor(rate - paid_rate));
            paid_rate = rate;
            let up = self.members[agent as usize].referrer;
            if rules.agent_peer_ppm.is_positive()
                && up != NONE
                && self.members[up as usize].agent_levels & level as u8 != 0
            {
                rewards.pay(up, RewardKind::Peer, x.mul_rate_floor(rules.agent_peer_ppm));
            }
        }
    }

    /// Writes a planned order, then runs the cascade (step 7).
    #[inline(always)]
    fn commit_order(&mut self, order: &str, p: &OrderPlan, rewards: &Rewards) -> Applied {
        self.order_ids.insert_new_hashed(p.order_hash, order);
        for &(to, x, kind) in rewards.paid() {
            self.members[to as usize].rewards_fen += x;
            self.post_cash(to, Reason::Reward(kind), x);
        }
        self.dividend_pool += p.dividend;
        self.platform_revenue += p.platform_net;
        if let Some(cp) = &mut self.campaign {
            cp.remaining_fen -= p.subsidy;
        }
        self.unindex(p.buyer);
        if let Some((day, value)) = p.tally {
            self.mint_tally.count(day, p.buyer, value);
        }
        let m = &mut self.members[p.buyer as usize];
        m.cycle_consumption_fen += p.consumption;
        m.lifetime_consumption_fen += p.consumption;
        self.post(
            p.buyer,
            Reason::Order,
            Delta { points: p.free, locked: p.locked, cash: -p.pay_cash, coins: -p.pay_coins },
        );
        let t = &mut self.totals;
        t.cash_spent_fen += p.pay_cash;
        t.coins_spent_fen += p.pay_coins;
        t.commissions_fen += p.commission;
        t.subsidies_fen += p.subsidy;
        t.orders += 1;
        self.pool += p.inflow;
        self.supply += p.free + p.locked;
        self.reindex(p.buyer);
        self.mark_reference();
        let exits = self.cascade();
        Applied { exits, minted: p.free + p.locked, commission_fen: p.commission }
    }
}
