//! Fitting ALS: confidences, the Gram matrix, per-row conjugate-gradient or exact solves,
//! and the loss.

use super::{AlsModel, AlsParams, Solver};
use crate::cf::kernels::{axpy, dot, dot4};
use crate::cf::{Error, Interactions};
use crate::progress::{Stage, Unit};
use crate::rng::Rng;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

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
