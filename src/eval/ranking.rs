//! Top-k recommendation metrics, computed in one loop so recall, NDCG and hit rate agree
//! on what a hit is.

/// Metrics of one ranked list against the set of relevant items.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RankingMetrics {
    /// Share of the relevant items found in the top k.
    pub recall: f64,
    /// Normalised discounted cumulative gain at k (binary relevance).
    pub ndcg: f64,
    /// 1 when at least one relevant item is in the top k.
    pub hit: f64,
    /// Share of the top k that is relevant.
    pub precision: f64,
}

/// Ranking metrics of `ranked` (best first, distinct items) against `relevant` (sorted,
/// distinct) at cut-off `k`. An empty `relevant` set scores zero everywhere; callers leave
/// such customers out of averages.
pub fn ranking_metrics_at_k(ranked: &[u32], relevant: &[u32], k: usize) -> RankingMetrics {
    debug_assert!(
        relevant.windows(2).all(|w| w[0] < w[1]),
        "relevant must be sorted and distinct"
    );
    if relevant.is_empty() || k == 0 {
        return RankingMetrics::default();
    }
    let mut hits = 0usize;
    let mut dcg = 0.0;
    for (pos, item) in ranked.iter().take(k).enumerate() {
        if relevant.binary_search(item).is_ok() {
            hits += 1;
            dcg += 1.0 / ((pos + 2) as f64).log2();
        }
    }
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|p| 1.0 / ((p + 2) as f64).log2())
        .sum();
    RankingMetrics {
        recall: hits as f64 / relevant.len() as f64,
        ndcg: dcg / ideal,
        hit: (hits > 0) as u8 as f64,
        precision: hits as f64 / k as f64,
    }
}

/// Running mean of ranking metrics over customers.
#[derive(Debug, Clone, Copy, Default)]
pub struct RankingAccumulator {
    sum: RankingMetrics,
    n: usize,
}

impl RankingAccumulator {
    /// Adds one customer's metrics.
    pub fn add(&mut self, m: RankingMetrics) {
        self.sum.recall += m.recall;
        self.sum.ndcg += m.ndcg;
        self.sum.hit += m.hit;
        self.sum.precision += m.precision;
        self.n += 1;
    }

    /// Merges another accumulator (for parallel reductions; addition order is the caller's).
    pub fn merge(mut self, other: RankingAccumulator) -> RankingAccumulator {
        self.sum.recall += other.sum.recall;
        self.sum.ndcg += other.sum.ndcg;
        self.sum.hit += other.sum.hit;
        self.sum.precision += other.sum.precision;
        self.n += other.n;
        self
    }

    /// Customers added.
    pub fn count(&self) -> usize {
        self.n
    }

    /// Mean metrics (zeros when empty).
    pub fn mean(&self) -> RankingMetrics {
        if self.n == 0 {
            return RankingMetrics::default();
        }
        let n = self.n as f64;
        RankingMetrics {
            recall: self.sum.recall / n,
            ndcg: self.sum.ndcg / n,
            hit: self.sum.hit / n,
            precision: self.sum.precision / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_empty_lists() {
        let m = ranking_metrics_at_k(&[3, 1, 2], &[1, 2, 3], 3);
        assert_eq!(m.recall, 1.0);
        assert!((m.ndcg - 1.0).abs() < 1e-12);
        assert_eq!(m.hit, 1.0);
        let z = ranking_metrics_at_k(&[7, 8], &[1, 2], 2);
        assert_eq!((z.recall, z.ndcg, z.hit), (0.0, 0.0, 0.0));
    }

    #[test]
    fn known_values() {
        // relevant {2, 9}; ranked 5, 2, 7, 9 at k = 3: one hit at position 2.
        let m = ranking_metrics_at_k(&[5, 2, 7, 9], &[2, 9], 3);
        assert_eq!(m.recall, 0.5);
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg - (1.0 / 3f64.log2()) / ideal).abs() < 1e-12);
        assert!((m.precision - 1.0 / 3.0).abs() < 1e-12);
        // Items past k do not count.
        let m4 = ranking_metrics_at_k(&[5, 2, 7, 9], &[2, 9], 4);
        assert_eq!(m4.recall, 1.0);
    }

    #[test]
    fn accumulator_averages() {
        let mut a = RankingAccumulator::default();
        a.add(ranking_metrics_at_k(&[1], &[1], 1));
        let mut b = RankingAccumulator::default();
        b.add(ranking_metrics_at_k(&[2], &[1], 1));
        let m = a.merge(b).mean();
        assert_eq!(m.recall, 0.5);
        assert_eq!(m.hit, 0.5);
    }
}
