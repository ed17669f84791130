//! End to end over real HTTP: events change answers at once, erasures hide a customer
//! everywhere, and every acknowledged event survives SIGKILL of the real binary.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod common;

use common::{Response, get, post_json, request, start_server, trained, try_request};
use propensity::bundle::Metadata;
use propensity::serve::auth::ApiKey;
use propensity::serve::{RunningServer, ServeConfig};
use propensity::time::{DAY, format_rfc3339};
use serde_json::{Value, json};

fn post_events(addr: SocketAddr, body: &Value) -> Response {
    post_json(addr, "/v1/events", body)
}

/// The shared bundle, or the same models without their event history.
fn write_bundle(path: &Path, with_history: bool) {
    let version = |meta: &mut Metadata| {
        meta.model_version = "live-test".to_string();
    };
    if with_history {
        common::write_bundle(path, version);
    } else {
        let (store, models) = trained();
        let mut models = models.clone();
        models.history = None;
        common::write_models(store, &models, path, version);
    }
}

/// The shared config on `dir/model.bundle`, with a small events batch limit.
fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        events_batch_limit: 50,
        ..common::config(dir.join("model.bundle"))
    }
}

fn server(dir: &Path) -> RunningServer {
    start_server(config(dir))
}

/// The modelled customer whose churn score is nearest one half: away from the calibrator's
/// flat extremes (this small model's top bin holds every very stale customer), so a
/// session must move it.
fn stale_customer() -> (String, i64) {
    let (_, m) = trained();
    let b = &m.base;
    let r = (0..b.rows())
        .min_by(|&x, &y| {
            let d = |r| (m.propensity.churn(b.feature_row(r)) - 0.5).abs();
            d(x).total_cmp(&d(y)).then(x.cmp(&y))
        })
        .expect("rows");
    (b.customer_ids[b.modelled[r] as usize].clone(), b.cutoff)
}

fn purchase(customer: &str, item: &str, ts: i64, price: f64) -> Value {
    json!({"customer_id": customer, "item_id": item, "timestamp": format_rfc3339(ts), "price": price})
}

#[test]
fn a_purchase_changes_churn_recency_and_buy_again_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (id, cutoff) = stale_customer();
    let (_, m) = trained();
    let before = get(addr, &format!("/v1/customers/{id}/churn?explain=true")).json();
    let profile = get(addr, &format!("/v1/customers/{id}")).json();
    assert!(
        profile["recency_days"].as_f64().expect("recency") > 10.0,
        "{profile}"
    );
    assert!(profile.get("live").is_none());
    let recs = get(addr, &format!("/v1/customers/{id}/recommendations?k=20")).json();
    let bought_before: Vec<Value> = recs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["source"] == "buy_again")
        .map(|i| i["item_id"].clone())
        .collect();
    // An item the customer never bought, so buy-again can only learn it from the event.
    let new_item = m
        .base
        .item_ids
        .iter()
        .find(|i| !bought_before.contains(&json!(i)))
        .expect("an item not in the buy-again list")
        .clone();
    let t = cutoff + 3600;
    // A storefront session: the product page, the cart, the purchase.
    let mut view = purchase(&id, &new_item, t - 120, 25.0);
    view["event"] = json!("view");
    let mut cart = purchase(&id, &new_item, t - 60, 25.0);
    cart["event"] = json!("cart");
    let r = post_events(
        addr,
        &json!([view, cart, purchase(&id, &new_item, t, 25.0)]),
    );
    assert_eq!(r.status, 200, "{}", r.json());
    assert_eq!(r.json()["accepted"], 3);

    let after = get(addr, &format!("/v1/customers/{id}/churn?explain=true")).json();
    let p = |v: &Value| v["churn_probability"].as_f64().expect("probability");
    assert!(p(&after) < p(&before), "{before} -> {after}");
    assert_eq!(after["live"]["customer_events"], 3, "{after}");
    assert_eq!(after["live"]["as_of"], format_rfc3339(t + 1));
    let factors = after["factors"].as_array().expect("factors");
    if let Some(f) = factors.iter().find(|f| f["feature"] == "recency_days") {
        assert!(f["value"].as_f64().expect("value") < 0.001, "{f}");
    }
    let profile = get(addr, &format!("/v1/customers/{id}")).json();
    assert!(
        profile["recency_days"].as_f64().expect("recency") < 0.001,
        "{profile}"
    );
    assert_eq!(profile["live"]["events_since_bundle"], 3);
    let np = get(addr, &format!("/v1/customers/{id}/next-purchase")).json();
    assert_eq!(np["live"]["customer_events"], 3, "{np}");
    // A live customer's profile carries their recomputed scores, as the score routes do.
    let scores = &profile["scores"];
    assert_eq!(scores["churn_probability"], after["churn_probability"]);
    assert_eq!(scores["risk_band"], after["risk_band"]);
    assert_eq!(scores["predicted_next_purchase"], np["predicted_date"]);
    assert_eq!(scores["expected_purchases"], np["expected_purchases"]);
    assert_eq!(np["as_of"], &format_rfc3339(t + 1)[..10]);
    let recs = get(addr, &format!("/v1/customers/{id}/recommendations?k=20")).json();
    assert_eq!(recs["live"]["customer_events"], 3, "{recs}");
    let has_new = recs["items"]
        .as_array()
        .expect("items")
        .iter()
        .any(|i| i["item_id"] == new_item.as_str() && i["source"] == "buy_again");
    assert!(
        has_new,
        "the bought item is a buy-again candidate now: {recs}"
    );
    let excl = get(
        addr,
        &format!("/v1/customers/{id}/recommendations?k=20&exclude_purchased=true"),
    )
    .json();
    assert!(
        excl["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["item_id"] != new_item.as_str()),
        "exclude_purchased follows the live history: {excl}"
    );
    srv.stop().expect("stops");
}

#[test]
fn new_customers_become_known_and_malformed_events_are_refused_one_by_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (_, cutoff) = stale_customer();
    let (_, m) = trained();
    assert_eq!(get(addr, "/v1/customers/newbie").status, 404);
    let item = &m.base.item_ids[0];
    let nd = [
        purchase("newbie", item, cutoff + 10, 4.0).to_string(),
        r#"{"customer_id":"newbie","item_id":"x","timestamp":"not a date"}"#.to_string(),
        "{broken".to_string(),
        purchase("newbie", "brand-new-item", cutoff + 20 * DAY, 6.0).to_string(),
        purchase("newbie", item, 4_102_444_800, 1.0).to_string(), // 2100: too far ahead
    ]
    .join("\n");
    let r = request(
        addr,
        "POST",
        "/v1/events",
        &[("Content-Type", "application/x-ndjson")],
        Some(nd.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.json());
    let v = r.json();
    assert_eq!(v["accepted"], 2, "{v}");
    let rejected: Vec<(u64, u64, String)> = v["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|x| {
            (
                x["index"].as_u64().expect("index"),
                x["line"].as_u64().expect("line"),
                x["field"].as_str().expect("field").to_string(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, 2, "timestamp".to_string()),
            (2, 3, "<line>".to_string()),
            (4, 5, "timestamp".to_string())
        ]
    );
    let p = get(addr, "/v1/customers/newbie");
    assert_eq!(p.status, 200);
    let p = p.json();
    assert_eq!(
        (p["orders"].clone(), p["spend"].clone()),
        (json!(2), json!(10.0)),
        "{p}"
    );
    assert_eq!(p["live"]["customer_events"], 2);
    let c = get(addr, "/v1/customers/newbie/churn?explain=true").json();
    assert!(c["churn_probability"].as_f64().is_some(), "{c}");
    assert!(!c["factors"].as_array().expect("factors").is_empty());
    assert_eq!(get(addr, "/v1/customers/newbie/next-purchase").status, 200);
    // Their own purchase of a known item makes them a (small) history: buy-again works (the
    // ranker decides how high a single past purchase goes, so the whole list is read).
    let recs = get(addr, "/v1/customers/newbie/recommendations?k=100").json();
    assert_eq!(recs["cold_start"], false, "{recs}");
    assert!(
        recs["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["item_id"] == item.as_str() && i["source"] == "buy_again"),
        "{recs}"
    );
    let batch = request(
        addr,
        "POST",
        "/v1/churn",
        &[("Content-Type", "application/json")],
        Some(br#"{"customer_ids":["newbie","nobody"]}"#),
    )
    .json();
    assert_eq!(batch["scored"], 1, "{batch}");

    // All bad: 400 with the list; over the limit: 413; not an event list: 400.
    let r = post_events(addr, &json!([{"customer_id": "a"}]));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "no_valid_events");
    assert_eq!(r.json()["rejected"][0]["field"], "item_id");
    let many: Vec<Value> = (0..51)
        .map(|k| purchase("b", item, cutoff + k, 1.0))
        .collect();
    let r = post_events(addr, &json!(many));
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "batch_too_large");
    assert_eq!(post_events(addr, &json!("x")).status, 400);
    let metrics = String::from_utf8_lossy(&get(addr, "/metrics").body).into_owned();
    assert!(
        metrics.contains("propensity_events_accepted_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("propensity_events_rejected_total 4"));
    assert!(metrics.contains("propensity_live_customers 1"));
    assert!(metrics.contains("propensity_journal_append_seconds_count 1"));
    srv.stop().expect("stops");
}

#[test]
fn out_of_range_quantities_and_prices_are_rejected_not_stored_as_infinity() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (_, cutoff) = stale_customer();
    let mut huge_qty = purchase("range-1", "i-1", cutoff + 10, 2.0);
    huge_qty["quantity"] = json!(1e39);
    let mut huge_price = purchase("range-1", "i-1", cutoff + 20, 1e308);
    huge_price["quantity"] = json!(1e308);
    let fine = purchase("range-1", "i-1", cutoff + 30, 2.0);
    let r = post_events(addr, &json!([huge_qty, huge_price, fine]));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["accepted"], 1, "{v}");
    let fields: Vec<(u64, &str)> = v["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|x| {
            (
                x["index"].as_u64().expect("index"),
                x["field"].as_str().expect("field"),
            )
        })
        .collect();
    assert_eq!(fields, vec![(0, "quantity"), (1, "quantity")], "{v}");
    assert!(
        v["rejected"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("out of range")),
        "{v}"
    );
    let p = get(addr, "/v1/customers/range-1").json();
    assert_eq!(p["spend"].as_f64(), Some(2.0), "{p}");
    srv.stop().expect("stops");
}

#[test]
fn ids_longer_than_256_bytes_are_rejected_by_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (_, cutoff) = stale_customer();
    let huge = "c".repeat(1 << 20);
    let mut long_order = purchase("ids-1", "i-1", cutoff + 5, 1.0);
    long_order["order_id"] = json!("o".repeat(257));
    let r = post_events(
        addr,
        &json!([
            purchase(&huge, "i-1", cutoff + 1, 1.0),
            purchase("ids-1", &"i".repeat(257), cutoff + 2, 1.0),
            long_order,
            purchase(&"k".repeat(256), "i-1", cutoff + 3, 1.0),
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["accepted"], 1, "{v}");
    let fields: Vec<&str> = v["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|x| x["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["customer_id", "item_id", "order_id"], "{v}");
    // The refusal quotes a shortened value, not the megabyte.
    assert!(r.body.len() < 4096, "{} bytes", r.body.len());
    srv.stop().expect("stops");
}

#[test]
fn bundles_without_history_answer_409_no_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), false);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (id, cutoff) = stale_customer();
    assert_eq!(get(addr, &format!("/v1/customers/{id}")).status, 200);
    let r = post_events(addr, &json!([purchase(&id, "x", cutoff, 1.0)]));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"]["code"], "no_history");
    srv.stop().expect("stops");
}

#[test]
fn ingest_and_erase_need_their_scopes() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let mut cfg = config(dir.path());
    cfg.api_keys = ApiKey::parse_env_list(
        "ingest-key-0123456789abcdef:ingest;score-key-0123456789abcdefg:score;admin-key-0123456789abcdefg:admin",
    )
    .expect("keys");
    let srv = start_server(cfg);
    let addr = srv.addr();
    let (id, cutoff) = stale_customer();
    let body = serde_json::to_vec(&json!([purchase(&id, "i", cutoff, 1.0)])).expect("json");
    let ct = ("Content-Type", "application/json");
    let r = request(addr, "POST", "/v1/events", &[ct], Some(&body));
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (401, json!("missing_api_key"))
    );
    let auth = |k: &'static str| ("Authorization", k);
    let score = auth("Bearer score-key-0123456789abcdefg");
    let r = request(addr, "POST", "/v1/events", &[ct, score], Some(&body));
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (403, json!("insufficient_scope"))
    );
    let ingest = auth("Bearer ingest-key-0123456789abcdef");
    let r = request(addr, "POST", "/v1/events", &[ct, ingest], Some(&body));
    assert_eq!(r.status, 200, "{}", r.json());
    let path = format!("/v1/customers/{id}");
    assert_eq!(request(addr, "DELETE", &path, &[ingest], None).status, 403);
    assert_eq!(request(addr, "DELETE", &path, &[], None).status, 401);
    let admin = auth("Bearer admin-key-0123456789abcdefg");
    assert_eq!(request(addr, "DELETE", &path, &[admin], None).status, 200);
    assert_eq!(request(addr, "GET", &path, &[score], None).status, 404);
    srv.stop().expect("stops");
}

fn assert_erased(addr: SocketAddr, id: &str) {
    for suffix in ["", "/churn", "/next-purchase"] {
        let r = get(addr, &format!("/v1/customers/{id}{suffix}"));
        assert_eq!(r.status, 404, "{suffix}");
        assert_eq!(r.json()["error"]["code"], "unknown_customer");
    }
    let recs = get(addr, &format!("/v1/customers/{id}/recommendations")).json();
    assert_eq!(recs["cold_start"], true);
    assert!(
        recs["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["source"] != "buy_again")
    );
    assert!(recs.get("live").is_none());
    let cart = request(
        addr,
        "POST",
        "/v1/recommendations",
        &[("Content-Type", "application/json")],
        Some(format!(r#"{{"customer_id":"{id}","k":10}}"#).as_bytes()),
    )
    .json();
    assert_eq!(cart["cold_start"], true, "{cart}");
    let batch = request(
        addr,
        "POST",
        "/v1/churn",
        &[("Content-Type", "application/json")],
        Some(format!(r#"{{"customer_ids":["{id}"]}}"#).as_bytes()),
    )
    .json();
    assert_eq!(batch["unknown"], 1, "{batch}");
    assert_eq!(batch["results"][0]["error"], "unknown_customer");
}

#[test]
fn an_erased_customer_is_gone_everywhere_and_stays_gone_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (id, cutoff) = stale_customer();
    let r = post_events(addr, &json!([purchase(&id, "some-item", cutoff + 5, 3.0)]));
    assert_eq!(r.status, 200);
    assert_eq!(get(addr, &format!("/v1/customers/{id}")).status, 200);
    let r = request(addr, "DELETE", &format!("/v1/customers/{id}"), &[], None);
    assert_eq!(r.status, 200, "{}", r.json());
    assert_erased(addr, &id);
    // Their later events are refused, not acknowledged and silently dropped.
    let r = post_events(addr, &json!([purchase(&id, "some-item", cutoff + 9, 3.0)]));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["rejected"][0]["field"], "customer_id");
    let metrics = String::from_utf8_lossy(&get(addr, "/metrics").body).into_owned();
    assert!(metrics.contains("propensity_erasures_total 1"), "{metrics}");
    srv.stop().expect("stops");

    let srv = server(dir.path());
    assert_erased(srv.addr(), &id);
    let r = request(srv.addr(), "POST", "/admin/reload", &[], None);
    assert_eq!(r.status, 200);
    assert_erased(srv.addr(), &id);
    srv.stop().expect("stops");
}

/// Files under `dir` (recursively) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files_containing(&path, needle));
        } else {
            let bytes = std::fs::read(&path).expect("read");
            if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn an_erasure_leaves_no_trace_of_the_customer_in_the_journal_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (other, cutoff) = stale_customer();
    let (_, m) = trained();
    let id = "erase-me-5d1c";
    // Strings only this customer's events hold (item ids shared with others may remain).
    let private = [id, "erase-me-item-a", "erase-me-item-b", "erase-me-order-1"];
    let mut mine = purchase(id, "erase-me-item-a", cutoff + 60, 3.0);
    mine["order_id"] = json!("erase-me-order-1");
    let mut second = purchase(id, "erase-me-item-b", cutoff + 61, 4.0);
    second["order_id"] = json!("erase-me-order-1");
    for batch in [
        json!([
            purchase(&other, &m.base.item_ids[0], cutoff + 10, 2.0),
            mine
        ]),
        json!([
            second,
            purchase(&other, &m.base.item_ids[1], cutoff + 70, 2.0)
        ]),
    ] {
        assert_eq!(post_events(addr, &batch).status, 200);
    }
    let journal = dir.path().join("journal");
    assert!(
        !files_containing(&journal, id).is_empty(),
        "the test must see the bytes first"
    );
    let r = request(addr, "DELETE", &format!("/v1/customers/{id}"), &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    for needle in private {
        assert_eq!(
            files_containing(&journal, needle),
            Vec::<std::path::PathBuf>::new(),
            "{needle}"
        );
    }
    // The other customer's events are untouched and still served after a restart.
    assert_eq!(files_containing(&journal, &other).len(), 1);
    srv.stop().expect("stops");
    let srv = server(dir.path());
    assert_eq!(get(srv.addr(), &format!("/v1/customers/{id}")).status, 404);
    let p = get(srv.addr(), &format!("/v1/customers/{other}")).json();
    assert_eq!(p["live"]["customer_events"], 2, "{p}");
    srv.stop().expect("stops");
}

#[test]
fn the_info_log_never_names_an_erased_customer() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let mut srv = common::spawn_serve_bundle(&dir.path().join("model.bundle"), &[]);
    let (id, cutoff) = stale_customer();
    let r = post_events(
        srv.addr,
        &json!([purchase(&id, "log-item", cutoff + 5, 1.0)]),
    );
    assert_eq!(r.status, 200);
    let r = request(
        srv.addr,
        "DELETE",
        &format!("/v1/customers/{id}"),
        &[],
        None,
    );
    assert_eq!(r.status, 200);
    let _ = srv.child.kill();
    let _ = srv.child.wait();
    let log = srv.final_log();
    assert!(log.contains("customer erased"), "{log}");
    assert!(!log.contains(id.as_str()), "{log}");
}

fn train_cli(args: &[&std::ffi::OsStr]) {
    let out = Command::new(env!("CARGO_BIN_EXE_propensity-train"))
        .args(args)
        .output()
        .expect("trainer runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_erased_customer_stays_gone_after_retraining_with_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let events = d.join("events.csv");
    let bundle = d.join("model.bundle");
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    train_cli(&[
        os("synth"),
        os("--customers"),
        os("200"),
        os("--items"),
        os("60"),
        os("--seed"),
        os("3"),
        os("--out"),
        events.as_os_str(),
    ]);
    train_cli(&[
        os("train"),
        os("--events"),
        events.as_os_str(),
        os("--out"),
        bundle.as_os_str(),
    ]);
    let text = std::fs::read_to_string(&events).expect("events");
    let id = text
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("a customer")
        .to_string();
    let srv = server(d);
    let addr = srv.addr();
    assert_eq!(get(addr, &format!("/v1/customers/{id}")).status, 200);
    let r = request(addr, "DELETE", &format!("/v1/customers/{id}"), &[], None);
    assert_eq!(r.status, 200);
    assert_erased(addr, &id);
    srv.stop().expect("stops");

    let journal = d.join("journal");
    train_cli(&[
        os("train"),
        os("--events"),
        events.as_os_str(),
        os("--journal"),
        journal.as_os_str(),
        os("--out"),
        bundle.as_os_str(),
    ]);
    let srv = server(d);
    assert_erased(srv.addr(), &id);
    srv.stop().expect("stops");
    // The new bundle alone (a replica with an empty journal) does not know them either.
    let srv = start_server(ServeConfig {
        journal: Some(d.join("empty-journal")),
        ..config(d)
    });
    assert_erased(srv.addr(), &id);
    srv.stop().expect("stops");
}

/// Starts the real binary and returns it with the address it logged.
fn spawn_binary(dir: &Path) -> (Child, SocketAddr) {
    let srv = common::spawn_serve_bundle(
        &dir.join("model.bundle"),
        &["--workers".as_ref(), "2".as_ref()],
    );
    (srv.child, srv.addr)
}

#[test]
fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let (_, cutoff) = stale_customer();
    let (mut child, addr) = spawn_binary(dir.path());
    // Each batch has its own customers, so an acknowledged batch is checked exactly even
    // when the batch in flight at the kill was journaled too.
    let poster = std::thread::spawn(move || {
        let mut acked: Vec<(String, usize, f64, i64)> = Vec::new();
        for b in 0..10_000u32 {
            let id = format!("crash-{b}");
            let n = 1 + (b % 5) as usize;
            let events: Vec<Value> = (0..n)
                .map(|k| {
                    purchase(
                        &id,
                        &format!("item-{k}"),
                        cutoff + (k as i64 + 1) * DAY,
                        2.5,
                    )
                })
                .collect();
            let body = serde_json::to_vec(&events).expect("json");
            match try_request(
                addr,
                "POST",
                "/v1/events",
                &[("Content-Type", "application/json")],
                Some(&body),
            ) {
                Ok(r) if r.status == 200 => {
                    acked.push((id, n, 2.5 * n as f64, cutoff + n as i64 * DAY))
                }
                _ => break,
            }
        }
        acked
    });
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let acked = poster.join().expect("poster");
    assert!(
        acked.len() >= 5,
        "only {} batches acknowledged",
        acked.len()
    );

    let (mut child, addr) = spawn_binary(dir.path());
    for (id, n, spend, last) in &acked {
        let p = get(addr, &format!("/v1/customers/{id}"));
        assert_eq!(p.status, 200, "{id} lost after SIGKILL");
        let p = p.json();
        assert_eq!(p["live"]["customer_events"], *n as u64, "{p}");
        assert_eq!(p["orders"], *n as u64, "{p}");
        assert!(
            (p["spend"].as_f64().expect("spend") - spend).abs() < 1e-9,
            "{p}"
        );
        assert_eq!(p["last_purchase"], format_rfc3339(*last));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Every listed customer sorted by churn, descending: id → (churn, recency, orders), and the
/// churn column in list order.
fn churn_list(addr: SocketAddr) -> (usize, Vec<(String, f64, f64, u64)>) {
    let v = get(addr, "/v1/customers?sort=churn&order=desc&limit=1000").json();
    let total = v["total"].as_u64().expect("total") as usize;
    let rows = v["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| {
            (
                c["customer_id"].as_str().expect("id").to_string(),
                c["churn"].as_f64().expect("churn"),
                c["recency_days"].as_f64().expect("recency"),
                c["orders"].as_u64().expect("orders"),
            )
        })
        .collect();
    (total, rows)
}

#[test]
fn crm_lists_and_segments_follow_live_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(&dir.path().join("model.bundle"), true);
    let srv = server(dir.path());
    let addr = srv.addr();
    let (id, cutoff) = stale_customer();
    let (total0, rows0) = churn_list(addr);
    assert!(total0 <= 1000, "the whole list fits one page");
    let seg0 = get(addr, "/v1/segments").json();
    let listed_before = rows0.iter().find(|r| r.0 == id).expect("listed").clone();

    let t = cutoff + 7200;
    let r = post_events(
        addr,
        &json!([
            purchase(&id, "some-item", t, 10.0),
            purchase("list-newcomer", "some-item", t, 12.0)
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.json());

    let (total1, rows1) = churn_list(addr);
    assert_eq!(total1, total0 + 1, "the new buyer is listed, nobody twice");
    assert_eq!(rows1.len(), total1);
    let mut ids: Vec<&str> = rows1.iter().map(|r| r.0.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows1.len(), "each customer once");
    assert!(
        rows1.windows(2).all(|w| w[0].1 >= w[1].1),
        "still sorted by churn after merging live rows"
    );
    let live = rows1.iter().find(|r| r.0 == id).expect("still listed");
    let churn_now = get(addr, &format!("/v1/customers/{id}/churn")).json()["churn_probability"]
        .as_f64()
        .expect("churn");
    assert!(
        (live.1 - churn_now).abs() < 1e-6,
        "the list shows the live churn {churn_now}: {live:?}"
    );
    assert!(live.1 < listed_before.1, "{listed_before:?} -> {live:?}");
    assert!(live.2 < 0.1, "recency from the live purchase: {live:?}");
    assert_eq!(live.3, listed_before.3 + 1, "one more order");
    assert!(rows1.iter().any(|r| r.0 == "list-newcomer" && r.3 == 1));

    // Filters apply to live values: the customer no longer passes their old churn.
    let min = format!("{:.6}", (live.1 + listed_before.1) / 2.0);
    let v = get(
        addr,
        &format!("/v1/customers?sort=churn&min_churn={min}&limit=1000"),
    )
    .json();
    assert!(
        v["customers"]
            .as_array()
            .expect("customers")
            .iter()
            .all(|c| c["customer_id"] != id.as_str()),
        "{v}"
    );

    let seg1 = get(addr, "/v1/segments").json();
    assert_eq!(
        seg1["customers"].as_u64(),
        seg0["customers"].as_u64().map(|n| n + 1),
        "segments count the new buyer once and the live customer once"
    );
    let hist = |v: &Value| -> u64 {
        v["churn_histogram"]
            .as_array()
            .expect("histogram")
            .iter()
            .map(|b| b["customers"].as_u64().expect("count"))
            .sum()
    };
    assert_eq!(hist(&seg1), hist(&seg0) + 1);
    srv.stop().expect("stops");
}
