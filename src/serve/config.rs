//! Server configuration from defaults, a TOML file, `PROPENSITY_*` environment variables
//! and command-line flags.
//!
//! Precedence, lowest to highest: **defaults < config file < environment < flags**. Unknown
//! keys in the file and unknown `PROPENSITY_*` variables are errors naming them, because a
//! misspelt `PROPENSITY_API_KEY` would otherwise silently leave the server open.
//!
//! | file key | environment | flag | default |
//! |---|---|---|---|
//! | `bind` | `PROPENSITY_BIND` | `--bind` | `127.0.0.1:8080` |
//! | `bundle` | `PROPENSITY_BUNDLE` | `--bundle` | `models/default.bundle` |
//! | `api_keys` | `PROPENSITY_API_KEYS` | — | none (open) |
//! | `body_limit_bytes` | `PROPENSITY_BODY_LIMIT_BYTES` | `--body-limit-bytes` | 16 MiB |
//! | `batch_limit` | `PROPENSITY_BATCH_LIMIT` | `--batch-limit` | 100000 |
//! | `workers` | `PROPENSITY_WORKERS` | `--workers` | 0 (one per core) |
//! | `shutdown_timeout_secs` | `PROPENSITY_SHUTDOWN_TIMEOUT_SECS` | — | 30 |
//! | `journal` | `PROPENSITY_JOURNAL` | `--journal` | `journal/` beside the bundle (`models/journal`) |
//! | `events_batch_limit` | `PROPENSITY_EVENTS_BATCH_LIMIT` | `--events-batch-limit` | 10000 |
//! | — | `PROPENSITY_CONFIG` | `--config` | no file |
//!
//! API keys are never taken from flags (they would show in `ps`). In the file:
//! `[[api_keys]]` tables with `key = "…"` and `scopes = ["recommend", "score"]`; in the
//! environment: `PROPENSITY_API_KEYS="KEY1:recommend,score;KEY2:admin"`. The environment
//! replaces the file's list rather than adding to it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::auth::{ApiKey, KeyError, Scopes};

pub mod toml_error;

/// Command-line flags of `propensity-serve`; each overrides its file and env value.
#[derive(Debug, Default, Clone, clap::Parser)]
#[command(
    name = "propensity-serve",
    version,
    about = "Serve a propensity model bundle over HTTP"
)]
pub struct ServeArgs {
    /// Model bundle to serve [env: PROPENSITY_BUNDLE] [default: models/default.bundle]
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Address to listen on [env: PROPENSITY_BIND] [default: 127.0.0.1:8080]
    #[arg(long)]
    pub bind: Option<String>,
    /// TOML configuration file [env: PROPENSITY_CONFIG]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Largest accepted request body, in bytes [env: PROPENSITY_BODY_LIMIT_BYTES]
    #[arg(long)]
    pub body_limit_bytes: Option<usize>,
    /// Most ids accepted in one batch call [env: PROPENSITY_BATCH_LIMIT]
    #[arg(long)]
    pub batch_limit: Option<usize>,
    /// HTTP worker threads, 0 = one per core [env: PROPENSITY_WORKERS]
    #[arg(long)]
    pub workers: Option<usize>,
    /// Event journal directory [env: PROPENSITY_JOURNAL] [default: journal/ beside the bundle]
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Most events accepted in one POST /v1/events [env: PROPENSITY_EVENTS_BATCH_LIMIT] [default: 10000]
    #[arg(long)]
    pub events_batch_limit: Option<usize>,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    pub bind: String,
    /// Bundle loaded at start and by reloads without an explicit path.
    pub bundle: PathBuf,
    /// API keys with their scopes; empty means the server is open.
    pub api_keys: Vec<ApiKey>,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Most ids accepted in one batch call.
    pub batch_limit: usize,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// How long in-flight requests may take to finish on shutdown, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Event journal directory; `None` = `journal/` beside the bundle, which is
    /// `models/journal` for the default bundle (and keeps each test's journal in its own
    /// temporary directory).
    pub journal: Option<PathBuf>,
    /// Most events accepted in one `POST /v1/events`.
    pub events_batch_limit: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            bind: "127.0.0.1:8080".to_string(),
            bundle: PathBuf::from("models/default.bundle"),
            api_keys: Vec::new(),
            body_limit_bytes: 16 * 1024 * 1024,
            batch_limit: 100_000,
            workers: 0,
            shutdown_timeout_secs: 30,
            journal: None,
            events_batch_limit: 10_000,
        }
    }
}

/// The config file as written; every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    bundle: Option<PathBuf>,
    api_keys: Option<Vec<FileKey>>,
    body_limit_bytes: Option<usize>,
    batch_limit: Option<usize>,
    workers: Option<usize>,
    shutdown_timeout_secs: Option<u64>,
    journal: Option<PathBuf>,
    events_batch_limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    key: String,
    scopes: Vec<String>,
}

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("reading config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown or mistyped keys. Never carries
    /// the file's text: toml's own message quotes the offending line, a secret when it
    /// is an API key.
    #[error("config file {}, {at}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line, key and what is wrong.
        at: toml_error::Located,
    },
    /// A `PROPENSITY_*` variable that the server does not know.
    #[error("unknown environment variable {name}; hint: known ones are {}", KNOWN_ENV.join(", "))]
    UnknownEnv {
        /// The variable's name.
        name: String,
    },
    /// An environment variable whose value does not parse.
    #[error("environment variable {name}: {value:?} is not {expected}")]
    BadEnv {
        /// The variable's name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An API key definition was refused.
    #[error("api key {index} from {origin}: {source}")]
    Key {
        /// `config file` or `PROPENSITY_API_KEYS`.
        origin: &'static str,
        /// 1-based position in its list.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: KeyError,
    },
    /// A value out of its allowed range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why it is refused.
        reason: &'static str,
    },
}

const KNOWN_ENV: &[&str] = &[
    "PROPENSITY_BIND",
    "PROPENSITY_BUNDLE",
    "PROPENSITY_CONFIG",
    "PROPENSITY_API_KEYS",
    "PROPENSITY_BODY_LIMIT_BYTES",
    "PROPENSITY_BATCH_LIMIT",
    "PROPENSITY_WORKERS",
    "PROPENSITY_SHUTDOWN_TIMEOUT_SECS",
    "PROPENSITY_JOURNAL",
    "PROPENSITY_EVENTS_BATCH_LIMIT",
];

impl ServeConfig {
    /// Builds the configuration from flags and the process environment, reading the
    /// config file named by `--config` or `PROPENSITY_CONFIG`.
    pub fn load(args: &ServeArgs) -> Result<ServeConfig, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let config_path = args
            .config
            .clone()
            .or_else(|| env_get(&env, "PROPENSITY_CONFIG").map(PathBuf::from));
        let file_text = match &config_path {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let file = config_path.as_deref().zip(file_text.as_deref());
        ServeConfig::from_sources(file, &env, args)
    }

    /// Combines an optional `(path, TOML text)`, environment pairs and flags, in that
    /// order of increasing precedence, then validates the result.
    pub fn from_sources(
        file: Option<(&Path, &str)>,
        env: &[(String, String)],
        args: &ServeArgs,
    ) -> Result<ServeConfig, ConfigError> {
        for (name, _) in env {
            if name.starts_with("PROPENSITY_") && !KNOWN_ENV.contains(&name.as_str()) {
                return Err(ConfigError::UnknownEnv { name: name.clone() });
            }
        }
        let mut c = ServeConfig::default();

        if let Some((path, text)) = file {
            let f: FileConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
                path: path.to_path_buf(),
                at: toml_error::locate(text, &e),
            })?;
            set(&mut c.bind, f.bind);
            set(&mut c.bundle, f.bundle);
            set(&mut c.body_limit_bytes, f.body_limit_bytes);
            set(&mut c.batch_limit, f.batch_limit);
            set(&mut c.workers, f.workers);
            set(&mut c.shutdown_timeout_secs, f.shutdown_timeout_secs);
            set(&mut c.events_batch_limit, f.events_batch_limit);
            if f.journal.is_some() {
                c.journal = f.journal;
            }
            if let Some(keys) = f.api_keys {
                c.api_keys = keys
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| {
                        let scopes = Scopes::parse_list(k.scopes.iter().map(String::as_str));
                        scopes
                            .and_then(|s| ApiKey::new(k.key, s))
                            .map_err(|source| ConfigError::Key {
                                origin: "config file",
                                index: i + 1,
                                source,
                            })
                    })
                    .collect::<Result<_, _>>()?;
            }
        }

        set(
            &mut c.bind,
            env_get(env, "PROPENSITY_BIND").map(str::to_string),
        );
        set(
            &mut c.bundle,
            env_get(env, "PROPENSITY_BUNDLE").map(PathBuf::from),
        );
        set(
            &mut c.body_limit_bytes,
            env_parse(env, "PROPENSITY_BODY_LIMIT_BYTES")?,
        );
        set(
            &mut c.batch_limit,
            env_parse(env, "PROPENSITY_BATCH_LIMIT")?,
        );
        set(&mut c.workers, env_parse(env, "PROPENSITY_WORKERS")?);
        set(
            &mut c.shutdown_timeout_secs,
            env_parse(env, "PROPENSITY_SHUTDOWN_TIMEOUT_SECS")?,
        );
        if let Some(dir) = env_get(env, "PROPENSITY_JOURNAL") {
            c.journal = Some(PathBuf::from(dir));
        }
        set(
            &mut c.events_batch_limit,
            env_parse(env, "PROPENSITY_EVENTS_BATCH_LIMIT")?,
        );
        if let Some(spec) = env_get(env, "PROPENSITY_API_KEYS") {
            c.api_keys =
                ApiKey::parse_env_list(spec).map_err(|(index, source)| ConfigError::Key {
                    origin: "PROPENSITY_API_KEYS",
                    index,
                    source,
                })?;
        }

        set(&mut c.bind, args.bind.clone());
        set(&mut c.bundle, args.bundle.clone());
        set(&mut c.body_limit_bytes, args.body_limit_bytes);
        set(&mut c.batch_limit, args.batch_limit);
        set(&mut c.workers, args.workers);
        if args.journal.is_some() {
            c.journal = args.journal.clone();
        }
        set(&mut c.events_batch_limit, args.events_batch_limit);

        c.validate()?;
        Ok(c)
    }

    /// The event journal directory: the configured one, else `journal/` beside the bundle.
    pub fn journal_dir(&self) -> PathBuf {
        match &self.journal {
            Some(d) => d.clone(),
            None => self
                .bundle
                .parent()
                .unwrap_or(Path::new("."))
                .join("journal"),
        }
    }

    /// Checks ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason| Err(ConfigError::Invalid { field, reason });
        if self.bind.trim().is_empty() {
            return invalid("bind", "must be host:port");
        }
        if self.body_limit_bytes < 1024 {
            return invalid("body_limit_bytes", "must be at least 1024");
        }
        if self.batch_limit == 0 {
            return invalid("batch_limit", "must be at least 1");
        }
        if self.events_batch_limit == 0 {
            return invalid("events_batch_limit", "must be at least 1");
        }
        if self.workers > 1024 {
            return invalid("workers", "must be at most 1024");
        }
        Ok(())
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *slot = v;
    }
}

fn env_get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    // Last one wins, like a shell.
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn env_parse<T: std::str::FromStr>(
    env: &[(String, String)],
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    match env_get(env, name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| ConfigError::BadEnv {
            name,
            value: v.to_string(),
            expected: "a non-negative integer",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::auth::Scope;

    const KEY_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const KEY_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn file(text: &str) -> Option<(&'static Path, &str)> {
        Some((Path::new("serve.toml"), text))
    }

    #[test]
    fn defaults_without_any_source() {
        let c = ServeConfig::from_sources(None, &[], &ServeArgs::default()).expect("valid");
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(c.bundle, PathBuf::from("models/default.bundle"));
        assert!(c.api_keys.is_empty());
        assert_eq!(c.body_limit_bytes, 16 * 1024 * 1024);
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let text = "bind = \"0.0.0.0:1\"\nbatch_limit = 5\nworkers = 3\nbody_limit_bytes = 4096\n";
        let e = env(&[
            ("PROPENSITY_BIND", "0.0.0.0:2"),
            ("PROPENSITY_BATCH_LIMIT", "6"),
        ]);
        let args = ServeArgs {
            bind: Some("0.0.0.0:3".to_string()),
            ..ServeArgs::default()
        };
        let c = ServeConfig::from_sources(file(text), &e, &args).expect("valid");
        assert_eq!(c.bind, "0.0.0.0:3", "flag wins");
        assert_eq!(c.batch_limit, 6, "env beats file");
        assert_eq!(c.workers, 3, "file beats default");
        assert_eq!(c.body_limit_bytes, 4096);
    }

    #[test]
    fn journal_defaults_beside_the_bundle_and_follows_precedence() {
        let c = ServeConfig::from_sources(None, &[], &ServeArgs::default()).expect("valid");
        assert_eq!(c.journal_dir(), PathBuf::from("models/journal"));
        assert_eq!(c.events_batch_limit, 10_000);
        let text = "journal = \"/f\"\nevents_batch_limit = 7\n";
        let c = ServeConfig::from_sources(file(text), &[], &ServeArgs::default()).expect("valid");
        assert_eq!(
            (c.journal_dir(), c.events_batch_limit),
            (PathBuf::from("/f"), 7)
        );
        let e = env(&[
            ("PROPENSITY_JOURNAL", "/e"),
            ("PROPENSITY_EVENTS_BATCH_LIMIT", "8"),
        ]);
        let c = ServeConfig::from_sources(file(text), &e, &ServeArgs::default()).expect("valid");
        assert_eq!(
            (c.journal_dir(), c.events_batch_limit),
            (PathBuf::from("/e"), 8)
        );
        let args = ServeArgs {
            journal: Some(PathBuf::from("/a")),
            events_batch_limit: Some(9),
            ..ServeArgs::default()
        };
        let c = ServeConfig::from_sources(file(text), &e, &args).expect("valid");
        assert_eq!(
            (c.journal_dir(), c.events_batch_limit),
            (PathBuf::from("/a"), 9)
        );
        let zero = ServeArgs {
            events_batch_limit: Some(0),
            ..ServeArgs::default()
        };
        assert!(ServeConfig::from_sources(None, &[], &zero).is_err());
    }

    #[test]
    fn unknown_file_key_is_named() {
        let err = ServeConfig::from_sources(file("bnid = \"x\"\n"), &[], &ServeArgs::default())
            .expect_err("unknown key accepted");
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    #[test]
    fn unknown_env_variable_is_named() {
        let e = env(&[("PROPENSITY_API_KEY", "x")]);
        let err =
            ServeConfig::from_sources(None, &e, &ServeArgs::default()).expect_err("typo accepted");
        assert!(err.to_string().contains("PROPENSITY_API_KEY;"), "{err}");
    }

    #[test]
    fn bad_env_number_names_variable() {
        let e = env(&[("PROPENSITY_WORKERS", "two")]);
        let err = ServeConfig::from_sources(None, &e, &ServeArgs::default()).expect_err("bad");
        assert!(err.to_string().contains("PROPENSITY_WORKERS"), "{err}");
    }

    #[test]
    fn keys_from_file_and_env_replaces_them() {
        let text =
            format!("[[api_keys]]\nkey = \"{KEY_A}\"\nscopes = [\"recommend\", \"score\"]\n");
        let c = ServeConfig::from_sources(file(&text), &[], &ServeArgs::default()).expect("ok");
        assert_eq!(c.api_keys.len(), 1);
        assert!(c.api_keys[0].scopes().contains(Scope::Score));
        assert!(!c.api_keys[0].scopes().contains(Scope::Admin));

        let e = env(&[("PROPENSITY_API_KEYS", &format!("{KEY_B}:admin"))]);
        let c = ServeConfig::from_sources(file(&text), &e, &ServeArgs::default()).expect("ok");
        assert_eq!(c.api_keys.len(), 1);
        assert!(c.api_keys[0].scopes().contains(Scope::Admin));
        assert!(!c.api_keys[0].scopes().contains(Scope::Score));
    }

    #[test]
    fn bad_scope_in_file_is_refused_with_position() {
        let text = format!("[[api_keys]]\nkey = \"{KEY_A}\"\nscopes = [\"recomend\"]\n");
        let err = ServeConfig::from_sources(file(&text), &[], &ServeArgs::default())
            .expect_err("bad scope");
        let msg = err.to_string();
        assert!(
            msg.contains("api key 1 from config file") && msg.contains("recomend"),
            "{msg}"
        );
    }

    #[test]
    fn file_errors_name_file_line_and_key_but_never_the_api_key() {
        // An unclosed string and a mistyped value: toml's own message would quote the line.
        let unclosed =
            format!("workers = 2\n[[api_keys]]\nkey = \"{KEY_A}\nscopes = [\"admin\"]\n");
        let mistyped = format!(
            "[[api_keys]]\nscopes = [\"admin\"]\nkey = {}\n",
            "9".repeat(20)
        );
        for (text, line, secret) in [
            (unclosed, 3, KEY_A.to_string()),
            (mistyped, 3, "9".repeat(20)),
        ] {
            let err = ServeConfig::from_sources(file(&text), &[], &ServeArgs::default())
                .expect_err("invalid");
            assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
            let msg = err.to_string();
            let debug = format!("{err:?}");
            assert!(
                msg.starts_with(&format!(
                    "config file serve.toml, line {line}, key api_keys.key: "
                )),
                "{msg}"
            );
            assert!(
                !msg.contains(&secret) && !debug.contains(&secret),
                "{msg} / {debug}"
            );
        }
        // Other keys keep toml's whole message, values included.
        let err =
            ServeConfig::from_sources(file("workers = \"many\"\n"), &[], &ServeArgs::default())
                .expect_err("invalid");
        let msg = err.to_string();
        assert!(
            msg.contains("line 1, key workers:") && msg.contains("many"),
            "{msg}"
        );
    }

    #[test]
    fn tiny_body_limit_is_refused() {
        let args = ServeArgs {
            body_limit_bytes: Some(10),
            ..ServeArgs::default()
        };
        let err = ServeConfig::from_sources(None, &[], &args).expect_err("too small");
        assert!(matches!(
            err,
            ConfigError::Invalid {
                field: "body_limit_bytes",
                ..
            }
        ));
    }
}
