//! Top-k selection shared by every candidate source, so ties break the same way everywhere:
//! higher score first, then the lower item index.

use std::cmp::Ordering;

/// An item with its score from one candidate source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Dense item index.
    pub item: u32,
    /// Source-specific score; higher is better.
    pub score: f32,
}

impl Scored {
    /// True when `self` ranks strictly before `other` (score desc, then item asc).
    #[inline]
    pub fn ranks_before(&self, other: &Scored) -> bool {
        self.score > other.score || (self.score == other.score && self.item < other.item)
    }
}

/// Orders scored items best first (score desc, item asc); NaN scores sort last.
pub fn best_first(a: &Scored, b: &Scored) -> Ordering {
    match (a.score.is_nan(), b.score.is_nan()) {
        (true, true) => a.item.cmp(&b.item),
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)),
    }
}

/// Keeps the best `k` of a stream of scored items in a small sorted buffer.
///
/// A scan over many items rejects almost every candidate with one comparison against the
/// current k-th score, which beats a heap for the small `k` of recommendation requests.
/// NaN scores never enter.
#[derive(Clone, Debug)]
pub struct TopK {
    k: usize,
    best: Vec<Scored>,
}

impl TopK {
    /// An empty collector for the best `k` items.
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            best: Vec::with_capacity(k + 1),
        }
    }

    /// Score an item must beat (or tie with a lower index) to enter; -inf until full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.best.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.best.last().map_or(f32::INFINITY, |s| s.score)
        }
    }

    /// Offers one item.
    #[inline]
    pub fn push(&mut self, item: u32, score: f32) {
        if score.is_nan() || self.k == 0 {
            return;
        }
        let cand = Scored { item, score };
        if self.best.len() == self.k {
            match self.best.last() {
                Some(worst) if cand.ranks_before(worst) => {
                    self.best.pop();
                }
                _ => return,
            }
        }
        let pos = self.best.partition_point(|s| s.ranks_before(&cand));
        self.best.insert(pos, cand);
    }

    /// The kept items, best first.
    pub fn into_sorted(self) -> Vec<Scored> {
        self.best
    }
}

/// Reduces `all` to its best `k` entries, best first (the order of [`best_first`]; NaN
/// scores dropped). Selecting from a whole buffer beats offering each entry to a [`TopK`]
/// when `k` is large: a [`TopK`] of 300 shifts up to 300 entries per insertion.
///
/// Entries are compared as one integer each (see [`rank_key`]): selecting the user-kNN
/// neighbours among thousands of candidates per customer with the float comparator was
/// a sixth of Ta-Feng's training profile.
pub fn keep_best(all: &mut Vec<Scored>, k: usize) {
    let mut keys: Vec<u64> = all
        .iter()
        .filter(|s| !s.score.is_nan())
        .map(rank_key)
        .collect();
    if keys.len() > k {
        if k == 0 {
            all.clear();
            return;
        }
        keys.select_nth_unstable(k - 1);
        keys.truncate(k);
    }
    keys.sort_unstable();
    all.clear();
    all.extend(keys.into_iter().map(from_rank_key));
}

/// An integer that sorts ascending exactly as [`best_first`] orders non-NaN entries: the
/// score's bits mapped to an order-preserving u32 (as `f32::total_cmp` orders them) and
/// flipped so higher scores come first, then the item.
fn rank_key(s: &Scored) -> u64 {
    let bits = s.score.to_bits();
    let ordered = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    };
    (u64::from(!ordered) << 32) | u64::from(s.item)
}

/// Inverse of [`rank_key`].
fn from_rank_key(key: u64) -> Scored {
    let ordered = !((key >> 32) as u32);
    let bits = if ordered >> 31 == 1 {
        ordered & !(1 << 31)
    } else {
        !ordered
    };
    Scored {
        item: key as u32,
        score: f32::from_bits(bits),
    }
}

/// Ranked item lists for many rows (customers or items) as flat CSR arrays, ready for raw
/// bundle sections: row `r` holds `item[ptr[r]..ptr[r + 1]]`, best first.
#[derive(Clone, Debug, PartialEq)]
pub struct TopLists {
    ptr: Vec<u32>,
    item: Vec<u32>,
    score: Vec<f32>,
}

impl TopLists {
    /// Flattens one best-first list per row.
    pub fn from_lists(lists: &[Vec<Scored>]) -> Result<Self, super::Error> {
        let total: usize = lists.iter().map(Vec::len).sum();
        if total > u32::MAX as usize {
            return Err(super::Error::TooManyEntries { count: total });
        }
        let mut out = TopLists {
            ptr: Vec::with_capacity(lists.len() + 1),
            item: Vec::with_capacity(total),
            score: Vec::with_capacity(total),
        };
        out.ptr.push(0);
        for list in lists {
            out.item.extend(list.iter().map(|s| s.item));
            out.score.extend(list.iter().map(|s| s.score));
            out.ptr.push(out.item.len() as u32);
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.ptr.len() - 1
    }

    /// Items and scores of one row, best first (empty past the last row).
    pub fn row(&self, row: usize) -> (&[u32], &[f32]) {
        if row + 1 >= self.ptr.len() {
            return (&[], &[]);
        }
        let range = self.ptr[row] as usize..self.ptr[row + 1] as usize;
        (&self.item[range.clone()], &self.score[range])
    }

    /// Offsets array, `n_rows + 1` entries.
    pub fn ptr(&self) -> &[u32] {
        &self.ptr
    }

    /// All rows' items, concatenated.
    pub fn items(&self) -> &[u32] {
        &self.item
    }

    /// All rows' scores, parallel to [`TopLists::items`].
    pub fn scores(&self) -> &[f32] {
        &self.score
    }
}

/// Best `k` entries of a dense score vector (index = item), skipping items where `skip` is true.
pub fn top_k_dense(scores: &[f32], k: usize, mut skip: impl FnMut(u32) -> bool) -> Vec<Scored> {
    let mut top = TopK::new(k);
    for (item, &score) in scores.iter().enumerate() {
        if score >= top.threshold() && !skip(item as u32) {
            top.push(item as u32, score);
        }
    }
    top.into_sorted()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn top_k_equals_sort_and_truncate() {
        let mut rng = Rng::new(9);
        for round in 0..200 {
            let n = rng.below(60) as usize;
            let k = rng.below(12) as usize;
            // Few distinct values so ties are common and the tie rule is exercised.
            let scores: Vec<f32> = (0..n).map(|_| rng.below(7) as f32).collect();
            let got = top_k_dense(&scores, k, |i| i % 5 == 3);
            let mut all: Vec<Scored> = scores
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 5 != 3)
                .map(|(i, &s)| Scored {
                    item: i as u32,
                    score: s,
                })
                .collect();
            all.sort_by(best_first);
            all.truncate(k);
            assert_eq!(got, all, "round {round}");
        }
    }

    #[test]
    fn keep_best_equals_top_k() {
        let mut rng = Rng::new(11);
        for round in 0..300 {
            let n = rng.below(400) as usize;
            let k = rng.below(320) as usize;
            let all: Vec<Scored> = (0..n)
                .map(|i| Scored {
                    item: (i * 7919 % 1009) as u32 + 1009 * (i / 1009) as u32,
                    score: match rng.below(11) {
                        0 => f32::NAN,
                        1 => -(rng.below(3) as f32) - 0.5,
                        2 => f32::INFINITY,
                        v => v as f32 * 0.25,
                    },
                })
                .collect();
            let mut top = TopK::new(k);
            for s in &all {
                top.push(s.item, s.score);
            }
            let mut got = all.clone();
            keep_best(&mut got, k);
            assert_eq!(got, top.into_sorted(), "round {round}");
            let mut sorted: Vec<Scored> = all.into_iter().filter(|s| !s.score.is_nan()).collect();
            sorted.sort_by(best_first);
            sorted.truncate(k);
            assert_eq!(got, sorted, "round {round}");
        }
    }

    #[test]
    fn nan_never_enters() {
        let got = top_k_dense(&[f32::NAN, 1.0, f32::NAN], 3, |_| false);
        assert_eq!(
            got,
            vec![Scored {
                item: 1,
                score: 1.0
            }]
        );
    }
}
