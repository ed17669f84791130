//! The synthetic catalog: items, taste groups, Zipf popularity and complementary pairs.

use super::{ItemInfo, SynthConfig};
use crate::rng::Rng;
use crate::time::DAY;

/// Probability that an item is listed under its own group's category.
pub const CATEGORY_FIDELITY: f64 = 0.9;

/// Stream key of the catalog; customer streams use their index (< 2^32), so they never meet.
const CATALOG_STREAM: u64 = u64::MAX;

const CATEGORY_NAMES: [&str; 12] = [
    "produce",
    "dairy",
    "bakery",
    "beverages",
    "snacks",
    "household",
    "personal-care",
    "baby",
    "pet",
    "frozen",
    "electronics",
    "home",
];

const ADJECTIVES: [&str; 10] = [
    "Classic", "Organic", "Fresh", "Premium", "Family", "Everyday", "Deluxe", "Mini", "Value",
    "Original",
];

/// Category name of taste group `g` (`produce`, `dairy`, …; `produce-2` once names run out).
pub fn category_name(g: u32) -> String {
    let base = CATEGORY_NAMES[g as usize % CATEGORY_NAMES.len()];
    match g as usize / CATEGORY_NAMES.len() {
        0 => base.to_string(),
        round => format!("{base}-{}", round + 1),
    }
}

/// Draws items in proportion to fixed weights (inverse CDF over a cumulative table).
pub(super) struct WeightedItems {
    items: Vec<u32>,
    cumulative: Vec<f64>,
}

impl WeightedItems {
    fn new(items: Vec<u32>, weight: impl Fn(u32) -> f64) -> Self {
        let mut total = 0.0;
        let cumulative = items
            .iter()
            .map(|&i| {
                total += weight(i);
                total
            })
            .collect();
        WeightedItems { items, cumulative }
    }

    /// One draw, or `None` if there is nothing to draw from.
    pub(super) fn sample(&self, rng: &mut Rng) -> Option<u32> {
        let total = *self.cumulative.last()?;
        let u = rng.uniform() * total;
        let i = self.cumulative.partition_point(|&c| c <= u);
        // `u < total` always, but rounding in the running sum could leave i == len.
        self.items.get(i.min(self.items.len() - 1)).copied()
    }
}

/// The catalog plus the samplers the customer simulation draws from.
pub(super) struct Catalog {
    pub(super) items: Vec<ItemInfo>,
    pub(super) pairs: Vec<(u32, u32)>,
    /// Pair partner of each item.
    pub(super) partner: Vec<Option<u32>>,
    /// Popularity-weighted draw over the whole catalog.
    pub(super) global: WeightedItems,
    /// Popularity-weighted draw within each group.
    pub(super) by_group: Vec<WeightedItems>,
}

impl Catalog {
    /// Builds the catalog of a sanitized config (`1 <= groups <= items`).
    pub(super) fn build(cfg: &SynthConfig) -> Catalog {
        let mut rng = Rng::derived(cfg.seed, &[CATALOG_STREAM]);
        let n = cfg.items as usize;
        let groups = cfg.groups as usize;

        // Round-robin over a shuffle keeps group sizes within one of each other.
        let mut order: Vec<u32> = (0..cfg.items).collect();
        rng.shuffle(&mut order);
        let mut group_of = vec![0u32; n];
        for (k, &i) in order.iter().enumerate() {
            group_of[i as usize] = (k % groups) as u32;
        }
        // An independent shuffle for popularity, so rank does not follow the group.
        rng.shuffle(&mut order);
        let mut rank_of = vec![0u32; n];
        for (k, &i) in order.iter().enumerate() {
            rank_of[i as usize] = k as u32;
        }
        let group_price: Vec<f64> = (0..groups)
            .map(|_| (4.0f64.ln() + 0.7 * rng.normal()).exp())
            .collect();

        let half = i64::from(cfg.days) * DAY / 2;
        let items: Vec<ItemInfo> = (0..cfg.items)
            .map(|i| {
                let group = group_of[i as usize];
                let category = if groups > 1 && !rng.bernoulli(CATEGORY_FIDELITY) {
                    // Any category but the group's own.
                    let other = rng.below(groups as u64 - 1) as u32;
                    if other >= group { other + 1 } else { other }
                } else {
                    group
                };
                let category = category_name(category);
                let adjective = ADJECTIVES[rng.below(ADJECTIVES.len() as u64) as usize];
                let price = group_price[group as usize] * (0.5 * rng.normal()).exp();
                let price = ((price * 100.0).round() / 100.0).max(0.29) as f32;
                let discontinued_at = rng
                    .bernoulli(cfg.unavailable_fraction)
                    .then(|| cfg.start + half + (rng.uniform() * half as f64) as i64);
                ItemInfo {
                    item: i,
                    group,
                    name: format!("{adjective} {category} {i:05}"),
                    category,
                    price,
                    popularity_rank: rank_of[i as usize],
                    discontinued_at,
                }
            })
            .collect();

        let mut members: Vec<Vec<u32>> = vec![Vec::new(); groups];
        for item in &items {
            members[item.group as usize].push(item.item);
        }
        let mut partner = vec![None; n];
        let mut pairs = Vec::new();
        for group_items in &members {
            let mut shuffled = group_items.clone();
            rng.shuffle(&mut shuffled);
            let wanted = (cfg.pair_fraction * shuffled.len() as f64 / 2.0).round() as usize;
            for two in shuffled.chunks_exact(2).take(wanted) {
                let (a, b) = (two[0].min(two[1]), two[0].max(two[1]));
                partner[a as usize] = Some(b);
                partner[b as usize] = Some(a);
                pairs.push((a, b));
            }
        }
        pairs.sort_unstable();

        let s = cfg.zipf_exponent;
        let weight = |i: u32| (f64::from(rank_of[i as usize]) + 1.0).powf(-s);
        let global = WeightedItems::new((0..cfg.items).collect(), weight);
        let by_group = members
            .into_iter()
            .map(|m| WeightedItems::new(m, weight))
            .collect();
        Catalog {
            items,
            pairs,
            partner,
            global,
            by_group,
        }
    }

    /// Whether `item` can be sold at time `ts`.
    pub(super) fn on_sale(&self, item: u32, ts: i64) -> bool {
        self.items
            .get(item as usize)
            .is_some_and(|i| i.discontinued_at.is_none_or(|d| ts < d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(items: u32, groups: u32) -> Catalog {
        Catalog::build(&SynthConfig {
            items,
            groups,
            ..SynthConfig::default()
        })
    }

    #[test]
    fn groups_are_balanced_and_categories_mostly_follow_them() {
        let c = catalog(1_000, 8);
        let mut sizes = [0usize; 8];
        let mut faithful = 0;
        for item in &c.items {
            sizes[item.group as usize] += 1;
            faithful += usize::from(item.category == category_name(item.group));
        }
        assert!(sizes.iter().all(|&s| s == 125), "{sizes:?}");
        let share = faithful as f64 / 1_000.0;
        assert!((share - CATEGORY_FIDELITY).abs() < 0.04, "fidelity {share}");
    }

    #[test]
    fn pairs_are_disjoint_within_a_group_and_mirrored() {
        let c = catalog(400, 5);
        // 80 items per group, 30 % paired ⇒ 12 pairs per group.
        assert_eq!(c.pairs.len(), 5 * 12);
        let mut seen = std::collections::HashSet::new();
        for &(a, b) in &c.pairs {
            assert!(a < b);
            assert_eq!(c.items[a as usize].group, c.items[b as usize].group);
            assert_eq!(c.partner[a as usize], Some(b));
            assert_eq!(c.partner[b as usize], Some(a));
            assert!(seen.insert(a) && seen.insert(b), "item in two pairs");
        }
        let partnered = c.partner.iter().filter(|p| p.is_some()).count();
        assert_eq!(partnered, 2 * c.pairs.len());
    }

    #[test]
    fn weighted_draws_follow_the_weights() {
        let w = WeightedItems::new(vec![7, 8, 9], |i| if i == 8 { 3.0 } else { 1.0 });
        let mut rng = Rng::new(3);
        let mut counts = [0u32; 3];
        for _ in 0..50_000 {
            let i = w.sample(&mut rng).expect("non-empty");
            counts[(i - 7) as usize] += 1;
        }
        let share = f64::from(counts[1]) / 50_000.0;
        assert!((share - 0.6).abs() < 0.01, "{counts:?}");
        assert!(
            WeightedItems::new(vec![], |_| 1.0)
                .sample(&mut rng)
                .is_none()
        );
    }

    #[test]
    fn discontinued_items_stop_being_on_sale() {
        let c = Catalog::build(&SynthConfig {
            items: 500,
            unavailable_fraction: 0.2,
            ..SynthConfig::default()
        });
        let gone: Vec<_> = c.items.iter().filter(|i| !i.available()).collect();
        assert!((70..=130).contains(&gone.len()), "{}", gone.len());
        let cfg = SynthConfig::default();
        for item in gone {
            let d = item.discontinued_at.expect("unavailable has a date");
            assert!(d >= cfg.start + i64::from(cfg.days) * DAY / 2 && d < cfg.end());
            assert!(c.on_sale(item.item, d - 1) && !c.on_sale(item.item, d));
        }
        assert!(!c.on_sale(500, cfg.start));
    }

    #[test]
    fn category_names_stay_unique_past_the_list() {
        let names: std::collections::HashSet<_> = (0..40).map(category_name).collect();
        assert_eq!(names.len(), 40);
        assert_eq!(category_name(1), "dairy");
        assert_eq!(category_name(13), "dairy-2");
    }
}
