//! Start-up replay of the event journal (issue 9 target: 1M journaled events in ≤ 2 s).
//!
//! Trains the demo bundle (5,000 customers, seed 42), journals `EVENTS` purchases (default
//! 1,000,000) after its cutoff over its customers and 20% new ones, then times a full load
//! (`AppState::reload`: open the bundle, decode, replay, swap) with that journal against the
//! same load with an empty journal. Medians of 3.
//!
//!   cargo bench --bench live_replay            (EVENTS=200000 for a quicker run)

use std::time::Instant;

use propensity::bundle::Metadata;
use propensity::demo::{demo_config, demo_store, train_on_whole_log};
use propensity::ingest::RawEvent;
use propensity::journal::{Journal, Record};
use propensity::serve::{AppState, ServeConfig};

fn load_seconds(bundle: &std::path::Path, journal: &std::path::Path) -> (f64, u64, u64) {
    let mut times = Vec::new();
    let mut live = (0, 0);
    for _ in 0..3 {
        let config = ServeConfig {
            bundle: bundle.to_path_buf(),
            journal: Some(journal.to_path_buf()),
            ..ServeConfig::default()
        };
        let mut state = AppState::new(config, &[]);
        let t = Instant::now();
        state.open_journal().expect("journal opens");
        let r = state.reload(None).expect("loads");
        times.push(t.elapsed().as_secs_f64());
        live = (
            r.current.live.events_total(),
            r.current.live.live_customers(),
        );
    }
    times.sort_by(f64::total_cmp);
    (times[1], live.0, live.1)
}

fn main() {
    let n: usize = std::env::var("EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = demo_store(&demo_config());
    let (models, cutoff) = train_on_whole_log(&store).expect("trains");
    let bundle = dir.path().join("demo.bundle");
    models
        .write_bundle(Metadata::new(0), &bundle)
        .expect("writes bundle");
    let ids = &models.base.customer_ids;
    let items = &models.base.item_ids;
    let journal_dir = dir.path().join("journal");
    {
        let j = Journal::open(&journal_dir).expect("journal");
        let mut batch = Vec::with_capacity(10_000);
        for k in 0..n {
            // A fixed multiplicative walk: deterministic, spread over customers and items.
            let c = (k.wrapping_mul(2_654_435_761)) % (ids.len() * 5 / 4);
            let customer = ids.get(c).cloned().unwrap_or_else(|| format!("new-{c}"));
            let mut e = RawEvent::purchase(&customer, &items[k % items.len()], cutoff + k as i64);
            e.price = 2.0;
            batch.push(Record::Event(e));
            if batch.len() == 10_000 {
                j.append(&batch).expect("append");
                batch.clear();
            }
        }
        if !batch.is_empty() {
            j.append(&batch).expect("append");
        }
    }
    let empty = dir.path().join("empty-journal");
    let (base, _, _) = load_seconds(&bundle, &empty);
    let (full, events, customers) = load_seconds(&bundle, &journal_dir);
    println!(
        "load without journal: {base:.3} s; with {n} journaled events: {full:.3} s \
         (replay {:.3} s; {events} events over {customers} live customers; {} threads)",
        full - base,
        rayon::current_num_threads()
    );
}
