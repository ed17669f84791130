//! User-based nearest neighbours in the spirit of TIFU-KNN (Hu et al., SIGIR 2020): each
//! customer is a vector of recency-weighted item counts; a customer's item scores blend
//! their own normalised vector with the mean of their most similar customers' vectors.
//!
//! Similarities are exact cosines computed sparsely through the item → buyers transpose,
//! one customer at a time in parallel with a per-thread dense accumulator, so the result
//! does not depend on the thread count.

use super::topk::{Scored, TopLists, keep_best};
use super::{Error, Interactions};
use crate::progress::{Stage, Unit};
use rayon::prelude::*;

crate::documented! {
    /// User-kNN parameters.
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct UserKnnParams {
        /// Neighbours blended per customer.
        pub neighbours: usize,
        /// Weight of the customer's own vector (the neighbours' mean gets `1 − alpha`).
        pub alpha: f32,
        /// Items kept per customer (own items included), best first.
        pub top_n: usize,
        /// Items bought by more customers are left out of the similarity (they say little about
        /// taste and dominate its cost); they are still scored.
        pub max_item_buyers: usize,
    }
}

impl Default for UserKnnParams {
    fn default() -> Self {
        UserKnnParams {
            neighbours: 300,
            alpha: 0.9,
            top_n: 60,
            max_item_buyers: 2_000,
        }
    }
}

impl UserKnnParams {
    /// Checks every parameter's range.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.alpha.is_finite() && (0.0..=1.0).contains(&self.alpha)) {
            return Err(Error::BadParam {
                name: "alpha",
                value: self.alpha as f64,
                reason: "must be in [0, 1]",
            });
        }
        if self.neighbours == 0 {
            return Err(Error::BadParam {
                name: "neighbours",
                value: 0.0,
                reason: "must be >= 1",
            });
        }
        Ok(())
    }
}

/// Each row's best `top_n` items by the blended score `alpha · own + (1 − alpha) · mean of
/// the neighbours' (similarity-weighted) vectors`, all vectors L2-normalised.
///
/// `x` holds non-negative weights (e.g. recency-decayed basket counts); rows without
/// entries get empty lists.
pub fn user_knn(x: &Interactions, params: &UserKnnParams) -> Result<TopLists, Error> {
    user_knn_rows(x, params, None)
}

/// [`user_knn`] for the rows marked in `rows` only (others get empty lists); `None` is
/// every row. Training snapshots need the lists of their sampled customers alone.
pub fn user_knn_rows(
    x: &Interactions,
    params: &UserKnnParams,
    rows: Option<&[bool]>,
) -> Result<TopLists, Error> {
    params.validate()?;
    let n_rows = x.n_rows();
    let n_items = x.n_cols();
    let norm: Vec<f32> = (0..n_rows)
        .map(|r| {
            let (_, v) = x.row(r);
            let n = v.iter().map(|w| w * w).sum::<f32>().sqrt();
            if n > 0.0 { 1.0 / n } else { 0.0 }
        })
        .collect();
    let (xt, max_buyers) = neighbour_pool(x, params.max_item_buyers)?;
    let wanted_rows = rows.map_or(n_rows, |r| r.iter().filter(|&&w| w).count());
    let stage = Stage::start(
        "user neighbours",
        wanted_rows as u64,
        Unit::Items("customers"),
    );
    let lists: Vec<Vec<Scored>> = (0..n_rows)
        .into_par_iter()
        .map_init(
            || {
                (
                    vec![0.0f32; n_rows],
                    Vec::new(),
                    vec![0.0f32; n_items],
                    Vec::new(),
                    Vec::new(),
                )
            },
            |(sim, touched, score, items, found), u| {
                let (own_items, own_w) = x.row(u);
                let wanted = rows.is_none_or(|r| r.get(u).copied().unwrap_or(false));
                if !wanted {
                    return Vec::new();
                }
                stage.inc(1);
                if own_items.is_empty() || norm[u] == 0.0 {
                    return Vec::new();
                }
                for (&i, &w) in own_items.iter().zip(own_w) {
                    let (buyers, bw) = xt.row(i as usize);
                    if buyers.len() > max_buyers {
                        continue;
                    }
                    for (&v, &b) in buyers.iter().zip(bw) {
                        if v as usize == u {
                            continue;
                        }
                        let s = &mut sim[v as usize];
                        if *s == 0.0 {
                            touched.push(v);
                        }
                        *s += w * b;
                    }
                }
                for &v in touched.iter() {
                    found.push(Scored {
                        item: v,
                        score: sim[v as usize] * norm[u] * norm[v as usize],
                    });
                    sim[v as usize] = 0.0;
                }
                touched.clear();
                keep_best(found, params.neighbours);
                let total: f32 = found.iter().map(|s| s.score).sum();
                let mut add = |i: u32, w: f32, items: &mut Vec<u32>| {
                    let s = &mut score[i as usize];
                    if *s == 0.0 {
                        items.push(i);
                    }
                    *s += w;
                };
                for (&i, &w) in own_items.iter().zip(own_w) {
                    add(i, params.alpha * w * norm[u], items);
                }
                if total > 0.0 {
                    for nb in found.iter() {
                        let v = nb.item as usize;
                        let scale = (1.0 - params.alpha) * nb.score / total * norm[v];
                        let (vi, vw) = x.row(v);
                        for (&i, &w) in vi.iter().zip(vw) {
                            add(i, scale * w, items);
                        }
                    }
                }
                found.clear();
                for &i in items.iter() {
                    found.push(Scored {
                        item: i,
                        score: score[i as usize],
                    });
                    score[i as usize] = 0.0;
                }
                items.clear();
                keep_best(found, params.top_n);
                // A clone is sized to the list; `found` keeps its capacity for the next row.
                let list = found.clone();
                found.clear();
                list
            },
        )
        .collect();
    stage.finish();
    TopLists::from_lists(&lists)
}

/// Most customers neighbours are drawn from. A customer's similarity pass costs the sum of
/// their items' buyer counts, which grows with the store: at 1.8M customers the pass over
/// everyone ran for tens of minutes. Past this size neighbours come from an evenly spaced
/// sample of the rows (customers are interned in order of first event, so the sample spans
/// every cohort); 300 neighbours out of 200k are still close ones. Every row still gets a
/// list. Above the public data sets' sizes, so their figures are exact.
pub const MAX_NEIGHBOUR_POOL: usize = 200_000;

/// The item → buyers transpose restricted to the neighbour pool, and the buyer count above
/// which an item is left out of the similarity (`max_item_buyers` scaled to the pool).
fn neighbour_pool(
    x: &Interactions,
    max_item_buyers: usize,
) -> Result<(Interactions, usize), Error> {
    let xt = x.transpose();
    let n = x.n_rows();
    if n <= MAX_NEIGHBOUR_POOL {
        return Ok((xt, max_item_buyers));
    }
    let mut in_pool = vec![false; n];
    for k in 0..MAX_NEIGHBOUR_POOL {
        in_pool[k * n / MAX_NEIGHBOUR_POOL] = true;
    }
    let mut indptr = Vec::with_capacity(xt.n_rows() + 1);
    indptr.push(0u32);
    let (mut indices, mut values) = (Vec::new(), Vec::new());
    for i in 0..xt.n_rows() {
        let (rows, w) = xt.row(i);
        for (&r, &v) in rows.iter().zip(w) {
            if in_pool[r as usize] {
                indices.push(r);
                values.push(v);
            }
        }
        indptr.push(indices.len() as u32);
    }
    let pooled = Interactions::from_csr(xt.n_rows(), n, indptr, indices, values)?;
    let scaled = (max_item_buyers as u128 * MAX_NEIGHBOUR_POOL as u128 / n as u128) as usize;
    Ok((pooled, scaled.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[(u32, f32)]], n_items: usize) -> Interactions {
        let mut ptr = vec![0u32];
        let (mut item, mut val) = (Vec::new(), Vec::new());
        for r in rows {
            for &(i, w) in *r {
                item.push(i);
                val.push(w);
            }
            ptr.push(item.len() as u32);
        }
        Interactions::from_csr(rows.len(), n_items, ptr, item, val).unwrap()
    }

    #[test]
    fn neighbours_items_are_recommended_with_the_exact_blend() {
        // Customers 0 and 1 share items 0 and 1; customer 1 also buys 2. Customer 2 shares
        // nothing with 0 and buys 3, which 0 must never get.
        let x = matrix(
            &[
                &[(0, 1.0), (1, 1.0)],
                &[(0, 1.0), (1, 1.0), (2, 1.0)],
                &[(3, 2.0)],
            ],
            4,
        );
        let p = UserKnnParams {
            neighbours: 5,
            alpha: 0.5,
            top_n: 10,
            max_item_buyers: 100,
        };
        let lists = user_knn(&x, &p).unwrap();
        let (items, scores) = lists.row(0);
        assert!(!items.contains(&3), "no similarity, no score: {items:?}");
        // Own: 0.5 / sqrt(2) for items 0 and 1; the only neighbour (customer 1, weight 1 after
        // normalising by the similarity sum) adds 0.5 / sqrt(3) to items 0, 1 and 2.
        let own = 0.5 / 2f32.sqrt();
        let nb = 0.5 / 3f32.sqrt();
        assert_eq!(items, &[0, 1, 2]);
        assert!((scores[0] - (own + nb)).abs() < 1e-6);
        assert!((scores[2] - nb).abs() < 1e-6);
        // Customer 2 has no neighbour: only its own item.
        assert_eq!(lists.row(2).0, &[3]);
        assert!((lists.row(2).1[0] - 0.5).abs() < 1e-6);
    }

    #[test]
    fn crowded_items_do_not_make_neighbours() {
        // Item 0 is bought by everyone; with max_item_buyers 2 it cannot link 0 and 1.
        let x = matrix(
            &[&[(0, 1.0)], &[(0, 1.0), (1, 1.0)], &[(0, 1.0), (2, 1.0)]],
            3,
        );
        let p = UserKnnParams {
            neighbours: 5,
            alpha: 0.5,
            top_n: 10,
            max_item_buyers: 2,
        };
        assert_eq!(user_knn(&x, &p).unwrap().row(0).0, &[0]);
    }

    #[test]
    fn a_large_store_draws_neighbours_from_an_evenly_spaced_pool() {
        // Rows 2k and 2k+1 share item k and each has an item of its own: a row's list holds
        // its partner's own item exactly when the partner is in the pool.
        let n = MAX_NEIGHBOUR_POOL + MAX_NEIGHBOUR_POOL / 4;
        let pairs = n / 2;
        let mut ptr = vec![0u32];
        let (mut item, mut val) = (Vec::new(), Vec::new());
        for r in 0..n {
            item.extend([(r / 2) as u32, (pairs + r) as u32]);
            val.extend([1.0, 1.0]);
            ptr.push(item.len() as u32);
        }
        let x = Interactions::from_csr(n, pairs + n, ptr, item, val).unwrap();
        let (pool, max_buyers) = neighbour_pool(&x, 2_000).unwrap();
        let mut members: Vec<u32> = (0..pool.n_rows())
            .flat_map(|i| pool.row(i).0.to_vec())
            .collect();
        members.sort_unstable();
        members.dedup();
        assert_eq!(members.len(), MAX_NEIGHBOUR_POOL);
        assert_eq!(max_buyers, 1_600, "max_item_buyers scales with the pool");
        let in_pool = |r: usize| members.binary_search(&(r as u32)).is_ok();
        let wanted: Vec<bool> = (0..n).map(|r| r < 4_000).collect();
        let p = UserKnnParams {
            neighbours: 5,
            alpha: 0.5,
            top_n: 10,
            max_item_buyers: 2_000,
        };
        let lists = user_knn_rows(&x, &p, Some(&wanted)).unwrap();
        let (mut with, mut without) = (0, 0);
        for r in 0..4_000 {
            let partner = r ^ 1;
            let has = lists.row(r).0.contains(&((pairs + partner) as u32));
            assert_eq!(has, in_pool(partner), "row {r}");
            assert!(lists.row(r).0.contains(&((pairs + r) as u32)));
            if has { with += 1 } else { without += 1 }
        }
        assert!(with > 0 && without > 0, "{with} {without}");
        // Small stores use everyone.
        let small = matrix(&[&[(0, 1.0)], &[(0, 1.0)]], 1);
        assert_eq!(neighbour_pool(&small, 7).unwrap().1, 7);
    }

    #[test]
    fn bad_alpha_is_refused() {
        let x = matrix(&[&[(0, 1.0)]], 1);
        let p = UserKnnParams {
            alpha: 1.5,
            ..UserKnnParams::default()
        };
        assert!(matches!(
            user_knn(&x, &p),
            Err(Error::BadParam { name: "alpha", .. })
        ));
    }
}
