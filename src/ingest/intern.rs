//! String ids <-> dense `u32` indices, with all names in one arena (no `String` per id).

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Dense index of a customer in an [`EventStore`](super::EventStore).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[repr(transparent)]
pub struct CustomerIdx(pub u32);

/// Dense index of an item in an [`EventStore`](super::EventStore).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[repr(transparent)]
pub struct ItemIdx(pub u32);

impl CustomerIdx {
    /// The index as `usize`, for slicing per-customer arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl ItemIdx {
    /// The index as `usize`, for slicing per-item arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Interns strings to dense ids `0..len()` in **first-seen order**.
///
/// Names live back to back in one `String`; the hash table stores only ids and hashes the
/// arena slice, so a million ids cost about their bytes plus 12 bytes each.
#[derive(Clone, Default)]
pub struct Interner {
    /// Names back to back; only whole `&str`s are ever appended, so every name range is
    /// valid UTF-8. Bytes (not `String`) so lookups compare without char-boundary checks.
    arena: Vec<u8>,
    /// `ends[i]` is the end of name `i` in `arena` (its start is `ends[i - 1]`, or 0).
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.ends == other.ends && self.arena == other.arena
    }
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// Interns names in order; duplicates keep their first id.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut interner = Self::new();
        for name in names {
            interner.intern(name);
        }
        interner
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when nothing has been interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The name of id `id`, or `None` when out of range.
    pub fn name(&self, id: u32) -> Option<&str> {
        if id as usize >= self.ends.len() {
            return None;
        }
        let bytes = Self::bytes_of(&self.arena, &self.ends, id);
        // Never fails: see `arena`. Checked rather than unsafe; names are short.
        std::str::from_utf8(bytes).ok()
    }

    /// True when `id` exists and its name is `name` (no UTF-8 re-validation).
    pub fn is(&self, id: u32, name: &str) -> bool {
        (id as usize) < self.ends.len()
            && Self::same(Self::bytes_of(&self.arena, &self.ends, id), name.as_bytes())
    }

    /// Byte equality for short ids without a libc `memcmp` call (ids are mostly < 24
    /// bytes and compared several times per row).
    #[inline]
    fn same(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        if a.len() > 32 {
            return a == b;
        }
        let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
        for (x, y) in ca.by_ref().zip(cb.by_ref()) {
            let word = |c: &[u8]| {
                u64::from_ne_bytes(c.try_into().expect("chunks_exact(8) yields 8 bytes"))
            };
            if word(x) != word(y) {
                return false;
            }
        }
        ca.remainder()
            .iter()
            .zip(cb.remainder())
            .all(|(x, y)| x == y)
    }

    #[inline]
    fn bytes_of<'a>(arena: &'a [u8], ends: &[usize], i: u32) -> &'a [u8] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { ends[i - 1] };
        &arena[start..ends[i]]
    }

    /// The id of `name`, if it was interned.
    pub fn get(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name.as_bytes());
        self.table
            .find(hash, |&id| {
                Self::same(Self::bytes_of(&self.arena, &self.ends, id), name.as_bytes())
            })
            .copied()
    }

    /// The id of `name`, interning it if new. Panics only past `u32::MAX` names, which the
    /// store refuses earlier (it cannot hold that many events).
    pub fn intern(&mut self, name: &str) -> u32 {
        let bytes = name.as_bytes();
        let hash = self.hasher.hash_one(bytes);
        let (arena, ends) = (&self.arena, &self.ends);
        if let Some(&id) = self.table.find(hash, |&id| {
            Self::same(Self::bytes_of(arena, ends, id), bytes)
        }) {
            return id;
        }
        let id = u32::try_from(self.ends.len()).expect("fewer than 2^32 distinct ids");
        self.arena.extend_from_slice(bytes);
        self.ends.push(self.arena.len());
        let (arena, ends, hasher) = (&self.arena, &self.ends, &self.hasher);
        self.table.insert_unique(hash, id, |&other| {
            hasher.hash_one(Self::bytes_of(arena, ends, other))
        });
        id
    }

    /// All names in id order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len() as u32).map(|i| self.name(i).unwrap_or_default())
    }

    /// Bytes held by names, ends and table (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.ends.capacity() * std::mem::size_of::<usize>()
            + self.table.capacity() * (std::mem::size_of::<u32>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_in_first_seen_order_and_round_trip() {
        let mut i = Interner::new();
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern("a"), 1);
        assert_eq!(i.intern("b"), 0);
        assert_eq!(i.intern(""), 2);
        assert_eq!(i.len(), 3);
        assert_eq!(i.get("a"), Some(1));
        assert_eq!(i.get("c"), None);
        assert_eq!(i.name(0), Some("b"));
        assert_eq!(i.name(2), Some(""));
        assert_eq!(i.name(3), None);
        assert!(i.is(1, "a") && !i.is(1, "b") && !i.is(3, "a"));
        assert_eq!(i.intern("é"), 3);
        assert_eq!(i.name(3), Some("é"));
        assert_eq!(i.iter().collect::<Vec<_>>(), ["b", "a", "", "é"]);
    }

    #[test]
    fn short_and_long_names_compare_exactly() {
        let long = "x".repeat(40);
        let names = ["", "a", "abcdefgh", "abcdefgi", "abcdefghX", long.as_str()];
        let i = Interner::from_names(names);
        for (k, n) in names.iter().enumerate() {
            for (j, m) in names.iter().enumerate() {
                assert_eq!(i.is(k as u32, m), k == j, "{n:?} vs {m:?}");
            }
        }
    }

    #[test]
    fn survives_growth_with_many_names() {
        let names: Vec<String> = (0..50_000).map(|k| format!("id-{k}")).collect();
        let i = Interner::from_names(names.iter().map(String::as_str));
        assert_eq!(i.len(), names.len());
        for (k, n) in names.iter().enumerate() {
            assert_eq!(i.get(n), Some(k as u32));
            assert_eq!(i.name(k as u32), Some(n.as_str()));
        }
        // Prefixes of stored names share arena bytes but are distinct ids.
        assert_eq!(i.get("id-1"), Some(1));
        assert_eq!(i.get("id-"), None);
    }
}
