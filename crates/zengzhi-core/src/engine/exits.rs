//! The exit cascade (SPEC §6): the trigger-price index over members and the capped exits.

use super::{CascadeMode, Delta, Engine, Member, Reason};
use crate::cascade::{Places, TriggerKey};
use crate::num::{Fen, Ppm};

/// The engine's members as the exit index sees them.
pub(super) struct MemberPlaces<'a> {
    pub(super) members: &'a mut [Member],
    pub(super) multiple: Ppm,
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
        trigger_key(&self.members[m as usize], self.multiple).expect("indexed members have a key")
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

/// A member's trigger key under an exit multiple; `None` when it cannot trigger until its
/// balances change (exits off, not in a cycle, or nothing held and below the cap).
fn trigger_key(m: &Member, multiple: Ppm) -> Option<TriggerKey> {
    if multiple.is_zero() || m.cycle_consumption_fen.is_zero() {
        return None;
    }
    let cap = m.cycle_consumption_fen.mul_rate_floor_wide(multiple);
    let num = cap - i128::from(m.cycle_realized_fen);
    let den = m.held_units().to_units();
    if den == 0 && num > 0 {
        return None;
    }
    Some(TriggerKey { num, den })
}

impl Engine {
    fn places(&mut self) -> MemberPlaces<'_> {
        MemberPlaces { members: &mut self.members, multiple: self.rules.exit_multiple_ppm }
    }

    /// Takes member `i` out of the exit index, before a change to its balances.
    pub(super) fn unindex(&mut self, i: u32) {
        if self.mode == CascadeMode::Indexed {
            let key = trigger_key(&self.members[i as usize], self.rules.exit_multiple_ppm);
            let mut places = MemberPlaces { members: &mut self.members, multiple: self.rules.exit_multiple_ppm };
            self.index.remove(&mut places, i, key);
        }
    }

    /// Puts member `i` back into the exit index, after a change to its balances.
    pub(super) fn reindex(&mut self, i: u32) {
        if self.mode == CascadeMode::Indexed {
            let key = trigger_key(&self.members[i as usize], self.rules.exit_multiple_ppm);
            let mut places = MemberPlaces { members: &mut self.members, multiple: self.rules.exit_multiple_ppm };
            self.index.insert(&mut places, i, key);
        }
    }

    /// Re-keys every member (after the exit multiple changed, or a snapshot was read).
    pub(crate) fn rebuild_index(&mut self) {
        if self.mode == CascadeMode::Indexed {
            let mut index = std::mem::take(&mut self.index);
            index.clear(&mut self.places());
            self.index = index;
            for i in 0..self.index_count() {
                self.reindex(i);
            }
        }
    }

    /// The member that exits next, if any triggers.
    fn next_exit(&mut self) -> Option<u32> {
        match self.mode {
            CascadeMode::Indexed => {
                let (pool, supply) = (self.pool.to_fen(), self.supply.to_units());
                let mut places = MemberPlaces { members: &mut self.members, multiple: self.rules.exit_multiple_ppm };
                self.index.advance_price(&mut places, pool, supply);
                let (i, key) = self.index.first()?;
                let next = reached(key, pool, supply).then_some(i);
                debug_assert_eq!(next.is_some(), self.triggers(&self.members[i as usize]));
                next
            }
            CascadeMode::NaiveScan => (0..self.index_count())
                .filter_map(|i| trigger_key(&self.members[i as usize], self.rules.exit_multiple_ppm).map(|k| (k, i)))
                .min()
                .map(|(_, i)| i)
                .filter(|&i| self.triggers(&self.members[i as usize])),
        }
    }

    /// Runs the exit cascade (SPEC §6) and returns how many members exited.
    pub(super) fn cascade(&mut self) -> u32 {
        let mut exits = 0;
        while let Some(i) = self.next_exit() {
            self.exit(i);
            exits += 1;
        }
        exits
    }

    /// What a capped exit of this member would pay now: `(gross, payout)` (SPEC §6).
    pub fn exit_quote(&self, m: &Member) -> (Fen, Fen) {
        let room = self.cap_fen(m) - i128::from(m.cycle_realized_fen);
        let held = self.held_value_fen(m);
        // Clamped to the held value, so it fits.
        let gross = Fen::from_wide(room.clamp(0, i128::from(held))).unwrap_or(held);
        (gross, gross - gross.mul_rate_ceil(self.rules.retention_ppm))
    }

    fn exit(&mut self, i: u32) {
        self.unindex(i);
        let (_, payout) = self.exit_quote(&self.members[i as usize]);
        let m = &self.members[i as usize];
        let (points, locked) = (m.points, m.locked);
        self.pool -= payout;
        self.supply -= points + locked;
        self.post(i, Reason::Exit, Delta { points: -points, locked: -locked, cash: payout, coins: Fen::ZERO });
        let m = &mut self.members[i as usize];
        m.cycle_consumption_fen = Fen::ZERO;
        m.cycle_realized_fen = Fen::ZERO;
        m.exits += 1;
        self.totals.exits += 1;
        self.mark_reference();
    }
}
