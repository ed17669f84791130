//! Item–item co-purchase neighbours: items bought in the same baskets.
//!
//! Pair counts `n_ab` (baskets holding both) are normalised by [`Similarity`]:
//!
//! - `Cosine { shrinkage: h }`: `n_ab / (sqrt(n_a · n_b) + h)`. The default: symmetric, bounded
//!   by 1, and the `+ h` pulls pairs seen in few baskets towards 0 (Koren's shrunk cosine), so a
//!   pair of two rare items bought together once does not outrank an established complement.
//! - `Lift { shrinkage: h }`: `n_ab / (n_ab + h) · N · n_ab / (n_a · n_b)`. Lift favours
//!   specific complements over popular items but is unbounded on rare items, hence the shrink
//!   factor.
//!
//! Very large baskets (bulk buys, store accounts) would dominate the `O(size²)` pair count and
//! say little about complements, so each basket is capped to `max_basket_items` distinct items
//! sampled deterministically from `(seed, basket index)`.
//!
//! Counting is per item: for item `a`, walk the baskets holding `a` and count the other items
//! in a per-thread dense scratch array, then keep the top-N. Memory is the inverted index plus
//! one `n_items` array per thread, never a global pair table, and the counts are integers, so
//! the result is the same at any thread count.

use super::Error;
use super::interactions::check_ptr;
use super::topk::{Scored, TopK};
use crate::progress::{Stage, Unit};
use crate::rng::Rng;
use rayon::prelude::*;

/// How pair counts are normalised into neighbour scores (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Similarity {
    /// `n_ab / (sqrt(n_a n_b) + shrinkage)`.
    Cosine {
        /// Shrinkage h >= 0.
        shrinkage: f32,
    },
    /// `n_ab / (n_ab + shrinkage) · N n_ab / (n_a n_b)`.
    Lift {
        /// Shrinkage h >= 0.
        shrinkage: f32,
    },
}

crate::documented! {
    /// Co-purchase parameters.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct CoPurchaseParams {
        /// Neighbours kept per item.
        pub top_n: usize,
        /// Score normalisation.
        pub similarity: Similarity,
        /// Distinct items kept per basket; larger baskets are sampled down to this.
        pub max_basket_items: usize,
        /// Pairs seen in fewer baskets are dropped.
        pub min_count: u32,
        /// Seed of the basket sampling.
        pub seed: u64,
    }
}

impl Default for CoPurchaseParams {
    fn default() -> Self {
        CoPurchaseParams {
            top_n: 50,
            similarity: Similarity::Cosine { shrinkage: 10.0 },
            max_basket_items: 50,
            min_count: 1,
            seed: 0,
        }
    }
}

impl CoPurchaseParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), Error> {
        let (Similarity::Cosine { shrinkage } | Similarity::Lift { shrinkage }) = self.similarity;
        if !(shrinkage.is_finite() && shrinkage >= 0.0) {
            return Err(Error::BadParam {
                name: "shrinkage",
                value: shrinkage as f64,
                reason: "must be finite and >= 0",
            });
        }
        if self.max_basket_items < 2 {
            return Err(Error::BadParam {
                name: "max_basket_items",
                value: self.max_basket_items as f64,
                reason: "must be >= 2 (a pair needs two items)",
            });
        }
        Ok(())
    }
}

/// Top-N neighbours of every item as flat CSR arrays (ready for raw bundle sections):
/// the neighbours of item `a` are `neighbour_item[neighbour_ptr[a]..neighbour_ptr[a + 1]]`,
/// best first.
#[derive(Clone, Debug, PartialEq)]
pub struct CoPurchase {
    neighbour_ptr: Vec<u32>,
    neighbour_item: Vec<u32>,
    neighbour_score: Vec<f32>,
}

impl CoPurchase {
    /// Builds neighbours from baskets in CSR form: basket `b` holds
    /// `basket_items[basket_ptr[b]..basket_ptr[b + 1]]` (any order, duplicates allowed).
    pub fn build(
        n_items: usize,
        basket_ptr: &[u32],
        basket_items: &[u32],
        params: &CoPurchaseParams,
    ) -> Result<Self, Error> {
        params.validate()?;
        let n_baskets = basket_ptr.len().saturating_sub(1);
        check_ptr("basket_ptr", basket_ptr, n_baskets, basket_items.len())?;
        let baskets = cap_baskets(n_items, basket_ptr, basket_items, params)?;
        let index = invert(n_items, &baskets);
        let n_total = baskets.ptr.len() as f32 - 1.0;
        let min_count = params.min_count.max(1);
        let stage = Stage::start("item neighbours", n_items as u64, Unit::Items("items"));
        let per_item: Vec<Vec<Scored>> = (0..n_items)
            .into_par_iter()
            .with_min_len(64)
            .map_init(
                || (vec![0u32; n_items], Vec::new()),
                |(counts, touched), a| {
                    stage.inc(1);
                    let mut top = TopK::new(params.top_n);
                    let with_a = index.baskets_of(a);
                    for &b in with_a {
                        for &j in baskets.items_of(b as usize) {
                            if j as usize != a {
                                if counts[j as usize] == 0 {
                                    touched.push(j);
                                }
                                counts[j as usize] += 1;
                            }
                        }
                    }
                    let n_a = with_a.len() as f32;
                    for &j in touched.iter() {
                        let n_ab = counts[j as usize];
                        counts[j as usize] = 0;
                        if n_ab >= min_count {
                            let n_b = index.baskets_of(j as usize).len() as f32;
                            top.push(j, score(params.similarity, n_ab as f32, n_a, n_b, n_total));
                        }
                    }
                    touched.clear();
                    top.into_sorted()
                },
            )
            .collect();
        stage.finish();
        let total: usize = per_item.iter().map(Vec::len).sum();
        if total > u32::MAX as usize {
            return Err(Error::TooManyEntries { count: total });
        }
        let mut neighbour_ptr = Vec::with_capacity(n_items + 1);
        let mut neighbour_item = Vec::with_capacity(total);
        let mut neighbour_score = Vec::with_capacity(total);
        neighbour_ptr.push(0);
        for list in per_item {
            neighbour_item.extend(list.iter().map(|s| s.item));
            neighbour_score.extend(list.iter().map(|s| s.score));
            neighbour_ptr.push(neighbour_item.len() as u32);
        }
        Ok(CoPurchase {
            neighbour_ptr,
            neighbour_item,
            neighbour_score,
        })
    }

    /// [`CoPurchase::build`] from one `Vec` of item indices per basket.
    pub fn build_from_baskets(
        n_items: usize,
        baskets: &[Vec<u32>],
        params: &CoPurchaseParams,
    ) -> Result<Self, Error> {
        let total: usize = baskets.iter().map(Vec::len).sum();
        if total > u32::MAX as usize {
            return Err(Error::TooManyEntries { count: total });
        }
        let mut ptr = Vec::with_capacity(baskets.len() + 1);
        ptr.push(0u32);
        let mut items = Vec::with_capacity(total);
        for b in baskets {
            items.extend_from_slice(b);
            ptr.push(items.len() as u32);
        }
        Self::build(n_items, &ptr, &items, params)
    }

    /// Rebuilds neighbours from stored arrays (e.g. bundle sections), checking them.
    pub fn from_parts(
        neighbour_ptr: Vec<u32>,
        neighbour_item: Vec<u32>,
        neighbour_score: Vec<f32>,
    ) -> Result<Self, Error> {
        let n_items = neighbour_ptr.len().saturating_sub(1);
        check_ptr(
            "neighbour_ptr",
            &neighbour_ptr,
            n_items,
            neighbour_item.len(),
        )?;
        if neighbour_item.len() != neighbour_score.len() {
            return Err(Error::LengthMismatch {
                left: "neighbour_item",
                left_len: neighbour_item.len(),
                right: "neighbour_score",
                right_len: neighbour_score.len(),
            });
        }
        for row in 0..n_items {
            for &item in
                &neighbour_item[neighbour_ptr[row] as usize..neighbour_ptr[row + 1] as usize]
            {
                if item as usize >= n_items {
                    return Err(Error::ItemOutOfRange { row, item, n_items });
                }
            }
        }
        Ok(CoPurchase {
            neighbour_ptr,
            neighbour_item,
            neighbour_score,
        })
    }

    /// Number of items.
    pub fn n_items(&self) -> usize {
        self.neighbour_ptr.len() - 1
    }

    /// Offsets array, `n_items + 1` entries.
    pub fn neighbour_ptr(&self) -> &[u32] {
        &self.neighbour_ptr
    }

    /// Neighbour item indices of all items, concatenated.
    pub fn neighbour_item(&self) -> &[u32] {
        &self.neighbour_item
    }

    /// Neighbour scores, parallel to [`CoPurchase::neighbour_item`].
    pub fn neighbour_score(&self) -> &[f32] {
        &self.neighbour_score
    }

    /// Neighbours of one item, best first (empty past the last item).
    pub fn neighbours(&self, item: u32) -> (&[u32], &[f32]) {
        let i = item as usize;
        if i + 1 >= self.neighbour_ptr.len() {
            return (&[], &[]);
        }
        let range = self.neighbour_ptr[i] as usize..self.neighbour_ptr[i + 1] as usize;
        (
            &self.neighbour_item[range.clone()],
            &self.neighbour_score[range],
        )
    }

    /// Cart-aware recommendations: each candidate scores the sum of its neighbour scores over
    /// the distinct cart items; cart items themselves are excluded.
    pub fn score_basket(&self, cart: &[u32], k: usize) -> Result<Vec<Scored>, Error> {
        let mut cart: Vec<u32> = cart.to_vec();
        cart.sort_unstable();
        cart.dedup();
        if let Some(&item) = cart.iter().find(|&&i| i as usize >= self.n_items()) {
            return Err(Error::ItemOutOfRange {
                row: 0,
                item,
                n_items: self.n_items(),
            });
        }
        let mut pairs: Vec<(u32, f32)> = Vec::new();
        for &c in &cart {
            let (items, scores) = self.neighbours(c);
            pairs.extend(items.iter().copied().zip(scores.iter().copied()));
        }
        // Stable sort keeps each item's terms in cart order, so the float sums are reproducible.
        pairs.sort_by_key(|&(item, _)| item);
        let mut top = TopK::new(k);
        let mut i = 0;
        while i < pairs.len() {
            let item = pairs[i].0;
            let mut sum = 0f32;
            while i < pairs.len() && pairs[i].0 == item {
                sum += pairs[i].1;
                i += 1;
            }
            if cart.binary_search(&item).is_err() {
                top.push(item, sum);
            }
        }
        Ok(top.into_sorted())
    }
}

#[inline]
fn score(similarity: Similarity, n_ab: f32, n_a: f32, n_b: f32, n_total: f32) -> f32 {
    match similarity {
        Similarity::Cosine { shrinkage } => n_ab / ((n_a * n_b).sqrt() + shrinkage),
        Similarity::Lift { shrinkage } => n_ab / (n_ab + shrinkage) * n_total * n_ab / (n_a * n_b),
    }
}

/// Baskets after dedup and capping: CSR of sorted distinct item indices.
struct CappedBaskets {
    ptr: Vec<u32>,
    items: Vec<u32>,
}

impl CappedBaskets {
    fn items_of(&self, basket: usize) -> &[u32] {
        &self.items[self.ptr[basket] as usize..self.ptr[basket + 1] as usize]
    }
}

/// Dedups each basket, checks item ranges and samples big baskets down to the cap.
fn cap_baskets(
    n_items: usize,
    basket_ptr: &[u32],
    basket_items: &[u32],
    params: &CoPurchaseParams,
) -> Result<CappedBaskets, Error> {
    let n_baskets = basket_ptr.len() - 1;
    let per_basket: Vec<Result<Vec<u32>, Error>> = (0..n_baskets)
        .into_par_iter()
        .with_min_len(256)
        .map(|b| {
            let mut items =
                basket_items[basket_ptr[b] as usize..basket_ptr[b + 1] as usize].to_vec();
            if let Some(&item) = items.iter().find(|&&i| i as usize >= n_items) {
                return Err(Error::ItemOutOfRange {
                    row: b,
                    item,
                    n_items,
                });
            }
            items.sort_unstable();
            items.dedup();
            if items.len() > params.max_basket_items {
                Rng::derived(params.seed, &[0xC0B, b as u64]).shuffle(&mut items);
                items.truncate(params.max_basket_items);
                items.sort_unstable();
            }
            Ok(items)
        })
        .collect();
    let mut ptr = Vec::with_capacity(n_baskets + 1);
    ptr.push(0u32);
    let mut items = Vec::with_capacity(basket_items.len());
    for basket in per_basket {
        items.extend_from_slice(&basket?);
        ptr.push(items.len() as u32);
    }
    Ok(CappedBaskets { ptr, items })
}

/// Item → baskets holding it, by counting sort (baskets in increasing order).
struct InvertedIndex {
    ptr: Vec<u32>,
    baskets: Vec<u32>,
}

impl InvertedIndex {
    fn baskets_of(&self, item: usize) -> &[u32] {
        &self.baskets[self.ptr[item] as usize..self.ptr[item + 1] as usize]
    }
}

fn invert(n_items: usize, baskets: &CappedBaskets) -> InvertedIndex {
    let mut ptr = vec![0u32; n_items + 1];
    for &i in &baskets.items {
        ptr[i as usize + 1] += 1;
    }
    for i in 0..n_items {
        ptr[i + 1] += ptr[i];
    }
    let mut next = ptr.clone();
    let mut out = vec![0u32; baskets.items.len()];
    for b in 0..baskets.ptr.len() - 1 {
        for &i in baskets.items_of(b) {
            out[next[i as usize] as usize] = b as u32;
            next[i as usize] += 1;
        }
    }
    InvertedIndex { ptr, baskets: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Baskets of random popular filler items plus planted complementary pairs (2k, 2k+1)
    /// for k < 5 that are always bought together.
    fn planted_baskets(n_items: u32, n_baskets: usize, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = Rng::new(seed);
        (0..n_baskets)
            .map(|_| {
                let mut b: Vec<u32> = (0..1 + rng.below(5))
                    .map(|_| 10 + rng.below(n_items as u64 - 10) as u32)
                    .collect();
                if rng.bernoulli(0.3) {
                    let k = rng.below(5) as u32;
                    b.extend([2 * k, 2 * k + 1]);
                }
                b
            })
            .collect()
    }

    #[test]
    fn planted_pairs_are_each_others_top_neighbour() {
        let baskets = planted_baskets(60, 3000, 1);
        for similarity in [
            Similarity::Cosine { shrinkage: 5.0 },
            Similarity::Lift { shrinkage: 5.0 },
        ] {
            let params = CoPurchaseParams {
                similarity,
                top_n: 10,
                ..CoPurchaseParams::default()
            };
            let cp = CoPurchase::build_from_baskets(60, &baskets, &params).unwrap();
            for a in 0..10u32 {
                let (items, scores) = cp.neighbours(a);
                assert_eq!(
                    items[0],
                    a ^ 1,
                    "{similarity:?}: item {a} top neighbours {items:?}"
                );
                assert!(
                    scores.windows(2).all(|w| w[0] >= w[1]),
                    "not sorted desc: {scores:?}"
                );
                assert!(items.len() <= 10);
            }
        }
    }

    #[test]
    fn shrinkage_demotes_pairs_seen_once() {
        // Items 0 and 1 appear once, together; 2 and 3 share 20 of their 40 baskets each.
        let mut baskets = vec![vec![0, 1]];
        for i in 0..40 {
            baskets.push(if i < 20 {
                vec![2, 3]
            } else {
                vec![2 + (i % 2), 4 + i % 3]
            });
        }
        let build = |h| {
            let p = CoPurchaseParams {
                similarity: Similarity::Cosine { shrinkage: h },
                ..CoPurchaseParams::default()
            };
            CoPurchase::build_from_baskets(7, &baskets, &p).unwrap()
        };
        let s = |cp: &CoPurchase, a: u32, b: u32| {
            let (items, scores) = cp.neighbours(a);
            scores[items.iter().position(|&i| i == b).unwrap()]
        };
        let plain = build(0.0);
        assert!(
            s(&plain, 0, 1) > s(&plain, 2, 3),
            "without shrinkage the single pair scores 1.0"
        );
        let shrunk = build(5.0);
        assert!(s(&shrunk, 0, 1) < s(&shrunk, 2, 3));
        assert!((s(&shrunk, 2, 3) - 20.0 / (30.0 + 5.0)).abs() < 1e-6);
    }

    #[test]
    fn big_baskets_are_capped_deterministically_and_threads_do_not_matter() {
        let mut baskets = planted_baskets(200, 500, 3);
        baskets.push((0..200).collect());
        let p = CoPurchaseParams {
            max_basket_items: 20,
            seed: 9,
            ..CoPurchaseParams::default()
        };
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| CoPurchase::build_from_baskets(200, &baskets, &p).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        // The 200-item basket alone would give every item >= 199 co-buyers; capped, at most 19 + its own.
        let counts_via_cap = CoPurchase::build_from_baskets(
            200,
            &[(0..200).collect()],
            &CoPurchaseParams {
                top_n: 500,
                max_basket_items: 20,
                ..p.clone()
            },
        )
        .unwrap();
        assert_eq!(counts_via_cap.neighbour_item().len(), 20 * 19);
    }

    #[test]
    fn score_basket_sums_neighbours_and_excludes_the_cart() {
        let cp = CoPurchase::from_parts(
            vec![0, 2, 4, 5, 5],
            vec![1, 2, 2, 3, 0],
            vec![0.5, 0.2, 0.4, 0.3, 0.9],
        )
        .unwrap();
        let got = cp.score_basket(&[0, 1, 1], 10).unwrap();
        assert_eq!(
            got,
            vec![
                Scored {
                    item: 2,
                    score: 0.2 + 0.4
                },
                Scored {
                    item: 3,
                    score: 0.3
                }
            ]
        );
        assert!(matches!(
            cp.score_basket(&[7], 3),
            Err(Error::ItemOutOfRange { item: 7, .. })
        ));
        assert!(matches!(
            CoPurchase::from_parts(vec![0, 1], vec![5], vec![1.0]),
            Err(Error::ItemOutOfRange { .. })
        ));
        assert!(matches!(
            CoPurchase::build(3, &[0, 1], &[4], &CoPurchaseParams::default()),
            Err(Error::ItemOutOfRange { item: 4, .. })
        ));
    }
}
