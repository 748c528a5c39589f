//! The commands other than the order (SPEC §6), and the quotes that price them.

use super::{agent_key, Applied, Campaign, Delta, Engine, Member, Merchant, Reason, SellQuote, WithdrawQuote};
use crate::command::{Level, SellQty};
use crate::error::Rejection;
use crate::num::{Fen, Ppm, Units};

/// Does `a + b` fit?
fn fits(a: Fen, b: Fen) -> bool {
    a.checked_add(b).is_some()
}

impl Engine {
    pub(super) fn register_member(&mut self, id: &str, referrer: Option<&str>) -> Result<Applied, Rejection> {
        if self.member_ids.contains(id) {
            return Err(Rejection::DuplicateId);
        }
        let referrer = self.known_opt(referrer)?;
        self.member_ids.insert(id).map_err(|_| Rejection::DuplicateId)?;
        self.members.push(Member { referrer, ..Member::default() });
        Ok(Applied::default())
    }

    pub(super) fn register_merchant(
        &mut self,
        id: &str,
        commission_ppm: Option<Ppm>,
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
            region: region.unwrap_or(super::NONE),
        });
        Ok(Applied::default())
    }

    pub(super) fn appoint_agent(&mut self, member: &str, level: Level, region: u32) -> Result<Applied, Rejection> {
        let m = self.known(member)?;
        let key = agent_key(level, region);
        if self.agents.contains_key(&key) {
            return Err(Rejection::RegionTaken);
        }
        self.agents.insert(key, m);
        self.members[m as usize].agent_levels |= level as u8;
        Ok(Applied::default())
    }

    pub(super) fn set_shareholder(&mut self, member: &str, weight: u32) -> Result<Applied, Rejection> {
        let m = self.known(member)?;
        if weight == 0 {
            self.shareholders.remove(&m);
        } else {
            self.shareholders.insert(m, weight);
        }
        Ok(Applied::default())
    }

    pub(super) fn grant_coins(&mut self, member: &str, amount: Fen) -> Result<Applied, Rejection> {
        let m = self.known(member)?;
        if !fits(self.totals.coins_issued_fen, amount) {
            return Err(Rejection::Overflow);
        }
        self.post(m, Reason::Coins, Delta { coins: amount, ..Delta::default() });
        self.totals.coins_issued_fen += amount;
        Ok(Applied::default())
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
        if units.is_zero() || units > m.points {
            return Err(Rejection::InsufficientPoints);
        }
        // points > 0 implies supply > 0.
        let gross_fen = units.value_floor(self.pool, self.supply);
        if gross_fen.is_zero() {
            return Err(Rejection::AmountTooSmall);
        }
        if !fits(m.cycle_realized_fen, gross_fen) {
            return Err(Rejection::Overflow);
        }
        let kept_fen = gross_fen.mul_rate_ceil(self.rules.retention_ppm);
        Ok(SellQuote { member: i, units, gross_fen, kept_fen, payout_fen: gross_fen - kept_fen })
    }

    pub(super) fn sell(&mut self, member: &str, qty: SellQty) -> Result<Applied, Rejection> {
        let SellQuote { member: i, units: q, gross_fen: gross, payout_fen: payout, .. } =
            self.sell_quote(member, qty)?;
        self.unindex(i);
        self.members[i as usize].cycle_realized_fen += gross;
        self.post(i, Reason::Sell, Delta { points: -q, cash: payout, ..Delta::default() });
        self.pool -= payout;
        self.supply -= q;
        self.reindex(i);
        self.mark_reference();
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }

    pub(super) fn redeem(&mut self, member: &str, amount: Fen) -> Result<Applied, Rejection> {
        let i = self.known(member)?;
        let (p_ref, n_ref) = self.reference_price();
        let m = &self.members[i as usize];
        // `None`: more points than any balance holds.
        let q = amount.to_units_ceil(p_ref, n_ref).filter(|q| *q <= m.points);
        let Some(q) = q.filter(|_| self.pool >= amount) else {
            return Err(Rejection::InsufficientPoints);
        };
        if !fits(m.cycle_realized_fen, amount) {
            return Err(Rejection::Overflow);
        }
        self.unindex(i);
        self.members[i as usize].cycle_realized_fen += amount;
        self.post(i, Reason::Redeem, Delta { points: -q, ..Delta::default() });
        self.pool -= amount;
        self.supply -= q;
        self.totals.redeemed_fen += amount;
        self.reindex(i);
        self.mark_reference();
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }

    /// The fee (platform revenue) of withdrawing `amount` at the current rules, rounded up.
    pub fn withdraw_fee_fen(&self, amount: Fen) -> Fen {
        amount.mul_rate_ceil(self.rules.withdraw_fee_ppm)
    }

    /// What withdrawing `amount` would take as fee and pay out, with `reserved_fen` of the
    /// member's cash already promised elsewhere (the service's queue of unpaid withdrawals);
    /// the checks of `withdraw`: known member, the minimum, enough cash.
    pub fn withdraw_quote(&self, member: &str, amount: Fen, reserved_fen: Fen) -> Result<WithdrawQuote, Rejection> {
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

    pub(super) fn withdraw(&mut self, member: &str, amount: Fen) -> Result<Applied, Rejection> {
        let WithdrawQuote { member: i, fee_fen, payout_fen } = self.withdraw_quote(member, amount, Fen::ZERO)?;
        self.post_cash(i, Reason::Withdraw, -amount);
        self.platform_revenue += fee_fen;
        self.totals.withdrawn_fen += payout_fen;
        Ok(Applied::default())
    }

    pub(super) fn inject(&mut self, amount: Fen) -> Result<Applied, Rejection> {
        if self.totals.money_in() + i128::from(amount) > i128::from(i64::MAX) {
            return Err(Rejection::Overflow);
        }
        self.pool += amount;
        self.totals.injected_fen += amount;
        self.mark_reference();
        Ok(Applied { exits: self.cascade(), ..Applied::default() })
    }

    pub(super) fn start_campaign(&mut self, id: &str, rate_ppm: Ppm, budget: Fen) -> Result<Applied, Rejection> {
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

    pub(super) fn end_campaign(&mut self) -> Result<Applied, Rejection> {
        let campaign = self.campaign.take().ok_or(Rejection::NoCampaign)?;
        self.totals.subsidy_returned_fen += campaign.remaining_fen;
        Ok(Applied::default())
    }

    pub(super) fn release_locked(&mut self) -> Result<Applied, Rejection> {
        let release = self.rules.vesting_release_ppm;
        // points + locked is unchanged, so no trigger key moves.
        for i in 0..self.index_count() {
            let locked = self.members[i as usize].locked;
            if locked.is_positive() {
                let freed = locked.min(locked.mul_rate_floor(release).max(Units::from_units(1)));
                self.post(i, Reason::Release, Delta { points: freed, locked: -freed, ..Delta::default() });
            }
        }
        Ok(Applied::default())
    }

    pub(super) fn distribute_dividends(&mut self) -> Result<Applied, Rejection> {
        let mut paid = Fen::ZERO;
        for (m, share) in self.dividend_plan() {
            self.post_cash(m, Reason::Dividend, share);
            paid += share;
        }
        self.dividend_pool -= paid;
        Ok(Applied::default())
    }
}
