//! Implicit-feedback ALS (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback
//! Datasets", 2008), solved with the conjugate-gradient method as in `implicit`'s
//! `least_squares_cg` (Takács, Pilászy & Tikk 2011).
//!
//! Every observed strength `r > 0` becomes a preference `p = 1` with confidence
//! `c = 1 + α·r` ([`Confidence::Linear`]) or `c = 1 + α·ln(1 + r/ε)` ([`Confidence::Log`]);
//! unobserved cells have `p = 0, c = 1`. The objective is
//!
//! `L = Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ (Σ_u ‖x_u‖² + Σ_i ‖y_i‖²)`.
//!
//! Each sweep solves every customer row given the items, then every item row given the
//! customers. A row's normal equations are `(YᵀY + λI + Σ_{i∈u} (c_ui − 1) y_i y_iᵀ) x_u =
//! Σ_{i∈u} c_ui y_i`; `YᵀY` is computed once per half-sweep, so a row costs `O(k² + n_u·k)` per
//! CG step instead of the `O(n_u·k² + k³)` of an exact solve. CG is warm-started from the
//! previous factors, so a few steps per sweep suffice. The exact Cholesky solver stays for
//! tests and small problems.
//!
//! Determinism: a row's update reads only shared, already fixed inputs, and `YᵀY` is summed
//! over fixed row blocks in block order, so a seed gives the same factors at any thread count.

use super::kernels::{axpy, dot, dot4};
use super::topk::{Scored, TopK, TopLists};
use super::{Error, Interactions};
use crate::progress::{Stage, Unit};
use crate::rng::Rng;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

/// How an interaction strength `r` becomes a confidence `c`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Confidence {
    /// `c = 1 + α·r` (Hu et al. eq. 2).
    Linear,
    /// `c = 1 + α·ln(1 + r/ε)` (Hu et al. eq. 6): damps heavy repeat buyers.
    Log {
        /// Scale ε of the strength inside the logarithm; must be > 0.
        epsilon: f32,
    },
}

/// How each row's least-squares problem is solved.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Solver {
    /// `cg_steps` conjugate-gradient steps per row per sweep, warm-started.
    ConjugateGradient,
    /// Exact Cholesky solve of each row's normal equations in f64 (slow; for tests).
    Cholesky,
}

crate::documented! {
    /// ALS hyper-parameters; names follow `implicit.als.AlternatingLeastSquares`.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct AlsParams {
        /// Number of latent factors k.
        pub factors: usize,
        /// Number of sweeps (customers then items).
        pub iterations: usize,
        /// CG steps per row per sweep (`implicit` uses 3).
        pub cg_steps: usize,
        /// Confidence scale α.
        pub alpha: f32,
        /// L2 regularisation λ on every factor vector; must be > 0.
        pub regularization: f32,
        /// Strength-to-confidence mapping.
        pub confidence: Confidence,
        /// Row solver.
        pub solver: Solver,
        /// Seed of the initial factors.
        pub seed: u64,
    }
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 64,
            iterations: 15,
            cg_steps: 3,
            alpha: 1.0,
            regularization: 0.01,
            confidence: Confidence::Linear,
            solver: Solver::ConjugateGradient,
            seed: 0,
        }
    }
}

impl AlsParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |name, value: f64, reason| {
            Err(Error::BadParam {
                name,
                value,
                reason,
            })
        };
        if self.factors == 0 {
            return bad("factors", 0.0, "must be >= 1");
        }
        if self.solver == Solver::ConjugateGradient && self.cg_steps == 0 {
            return bad(
                "cg_steps",
                0.0,
                "must be >= 1 with the conjugate-gradient solver",
            );
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad("alpha", self.alpha as f64, "must be finite and >= 0");
        }
        // λ > 0 keeps every row system positive definite, even for a customer with no items.
        if !(self.regularization.is_finite() && self.regularization > 0.0) {
            return bad(
                "regularization",
                self.regularization as f64,
                "must be finite and > 0",
            );
        }
        if let Confidence::Log { epsilon } = self.confidence
            && !(epsilon.is_finite() && epsilon > 0.0)
        {
            return bad("epsilon", epsilon as f64, "must be finite and > 0");
        }
        Ok(())
    }

    /// Confidence of an observed strength `r` (before subtracting the baseline 1).
    #[inline]
    pub fn confidence_of(&self, r: f32) -> f32 {
        match self.confidence {
            Confidence::Linear => 1.0 + self.alpha * r,
            Confidence::Log { epsilon } => 1.0 + self.alpha * (r / epsilon).ln_1p(),
        }
    }
}

/// Trained factors: row-major `n × k` f32 matrices, ready to be stored as raw sections.
#[derive(Clone, Debug, PartialEq)]
pub struct AlsModel {
    factors: usize,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
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

/// An ALS fit in progress: call [`AlsFit::sweep`] `iterations` times (or use [`fit`]).
#[derive(Debug)]
pub struct AlsFit {
    params: AlsParams,
    by_user: Interactions,
    by_item: Interactions,
    model: AlsModel,
}

impl AlsFit {
    /// Validates the parameters, turns strengths into confidences and draws initial factors
    /// uniformly in `[0, 0.01)` (as `implicit` does) from the seed.
    pub fn new(interactions: &Interactions, params: &AlsParams) -> Result<Self, Error> {
        params.validate()?;
        let by_user = confidences(interactions, params);
        let by_item = by_user.transpose();
        let k = params.factors;
        let init = |n: usize, stream: u64| {
            let mut rng = Rng::derived(params.seed, &[0xA15, stream]);
            (0..n * k)
                .map(|_| rng.uniform() as f32 * 0.01)
                .collect::<Vec<f32>>()
        };
        let model = AlsModel {
            factors: k,
            user_factors: init(interactions.n_rows(), 0),
            item_factors: init(interactions.n_cols(), 1),
        };
        Ok(AlsFit {
            params: params.clone(),
            by_user,
            by_item,
            model,
        })
    }

    /// One sweep: re-solve every customer row, then every item row.
    pub fn sweep(&mut self) {
        let k = self.params.factors;
        let AlsModel {
            user_factors,
            item_factors,
            ..
        } = &mut self.model;
        solve_side(&self.by_user, item_factors, user_factors, k, &self.params);
        solve_side(&self.by_item, user_factors, item_factors, k, &self.params);
    }

    /// The current factors.
    pub fn model(&self) -> &AlsModel {
        &self.model
    }

    /// The objective `L` of the current factors (see the module doc).
    pub fn loss(&self) -> f64 {
        loss_of_confidences(&self.by_user, &self.model, self.params.regularization)
    }

    /// Ends the fit, returning the factors.
    pub fn into_model(self) -> AlsModel {
        self.model
    }
}

/// Fits ALS on a customers × items strength matrix with `params.iterations` sweeps, on the
/// current rayon pool.
pub fn fit(interactions: &Interactions, params: &AlsParams) -> Result<AlsModel, Error> {
    let mut als = AlsFit::new(interactions, params)?;
    let stage = Stage::start("ALS", params.iterations as u64, Unit::Items("sweeps"));
    for _ in 0..params.iterations {
        als.sweep();
        stage.inc(1);
    }
    stage.finish();
    Ok(als.into_model())
}

/// The objective `L` (module doc) of `model` on raw strengths, for tests and diagnostics.
pub fn calculate_loss(interactions: &Interactions, model: &AlsModel, params: &AlsParams) -> f64 {
    loss_of_confidences(
        &confidences(interactions, params),
        model,
        params.regularization,
    )
}

/// Confidence matrix of the observed cells; zero strengths are dropped because they carry
/// `p = 0, c = 1`, exactly like an unobserved cell.
fn confidences(interactions: &Interactions, params: &AlsParams) -> Interactions {
    let dense = interactions.map_values(|r| {
        if r > 0.0 {
            params.confidence_of(r)
        } else {
            0.0
        }
    });
    if dense.nnz() == 0 || (0..dense.n_rows()).all(|r| dense.row(r).1.iter().all(|&c| c > 0.0)) {
        return dense;
    }
    let mut triples = Vec::with_capacity(dense.nnz());
    for row in 0..dense.n_rows() {
        let (cols, vals) = dense.row(row);
        triples.extend(
            cols.iter()
                .zip(vals)
                .filter(|(_, c)| **c > 0.0)
                .map(|(&c, &v)| (row as u32, c, v)),
        );
    }
    // Cannot fail: the entries come from an already validated matrix of the same shape.
    Interactions::from_triples(dense.n_rows(), dense.n_cols(), &triples)
        .expect("entries of a validated matrix stay valid")
}

/// Rows per block when summing the Gram matrix: fixed, so the float summation order does not
/// depend on the number of threads.
const GRAM_BLOCK_ROWS: usize = 2048;

/// `YᵀY` (full symmetric `k × k`, row-major), summed block by block in block order.
fn gram(y: &[f32], k: usize) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = y
        .par_chunks(k * GRAM_BLOCK_ROWS)
        .map(|block| gram_block(block, k))
        .collect();
    let mut g = vec![0f32; k * k];
    for p in &partials {
        axpy::<false>(1.0, p, &mut g);
    }
    for a in 0..k {
        for b in 0..a {
            g[a * k + b] = g[b * k + a];
        }
    }
    g
}

/// Upper triangle of one block's `YᵀY`: a rank-1 update per row, each a vectorised axpy.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn gram_block(block: &[f32], k: usize) -> Vec<f32> {
    if target_cfg_f!(target_feature = "fma") {
        gram_block_with::<true>(block, k)
    } else {
        gram_block_with::<false>(block, k)
    }
}

#[inline(always)]
fn gram_block_with<const FMA: bool>(block: &[f32], k: usize) -> Vec<f32> {
    let mut g = vec![0f32; k * k];
    for y in block.chunks_exact(k) {
        for a in 0..k {
            let ya = y[a];
            if ya != 0.0 {
                axpy::<FMA>(ya, &y[a..], &mut g[a * k + a..(a + 1) * k]);
            }
        }
    }
    g
}

/// Re-solves every row of `target` given the fixed side's factors.
fn solve_side(
    conf: &Interactions,
    fixed: &[f32],
    target: &mut [f32],
    k: usize,
    params: &AlsParams,
) {
    let mut yty = gram(fixed, k);
    for a in 0..k {
        yty[a * k + a] += params.regularization;
    }
    let yty = &yty;
    match params.solver {
        Solver::ConjugateGradient => {
            target
                .par_chunks_mut(k)
                .with_min_len(64)
                .enumerate()
                .for_each_init(
                    || CgScratch::new(k),
                    |scratch, (row, x)| {
                        let (cols, confs) = conf.row(row);
                        cg_row(yty, fixed, k, cols, confs, x, params.cg_steps, scratch);
                    },
                );
        }
        Solver::Cholesky => {
            target
                .par_chunks_mut(k)
                .with_min_len(16)
                .enumerate()
                .for_each_init(
                    || (vec![0f64; k * k], vec![0f64; k]),
                    |(a, b), (row, x)| {
                        let (cols, confs) = conf.row(row);
                        exact_row(yty, fixed, k, cols, confs, x, a, b);
                    },
                );
        }
    }
}

/// Per-thread vectors of a CG row solve, allocated once per thread.
struct CgScratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
}

impl CgScratch {
    fn new(k: usize) -> Self {
        CgScratch {
            r: vec![0.0; k],
            p: vec![0.0; k],
            ap: vec![0.0; k],
        }
    }
}

/// `out = A v` for the symmetric `k × k` row-major `a`.
#[inline(always)]
fn symv<const FMA: bool>(a: &[f32], k: usize, v: &[f32], out: &mut [f32]) {
    let mut rows = a.chunks_exact(4 * k);
    let mut j = 0;
    for c in &mut rows {
        let s = dot4::<FMA>(&c[..k], &c[k..2 * k], &c[2 * k..3 * k], &c[3 * k..], v);
        out[j..j + 4].copy_from_slice(&s);
        j += 4;
    }
    for row in rows.remainder().chunks_exact(k) {
        out[j] = dot::<FMA>(row, v);
        j += 1;
    }
}

/// `cg_steps` CG steps on one row's normal equations, starting from the current `x`.
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn cg_row(
    yty: &[f32],
    y: &[f32],
    k: usize,
    cols: &[u32],
    confs: &[f32],
    x: &mut [f32],
    cg_steps: usize,
    s: &mut CgScratch,
) {
    if target_cfg_f!(target_feature = "fma") {
        cg_row_with::<true>(yty, y, k, cols, confs, x, cg_steps, s)
    } else {
        cg_row_with::<false>(yty, y, k, cols, confs, x, cg_steps, s)
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cg_row_with<const FMA: bool>(
    yty: &[f32],
    y: &[f32],
    k: usize,
    cols: &[u32],
    confs: &[f32],
    x: &mut [f32],
    cg_steps: usize,
    s: &mut CgScratch,
) {
    let CgScratch { r, p, ap } = s;
    // r = b − A x, with b = Σ c y_i and A x = YᵀY x + Σ (c − 1)(y_i·x) y_i.
    symv::<FMA>(yty, k, x, r);
    for v in r.iter_mut() {
        *v = -*v;
    }
    for (&i, &c) in cols.iter().zip(confs) {
        let yi = &y[i as usize * k..(i as usize + 1) * k];
        axpy::<FMA>(c - (c - 1.0) * dot::<FMA>(yi, x), yi, r);
    }
    p.copy_from_slice(r);
    let mut rs_old = dot::<FMA>(r, r);
    // Already converged rows (and customers without items, whose x is 0 after one sweep).
    if rs_old < 1e-20 {
        return;
    }
    for _ in 0..cg_steps {
        symv::<FMA>(yty, k, p, ap);
        for (&i, &c) in cols.iter().zip(confs) {
            let yi = &y[i as usize * k..(i as usize + 1) * k];
            axpy::<FMA>((c - 1.0) * dot::<FMA>(yi, p), yi, ap);
        }
        let p_ap = dot::<FMA>(p, ap);
        if p_ap <= 0.0 {
            break;
        }
        let step = rs_old / p_ap;
        axpy::<FMA>(step, p, x);
        axpy::<FMA>(-step, ap, r);
        let rs_new = dot::<FMA>(r, r);
        if rs_new < 1e-20 {
            break;
        }
        let beta = rs_new / rs_old;
        for (pj, &rj) in p.iter_mut().zip(r.iter()) {
            *pj = rj + beta * *pj;
        }
        rs_old = rs_new;
    }
}

/// Exact solve of one row's normal equations by Cholesky in f64.
#[allow(clippy::too_many_arguments)]
fn exact_row(
    yty: &[f32],
    y: &[f32],
    k: usize,
    cols: &[u32],
    confs: &[f32],
    x: &mut [f32],
    a: &mut [f64],
    b: &mut [f64],
) {
    for (aj, &g) in a.iter_mut().zip(yty) {
        *aj = g as f64;
    }
    b.fill(0.0);
    for (&i, &c) in cols.iter().zip(confs) {
        let yi = &y[i as usize * k..(i as usize + 1) * k];
        let (c, w) = (c as f64, c as f64 - 1.0);
        for r in 0..k {
            b[r] += c * yi[r] as f64;
            let wr = w * yi[r] as f64;
            for (acc, &yc) in a[r * k..(r + 1) * k].iter_mut().zip(yi) {
                *acc += wr * yc as f64;
            }
        }
    }
    // In-place Cholesky A = L Lᵀ (lower triangle), then forward and back substitution.
    // A is positive definite because λ > 0 (checked in validate), so pivots stay positive;
    // the max() only guards against rounding on a badly scaled row.
    for j in 0..k {
        let mut d = a[j * k + j];
        for m in 0..j {
            d -= a[j * k + m] * a[j * k + m];
        }
        let d = d.max(1e-300).sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for m in 0..j {
                s -= a[i * k + m] * a[j * k + m];
            }
            a[i * k + j] = s / d;
        }
    }
    for i in 0..k {
        let mut s = b[i];
        for m in 0..i {
            s -= a[i * k + m] * b[m];
        }
        b[i] = s / a[i * k + i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for m in i + 1..k {
            s -= a[m * k + i] * b[m];
        }
        b[i] = s / a[i * k + i];
    }
    for (xi, &bi) in x.iter_mut().zip(b.iter()) {
        *xi = bi as f32;
    }
}

/// `L` from a confidence matrix: `Σ_u x_uᵀ(YᵀY)x_u` covers every cell as if unobserved, then
/// each observed cell swaps its `d²` for `c(1 − d)²`.
fn loss_of_confidences(by_user: &Interactions, model: &AlsModel, regularization: f32) -> f64 {
    let k = model.factors;
    let g = gram(&model.item_factors, k);
    let per_user: Vec<f64> = model
        .user_factors
        .par_chunks(k)
        .enumerate()
        .map_init(
            || vec![0f32; k],
            |gx, (u, x)| {
                symv::<false>(&g, k, x, gx);
                let mut l = dot::<false>(x, gx) as f64;
                let (cols, confs) = by_user.row(u);
                for (&i, &c) in cols.iter().zip(confs) {
                    let yi = &model.item_factors[i as usize * k..(i as usize + 1) * k];
                    let d = dot::<false>(x, yi) as f64;
                    l += c as f64 * (1.0 - d) * (1.0 - d) - d * d;
                }
                l
            },
        )
        .collect();
    let norm = |m: &[f32]| m.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
    per_user.iter().sum::<f64>()
        + regularization as f64 * (norm(&model.user_factors) + norm(&model.item_factors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cf::topk::best_first;

    /// `groups` taste groups: user u belongs to group u % groups and buys each item of its
    /// group's block with probability `density`, never outside it.
    fn planted(
        n_users: usize,
        n_items: usize,
        groups: usize,
        density: f64,
        seed: u64,
    ) -> Interactions {
        let mut rng = Rng::new(seed);
        let mut triples = Vec::new();
        for u in 0..n_users {
            let g = u % groups;
            for i in 0..n_items {
                if i * groups / n_items == g && rng.bernoulli(density) {
                    triples.push((u as u32, i as u32, 1.0 + rng.below(3) as f32));
                }
            }
        }
        Interactions::from_triples(n_users, n_items, &triples).unwrap()
    }

    fn params(solver: Solver) -> AlsParams {
        AlsParams {
            factors: 8,
            iterations: 6,
            alpha: 5.0,
            regularization: 0.1,
            solver,
            seed: 3,
            ..AlsParams::default()
        }
    }

    #[test]
    fn loss_decreases_every_sweep_for_both_solvers() {
        let m = planted(60, 40, 3, 0.4, 1);
        for solver in [Solver::ConjugateGradient, Solver::Cholesky] {
            let p = params(solver);
            let mut als = AlsFit::new(&m, &p).unwrap();
            let mut last = als.loss();
            for sweep in 0..p.iterations {
                als.sweep();
                let l = als.loss();
                assert!(
                    l < last,
                    "{solver:?} sweep {sweep}: loss {l} did not drop below {last}"
                );
                last = l;
            }
            assert!((calculate_loss(&m, als.model(), &p) - last).abs() < 1e-6 * last);
        }
    }

    #[test]
    fn cg_reaches_nearly_the_exact_solvers_loss() {
        let m = planted(80, 50, 4, 0.3, 2);
        let p = AlsParams {
            iterations: 15,
            ..params(Solver::Cholesky)
        };
        let exact = calculate_loss(&m, &fit(&m, &p).unwrap(), &p);
        let cg_p = AlsParams {
            solver: Solver::ConjugateGradient,
            ..p.clone()
        };
        let cg = calculate_loss(&m, &fit(&m, &cg_p).unwrap(), &cg_p);
        let start = calculate_loss(&m, AlsFit::new(&m, &p).unwrap().model(), &p);
        assert!(
            cg < 0.5 * start,
            "cg did not fit at all: {cg} vs start {start}"
        );
        assert!(
            (cg - exact).abs() < 0.02 * exact,
            "cg loss {cg} vs exact {exact}"
        );
    }

    #[test]
    fn users_top_items_stay_in_their_taste_group() {
        let groups = 4;
        let (n_users, n_items) = (120, 80);
        let m = planted(n_users, n_items, groups, 0.5, 7);
        let p = AlsParams {
            factors: 6,
            iterations: 10,
            alpha: 10.0,
            ..params(Solver::ConjugateGradient)
        };
        let model = fit(&m, &p).unwrap();
        for u in 0..n_users {
            let (bought, _) = m.row(u);
            let top = model.recommend(model.user(u).unwrap(), 5, bought).unwrap();
            assert_eq!(top.len(), 5);
            for s in &top {
                assert_eq!(
                    s.item as usize * groups / n_items,
                    u % groups,
                    "user {u} got item {} outside its group",
                    s.item
                );
                assert!(
                    !bought.contains(&s.item),
                    "user {u}: excluded item {} returned",
                    s.item
                );
            }
        }
    }

    #[test]
    fn same_seed_gives_identical_factors_at_one_and_two_threads() {
        let m = planted(300, 200, 5, 0.1, 4);
        let p = AlsParams {
            factors: 24,
            iterations: 3,
            ..params(Solver::ConjugateGradient)
        };
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| fit(&m, &p).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert!(
            one.user_factors()
                .iter()
                .zip(two.user_factors())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert_eq!(one, two);
        let other_seed = fit(
            &m,
            &AlsParams {
                seed: 4,
                ..p.clone()
            },
        )
        .unwrap();
        assert_ne!(one, other_seed);
    }

    #[test]
    fn recommend_matches_brute_force_and_skips_excluded() {
        let mut rng = Rng::new(11);
        let k = 13;
        let items: Vec<f32> = (0..103 * k).map(|_| rng.normal() as f32).collect();
        let model = AlsModel::from_parts(k, vec![0.0; k], items).unwrap();
        let x: Vec<f32> = (0..k).map(|_| rng.normal() as f32).collect();
        let mut all: Vec<Scored> = (0..103)
            .map(|i| Scored {
                item: i,
                // f64 oracle: the scan may use fused multiply-add, so compare to tolerance.
                score: model
                    .item(i as usize)
                    .unwrap()
                    .iter()
                    .zip(&x)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum::<f64>() as f32,
            })
            .collect();
        all.sort_by(best_first);
        let exclude = [all[0].item, all[3].item, 9999];
        let got = model.recommend(&x, 10, &exclude).unwrap();
        let want: Vec<Scored> = all
            .into_iter()
            .filter(|s| !exclude.contains(&s.item))
            .take(10)
            .collect();
        assert_eq!(
            got.iter().map(|s| s.item).collect::<Vec<_>>(),
            want.iter().map(|s| s.item).collect::<Vec<_>>()
        );
        for (g, w) in got.iter().zip(&want) {
            assert!((g.score - w.score).abs() < 1e-5, "{g:?} vs {w:?}");
        }
        assert!(matches!(
            model.recommend(&x[..3], 10, &[]),
            Err(Error::FactorLength {
                found: 3,
                expected: 13
            })
        ));
        assert!(matches!(
            AlsModel::from_parts(k, vec![0.0; k + 1], vec![]),
            Err(Error::MatrixShape { len: 14, .. })
        ));
    }

    #[test]
    fn norm_sorted_scan_gives_recommends_items_and_scores() {
        let m = planted(60, 900, 3, 0.03, 8);
        let p = AlsParams {
            factors: 24,
            iterations: 3,
            ..params(Solver::ConjugateGradient)
        };
        let model = fit(&m, &p).unwrap();
        let sorted = model.norm_sorted();
        for u in 0..60 {
            let x = model.user(u).unwrap();
            for k in [1, 10, 40] {
                let own = m.row(u).0;
                let want = model.recommend(x, k, own).unwrap();
                assert_eq!(
                    sorted.recommend(x, k, own).unwrap(),
                    want,
                    "customer {u} k {k}"
                );
            }
        }
        // Ties at the k-th score are broken by item index, as the full scan does.
        let tied = AlsModel::from_parts(2, vec![1.0, 0.0], [[1.0, 0.0]; 9].concat()).unwrap();
        let got = tied.norm_sorted().recommend(&[1.0, 0.0], 3, &[1]).unwrap();
        assert_eq!(got.iter().map(|s| s.item).collect::<Vec<_>>(), [0, 2, 3]);
        assert!(matches!(
            sorted.recommend(&[1.0], 3, &[]),
            Err(Error::FactorLength { found: 1, .. })
        ));
    }

    #[test]
    fn recommend_all_equals_one_customer_at_a_time() {
        let m = planted(75, 1100, 3, 0.02, 5);
        let p = AlsParams {
            factors: 20,
            iterations: 2,
            ..params(Solver::ConjugateGradient)
        };
        let model = fit(&m, &p).unwrap();
        let all = model.recommend_all(7, Some(&m)).unwrap();
        assert_eq!(all.n_rows(), 75);
        for u in 0..75 {
            let one = model
                .recommend(model.user(u).unwrap(), 7, m.row(u).0)
                .unwrap();
            let (items, scores) = all.row(u);
            assert_eq!(
                items,
                one.iter().map(|s| s.item).collect::<Vec<_>>(),
                "customer {u}"
            );
            assert_eq!(
                scores,
                one.iter().map(|s| s.score).collect::<Vec<_>>(),
                "customer {u}"
            );
        }
        let wrong = Interactions::from_triples(3, 1100, &[]).unwrap();
        assert!(matches!(
            model.recommend_all(7, Some(&wrong)),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn log_confidence_and_validation() {
        let p = AlsParams {
            alpha: 2.0,
            confidence: Confidence::Log { epsilon: 0.5 },
            ..AlsParams::default()
        };
        assert!((p.confidence_of(1.0) - (1.0 + 2.0 * 3f32.ln())).abs() < 1e-6);
        assert_eq!(
            AlsParams {
                alpha: 2.0,
                ..AlsParams::default()
            }
            .confidence_of(3.0),
            7.0
        );
        for bad in [
            AlsParams {
                factors: 0,
                ..AlsParams::default()
            },
            AlsParams {
                cg_steps: 0,
                ..AlsParams::default()
            },
            AlsParams {
                regularization: 0.0,
                ..AlsParams::default()
            },
            AlsParams {
                alpha: f32::NAN,
                ..AlsParams::default()
            },
            AlsParams {
                confidence: Confidence::Log { epsilon: 0.0 },
                ..AlsParams::default()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::BadParam { .. })),
                "{bad:?}"
            );
        }
        assert!(
            AlsParams {
                cg_steps: 0,
                solver: Solver::Cholesky,
                ..AlsParams::default()
            }
            .validate()
            .is_ok()
        );
    }
}
