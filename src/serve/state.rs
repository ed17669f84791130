//! What the server answers from: the loaded bundle and the models decoded from it,
//! swapped atomically on reload.
//!
//! A handler takes one snapshot (`AppState::current`) and answers the whole request from
//! it, so a reload in the middle never mixes two models in one answer; the old snapshot
//! is dropped when its last request finishes.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, TryLockError};
use std::time::Instant;

use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use arc_swap::ArcSwapOption;
use serde::Serialize;

use super::auth::KeyRing;
use super::config::ServeConfig;
use super::error::ApiError;
use super::listing::{CustomerListing, LiveRow};
use super::metrics::Metrics;
use crate::bundle::{Bundle, BundleError, BundleSummary};
use crate::erasure::CustomerHash;
use crate::journal::{Journal, JournalError, Record};
use crate::live::{ApplyError, Change, LiveCustomer, Lookup, Overlay, Propensities};
use crate::models::TrainedModels;
use crate::propensity::{CalibrationPoint, calibration_points};
use crate::time::now_secs;
use std::collections::HashMap;

/// The models decoded from a bundle for serving.
///
/// Extension point for model modules: each adds its serving struct as a field and one
/// decoding line in [`ServingModels::from_bundle`]; a section that is missing or does not
/// decode refuses the whole bundle, so a reload never installs a half-usable model.
#[derive(Debug)]
pub struct ServingModels {
    /// Every trained model.
    pub trained: TrainedModels,
    /// External customer id → dense index.
    pub customer_index: HashMap<String, u32>,
    /// External item id → dense index.
    pub item_index: HashMap<String, u32>,
    /// Category name → dense index.
    pub category_index: HashMap<String, u32>,
    /// Pre-rendered JSON fragments of every item (recommendation answers).
    pub item_json: super::item_json::ItemJson,
}

impl ServingModels {
    /// Decodes every model's serving structures from `bundle`.
    pub fn from_bundle(bundle: &Bundle) -> Result<ServingModels, BundleError> {
        let trained = TrainedModels::from_bundle(bundle)?;
        let item_json = super::item_json::ItemJson::new(&trained.base).map_err(|e| {
            BundleError::Inconsistent {
                what: format!("item ids cannot be rendered as JSON: {e}"),
            }
        })?;
        Ok(ServingModels {
            item_json,
            customer_index: trained.base.customer_index(),
            item_index: trained.base.item_index(),
            category_index: trained
                .base
                .categories
                .iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i as u32))
                .collect(),
            trained,
        })
    }

    /// Dense index of a customer id.
    pub fn customer(&self, id: &str) -> Option<u32> {
        self.customer_index.get(id).copied()
    }

    /// Dense index of a category name.
    pub fn category(&self, name: &str) -> Option<u32> {
        self.category_index.get(name).copied()
    }

    /// Dense index of an item id.
    pub fn item(&self, id: &str) -> Option<u32> {
        self.item_index.get(id).copied()
    }
}

/// Why a bundle could not be made the serving state.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bundle was refused or a model section did not decode.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The model version cannot be sent as an HTTP header.
    #[error(
        "model_version {version:?} is not printable ASCII; hint: retrain or set a plain model version"
    )]
    ModelVersion {
        /// The offending version.
        version: String,
    },
    /// Rendering the model description failed.
    #[error("rendering model description: {0}")]
    Render(#[source] serde_json::Error),
}

/// One loaded model generation: the bundle, its decoded models and pre-rendered answers.
pub struct ServingState {
    /// The opened bundle (memory-mapped).
    pub bundle: Bundle,
    /// Models decoded from it.
    pub models: ServingModels,
    /// Counts loads since start, 1 for the first.
    pub generation: u64,
    /// When it was installed (seconds since the epoch).
    pub loaded_at: i64,
    listing: OnceLock<CustomerListing>,
    /// What was learned since the bundle: live customers and erasures.
    pub live: Overlay,
    /// The journal seq the bundle was trained up to (`None`: trained without the journal).
    pub journal_seq: Option<u64>,
    version_header: HeaderValue,
    model_json: Bytes,
    health_json: Bytes,
}

/// Answer of `GET /v1/model`: the served bundle, pre-rendered when it is loaded.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ModelAnswer<'a> {
    /// Version of the served model.
    model_version: &'a str,
    /// Loads since start that installed a model (1 for the first).
    generation: u64,
    /// When this bundle was loaded.
    #[schema(format = DateTime)]
    loaded_at: String,
    /// The bundle file.
    path: String,
    /// Held-out churn reliability curve; `null` for bundles written before it was recorded.
    #[schema(required = true)]
    churn_calibration: Option<Vec<CalibrationPoint>>,
    /// The bundle's metadata, evaluation metrics and section table.
    bundle: BundleSummary,
}

/// Answer of `GET /healthz` and `GET /readyz`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct HealthAnswer<'a> {
    /// Always `ok`: the process answers.
    #[schema(value_type = String, pattern = "^ok$")]
    pub(crate) status: &'static str,
    /// Version of the served model; `null` while none is loaded.
    #[schema(required = true)]
    pub(crate) model_version: Option<&'a str>,
}

impl ServingState {
    /// Opens and verifies the bundle at `path` and decodes its models.
    pub fn load(path: &Path, generation: u64) -> Result<ServingState, LoadError> {
        ServingState::from_bundle(Bundle::open(path)?, generation)
    }

    /// Decodes models from an opened bundle and pre-renders the cheap answers.
    pub fn from_bundle(bundle: Bundle, generation: u64) -> Result<ServingState, LoadError> {
        let models = ServingModels::from_bundle(&bundle)?;
        let version = bundle.metadata().model_version.clone();
        let version_header = HeaderValue::from_str(&version)
            .ok()
            .filter(|_| !version.is_empty() && version.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| LoadError::ModelVersion {
                version: version.clone(),
            })?;
        let loaded_at = now_secs();
        let model_json = serde_json::to_vec(&ModelAnswer {
            model_version: &version,
            generation,
            loaded_at: crate::time::format_rfc3339(loaded_at),
            path: bundle.path().display().to_string(),
            churn_calibration: calibration_points(&bundle.metadata().metrics),
            bundle: BundleSummary::of(&bundle),
        })
        .map_err(LoadError::Render)?;
        let health_json = serde_json::to_vec(&HealthAnswer {
            status: "ok",
            model_version: Some(&version),
        })
        .map_err(LoadError::Render)?;
        let live = Overlay::new(&models.trained);
        let journal_seq = bundle.journal_seq()?;
        Ok(ServingState {
            bundle,
            live,
            journal_seq,
            models,
            generation,
            loaded_at,
            listing: OnceLock::new(),
            version_header,
            model_json: Bytes::from(model_json),
            health_json: Bytes::from(health_json),
        })
    }

    /// Every customer's churn score and the pre-sorted customer lists. Built on first use
    /// (a reload warms it on a background thread right after the swap) because scoring
    /// every customer would more than double the bundle load time on a large store.
    pub fn listing(&self) -> &CustomerListing {
        self.listing.get_or_init(|| {
            let started = Instant::now();
            let base = &self.models.trained.base;
            let listing = CustomerListing::build(base, &self.models.trained.propensity);
            tracing::debug!(
                rows = base.rows(),
                millis = started.elapsed().as_secs_f64() * 1e3,
                "customer listing built"
            );
            listing
        })
    }

    /// Every customer with live events and a purchase, as list rows: lists and segment
    /// aggregates show them with their recomputed values.
    pub fn live_rows(&self) -> Vec<LiveRow> {
        let base = &self.models.trained.base;
        self.live
            .live_entries()
            .iter()
            .filter_map(|(id, c)| LiveRow::of(id, c, self.live_scores(c), base))
            .collect()
    }

    /// A live customer's scores (computed on the first read after their last change).
    pub fn live_scores<'a>(&self, c: &'a LiveCustomer) -> &'a Propensities {
        c.propensities(&self.live, &self.models.trained)
    }

    /// Whether modelled customer `row` may appear in customer lists and segment
    /// aggregates. Every listing goes through this one predicate, so a customer hidden
    /// from the API (e.g. erased) disappears from lists, counts and exports together.
    pub fn is_listed(&self, row: usize) -> bool {
        row < self.models.trained.base.rows()
            && !self.is_erased(self.models.trained.base.modelled[row])
    }

    /// Whether bundle customer `idx` was erased; every endpoint that lists or looks up
    /// bundle customers by index must skip those.
    pub fn is_erased(&self, idx: u32) -> bool {
        self.live.is_erased(idx)
    }

    /// What the overlay knows about customer `id` (live state, erased, or nothing).
    pub fn lookup(&self, id: &str) -> Lookup {
        self.live.lookup(id)
    }

    /// Bundle index of customer `id` unless erased.
    pub fn bundle_customer(&self, id: &str) -> Option<u32> {
        self.models.customer(id).filter(|&c| !self.is_erased(c))
    }

    /// Applies changes (events, erasures) to the overlay with this bundle's id maps.
    pub fn apply(&self, changes: Vec<Change>) -> Result<(), ApplyError> {
        let m = &self.models;
        self.live
            .apply(&m.trained, &|id| m.customer(id), &|id| m.item(id), changes)
    }

    /// Applies erasures the journal holds as keyed hashes (see [`Overlay::forget_hashed`]).
    pub fn forget_hashed(&self, key: crate::erasure::ErasureKey, hashes: &[CustomerHash]) {
        self.live.forget_hashed(&self.models.trained, key, hashes);
    }

    /// The model version answered in every response.
    pub fn model_version(&self) -> &str {
        &self.bundle.metadata().model_version
    }

    /// The model version as a ready `X-Model-Version` header value.
    pub fn version_header(&self) -> &HeaderValue {
        &self.version_header
    }

    /// Pre-rendered `GET /v1/model` body.
    pub fn model_json(&self) -> Bytes {
        self.model_json.clone()
    }

    /// Pre-rendered `{"status":"ok","model_version":…}` body.
    pub fn health_json(&self) -> Bytes {
        self.health_json.clone()
    }
}

/// Why a reload did not happen; the old state keeps serving either way.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Another reload is running.
    #[error("a reload is already in progress")]
    InProgress,
    /// The new bundle was refused.
    #[error("bundle {} refused: {source}", path.display())]
    Refused {
        /// The bundle offered.
        path: PathBuf,
        /// Why.
        #[source]
        source: LoadError,
    },
    /// The journal could not be replayed onto the new bundle.
    #[error("replaying the event journal: {0}")]
    Journal(#[source] JournalError),
}

impl From<ReloadError> for ApiError {
    fn from(e: ReloadError) -> ApiError {
        match e {
            ReloadError::InProgress => ApiError::ReloadInProgress,
            ReloadError::Refused { source, .. } => ApiError::InvalidBundle(source),
            ReloadError::Journal(source) => ApiError::Journal { source },
        }
    }
}

/// Result of a successful reload.
pub struct Reloaded {
    /// Model version served before, if any.
    pub previous: Option<String>,
    /// The new serving state.
    pub current: Arc<ServingState>,
}

/// Shared application state: the swappable serving state plus config, keys and metrics.
pub struct AppState {
    current: ArcSwapOption<ServingState>,
    /// The configuration the server runs with.
    pub config: ServeConfig,
    /// API keys.
    pub keys: KeyRing,
    /// Request and reload metrics.
    pub metrics: Metrics,
    /// One reload at a time; never held by readers.
    reload_lock: Mutex<()>,
    generations: AtomicU64,
    /// The event journal, once opened (`None` in bare test states).
    journal: Option<Journal>,
    /// Event requests hold it shared across journal append and overlay update; erasures
    /// and the last step of a reload hold it exclusively, so the overlay always applies
    /// changes in journal order where order matters (an erasure against events).
    gate: RwLock<()>,
}

impl AppState {
    /// State with no model loaded yet.
    pub fn new(config: ServeConfig, route_names: &[&'static str]) -> AppState {
        AppState {
            current: ArcSwapOption::empty(),
            keys: KeyRing::new(config.api_keys.clone()),
            metrics: Metrics::new(route_names),
            config,
            reload_lock: Mutex::new(()),
            generations: AtomicU64::new(0),
            journal: None,
            gate: RwLock::new(()),
        }
    }

    /// Opens the configured event journal (before the first load, which replays it).
    pub fn open_journal(&mut self) -> Result<(), JournalError> {
        self.journal = Some(Journal::open(&self.config.journal_dir())?);
        Ok(())
    }

    /// Drops journal segments the served bundle has learned from (erasures are kept by the
    /// journal itself). A failure only costs disk space, so it is logged, not raised.
    fn compact_journal(&self, state: &ServingState) {
        let (Some(j), Some(upto)) = (&self.journal, state.journal_seq) else {
            return;
        };
        match j.compact(upto) {
            Ok(stats) => tracing::info!(
                upto,
                segments_removed = stats.segments_removed,
                bytes_removed = stats.bytes_removed,
                "journal compacted"
            ),
            Err(e) => tracing::warn!(upto, error = %e, "journal compaction failed"),
        }
    }

    /// The event journal, if opened.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Journals `records` (one append, one fsync) and, once durable, applies `changes` to
    /// the serving state, holding the gate shared (events) or exclusive (erasures).
    /// Blocking: call it from `web::block`.
    pub fn journal_and_apply(
        &self,
        snapshot: &ServingState,
        records: &[Record],
        changes: Vec<Change>,
        exclusive: bool,
    ) -> Result<u64, JournalOrApply> {
        let _shared;
        let _exclusive;
        if exclusive {
            _exclusive = self.gate.write().unwrap_or_else(|p| p.into_inner());
        } else {
            _shared = self.gate.read().unwrap_or_else(|p| p.into_inner());
        }
        let journal = self.journal.as_ref().ok_or(JournalOrApply::NoJournal)?;
        // A reload may have swapped the state since the handler took its snapshot; the
        // gate keeps it from swapping now, so apply to whatever is current.
        let current = self.current();
        let target = current.as_deref().unwrap_or(snapshot);
        let started = Instant::now();
        let appended = journal.append(records).map_err(JournalOrApply::Journal)?;
        self.metrics
            .journal_append
            .observe(started.elapsed().as_micros() as u64);
        target.apply(changes).map_err(JournalOrApply::Apply)?;
        Ok(appended.last_seq)
    }

    /// Journals and applies accepted events like [`AppState::journal_and_apply`], leaving
    /// out those whose customer was erased after the handler checked: under the gate an
    /// erasure is either fully before (its customer's events are refused here) or after
    /// (it redacts them).
    pub fn journal_events(
        &self,
        snapshot: &ServingState,
        events: Vec<crate::ingest::RawEvent>,
    ) -> Result<JournaledEvents, JournalOrApply> {
        let _shared = self.gate.read().unwrap_or_else(|p| p.into_inner());
        let journal = self.journal.as_ref().ok_or(JournalOrApply::NoJournal)?;
        let current = self.current();
        let target = current.as_deref().unwrap_or(snapshot);
        let mut refused = Vec::new();
        let mut kept = Vec::with_capacity(events.len());
        for (k, e) in events.into_iter().enumerate() {
            if matches!(target.lookup(&e.customer_id), Lookup::Erased) {
                refused.push((k, e.customer_id));
            } else {
                kept.push(e);
            }
        }
        if kept.is_empty() {
            return Ok(JournaledEvents {
                last_seq: None,
                refused,
            });
        }
        let records: Vec<Record> = kept.iter().cloned().map(Record::Event).collect();
        let started = Instant::now();
        let appended = journal.append(&records).map_err(JournalOrApply::Journal)?;
        self.metrics
            .journal_append
            .observe(started.elapsed().as_micros() as u64);
        target
            .apply(kept.into_iter().map(Change::Event).collect())
            .map_err(JournalOrApply::Apply)?;
        Ok(JournaledEvents {
            last_seq: Some(appended.last_seq),
            refused,
        })
    }

    /// The serving state to answer one request from (take it once per request).
    pub fn current(&self) -> Option<Arc<ServingState>> {
        self.current.load_full()
    }

    /// Model version currently served, without taking a full snapshot.
    pub fn current_version_header(&self) -> Option<HeaderValue> {
        self.current
            .load()
            .as_ref()
            .map(|s| s.version_header.clone())
    }

    /// Loads `path` (default: the configured bundle), validates it and swaps it in.
    /// Blocking: call it from `web::block` or a plain thread. On any failure the old
    /// state keeps serving.
    pub fn reload(&self, path: Option<&Path>) -> Result<Reloaded, ReloadError> {
        let _guard = match self.reload_lock.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) => return Err(ReloadError::InProgress),
            // A panic in an earlier reload leaves no partial state behind (the swap is
            // the last step), so the lock is still meaningful.
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        let path: PathBuf = path.map_or_else(|| self.config.bundle.clone(), Path::to_path_buf);
        let started = Instant::now();
        let generation = self.generations.load(Ordering::Relaxed) + 1;
        match ServingState::load(&path, generation) {
            Ok(state) => {
                let state = Arc::new(state);
                // Replay everything journaled so far without blocking ingestion, then the
                // tail written meanwhile with ingestion paused, and swap.
                let mut gate = None;
                if let Some(j) = &self.journal {
                    let done = replay_into(j, &state, 0).map_err(ReloadError::Journal)?;
                    gate = Some(self.gate.write().unwrap_or_else(|p| p.into_inner()));
                    replay_into(j, &state, done).map_err(ReloadError::Journal)?;
                }
                self.generations.store(generation, Ordering::Relaxed);
                let previous = self.current.swap(Some(state.clone()));
                drop(gate);
                self.compact_journal(&state);
                self.metrics.reloads.fetch_add(1, Ordering::Relaxed);
                let warm = state.clone();
                // If no thread can be spawned, the first list request builds it instead.
                let _ = std::thread::Builder::new()
                    .name("listing-warmup".to_string())
                    .spawn(move || {
                        warm.listing();
                    });
                tracing::info!(
                    path = %path.display(),
                    model_version = state.model_version(),
                    previous = previous.as_ref().map(|p| p.model_version()),
                    generation,
                    bytes = state.bundle.len_bytes(),
                    live_customers = state.live.live_customers(),
                    live_events = state.live.events_total(),
                    millis = started.elapsed().as_millis() as u64,
                    "bundle loaded"
                );
                Ok(Reloaded {
                    previous: previous.map(|p| p.model_version().to_string()),
                    current: state,
                })
            }
            Err(e) => {
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %path.display(), error = %e, "bundle refused, keeping the current model");
                Err(ReloadError::Refused { path, source: e })
            }
        }
    }
}

/// What [`AppState::journal_events`] did.
#[derive(Debug)]
pub struct JournaledEvents {
    /// Seq of the last record journaled; `None` when every event was left out.
    pub last_seq: Option<u64>,
    /// Index (in the events given) and customer of each event left out because its
    /// customer was erased meanwhile.
    pub refused: Vec<(usize, String)>,
}

/// Why journaled changes were not (all) applied.
#[derive(Debug, thiserror::Error)]
pub enum JournalOrApply {
    /// The server runs without a journal.
    #[error("no event journal is open")]
    NoJournal,
    /// The append failed: nothing was acknowledged.
    #[error(transparent)]
    Journal(JournalError),
    /// Journaled, but the overlay refused (the bundle cannot recompute customers).
    #[error(transparent)]
    Apply(ApplyError),
}

/// Applies journal records after `after_seq` to `state`: every erasure, and the events
/// the bundle was not trained on. Returns the last seq read.
fn replay_into(
    journal: &Journal,
    state: &ServingState,
    after_seq: u64,
) -> Result<u64, JournalError> {
    // Events up to the bundle's mark are in it; a bundle trained without the journal saw
    // none of it, whatever the events' times (events before its cutoff still count).
    let trained_upto = state.journal_seq.unwrap_or(0);
    let accepts = state.live.accepts_events().is_ok();
    let mut changes = Vec::new();
    let mut hashed = Vec::new();
    let mut skipped = 0u64;
    let started = Instant::now();
    let stats = journal.replay(after_seq, |seq, record| match record {
        Record::Event(e) if seq > trained_upto && accepts => changes.push(Change::Event(e)),
        Record::Event(_) => skipped += u64::from(seq > trained_upto),
        Record::Erase { customer_id, .. } => changes.push(Change::Erase(customer_id)),
        Record::Forget { customer, .. } => hashed.push(customer),
        Record::Redacted => {}
    })?;
    let n = changes.len() + hashed.len();
    // Only events can be refused, and those were filtered by `accepts` above.
    let _ = state.apply(changes);
    // After the events: an erasure excludes its customer's events before and after it.
    state.forget_hashed(journal.erasure_key(), &hashed);
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "the bundle has no event history: journaled events are kept for the next training but not served"
        );
    }
    if n > 0 {
        tracing::info!(
            records = stats.records,
            applied = n,
            after_seq,
            last_seq = stats.last_seq,
            millis = started.elapsed().as_millis() as u64,
            "journal replayed"
        );
    }
    Ok(stats.last_seq)
}
