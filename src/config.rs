//! The training configuration: one TOML file with a `[propensity]` table (churn, repurchase
//! and count models) and a `[recommend]` table (candidate sources and ranker), read the same
//! way by `train`, `evaluate` and `features`. Keys left out keep their defaults; an unknown
//! key is an error naming it and the file, so a typo never trains silently with a default.
//! The effective config (defaults filled in) is written into every bundle.

use crate::cf::als::AlsParams;
use crate::cf::copurchase::CoPurchaseParams;
use crate::cf::user_knn::UserKnnParams;
use crate::documented::Documented;
use crate::gbdt::Params;
use crate::propensity::{PropensityConfig, PropensityError};
use crate::ranking::{RankingError, RecommendConfig};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

crate::documented! {
    /// Everything training needs besides the data and the cutoff.
    #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    pub struct TrainConfig {
        /// Churn, repurchase and next-purchase models.
        pub propensity: PropensityConfig,
        /// Next-best-product recommender.
        pub recommend: RecommendConfig,
    }
}

/// Why a training config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// Config file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key or a value of the wrong type.
    #[error("{}: {message}", path.display())]
    Parse {
        /// Config file (`<text>` for a string).
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A `[propensity]` value out of range.
    #[error("{}: [propensity] {source}", path.display())]
    Propensity {
        /// Config file.
        path: PathBuf,
        /// What is wrong.
        source: PropensityError,
    },
    /// A `[recommend]` value out of range.
    #[error("{}: [recommend] {source}", path.display())]
    Recommend {
        /// Config file.
        path: PathBuf,
        /// What is wrong.
        source: RankingError,
    },
}

impl TrainConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_named(&text, path)
    }

    /// Parses and checks a config text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_named(text, Path::new("<text>"))
    }

    fn parse_named(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: parse_message(text, &e),
        })?;
        cfg.validate_named(path)?;
        Ok(cfg)
    }

    /// Checks every range of both tables.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_named(Path::new("<config>"))
    }

    fn validate_named(&self, path: &Path) -> Result<(), ConfigError> {
        self.propensity
            .validate()
            .map_err(|source| ConfigError::Propensity {
                path: path.to_path_buf(),
                source,
            })?;
        self.recommend
            .validate()
            .map_err(|source| ConfigError::Recommend {
                path: path.to_path_buf(),
                source,
            })
    }

    /// The effective config as TOML (every key, defaults filled in), as bundles record it.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# not representable as TOML: {e}\n"))
    }

    /// Every key with its default value and its doc comment above it: the file
    /// `propensity-train config --defaults` prints.
    pub fn defaults_toml() -> String {
        let mut out = String::from(
            "# propensity training config: every key with its default. Keys left out keep\n\
             # these values; an unknown key is an error.\n",
        );
        let value = toml::Value::try_from(TrainConfig::default())
            .unwrap_or_else(|_| toml::Value::Table(Default::default()));
        write_table(&mut out, &value, &[]);
        out
    }
}

/// The parser's message; a message that already names line and column is kept as it is.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let flat_keys = [
        "horizon_days",
        "curve_days",
        "active_days",
        "churn",
        "count",
    ];
    let legacy = text.lines().any(|l| {
        let key = l.split('=').next().unwrap_or("").trim();
        let table = l.trim().trim_start_matches('[').trim_end_matches(']');
        flat_keys.contains(&key) || (l.trim().starts_with('[') && flat_keys.contains(&table))
    });
    let mut message = e.to_string().trim_end().to_string();
    if legacy {
        message.push_str(
            "\n(propensity model keys now live under a [propensity] table, e.g. \
             [propensity.churn]; `propensity-train config --defaults` prints the layout)",
        );
    }
    message
}

/// Doc comments of the fields of the table at `path`, when it is one of the config's
/// structs (enum tables such as a similarity's variant have none of their own).
fn docs_at(path: &[&str]) -> &'static [(&'static str, &'static str)] {
    match path {
        [] => TrainConfig::FIELDS,
        ["propensity"] => PropensityConfig::FIELDS,
        ["propensity", "churn" | "count" | "curve"] | ["recommend", "ranker"] => Params::FIELDS,
        ["recommend"] => RecommendConfig::FIELDS,
        ["recommend", "copurchase"] => CoPurchaseParams::FIELDS,
        ["recommend", "knn"] => UserKnnParams::FIELDS,
        ["recommend", "als"] => AlsParams::FIELDS,
        _ => &[],
    }
}

fn doc_in(docs: &[(&str, &'static str)], key: &str) -> String {
    docs.iter()
        .find(|(name, _)| *name == key)
        .map(|(_, doc)| doc.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Writes `# doc` lines wrapped at 92 columns.
fn write_comment(out: &mut String, doc: &str) {
    let mut line = String::from("#");
    for word in doc.split_whitespace() {
        if line.len() + 1 + word.len() > 92 && line.len() > 1 {
            let _ = writeln!(out, "{line}");
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    if line.len() > 1 {
        let _ = writeln!(out, "{line}");
    }
}

fn write_table(out: &mut String, value: &toml::Value, path: &[&str]) {
    let Some(table) = value.as_table() else {
        return;
    };
    let docs = docs_at(path);
    // In declaration order (TOML tables sort by key), keys no struct declares last.
    let mut entries: Vec<(&String, &toml::Value)> = table.iter().collect();
    entries.sort_by_key(|(k, _)| docs.iter().position(|(n, _)| n == k).unwrap_or(usize::MAX));
    // Scalars and arrays first (they belong to this table's header), then sub-tables.
    for &(key, v) in entries.iter().filter(|(_, v)| !v.is_table()) {
        match doc_in(docs, key) {
            // An enum variant's own fields (e.g. a similarity's shrinkage) have no struct.
            doc if doc.is_empty() => write_comment(out, &format!("{key} of the variant above.")),
            doc => write_comment(out, &doc),
        }
        let _ = writeln!(out, "{key} = {v}");
    }
    // Fields TOML cannot hold (an unset option such as `max_depth`) are shown commented.
    for (key, _) in docs.iter().filter(|(k, _)| !table.contains_key(*k)) {
        write_comment(out, &doc_in(docs, key));
        let _ = writeln!(out, "# {key} = (unset)");
    }
    for &(key, v) in entries.iter().filter(|(_, v)| v.is_table()) {
        let mut sub = path.to_vec();
        sub.push(key);
        out.push('\n');
        match doc_in(docs, key) {
            doc if doc.is_empty() => write_comment(out, &format!("Variant {key} (see above).")),
            doc => write_comment(out, &doc),
        }
        let _ = writeln!(out, "[{}]", sub.join("."));
        write_table(out, v, &sub);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_defaults_parse_back_to_the_defaults_and_document_every_key() {
        let text = TrainConfig::defaults_toml();
        let parsed = TrainConfig::parse(&text).unwrap();
        assert_eq!(parsed, TrainConfig::default());
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let is_key = !line.starts_with('#') && line.contains(" = ");
            let is_table = line.starts_with('[');
            if is_key || is_table {
                assert!(
                    i > 0 && lines[i - 1].starts_with("# ") && lines[i - 1].len() > 3,
                    "no doc comment above {line:?}"
                );
            }
        }
        assert!(text.contains("[propensity.churn]") && text.contains("[recommend.ranker]"));
        assert!(text.contains("# Boosting rounds (trees).\nnum_iterations = "));
    }

    #[test]
    fn every_config_field_has_a_doc_comment() {
        for docs in [
            TrainConfig::FIELDS,
            PropensityConfig::FIELDS,
            RecommendConfig::FIELDS,
            Params::FIELDS,
            AlsParams::FIELDS,
            CoPurchaseParams::FIELDS,
            UserKnnParams::FIELDS,
        ] {
            for (name, doc) in docs {
                assert!(!doc.trim().is_empty(), "{name} has no doc comment");
            }
        }
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, "[recommend.ranker]\nnum_leavs = 3\n").unwrap();
        let e = TrainConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("num_leavs") && e.contains("x.toml"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = TrainConfig::parse("[propensity]\nactive_dayz = 30\n").unwrap_err();
        assert!(e.to_string().contains("active_dayz"), "{e}");
    }

    #[test]
    fn both_tables_are_read_and_validated() {
        let c = TrainConfig::parse(
            "[propensity]\nactive_days = 30\n[recommend]\ncached_top = 20\n[recommend.als]\nfactors = 8\n",
        )
        .unwrap();
        assert_eq!(c.propensity.active_days, 30);
        assert_eq!(c.recommend.cached_top, 20);
        assert_eq!(c.recommend.als.factors, 8);
        assert_eq!(c.recommend.ranker, RecommendConfig::default().ranker);
        let e = TrainConfig::parse("[recommend]\ncached_top = 500\n").unwrap_err();
        assert!(matches!(e, ConfigError::Recommend { .. }), "{e}");
        assert!(e.to_string().contains("cached_top"), "{e}");
        let e = TrainConfig::parse("[propensity]\ncurve_days = []\n").unwrap_err();
        assert!(matches!(e, ConfigError::Propensity { .. }), "{e}");
    }

    #[test]
    fn a_config_of_the_older_flat_layout_is_refused_with_the_new_layout_named() {
        let e = TrainConfig::parse("horizon_days = 28\n[churn]\nnum_leaves = 4\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[propensity]"), "{e}");
    }

    #[test]
    fn the_effective_config_round_trips() {
        let mut c = TrainConfig::default();
        c.propensity.active_days = 45;
        c.recommend.knn.neighbours = 50;
        assert_eq!(TrainConfig::parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn the_shipped_configs_parse() {
        let default = TrainConfig::parse(include_str!("../training/default.toml")).unwrap();
        assert_eq!(
            default,
            TrainConfig::default(),
            "file and built-in defaults agree"
        );
        let cdnow = TrainConfig::parse(include_str!("../training/cdnow.toml")).unwrap();
        assert_eq!(cdnow.propensity.snapshot_step_days, 91);
    }
}
