//! Erased customers without their ids: a keyed hash stands in for the id wherever an
//! erasure must be remembered on disk (the event journal), so the journal can keep
//! excluding a customer from replay and retraining without holding who they were.
//!
//! The hash is SipHash-2-4 with its 128-bit output (a keyed pseudo-random function, the
//! reference algorithm checked against its published test vectors below), under a random
//! 128-bit key that each journal keeps next to its segments. Anyone holding the journal
//! directory (and so its key) can test whether a given id was erased, but cannot list the
//! erased ids or recover anything else about them.

use std::collections::HashSet;

/// What an erasure record keeps of a customer id: its keyed hash.
pub type CustomerHash = [u8; 16];

/// A 128-bit SipHash key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ErasureKey([u8; 16]);

impl std::fmt::Debug for ErasureKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key printed in a log or panic would let the log's readers test ids.
        f.write_str("ErasureKey(..)")
    }
}

impl ErasureKey {
    /// The key with these bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> ErasureKey {
        ErasureKey(bytes)
    }

    /// The key's bytes (for storing it).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> std::io::Result<ErasureKey> {
        use std::io::Read;
        let mut bytes = [0u8; 16];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(ErasureKey(bytes))
    }

    /// The keyed hash of a customer id.
    pub fn hash(&self, customer_id: &str) -> CustomerHash {
        let (a, b) = siphash24(&self.0, customer_id.as_bytes(), true);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..].copy_from_slice(&b.to_le_bytes());
        out
    }
}

/// SipHash-2-4 of `msg` under `key`: the 64-bit tag in `.0`, or with `wide` the 128-bit tag
/// as two little-endian halves.
fn siphash24(key: &[u8; 16], msg: &[u8], wide: bool) -> (u64, u64) {
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let (k0, k1) = (word(&key[..8]), word(&key[8..]));
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    if wide {
        v[1] ^= 0xee;
    }
    let round = |v: &mut [u64; 4]| {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    };
    let mut blocks = msg.chunks_exact(8);
    for block in &mut blocks {
        let m = word(block);
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let last = word(blocks.remainder()) | ((msg.len() as u64 & 0xff) << 56);
    v[3] ^= last;
    round(&mut v);
    round(&mut v);
    v[0] ^= last;
    v[2] ^= if wide { 0xee } else { 0xff };
    for _ in 0..4 {
        round(&mut v);
    }
    let first = v[0] ^ v[1] ^ v[2] ^ v[3];
    if !wide {
        return (first, 0);
    }
    v[1] ^= 0xdd;
    for _ in 0..4 {
        round(&mut v);
    }
    (first, v[0] ^ v[1] ^ v[2] ^ v[3])
}

/// Customers to leave out: plain ids (the `erase` command, journals written before ids
/// were hashed) and keyed hashes (erasure records of current journals).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErasedSet {
    ids: HashSet<String>,
    hashes: HashSet<CustomerHash>,
    key: Option<ErasureKey>,
}

impl ErasedSet {
    /// An empty set whose hashes are taken under `key`.
    pub fn with_key(key: Option<ErasureKey>) -> ErasedSet {
        ErasedSet {
            key,
            ..ErasedSet::default()
        }
    }

    /// Adds a plain id.
    pub fn insert_id(&mut self, id: String) {
        match self.key {
            // One representation per customer, so `len` counts customers.
            Some(k) => {
                self.hashes.insert(k.hash(&id));
            }
            None => {
                self.ids.insert(id);
            }
        }
    }

    /// Adds a keyed hash (meaningful only with the key it was taken under).
    pub fn insert_hash(&mut self, hash: CustomerHash) {
        self.hashes.insert(hash);
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &str) -> bool {
        (!self.ids.is_empty() && self.ids.contains(id))
            || (!self.hashes.is_empty()
                && self.key.is_some_and(|k| self.hashes.contains(&k.hash(id))))
    }

    /// Whether a keyed hash is in the set.
    pub fn contains_hash(&self, hash: &CustomerHash) -> bool {
        self.hashes.contains(hash)
    }

    /// Number of erased customers.
    pub fn len(&self) -> usize {
        self.ids.len() + self.hashes.len()
    }

    /// Whether nobody is erased.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.hashes.is_empty()
    }

    /// The key hashes are taken under.
    pub fn key(&self) -> Option<ErasureKey> {
        self.key
    }
}

impl FromIterator<String> for ErasedSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        ErasedSet {
            ids: iter.into_iter().collect(),
            ..ErasedSet::default()
        }
    }
}

impl<const N: usize> From<[String; N]> for ErasedSet {
    fn from(ids: [String; N]) -> Self {
        ids.into_iter().collect()
    }
}

impl From<HashSet<String>> for ErasedSet {
    fn from(ids: HashSet<String>) -> Self {
        ErasedSet {
            ids,
            ..ErasedSet::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_key() -> [u8; 16] {
        std::array::from_fn(|i| i as u8)
    }

    fn message(n: usize) -> Vec<u8> {
        (0..n as u8).collect()
    }

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // vectors.h of the SipHash reference implementation: key 00..0f, message 00..(n-1).
        let k = reference_key();
        let wide = |n: usize| {
            let (a, b) = siphash24(&k, &message(n), true);
            let mut out = a.to_le_bytes().to_vec();
            out.extend_from_slice(&b.to_le_bytes());
            out
        };
        assert_eq!(
            wide(0),
            [
                0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55,
                0x02, 0x93
            ]
        );
        assert_eq!(
            wide(1),
            [
                0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22,
                0xfc, 0x45
            ]
        );
        assert_eq!(
            wide(4),
            [
                0xf8, 0x81, 0x64, 0xc1, 0x2d, 0x9c, 0x8f, 0xaf, 0x7d, 0x0f, 0x6e, 0x7c, 0x7b, 0xcd,
                0x55, 0x79
            ]
        );
        // The 64-bit tags cover messages of whole and partial 8-byte blocks.
        let narrow = |n: usize| siphash24(&k, &message(n), false).0;
        assert_eq!(narrow(0), 0x726f_db47_dd0e_0e31);
        assert_eq!(narrow(8), 0x93f5_f579_9a93_2462);
        assert_eq!(narrow(15), 0xa129_ca61_49be_45e5);
        assert_eq!(narrow(63), 0x958a_324c_eb06_4572);
    }

    #[test]
    fn sets_match_plain_ids_and_hashes_under_their_key() {
        let key = ErasureKey::from_bytes(reference_key());
        let other = ErasureKey::from_bytes([7; 16]);
        assert_ne!(key.hash("c1"), key.hash("c2"));
        assert_ne!(key.hash("c1"), other.hash("c1"));
        let mut s = ErasedSet::with_key(Some(key));
        s.insert_hash(key.hash("c1"));
        s.insert_id("c2".to_string());
        assert!(s.contains("c1") && s.contains("c2") && !s.contains("c3"));
        assert_eq!(s.len(), 2);
        // Without the key a hash matches nothing.
        let mut keyless = ErasedSet::default();
        keyless.insert_hash(key.hash("c1"));
        assert!(!keyless.contains("c1"));
        let plain: ErasedSet = ["c9".to_string()].into_iter().collect();
        assert!(plain.contains("c9") && !plain.contains("c1"));
        assert_eq!(format!("{key:?}"), "ErasureKey(..)");
    }
}
