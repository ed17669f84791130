//! Churn factors in words a CRM user reads: "no purchase for 41 days, 3× their usual gap".

use serde::{Deserialize, Serialize};

/// One reason behind a churn score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Factor {
    /// Feature name.
    pub feature: String,
    /// The customer's value of it (NaN = unknown, sent as `null`).
    #[schema(nullable)]
    pub value: f64,
    /// TreeSHAP contribution to the churn log-odds (> 0 raises the risk).
    pub impact: f64,
    /// Human-readable description.
    pub text: String,
}

fn plural(n: f64, one: &str, many: &str) -> String {
    let n = n.round();
    if n == 1.0 {
        format!("1 {one}")
    } else {
        format!("{n:.0} {many}")
    }
}

/// Text for feature `f` of `row`, using other columns of the row for context.
pub fn describe(names: &[String], row: &[f32], f: usize) -> String {
    let get = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .and_then(|i| row.get(i))
            .map(|v| *v as f64)
            .filter(|v| !v.is_nan())
    };
    let name = names.get(f).map_or("", String::as_str);
    let Some(v) = row.get(f).map(|v| *v as f64).filter(|v| !v.is_nan()) else {
        return match name {
            "recency_days" => "no purchase yet".into(),
            "gap_mean_days" | "gap_last_days" | "gap_std_days" | "recency_over_gap" => {
                "only one order so far, no usual gap yet".into()
            }
            "days_since_view" => "never viewed a product".into(),
            "days_since_cart" => "never added to a cart".into(),
            _ => format!("{} unknown", name.replace('_', " ")),
        };
    };
    let usual = get("gap_mean_days");
    match name {
        "recency_days" | "recency_over_gap" => {
            let days = get("recency_days").unwrap_or(v);
            // A live purchase puts recency under a day; "no purchase for 0 days" misreads.
            if days < 0.5 {
                return match usual {
                    Some(g) if g > 0.0 => format!(
                        "bought within the last day; their usual gap is {}",
                        plural(g, "day", "days")
                    ),
                    _ => "bought within the last day".into(),
                };
            }
            match usual {
                Some(g) if g > 0.0 => format!(
                    "no purchase for {}, {:.1}× their usual gap of {}",
                    plural(days, "day", "days"),
                    days / g.max(1.0),
                    plural(g, "day", "days")
                ),
                _ => format!("no purchase for {}", plural(days, "day", "days")),
            }
        }
        "tenure_days" => format!("first purchase {} ago", plural(v, "day", "days")),
        "orders_total" => format!("{} in total", plural(v, "order", "orders")),
        "spend_total" => format!("spent {v:.2} in total"),
        "orders_trend_30d" => {
            if v < 0.0 {
                format!(
                    "{} fewer in the last 30 days than the 30 before",
                    plural(-v, "order", "orders")
                )
            } else if v > 0.0 {
                format!(
                    "{} more in the last 30 days than the 30 before",
                    plural(v, "order", "orders")
                )
            } else {
                "as many orders in the last 30 days as in the 30 before".into()
            }
        }
        "spend_trend_30d" => {
            format!("spend in the last 30 days changed by {v:+.2} vs the 30 before")
        }
        "avg_basket_lines" => format!("{v:.1} lines per basket on average"),
        "avg_basket_value" => format!("{v:.2} per basket on average"),
        "distinct_items" => format!(
            "has bought {}",
            plural(v, "different product", "different products")
        ),
        "distinct_categories" => format!("buys in {}", plural(v, "category", "categories")),
        "gap_mean_days" => format!("usually buys every {}", plural(v, "day", "days")),
        "gap_std_days" => format!(
            "gaps between orders vary by about {}",
            plural(v, "day", "days")
        ),
        "gap_last_days" => format!("{} between the last two orders", plural(v, "day", "days")),
        "orders_per_30d" => format!("{v:.1} orders per 30 days since the first"),
        "return_rate" => format!("returns {:.0}% of what they buy", v * 100.0),
        "days_since_view" => format!("last viewed a product {} ago", plural(v, "day", "days")),
        "days_since_cart" => format!("last added to a cart {} ago", plural(v, "day", "days")),
        "bgnbd_p_alive" => format!(
            "{:.0}% likely still a customer, by their buying rhythm",
            v * 100.0
        ),
        "bgnbd_expected_purchases" => {
            format!("about {v:.1} purchases expected in the horizon by their rhythm")
        }
        "bgnbd_p_any_purchase" => format!(
            "{:.0}% chance of a purchase in the horizon by their rhythm",
            v * 100.0
        ),
        _ => {
            for (prefix, what) in [
                ("orders_", "order"),
                ("spend_", "spend"),
                ("views_", "view"),
                ("carts_", "cart"),
            ] {
                if let Some(window) = name.strip_prefix(prefix) {
                    let period = match window.strip_suffix('d') {
                        Some(d) => format!("in the last {d} days"),
                        None => "in total".into(),
                    };
                    return if what == "spend" {
                        format!("spent {v:.2} {period}")
                    } else {
                        format!("{} {period}", plural(v, what, &format!("{what}s")))
                    };
                }
            }
            if name == "returns_total" {
                return plural(v, "return", "returns");
            }
            match name.strip_prefix("attr_") {
                Some(a) => format!("{} group {v:.0}", a.replace('_', " ")),
                None => format!("{} = {v:.2}", name.replace('_', " ")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::BEHAVIOUR_FEATURES;

    fn names() -> Vec<String> {
        BEHAVIOUR_FEATURES.iter().map(|s| s.to_string()).collect()
    }

    fn at(name: &str) -> usize {
        BEHAVIOUR_FEATURES.iter().position(|n| *n == name).unwrap()
    }

    #[test]
    fn recency_is_told_against_the_usual_gap() {
        let mut row = vec![f32::NAN; BEHAVIOUR_FEATURES.len()];
        row[at("recency_days")] = 41.0;
        row[at("gap_mean_days")] = 13.5;
        let t = describe(&names(), &row, at("recency_days"));
        assert_eq!(
            t,
            "no purchase for 41 days, 3.0× their usual gap of 14 days"
        );
        row[at("recency_days")] = 0.2;
        assert_eq!(
            describe(&names(), &row, at("recency_days")),
            "bought within the last day; their usual gap is 14 days"
        );
        row[at("recency_days")] = 41.0;
        row[at("gap_mean_days")] = f32::NAN;
        assert_eq!(
            describe(&names(), &row, at("recency_days")),
            "no purchase for 41 days"
        );
        assert_eq!(
            describe(&names(), &row, at("gap_mean_days")),
            "only one order so far, no usual gap yet"
        );
    }

    #[test]
    fn windows_and_trends_read_as_sentences() {
        let mut row = vec![0.0f32; BEHAVIOUR_FEATURES.len()];
        row[at("orders_30d")] = 1.0;
        row[at("spend_90d")] = 12.5;
        row[at("orders_trend_30d")] = -2.0;
        assert_eq!(
            describe(&names(), &row, at("orders_30d")),
            "1 order in the last 30 days"
        );
        assert_eq!(
            describe(&names(), &row, at("spend_90d")),
            "spent 12.50 in the last 90 days"
        );
        assert_eq!(
            describe(&names(), &row, at("orders_trend_30d")),
            "2 orders fewer in the last 30 days than the 30 before"
        );
    }
}
