//! Churn risk bands: the three levels a CRM user acts on, from the calibrated churn
//! probability. One table for every answer that shows a band (single and batch churn,
//! customer lists, their CSV export, the dashboard's colours).

use serde::Serialize;
use utoipa::ToSchema;

/// Where a churn probability falls for a CRM user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RiskBand {
    /// Churn probability below 0.3.
    Low,
    /// Churn probability from 0.3, below 0.6.
    Medium,
    /// Churn probability at least 0.6.
    High,
}

impl RiskBand {
    /// Lowest churn probability of the medium band. The probabilities are calibrated, so
    /// a band's bounds keep their meaning across retrains and stores.
    pub const MEDIUM: f64 = 0.3;
    /// Lowest churn probability of the high band: more likely gone than not, with margin.
    pub const HIGH: f64 = 0.6;

    /// The band of churn probability `p` (NaN, which no calibrated model gives, is low).
    pub fn of(p: f64) -> RiskBand {
        if p >= Self::HIGH {
            RiskBand::High
        } else if p >= Self::MEDIUM {
            RiskBand::Medium
        } else {
            RiskBand::Low
        }
    }

    /// The band's wire name: `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskBand::Low => "low",
            RiskBand::Medium => "medium",
            RiskBand::High => "high",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RiskBand;

    #[test]
    fn bands_split_at_their_bounds() {
        assert_eq!(RiskBand::of(0.0), RiskBand::Low);
        assert_eq!(RiskBand::of(0.299), RiskBand::Low);
        assert_eq!(RiskBand::of(0.3), RiskBand::Medium);
        assert_eq!(RiskBand::of(0.599), RiskBand::Medium);
        assert_eq!(RiskBand::of(0.6), RiskBand::High);
        assert_eq!(RiskBand::of(1.0), RiskBand::High);
        assert_eq!(RiskBand::of(f64::NAN), RiskBand::Low);
        let wire = serde_json::to_string(&RiskBand::Medium).unwrap();
        assert_eq!(wire, "\"medium\"");
        assert_eq!(RiskBand::High.as_str(), "high");
    }
}
