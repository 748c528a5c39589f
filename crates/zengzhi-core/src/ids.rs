//! Dense indexes for string ids.
//!
//! Ids are strings at the edge and dense `u32` indexes inside. [`IdMap`] keeps one 8-byte word
//! per id: ids of up to 8 ASCII characters are packed into the word itself (7 bits a
//! character), so looking one up touches the hash table and that word only; longer ids live in
//! a byte arena the word points into. The table holds `u32` indexes. About 14 bytes per short
//! id in all, so millions of members and order ids stay cheap.

use std::hash::BuildHasher;
use std::ops::Deref;

use hashbrown::{DefaultHashBuilder, HashTable};

/// Flag of a packed (inline) word.
const INLINE: u64 = 1 << 63;

/// The inline word of `id`, if it has at most 8 ASCII bytes.
#[inline]
fn pack(id: &[u8]) -> Option<u64> {
    if id.len() > 8 || !id.is_ascii() {
        return None;
    }
    let mut word = INLINE | (id.len() as u64) << 56;
    for (i, &b) in id.iter().enumerate() {
        word |= u64::from(b) << (7 * i);
    }
    Some(word)
}

/// A set of ids, each given the next dense index when first inserted.
///
/// The table slots carry the id's word beside its index, so a lookup of a short id touches the
/// table only; `words` maps an index back to its id.
#[derive(Default, Clone)]
pub struct IdMap {
    arena: Vec<u8>,
    /// Per id: the inline word, or `start << 8 | len` into `arena`.
    words: Vec<u64>,
    table: HashTable<(u64, u32)>,
    hasher: DefaultHashBuilder,
}

#[inline]
fn matches(arena: &[u8], word: u64, id: &[u8], packed: Option<u64>) -> bool {
    match packed {
        Some(p) => word == p,
        None => {
            word & INLINE == 0 && {
                let start = (word >> 8) as usize;
                arena.get(start..start + (word & 0xff) as usize) == Some(id)
            }
        }
    }
}

/// An id read back from an [`IdMap`]; dereferences to `&str`.
pub struct IdName<'a> {
    inline: [u8; 8],
    len: u8,
    arena: Option<&'a str>,
}

impl Deref for IdName<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self.arena {
            Some(s) => s,
            // Only ASCII is packed.
            None => std::str::from_utf8(&self.inline[..self.len as usize]).expect("packed ids are ASCII"),
        }
    }
}

impl std::fmt::Display for IdName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl IdMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The hash of `id` in this map, to look up and insert with one hashing.
    #[inline]
    pub fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id.as_bytes())
    }

    /// The index of `id` with its [`hash`](Self::hash), if present.
    #[inline]
    pub fn get_hashed(&self, hash: u64, id: &str) -> Option<u32> {
        let packed = pack(id.as_bytes());
        self.table.find(hash, |&(word, _)| matches(&self.arena, word, id.as_bytes(), packed)).map(|&(_, i)| i)
    }

    /// The index of `id`, if present.
    #[inline]
    pub fn get(&self, id: &str) -> Option<u32> {
        self.get_hashed(self.hash(id), id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Inserts `id`, known to be absent, with its hash; returns its index.
    pub fn insert_new_hashed(&mut self, hash: u64, id: &str) -> u32 {
        debug_assert!(self.get_hashed(hash, id).is_none());
        assert!(id.len() <= 255, "ids are at most 64 bytes");
        let index = u32::try_from(self.words.len()).expect("fewer than 2^32 ids");
        let word = pack(id.as_bytes()).unwrap_or_else(|| {
            let start = self.arena.len() as u64;
            self.arena.extend_from_slice(id.as_bytes());
            start << 8 | id.len() as u64
        });
        self.words.push(word);
        let Self { arena, table, hasher, .. } = self;
        table.insert_unique(hash, (word, index), |&(w, _)| hasher.hash_one(name_bytes(arena, w).as_slice()));
        index
    }

    /// Inserts `id` and returns its new index; `Err(index)` if it is present.
    pub fn insert(&mut self, id: &str) -> Result<u32, u32> {
        let hash = self.hash(id);
        match self.get_hashed(hash, id) {
            Some(i) => Err(i),
            None => Ok(self.insert_new_hashed(hash, id)),
        }
    }

    /// The id with this index.
    pub fn name(&self, index: u32) -> IdName<'_> {
        let word = self.words[index as usize];
        if word & INLINE != 0 {
            let len = ((word >> 56) & 0xf) as u8;
            let mut inline = [0u8; 8];
            for (i, b) in inline.iter_mut().enumerate().take(len as usize) {
                *b = ((word >> (7 * i)) & 0x7f) as u8;
            }
            IdName { inline, len, arena: None }
        } else {
            let start = (word >> 8) as usize;
            let bytes = &self.arena[start..start + (word & 0xff) as usize];
            // Only whole `&str`s are pushed into the arena.
            IdName { inline: [0; 8], len: 0, arena: Some(std::str::from_utf8(bytes).expect("ids are UTF-8")) }
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.words.capacity() * 8 + self.table.capacity() * 17
    }
}

/// Shards of an [`IdSet`]: a power of two. Each shard grows on its own, so the pause of a
/// table doubling (every id in it re-hashed) is one shard's, a 64th of the set, not the set's:
/// with 10,000,000 order ids, about 156,000 re-hashed at a time instead of millions.
const SET_SHARDS: usize = 64;

/// The shard of a hash: bits 40..46, clear of the low bits the table's buckets use and the top
/// seven its control bytes use, so ids in one shard still spread over its whole table.
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 40) as usize & (SET_SHARDS - 1)
}

/// One shard of an [`IdSet`]: its ids' words, long ids in its own arena.
#[derive(Default, Clone)]
struct SetShard {
    arena: Vec<u8>,
    table: HashTable<u64>,
}

/// A set of ids without indexes (order and campaign ids): one word per id, in the table of its
/// shard (see [`SET_SHARDS`]).
#[derive(Clone)]
pub struct IdSet {
    shards: Box<[SetShard]>,
    hasher: DefaultHashBuilder,
    len: usize,
}

impl Default for IdSet {
    fn default() -> Self {
        Self { shards: vec![SetShard::default(); SET_SHARDS].into_boxed_slice(), hasher: Default::default(), len: 0 }
    }
}

impl IdSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash of `id` in this set, to look up and insert with one hashing.
    #[inline]
    pub fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id.as_bytes())
    }

    #[inline]
    pub fn contains_hashed(&self, hash: u64, id: &str) -> bool {
        let packed = pack(id.as_bytes());
        let shard = &self.shards[shard_of(hash)];
        shard.table.find(hash, |&word| matches(&shard.arena, word, id.as_bytes(), packed)).is_some()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.contains_hashed(self.hash(id), id)
    }

    /// Inserts `id`, known to be absent, with its hash.
    pub fn insert_new_hashed(&mut self, hash: u64, id: &str) {
        debug_assert!(!self.contains_hashed(hash, id));
        assert!(id.len() <= 255, "ids are at most 64 bytes");
        let SetShard { arena, table } = &mut self.shards[shard_of(hash)];
        let word = pack(id.as_bytes()).unwrap_or_else(|| {
            let start = arena.len() as u64;
            arena.extend_from_slice(id.as_bytes());
            start << 8 | id.len() as u64
        });
        let hasher = &self.hasher;
        table.insert_unique(hash, word, |&w| hasher.hash_one(name_bytes(arena, w).as_slice()));
        self.len += 1;
    }

    /// Inserts `id`; `false` if it was present.
    pub fn insert(&mut self, id: &str) -> bool {
        let hash = self.hash(id);
        if self.contains_hashed(hash, id) {
            return false;
        }
        self.insert_new_hashed(hash, id);
        true
    }

    /// Calls `f` with every id, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for shard in &self.shards {
            for &word in &shard.table {
                f(name_bytes(&shard.arena, word).as_slice());
            }
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.arena.capacity() + s.table.capacity() * 9).sum::<usize>()
            + self.shards.len() * std::mem::size_of::<SetShard>()
    }

    /// The number of ids in each shard (for tests of the spread).
    #[cfg(test)]
    fn shard_lens(&self) -> Vec<usize> {
        self.shards.iter().map(|s| s.table.len()).collect()
    }
}

/// The bytes of an id word, for re-hashing when the table grows.
fn name_bytes(arena: &[u8], word: u64) -> NameBytes<'_> {
    if word & INLINE != 0 {
        let len = ((word >> 56) & 0xf) as usize;
        let mut inline = [0u8; 8];
        for (i, b) in inline.iter_mut().enumerate().take(len) {
            *b = ((word >> (7 * i)) & 0x7f) as u8;
        }
        NameBytes::Inline(inline, len)
    } else {
        let start = (word >> 8) as usize;
        NameBytes::Arena(&arena[start..start + (word & 0xff) as usize])
    }
}

enum NameBytes<'a> {
    Inline([u8; 8], usize),
    Arena(&'a [u8]),
}

impl NameBytes<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            NameBytes::Inline(b, len) => &b[..*len],
            NameBytes::Arena(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_unique() {
        let mut m = IdMap::new();
        assert_eq!(m.insert("a"), Ok(0));
        assert_eq!(m.insert("bb"), Ok(1));
        assert_eq!(m.insert("a"), Err(0));
        for i in 0..10_000 {
            m.insert(&format!("id{i}")).unwrap();
        }
        assert_eq!(m.get("bb"), Some(1));
        assert_eq!(m.get("id9999"), Some(10_001));
        assert_eq!(&*m.name(10_001), "id9999");
        assert_eq!(m.get("zz"), None);
        assert_eq!(m.len(), 10_002);
    }

    #[test]
    fn short_and_long_ids_do_not_collide() {
        let mut m = IdMap::new();
        let ids = ["", "a", "abcdefgh", "abcdefghi", "abcdefgh\u{e9}", "x".repeat(64).leak(), "A-b.c:d_", "\u{e9}"];
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(m.insert(id), Ok(n as u32), "{id}");
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(m.get(id), Some(n as u32), "{id}");
            assert_eq!(&*m.name(n as u32), *id);
        }
        assert_eq!(m.get("abcdefg"), None);
        let mut set = IdSet::new();
        for id in ids {
            assert!(set.insert(id), "{id}");
        }
        for id in ids {
            assert!(set.contains(id) && !set.insert(id), "{id}");
        }
        assert!(!set.contains("abcdefg") && set.len() == ids.len());
        assert_eq!(m.get("abcdefgh\0"), None);
    }

    #[test]
    fn the_set_spreads_over_its_shards() {
        let mut set = IdSet::new();
        for i in 0..64_000 {
            assert!(set.insert(&format!("order-{i}")));
        }
        let lens = set.shard_lens();
        assert_eq!(lens.iter().sum::<usize>(), 64_000);
        // 1,000 expected per shard; a shard bit the hash did not vary would leave some empty.
        assert!(lens.iter().all(|&n| (700..1300).contains(&n)), "{lens:?}");
    }

    proptest::proptest! {
        /// Every id inserted stays in the set across the growth of its shards, nothing else is
        /// in it, and iteration yields each exactly once.
        #[test]
        fn the_set_keeps_every_id_across_resizes(ids in proptest::collection::vec("[a-z0-9_.:-]{0,20}", 0..3000)) {
            let mut set = IdSet::new();
            let mut model = std::collections::BTreeSet::new();
            for id in &ids {
                proptest::prop_assert_eq!(set.insert(id), model.insert(id.clone()));
            }
            proptest::prop_assert_eq!(set.len(), model.len());
            for id in &model {
                proptest::prop_assert!(set.contains(id));
            }
            proptest::prop_assert!(!set.contains("not-inserted-because-too-long-for-the-strategy"));
            let mut seen = Vec::new();
            set.for_each(|b| seen.push(String::from_utf8(b.to_vec()).unwrap()));
            seen.sort();
            proptest::prop_assert_eq!(seen, model.into_iter().collect::<Vec<_>>());
        }
    }
}
