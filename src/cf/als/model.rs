//! Trained ALS factors and the top-k scans that serve them (one customer, all customers in
//! blocks, or items sorted by norm for early exit).

use crate::cf::kernels::{dot, dot4};
use crate::cf::topk::{Scored, TopK, TopLists};
use crate::cf::{Error, Interactions};
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

/// Trained factors: row-major `n × k` f32 matrices, ready to be stored as raw sections.
#[derive(Clone, Debug, PartialEq)]
pub struct AlsModel {
    pub(super) factors: usize,
    pub(super) user_factors: Vec<f32>,
    pub(super) item_factors: Vec<f32>,
}

impl AlsModel {
    /// Rebuilds a model from stored matrices (e.g. bundle sections), checking their shapes.
    pub fn from_parts(
        factors: usize,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
    ) -> Result<Self, Error> {
        if factors == 0 {
            return Err(Error::BadParam {
                name: "factors",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        for (matrix, m) in [
            ("user_factors", &user_factors),
            ("item_factors", &item_factors),
        ] {
            if m.len() % factors != 0 {
                return Err(Error::MatrixShape {
                    matrix,
                    len: m.len(),
                    factors,
                });
            }
        }
        Ok(AlsModel {
            factors,
            user_factors,
            item_factors,
        })
    }

    /// Number of latent factors k (the row stride of both matrices).
    pub fn factors(&self) -> usize {
        self.factors
    }

    /// Number of customer rows.
    pub fn n_users(&self) -> usize {
        self.user_factors.len() / self.factors
    }

    /// Number of item rows.
    pub fn n_items(&self) -> usize {
        self.item_factors.len() / self.factors
    }

    /// Customer factor matrix, row-major `n_users × k`.
    pub fn user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// Item factor matrix, row-major `n_items × k`.
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    /// One customer's factor vector, or `None` past the last customer.
    pub fn user(&self, user: usize) -> Option<&[f32]> {
        let start = user.checked_mul(self.factors)?;
        self.user_factors
            .get(start..start.checked_add(self.factors)?)
    }

    /// One item's factor vector, or `None` past the last item.
    pub fn item(&self, item: usize) -> Option<&[f32]> {
        let start = item.checked_mul(self.factors)?;
        self.item_factors
            .get(start..start.checked_add(self.factors)?)
    }

    /// Best `k` items for a factor vector by dot product, skipping `exclude` (any order).
    ///
    /// One pass over the item matrix; the buffer keeps `k + |exclude|` candidates so excluded
    /// items can be dropped afterwards without a lookup per scanned item.
    pub fn recommend(
        &self,
        user_factors: &[f32],
        k: usize,
        exclude: &[u32],
    ) -> Result<Vec<Scored>, Error> {
        if user_factors.len() != self.factors {
            return Err(Error::FactorLength {
                found: user_factors.len(),
                expected: self.factors,
            });
        }
        let mut top = TopK::new(k + exclude.len());
        scan_items(&self.item_factors, self.factors, user_factors, &mut top);
        let mut best = top.into_sorted();
        best.retain(|s| !exclude.contains(&s.item));
        best.truncate(k);
        Ok(best)
    }
}

impl AlsModel {
    /// Best `k` items of every customer, skipping each customer's row of `exclude` (e.g. what
    /// they already bought; must have one row per customer), computed in parallel.
    ///
    /// This is the serving path for known customers: a full scan of 24k × 128 item factors
    /// reads 12 MB and costs about a millisecond, so the trainer stores these lists and a
    /// request only looks them up. Blocks of customers share each item-factor block while it
    /// is in cache, so the batch costs about as much compute as memory traffic. Scores and
    /// order are identical to [`AlsModel::recommend`] for each customer.
    pub fn recommend_all(
        &self,
        k: usize,
        exclude: Option<&Interactions>,
    ) -> Result<TopLists, Error> {
        if let Some(ex) = exclude
            && ex.n_rows() != self.n_users()
        {
            return Err(Error::LengthMismatch {
                left: "exclude rows",
                left_len: ex.n_rows(),
                right: "customers",
                right_len: self.n_users(),
            });
        }
        let kf = self.factors;
        let blocks: Vec<Vec<Vec<Scored>>> = self
            .user_factors
            .par_chunks(kf * USER_BLOCK)
            .enumerate()
            .map(|(b, users)| {
                let first = b * USER_BLOCK;
                let excluded = |u: usize| exclude.map_or(&[][..], |ex| ex.row(first + u).0);
                let mut tops: Vec<TopK> = (0..users.len() / kf)
                    .map(|u| TopK::new(k + excluded(u).len()))
                    .collect();
                scan_block(&self.item_factors, kf, users, &mut tops);
                tops.into_iter()
                    .enumerate()
                    .map(|(u, top)| {
                        let ex = excluded(u);
                        let mut best = top.into_sorted();
                        best.retain(|s| ex.binary_search(&s.item).is_err());
                        best.truncate(k);
                        best
                    })
                    .collect()
            })
            .collect();
        TopLists::from_lists(&blocks.into_iter().flatten().collect::<Vec<_>>())
    }
}

/// The item factors reordered by decreasing norm, for exact top-k scans that stop early.
///
/// A score `x·y` is at most `‖x‖·‖y‖`, so once the k-th best score beats that bound for
/// the next (largest remaining) norm, no later item can enter. With implicit-feedback
/// factors most items are rare and have small norms, so a scan stops after a fraction of
/// the catalogue; the answer is the one [`AlsModel::recommend`] gives, score for score.
#[derive(Debug, Clone)]
pub struct NormSortedItems {
    factors: usize,
    rows: Vec<f32>,
    norms: Vec<f32>,
    ids: Vec<u32>,
}

/// Relative slack on the norm bound: a rounded dot product of up to a few hundred f32
/// terms exceeds the exact one by far less than this fraction of `‖x‖·‖y‖`.
const NORM_BOUND_SLACK: f32 = 1e-3;

impl AlsModel {
    /// The item factors sorted for [`NormSortedItems::recommend`].
    pub fn norm_sorted(&self) -> NormSortedItems {
        let k = self.factors;
        let norm = |i: usize| {
            let y = &self.item_factors[i * k..(i + 1) * k];
            y.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32
        };
        let mut order: Vec<(f32, u32)> = (0..self.n_items()).map(|i| (norm(i), i as u32)).collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut rows = Vec::with_capacity(self.item_factors.len());
        for &(_, i) in &order {
            rows.extend_from_slice(&self.item_factors[i as usize * k..(i as usize + 1) * k]);
        }
        NormSortedItems {
            factors: k,
            rows,
            norms: order.iter().map(|o| o.0).collect(),
            ids: order.iter().map(|o| o.1).collect(),
        }
    }
}

impl NormSortedItems {
    /// Best `k` items for `x` by dot product, skipping `exclude` (sorted ascending): the
    /// same items and scores as [`AlsModel::recommend`] on the model this came from.
    pub fn recommend(&self, x: &[f32], k: usize, exclude: &[u32]) -> Result<Vec<Scored>, Error> {
        if x.len() != self.factors {
            return Err(Error::FactorLength {
                found: x.len(),
                expected: self.factors,
            });
        }
        debug_assert!(exclude.is_sorted());
        let x_norm = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32;
        let mut top = TopK::new(k);
        scan_sorted(self, x, x_norm, exclude, &mut top);
        Ok(top.into_sorted())
    }
}

/// Scans `items` best norm first in blocks of four until the norm bound rules the rest out.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn scan_sorted(items: &NormSortedItems, x: &[f32], x_norm: f32, exclude: &[u32], top: &mut TopK) {
    if target_cfg_f!(target_feature = "fma") {
        scan_sorted_with::<true>(items, x, x_norm, exclude, top)
    } else {
        scan_sorted_with::<false>(items, x, x_norm, exclude, top)
    }
}

#[inline(always)]
fn scan_sorted_with<const FMA: bool>(
    items: &NormSortedItems,
    x: &[f32],
    x_norm: f32,
    exclude: &[u32],
    top: &mut TopK,
) {
    let k = items.factors;
    let bound = x_norm * (1.0 + NORM_BOUND_SLACK);
    let offer = |pos: usize, score: f32, top: &mut TopK| {
        let id = items.ids[pos];
        if score >= top.threshold() && exclude.binary_search(&id).is_err() {
            top.push(id, score);
        }
    };
    let mut blocks = items.rows.chunks_exact(4 * k);
    let mut pos = 0;
    for c in &mut blocks {
        // Strictly below the k-th score: an item tying it could still win on its index.
        if bound * items.norms[pos] < top.threshold() {
            return;
        }
        // dot4 is bit-identical to dot, so these are `AlsModel::recommend`'s scores.
        let s = dot4::<FMA>(&c[..k], &c[k..2 * k], &c[2 * k..3 * k], &c[3 * k..], x);
        for (j, &score) in s.iter().enumerate() {
            offer(pos + j, score, top);
        }
        pos += 4;
    }
    for row in blocks.remainder().chunks_exact(k) {
        if bound * items.norms[pos] < top.threshold() {
            return;
        }
        offer(pos, dot::<FMA>(row, x), top);
        pos += 1;
    }
}

/// Customers per block of [`AlsModel::recommend_all`] (their factors stay in L1).
const USER_BLOCK: usize = 32;
/// Items per block of [`AlsModel::recommend_all`] (256 KB at 128 factors: stays in L2).
const ITEM_BLOCK: usize = 512;

/// Scores every item against each customer row of `users`, feeding `tops[u]`.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn scan_block(items: &[f32], k: usize, users: &[f32], tops: &mut [TopK]) {
    if target_cfg_f!(target_feature = "fma") {
        scan_block_with::<true>(items, k, users, tops)
    } else {
        scan_block_with::<false>(items, k, users, tops)
    }
}

#[inline(always)]
fn scan_block_with<const FMA: bool>(items: &[f32], k: usize, users: &[f32], tops: &mut [TopK]) {
    for (c, chunk) in items.chunks(k * ITEM_BLOCK).enumerate() {
        let base = (c * ITEM_BLOCK) as u32;
        let mut quads = users.chunks_exact(4 * k);
        let mut u = 0;
        for q in &mut quads {
            let (x0, x1, x2, x3) = (&q[..k], &q[k..2 * k], &q[2 * k..3 * k], &q[3 * k..]);
            for (j, y) in chunk.chunks_exact(k).enumerate() {
                // dot4 is bit-identical to dot, so these scores equal `recommend`'s.
                let s = dot4::<FMA>(x0, x1, x2, x3, y);
                for (t, &score) in s.iter().enumerate() {
                    if score >= tops[u + t].threshold() {
                        tops[u + t].push(base + j as u32, score);
                    }
                }
            }
            u += 4;
        }
        for x in quads.remainder().chunks_exact(k) {
            for (j, y) in chunk.chunks_exact(k).enumerate() {
                let score = dot::<FMA>(x, y);
                if score >= tops[u].threshold() {
                    tops[u].push(base + j as u32, score);
                }
            }
            u += 1;
        }
    }
}

/// Scores every item against `x` and offers it to `top`; four rows per step share `x` loads.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn scan_items(items: &[f32], k: usize, x: &[f32], top: &mut TopK) {
    if target_cfg_f!(target_feature = "fma") {
        scan_items_with::<true>(items, k, x, top)
    } else {
        scan_items_with::<false>(items, k, x, top)
    }
}

#[inline(always)]
fn scan_items_with<const FMA: bool>(items: &[f32], k: usize, x: &[f32], top: &mut TopK) {
    let block = 4 * k;
    let mut chunks = items.chunks_exact(block);
    let mut base = 0u32;
    for c in &mut chunks {
        let s = dot4::<FMA>(&c[..k], &c[k..2 * k], &c[2 * k..3 * k], &c[3 * k..], x);
        let t = top.threshold();
        for (j, &score) in s.iter().enumerate() {
            if score >= t {
                top.push(base + j as u32, score);
            }
        }
        base += 4;
    }
    for row in chunks.remainder().chunks_exact(k) {
        let score = dot::<FMA>(row, x);
        if score >= top.threshold() {
            top.push(base, score);
        }
        base += 1;
    }
}
