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
            return if a_neg { Ordering::Less } else { Ordering::Greater };
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
/// Location of a member that is not indexed.
pub const NOWHERE: u32 = u32::MAX;
/// Location of a member in the hot tree.
pub const HOT: u32 = u32::MAX - 1;

/// The bucket of `q = ⌊t · 2^32⌋`: monotone (non-decreasing) in `q`.
fn bucket_of_q(q: u128) -> usize {
    if q == 0 {
        return 0;
    }
    let pos = 127 - q.leading_zeros() as usize;
    let mantissa = if pos >= 3 { (q >> (pos - 3)) & 7 } else { (q << (3 - pos)) & 7 } as usize;
    1 + pos * 8 + mantissa
}

/// The smallest `q` in bucket `b` or above (`b ≥ 1`), saturating past the last bucket.
fn min_q(b: usize) -> u128 {
    if b >= BUCKETS {
        return u128::MAX;
    }
    let (pos, mantissa) = ((b - 1) / 8, ((b - 1) % 8) as u128);
    if pos >= 3 {
        return (8 + mantissa) << (pos - 3);
    }
    (1..16).find(|&q| bucket_of_q(q) >= b).unwrap_or(16)
}

/// A monotone (non-decreasing) coarse bucket of the fraction `num / den` (`den > 0`).
/// `num` is below 2^72, so `num · 2^32` fits in 128 bits.
pub fn bucket(num: i128, den: i64) -> usize {
    if num <= 0 || den <= 0 {
        return 0;
    }
    bucket_of_q(((num as u128) << 32) / den as u128)
}

/// Where the index keeps each member's place, and how it reads a member's key. The engine
/// keeps places inside its member records, so moving a member touches one cache line.
pub trait Places {
    /// `(NOWHERE | HOT | cold bucket, position in that bucket)`.
    fn place(&self, member: u32) -> (u32, u32);
    fn set_place(&mut self, member: u32, place: u32, pos: u32);
    /// The member's current key (only asked of indexed members).
    fn key(&self, member: u32) -> TriggerKey;
}

/// Members ordered by trigger price; see the module documentation.
#[derive(Clone)]
pub struct ExitIndex {
    hot: BTreeSet<HotEntry>,
    cold: Vec<Vec<u32>>,
    price_bucket: usize,
    /// `min_q(price_bucket + 1)`: the price must reach this before any bucket moves.
    next_q: u128,
}

impl Default for ExitIndex {
    fn default() -> Self {
        ExitIndex { hot: BTreeSet::new(), cold: vec![Vec::new(); BUCKETS], price_bucket: 0, next_q: min_q(1) }
    }
}

impl ExitIndex {
    /// Indexes `member` under `key` (`None`: the member cannot trigger, not indexed).
    pub fn insert(&mut self, places: &mut impl Places, member: u32, key: Option<TriggerKey>) {
        debug_assert_eq!(places.place(member).0, NOWHERE);
        let Some(key) = key else { return };
        let b = if key.den == 0 { 0 } else { bucket(key.num, key.den) };
        if b <= self.price_bucket {
            self.hot.insert(HotEntry { key, member });
            places.set_place(member, HOT, 0);
        } else {
            places.set_place(member, b as u32, self.cold[b].len() as u32);
            self.cold[b].push(member);
        }
    }

    /// Removes `member`, whose key must be the one it was inserted under.
    pub fn remove(&mut self, places: &mut impl Places, member: u32, key: Option<TriggerKey>) {
        match places.place(member) {
            (NOWHERE, _) => return,
            (HOT, _) => {
                let removed = key.is_some_and(|key| self.hot.remove(&HotEntry { key, member }));
                assert!(removed, "exit index out of step with member {member}");
            }
            (b, p) => {
                let bucket = &mut self.cold[b as usize];
                bucket.swap_remove(p as usize);
                if let Some(&moved) = bucket.get(p as usize) {
                    places.set_place(moved, b, p);
                }
            }
        }
        places.set_place(member, NOWHERE, 0);
    }

    /// Tells the index the current price `pool / supply`; buckets the price has reached move to
    /// the hot tree. Costs two multiplications unless a bucket boundary was crossed.
    pub fn advance_price(&mut self, places: &mut impl Places, pool: i64, supply: i64) {
        if supply <= 0 || pool <= 0 {
            return;
        }
        // ⌊pool · 2^32 / supply⌋ ≥ next_q  ⇔  pool · 2^32 ≥ next_q · supply.
        let scaled = (0u128, (pool as u128) << 32);
        if self.next_q == u128::MAX || scaled < wide_mul(self.next_q, supply as u64) {
            return;
        }
        let target = bucket(i128::from(pool), supply);
        while self.price_bucket < target {
            self.price_bucket += 1;
            for member in std::mem::take(&mut self.cold[self.price_bucket]) {
                self.hot.insert(HotEntry { key: places.key(member), member });
                places.set_place(member, HOT, 0);
            }
        }
        self.next_q = min_q(self.price_bucket + 1);
    }

    /// The member that would move into position `pos` of cold bucket `place` if the member
    /// there were removed (for cache warming only).
    pub fn cold_tail(&self, place: u32, pos: u32) -> Option<u32> {
        let bucket = self.cold.get(place as usize)?;
        // Read the slot being vacated too: removal writes it.
        let _ = std::hint::black_box(bucket.get(pos as usize));
        bucket.last().copied()
    }

    /// The member with the smallest trigger key among those that may trigger, with its key.
    pub fn first(&self) -> Option<(u32, TriggerKey)> {
        self.hot.first().map(|e| (e.member, e.key))
    }

    /// Forgets every member's place (keeps the price bucket); re-insert them after.
    pub fn clear(&mut self, places: &mut impl Places) {
        for e in std::mem::take(&mut self.hot) {
            places.set_place(e.member, NOWHERE, 0);
        }
        for bucket in &mut self.cold {
            for &m in bucket.iter() {
                places.set_place(m, NOWHERE, 0);
            }
            bucket.clear();
        }
    }

    /// Members in the exactly ordered part.
    pub fn hot_len(&self) -> usize {
        self.hot.len()
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.cold.iter().map(|b| b.capacity() * 4).sum::<usize>() + self.hot.len() * 48
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

    struct Table {
        places: Vec<(u32, u32)>,
        keys: Vec<TriggerKey>,
    }

    impl Places for Table {
        fn place(&self, m: u32) -> (u32, u32) {
            self.places[m as usize]
        }
        fn set_place(&mut self, m: u32, place: u32, pos: u32) {
            self.places[m as usize] = (place, pos);
        }
        fn key(&self, m: u32) -> TriggerKey {
            self.keys[m as usize]
        }
    }

    #[test]
    fn min_q_is_the_bucket_boundary() {
        for b in 1..BUCKETS - 1 {
            let q = min_q(b);
            assert!(bucket_of_q(q) >= b && bucket_of_q(q - 1) < b, "bucket {b}: q {q}");
        }
    }

    #[test]
    fn hot_and_cold() {
        let keys = vec![k(10, 1), k(1, 2), k(3, 1)];
        let mut t = Table { places: vec![(NOWHERE, 0); 3], keys: keys.clone() };
        let mut ix = ExitIndex::default();
        ix.advance_price(&mut t, 100, 100); // price 1
        ix.insert(&mut t, 0, Some(keys[0])); // trigger price 10: cold
        ix.insert(&mut t, 1, Some(keys[1])); // 0.5: hot
        ix.insert(&mut t, 2, Some(keys[2]));
        assert_eq!(ix.first().map(|f| f.0), Some(1));
        ix.remove(&mut t, 1, Some(keys[1]));
        assert_eq!(ix.first(), None);
        ix.advance_price(&mut t, 400, 100);
        assert_eq!(ix.first().map(|f| f.0), Some(2));
        ix.remove(&mut t, 0, Some(keys[0]));
        ix.advance_price(&mut t, 10_000, 100);
        assert_eq!(ix.first().map(|f| f.0), Some(2));
        assert_eq!(ix.hot_len(), 1);
        assert_eq!(t.places[0].0, NOWHERE);
    }
}
