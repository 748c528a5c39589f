//! Dense indexes for string ids.
//!
//! Ids are strings at the edge and dense `u32` indexes inside. [`IdMap`] keeps every id's bytes
//! in one arena and a hash table of indexes, about 20 bytes per id of up to 8 characters, so
//! millions of members and order ids stay cheap.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

/// A set of ids, each given the next dense index when first inserted.
#[derive(Default, Clone)]
pub struct IdMap {
    bytes: Vec<u8>,
    /// `start << 8 | len` of each id in `bytes`; ids are at most 64 bytes.
    spans: Vec<u64>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

fn span_of<'a>(bytes: &'a [u8], spans: &[u64], index: u32) -> &'a [u8] {
    let span = spans[index as usize];
    let start = (span >> 8) as usize;
    &bytes[start..start + (span & 0xff) as usize]
}

impl IdMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The index of `id`, if present.
    #[inline]
    pub fn get(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id.as_bytes());
        self.table
            .find(hash, |&i| {
                span_of(&self.bytes, &self.spans, i) == id.as_bytes()
            })
            .copied()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Inserts `id` (at most 255 bytes) and returns its new index; `Err(index)` if present.
    pub fn insert(&mut self, id: &str) -> Result<u32, u32> {
        assert!(id.len() <= 255, "ids are at most 64 bytes");
        let hash = self.hasher.hash_one(id.as_bytes());
        let Self {
            bytes,
            spans,
            table,
            hasher,
        } = self;
        if let Some(&i) = table.find(hash, |&i| span_of(bytes, spans, i) == id.as_bytes()) {
            return Err(i);
        }
        let index = u32::try_from(spans.len()).expect("fewer than 2^32 ids");
        spans.push(((bytes.len() as u64) << 8) | id.len() as u64);
        bytes.extend_from_slice(id.as_bytes());
        table.insert_unique(hash, index, |&i| hasher.hash_one(span_of(bytes, spans, i)));
        Ok(index)
    }

    /// The id with this index.
    pub fn name(&self, index: u32) -> &str {
        // Only whole `&str`s are ever pushed, so every span is valid UTF-8.
        std::str::from_utf8(span_of(&self.bytes, &self.spans, index)).expect("ids are UTF-8")
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.spans.capacity() * 8 + self.table.capacity() * 5
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
        assert_eq!(m.name(10_001), "id9999");
        assert_eq!(m.get("zz"), None);
        assert_eq!(m.len(), 10_002);
    }
}
