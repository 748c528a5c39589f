//! The exit-cascade index: members ordered by trigger price, without a scan per operation.
//!
//! A member in a cycle triggers when `R + ⌊h · pool / supply⌋ ≥ K` (h = points + locked), which
//! for integers is `pool / supply ≥ (K − R) / h`: the member's **trigger price**. The next member
//! to exit is the one with the smallest trigger price (SPEC §6).
//!
//! Keeping every member in one ordered tree costs a re-key per order. Instead members are split
//! by a coarse, monotone bucket of their trigger price (eight buckets per doubling):
//! - **cold**: bucket above the price's bucket. Such a member's trigger price is strictly above
//!   the current price, so it cannot trigger; it sits in an unordered `Vec` per bucket and moves
//!   in O(1).
//! - **hot**: bucket at or below the price's bucket, in an exactly ordered tree.
//!
//! As the price rises into a bucket, that bucket's members move to the hot tree. The price never
//! falls (SPEC §7.1), so each member crosses at most once per re-key.

use std::cmp::Ordering;
use std::collections::BTreeSet;

/// `(K − R) / h` as an exact fraction; `den == 0` means minus infinity (no points left and
/// `R ≥ K`: exits first, SPEC §10).
#[derive(Debug, Clone, Copy)]
pub struct TriggerKey {
    pub num: i128,
    pub den: i64,
}

/// `n · d` as a 256-bit magnitude (hi, lo), for `n < 2^127`, `d < 2^64`.
fn wide_mul(n: u128, d: u64) -> (u128, u128) {
    let d = u128::from(d);
    let p0 = (n & u128::from(u64::MAX)) * d;
    let p1 = (n >> 64) * d;
    let lo = p0.wrapping_add(p1 << 64);
    let hi = (p1 >> 64) + u128::from(lo < p0);
    (hi, lo)
}

impl Ord for TriggerKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.den == 0, other.den == 0) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (a_neg, b_neg) = (self.num < 0, other.num < 0);
        if a_neg != b_neg {
            return if a_neg {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        // Compare |a.num| · b.den with |b.num| · a.den; reversed when both are negative.
        let left = wide_mul(self.num.unsigned_abs(), other.den as u64);
        let right = wide_mul(other.num.unsigned_abs(), self.den as u64);
        let magnitude = left.cmp(&right);
        if a_neg {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialEq for TriggerKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for TriggerKey {}

impl PartialOrd for TriggerKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Hot-tree entry: by key, then by registration order (the member index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct HotEntry {
    key: TriggerKey,
    member: u32,
}

/// Number of buckets: eight per binary order of magnitude of `⌊t · 2^32⌋`, 128 bits.
const BUCKETS: usize = 1 + 128 * 8;
const NOWHERE: u32 = u32::MAX;
const HOT: u32 = u32::MAX - 1;

/// A monotone (non-decreasing) coarse bucket of the fraction `num / den` (`den > 0`).
/// `num` is below 2^72, so `num · 2^32` fits in 128 bits.
pub fn bucket(num: i128, den: i64) -> usize {
    if num <= 0 || den <= 0 {
        return 0;
    }
    let q = ((num as u128) << 32) / den as u128;
    if q == 0 {
        return 0;
    }
    let pos = 127 - q.leading_zeros() as usize;
    let mantissa = if pos >= 3 {
        (q >> (pos - 3)) & 7
    } else {
        (q << (3 - pos)) & 7
    } as usize;
    1 + pos * 8 + mantissa
}

/// Members ordered by trigger price; see the module documentation.
#[derive(Clone)]
pub struct ExitIndex {
    hot: BTreeSet<HotEntry>,
    cold: Vec<Vec<u32>>,
    /// Per member: `NOWHERE`, `HOT`, or the cold bucket.
    where_: Vec<u32>,
    /// Per member: position inside its cold bucket.
    pos: Vec<u32>,
    price_bucket: usize,
}

impl Default for ExitIndex {
    fn default() -> Self {
        ExitIndex {
            hot: BTreeSet::new(),
            cold: vec![Vec::new(); BUCKETS],
            where_: Vec::new(),
            pos: Vec::new(),
            price_bucket: 0,
        }
    }
}

impl ExitIndex {
    /// Makes room for one more member (not indexed yet).
    pub fn push_member(&mut self) {
        self.where_.push(NOWHERE);
        self.pos.push(0);
    }

    /// Indexes `member` under `key` (`None`: the member cannot trigger, not indexed).
    pub fn insert(&mut self, member: u32, key: Option<TriggerKey>) {
        debug_assert_eq!(self.where_[member as usize], NOWHERE);
        let Some(key) = key else { return };
        let b = if key.den == 0 {
            0
        } else {
            bucket(key.num, key.den)
        };
        if b <= self.price_bucket {
            self.hot.insert(HotEntry { key, member });
            self.where_[member as usize] = HOT;
        } else {
            self.pos[member as usize] = self.cold[b].len() as u32;
            self.cold[b].push(member);
            self.where_[member as usize] = b as u32;
        }
    }

    /// Removes `member`, whose key must be the one it was inserted under.
    pub fn remove(&mut self, member: u32, key: Option<TriggerKey>) {
        let m = member as usize;
        match self.where_[m] {
            NOWHERE => {}
            HOT => {
                let removed = key.is_some_and(|key| self.hot.remove(&HotEntry { key, member }));
                assert!(removed, "exit index out of step with member {member}");
            }
            b => {
                let bucket = &mut self.cold[b as usize];
                let p = self.pos[m] as usize;
                bucket.swap_remove(p);
                if let Some(&moved) = bucket.get(p) {
                    self.pos[moved as usize] = p as u32;
                }
            }
        }
        self.where_[m] = NOWHERE;
    }

    /// Tells the index the current price `pool / supply`; buckets the price has reached move to
    /// the hot tree. `key_of` gives a member's current key.
    pub fn advance_price(&mut self, pool: i64, supply: i64, key_of: impl Fn(u32) -> TriggerKey) {
        if supply <= 0 {
            return;
        }
        let target = bucket(i128::from(pool), supply);
        while self.price_bucket < target {
            self.price_bucket += 1;
            for member in std::mem::take(&mut self.cold[self.price_bucket]) {
                self.hot.insert(HotEntry {
                    key: key_of(member),
                    member,
                });
                self.where_[member as usize] = HOT;
            }
        }
    }

    /// The member with the smallest trigger price among those that may trigger.
    pub fn first(&self) -> Option<u32> {
        self.hot.first().map(|e| e.member)
    }

    /// Forgets every member's place (keeps the price bucket); re-insert them after.
    pub fn clear(&mut self) {
        self.hot.clear();
        self.cold.iter_mut().for_each(Vec::clear);
        self.where_.iter_mut().for_each(|w| *w = NOWHERE);
    }

    /// Members in the exactly ordered part.
    pub fn hot_len(&self) -> usize {
        self.hot.len()
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.where_.capacity() * 8
            + self.cold.iter().map(|b| b.capacity() * 4).sum::<usize>()
            + self.hot.len() * 48
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(num: i128, den: i64) -> TriggerKey {
        TriggerKey { num, den }
    }

    #[test]
    fn key_order_is_exact() {
        assert!(k(1, 3) < k(1, 2));
        assert_eq!(k(2, 4), k(1, 2));
        assert!(k(-5, 1) < k(-1, 1));
        assert!(k(-1, 1) < k(0, 1));
        assert!(k(5, 0) < k(-1_000, 1));
        // Products beyond 128 bits.
        let big = 1i128 << 70;
        assert!(k(big, i64::MAX) < k(big + 1, i64::MAX));
        assert!(k(big, i64::MAX - 1) > k(big, i64::MAX));
        assert!(k(-big, i64::MAX - 1) < k(-big, i64::MAX));
    }

    #[test]
    fn bucket_is_monotone() {
        let mut last = 0;
        for num in (1..5000i128).chain([1 << 40, 1 << 60, (1 << 71) - 1]) {
            let b = bucket(num, 977);
            assert!(b >= last);
            last = b;
        }
        assert!(bucket(1 << 71, 1) < BUCKETS);
        assert_eq!(bucket(-3, 7), 0);
    }

    #[test]
    fn hot_and_cold() {
        let mut ix = ExitIndex::default();
        for _ in 0..3 {
            ix.push_member();
        }
        ix.advance_price(100, 100, |_| unreachable!()); // price 1
        ix.insert(0, Some(k(10, 1))); // trigger price 10: cold
        ix.insert(1, Some(k(1, 2))); // 0.5: hot
        ix.insert(2, Some(k(3, 1)));
        assert_eq!(ix.first(), Some(1));
        ix.remove(1, Some(k(1, 2)));
        assert_eq!(ix.first(), None);
        let keys = [k(10, 1), k(1, 2), k(3, 1)];
        ix.advance_price(400, 100, |m| keys[m as usize]);
        assert_eq!(ix.first(), Some(2));
        ix.remove(0, Some(k(10, 1)));
        ix.advance_price(10_000, 100, |m| keys[m as usize]);
        assert_eq!(ix.first(), Some(2));
        assert_eq!(ix.hot_len(), 1);
    }
}
