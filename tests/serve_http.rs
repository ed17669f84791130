//! End to end: real server on an ephemeral loopback port, spoken to over raw HTTP/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;

use common::{Response, busiest_customer, get, post_json, request, start_server, trained};
use propensity::bundle::FORMAT_VERSION;
use propensity::serve::auth::ApiKey;
use propensity::serve::{RunningServer, ServeConfig, start};

const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
const RECOMMEND_KEY: &str = "recommend-key-0123456789ab";

/// The shared bundle as `model_version`, with a churn AUC in its metrics.
fn write_bundle(path: &Path, model_version: &str) {
    common::write_bundle(path, |meta| {
        meta.model_version = model_version.to_string();
        meta.metrics.insert("churn.auc".to_string(), 0.8);
    });
}

/// The shared config with a 4 KiB body limit, so the size checks are cheap to reach.
fn config(bundle: PathBuf) -> ServeConfig {
    ServeConfig {
        body_limit_bytes: 4096,
        ..common::config(bundle)
    }
}

fn server_with_bundle(version: &str) -> (tempfile::TempDir, RunningServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.bundle");
    write_bundle(&path, version);
    let server = start_server(config(path));
    (dir, server)
}

fn assert_error(r: &Response, status: u16, code: &str) {
    common::assert_error(r, status, code);
    assert!(
        r.header("x-model-version").is_some(),
        "every response carries the version header"
    );
}

#[test]
fn health_ready_and_model_description() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();

    let r = get(addr, "/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-model-version"), Some("model-a"));
    assert_eq!(r.json()["model_version"], "model-a");

    let r = get(addr, "/readyz");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model_version"], "model-a");

    let r = get(addr, "/v1/model");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["model_version"], "model-a");
    assert_eq!(v["generation"], 1);
    assert_eq!(v["bundle"]["format_version"], FORMAT_VERSION);
    assert_eq!(v["bundle"]["metrics"]["churn.auc"], 0.8);
    assert_eq!(v["bundle"]["created_at"], "2023-11-14T22:13:20Z");
    let sections: Vec<&str> = v["bundle"]["sections"]
        .as_array()
        .expect("section list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    // Model sections first (the recommender's raw arrays after its struct), then the
    // event history, then the metadata.
    assert_eq!(
        sections[..4],
        [
            "customer_base",
            "customer_features",
            "propensity",
            "recommender"
        ]
    );
    let history: Vec<&str> = sections
        .iter()
        .copied()
        .filter(|s| s.starts_with("history."))
        .collect();
    assert_eq!(
        history,
        [
            "history.offsets",
            "history.ts",
            "history.item",
            "history.kinds",
            "history.basket",
            "history.quantity",
            "history.price"
        ]
    );
    assert_eq!(sections.last(), Some(&"metadata"));
    // The recommender's large arrays are raw sections, not part of its postcard struct.
    let kind_of = |name: &str| {
        v["bundle"]["sections"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name))
            .map(|s| s["kind"].clone())
    };
    assert_eq!(kind_of("recommender.hist_item"), Some("u32".into()));
    assert_eq!(kind_of("recommender.hist_last"), Some("i64".into()));
    assert_eq!(kind_of("recommender.user_factors"), Some("f32".into()));
    assert_eq!(kind_of("recommender.top_item"), Some("u32".into()));
    server.stop().expect("stops cleanly");
}

#[test]
fn missing_bundle_is_unready_until_reloaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("later.bundle");
    let server = start(config(path.clone())).expect("starts without a bundle");
    let addr = server.addr();

    let r = get(addr, "/healthz");
    assert_eq!(r.status, 200);
    assert!(r.json()["model_version"].is_null());
    assert_eq!(r.header("x-model-version"), Some("none"));
    assert_error(&get(addr, "/readyz"), 503, "no_model");
    assert_error(&get(addr, "/v1/model"), 503, "no_model");

    write_bundle(&path, "model-late");
    let r = request(addr, "POST", "/admin/reload", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["previous_model_version"].is_null());
    let r = get(addr, "/readyz");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-model-version"), Some("model-late"));
}

#[test]
fn corrupt_bundle_at_start_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.bundle");
    std::fs::write(
        &path,
        b"definitely not a bundle, but long enough to pass the size check....",
    )
    .expect("writes");
    let err = start(config(path)).err().expect("refused");
    assert!(err.to_string().contains("not a propensity bundle"), "{err}");
}

#[test]
fn api_keys_and_scopes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.bundle");
    write_bundle(&path, "model-a");
    let mut cfg = config(path);
    cfg.api_keys = ApiKey::parse_env_list(&format!(
        "{RECOMMEND_KEY}:recommend,score;{ADMIN_KEY}:admin"
    ))
    .expect("valid keys");
    let server = start_server(cfg);
    let addr = server.addr();
    let bearer = |k: &str| format!("Bearer {k}");

    assert_eq!(get(addr, "/healthz").status, 200, "probes stay open");
    assert_error(&get(addr, "/v1/model"), 401, "missing_api_key");
    let wrong = bearer("recommend-key-0123456789aX");
    assert_error(
        &request(addr, "GET", "/v1/model", &[("Authorization", &wrong)], None),
        401,
        "invalid_api_key",
    );
    let rec = bearer(RECOMMEND_KEY);
    let r = request(addr, "GET", "/v1/model", &[("Authorization", &rec)], None);
    assert_eq!(r.status, 200);
    assert_error(
        &request(
            addr,
            "POST",
            "/admin/reload",
            &[("Authorization", &rec)],
            None,
        ),
        403,
        "insufficient_scope",
    );
    let admin = bearer(ADMIN_KEY);
    let r = request(
        addr,
        "POST",
        "/admin/reload",
        &[("Authorization", &admin)],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["generation"], 2);
}

#[test]
fn open_server_admits_loopback_admin() {
    // No keys: the reload route answers loopback peers (the test client is one).
    let (_dir, server) = server_with_bundle("model-a");
    let r = request(server.addr(), "POST", "/admin/reload", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    // A proxy on the same host connects from loopback too, on behalf of anyone: a
    // forwarded request is not local, whatever the forwarding header.
    for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
        let value = if header == "Forwarded" {
            "for=203.0.113.7"
        } else {
            "203.0.113.7"
        };
        for (method, path) in [
            ("POST", "/admin/reload"),
            ("DELETE", "/v1/customers/someone"),
        ] {
            let r = request(server.addr(), method, path, &[(header, value)], None);
            assert_error(&r, 403, "admin_loopback_only");
        }
    }
    // Other scopes stay open through a proxy.
    let r = request(
        server.addr(),
        "GET",
        "/v1/model",
        &[("X-Forwarded-For", "203.0.113.7")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn bad_requests_use_the_error_envelope() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let json = [("Content-Type", "application/json")];

    let r = request(addr, "POST", "/admin/reload", &json, Some(b"{\"path\": "));
    assert_error(&r, 400, "bad_json");
    assert_eq!(r.json()["model_version"], "model-a");
    let r = request(
        addr,
        "POST",
        "/admin/reload",
        &json,
        Some(b"{\"path\": 12}"),
    );
    assert_error(&r, 400, "bad_json");
    let r = request(
        addr,
        "POST",
        "/admin/reload",
        &json,
        Some(b"{\"pth\": \"x\"}"),
    );
    assert_error(&r, 400, "bad_json");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("pth"))
    );
    let r = request(
        addr,
        "POST",
        "/admin/reload",
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    );
    assert_error(&r, 415, "unsupported_media_type");

    let big = format!("{{\"path\": \"{}\"}}", "x".repeat(5000));
    let r = request(addr, "POST", "/admin/reload", &json, Some(big.as_bytes()));
    assert_error(&r, 413, "payload_too_large");

    assert_error(&get(addr, "/v2/nothing"), 404, "route_not_found");
    assert_error(
        &request(addr, "DELETE", "/v1/model", &[], None),
        405,
        "method_not_allowed",
    );
}

/// A customer and an item the test model knows.
fn known_ids() -> (String, String) {
    let (_, m) = trained();
    let b = &m.base;
    (
        b.customer_ids[b.modelled[0] as usize].clone(),
        b.item_ids[0].clone(),
    )
}

#[test]
fn head_is_answered_on_every_get_route_with_the_get_headers_and_no_body() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let (c, i) = known_ids();
    let paths = [
        "/healthz".to_string(),
        "/readyz".to_string(),
        "/metrics".to_string(),
        "/v1/model".to_string(),
        format!("/v1/customers/{c}"),
        format!("/v1/customers/{c}/recommendations?k=3"),
        format!("/v1/customers/{c}/churn?explain=true"),
        format!("/v1/customers/{c}/next-purchase"),
        format!("/v1/items/{i}/similar"),
        "/v1/customers?limit=2".to_string(),
        "/v1/segments".to_string(),
        "/".to_string(),
        "/assets/app.js".to_string(),
        "/v1/customers/nobody-at-all".to_string(),
    ];
    for path in &paths {
        let g = get(addr, path);
        let h = request(addr, "HEAD", path, &[], None);
        assert_eq!(h.status, g.status, "{path}");
        assert!(h.body.is_empty(), "{path}: {}", h.text());
        assert_eq!(h.header("content-type"), g.header("content-type"), "{path}");
        assert_eq!(
            h.header("x-model-version"),
            g.header("x-model-version"),
            "{path}"
        );
        if path != "/metrics" {
            assert_eq!(
                h.header("content-length"),
                g.header("content-length"),
                "{path}"
            );
        }
    }
    // Where no GET exists, HEAD is not allowed either, and the answer says HEAD.
    let r = request(addr, "HEAD", "/v1/events", &[], None);
    assert_eq!(r.status, 405);
    let r = request(addr, "GET", "/v1/events", &[], None);
    assert_error(&r, 405, "method_not_allowed");
}

#[test]
fn every_route_refuses_unknown_query_parameters_naming_them() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let (c, i) = known_ids();
    for path in [
        "/healthz?verbose=1".to_string(),
        "/v1/model?x=1".to_string(),
        format!("/v1/customers/{c}?fields=all"),
        format!("/v1/customers/{c}/next-purchase?horizon=7"),
        format!("/v1/customers/{c}/churn?explain=true&debug=1"),
        format!("/v1/customers/{c}/recommendations?k=3&kk=4"),
        format!("/v1/items/{i}/similar?n=3"),
        "/v1/customers?limit=2&page=3".to_string(),
        "/v1/segments?x=1".to_string(),
    ] {
        let r = get(addr, &path);
        assert_error(&r, 400, "bad_parameter");
        let msg = r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = path
            .rsplit(['?', '&'])
            .next()
            .and_then(|p| p.split('=').next());
        assert!(
            msg.contains(&format!("{:?}", name.expect("a parameter"))),
            "{path}: {msg}"
        );
    }
    let r = request(
        addr,
        "POST",
        "/v1/churn?fast=1",
        &[("Content-Type", "application/json")],
        Some(format!(r#"{{"customer_ids":["{c}"]}}"#).as_bytes()),
    );
    assert_error(&r, 400, "bad_parameter");
    // Parameters the routes take still work.
    assert_eq!(
        get(
            addr,
            &format!("/v1/customers/{c}/recommendations?k=3&exclude_purchased=true")
        )
        .status,
        200
    );
    assert_eq!(
        get(addr, "/v1/customers?limit=2&sort=churn&order=desc").status,
        200
    );
}

#[test]
fn ids_over_256_bytes_and_over_long_targets_get_the_envelope() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let long = "x".repeat(257);
    for path in [
        format!("/v1/customers/{long}"),
        format!("/v1/customers/{long}/recommendations"),
        format!("/v1/items/{long}/similar"),
    ] {
        let r = get(addr, &path);
        assert_error(&r, 400, "bad_parameter");
        let msg = r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(msg.contains("\"id\"") && msg.contains("256"), "{msg}");
    }
    let r = request(addr, "DELETE", &format!("/v1/customers/{long}"), &[], None);
    assert_error(&r, 400, "bad_parameter");
    // Ids in JSON bodies follow the same rule, named by their place.
    let json = [("Content-Type", "application/json")];
    for (path, body, name) in [
        (
            "/v1/churn",
            format!(r#"{{"customer_ids":["a","{long}"]}}"#),
            "customer_ids[1]",
        ),
        (
            "/v1/recommendations",
            format!(r#"{{"cart":["{long}"]}}"#),
            "cart[0]",
        ),
        (
            "/v1/recommendations",
            format!(r#"{{"customer_id":"{long}"}}"#),
            "customer_id",
        ),
    ] {
        let r = request(addr, "POST", path, &json, Some(body.as_bytes()));
        assert_error(&r, 400, "bad_parameter");
        let msg = r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(msg.contains(&format!("{name:?}")), "{msg}");
    }
    // 256 bytes is still an id (unknown here).
    assert_error(
        &get(addr, &format!("/v1/customers/{}", "x".repeat(256))),
        404,
        "unknown_customer",
    );
    // A 100 KB target was a bare 400 from the HTTP parser; up to its 64 KiB limit the
    // answer is the envelope.
    let r = get(addr, &format!("/v1/customers/{}", "y".repeat(60_000)));
    assert_error(&r, 414, "uri_too_long");
    let r = get(addr, &format!("/v1/model?{}", "q".repeat(9000)));
    assert_error(&r, 414, "uri_too_long");
}

#[test]
fn json_post_routes_refuse_other_content_types_alike() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let (c, _) = known_ids();
    let body = format!(r#"[{{"customer_id":"{c}","item_id":"x","timestamp":"2020-01-01"}}]"#);
    for (path, body) in [
        ("/v1/events", body.clone()),
        ("/v1/churn", format!(r#"{{"customer_ids":["{c}"]}}"#)),
        ("/v1/recommendations", r#"{"cart":[]}"#.to_string()),
    ] {
        for headers in [&[("Content-Type", "text/plain")][..], &[][..]] {
            let r = request(addr, "POST", path, headers, Some(body.as_bytes()));
            assert_error(&r, 415, "unsupported_media_type");
        }
    }
}

#[test]
fn reload_under_load_never_fails_and_switches_version() {
    let (dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let next = dir.path().join("next.bundle");
    write_bundle(&next, "model-b");

    let stop = Arc::new(AtomicBool::new(false));
    let seen = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) || seen.is_empty() {
                let r = get(addr, "/v1/model");
                assert_eq!(r.status, 200, "request failed during reload: {}", r.text());
                let body_version = r.json()["model_version"].as_str().map(str::to_string);
                assert_eq!(
                    r.header("x-model-version"),
                    body_version.as_deref(),
                    "header and body agree"
                );
                seen.push(body_version.unwrap_or_default());
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let body = format!("{{\"path\": {:?}}}", next.display().to_string());
    let r = request(
        addr,
        "POST",
        "/admin/reload",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        (
            v["previous_model_version"].as_str(),
            v["model_version"].as_str()
        ),
        (Some("model-a"), Some("model-b"))
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let seen = seen.join().expect("load thread finished without failures");
    assert_eq!(seen.first().map(String::as_str), Some("model-a"));
    assert_eq!(seen.last().map(String::as_str), Some("model-b"));
    // Once switched, never back.
    let first_b = seen
        .iter()
        .position(|v| v == "model-b")
        .expect("saw model-b");
    assert!(seen[first_b..].iter().all(|v| v == "model-b"));
}

#[test]
fn corrupted_reload_is_refused_and_old_model_keeps_serving() {
    let (dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    let bad = dir.path().join("bad.bundle");
    write_bundle(&bad, "model-bad");
    let mut bytes = std::fs::read(&bad).expect("reads");
    bytes[70] ^= 0x40; // inside the first section
    std::fs::write(&bad, &bytes).expect("writes");

    let body = format!("{{\"path\": {:?}}}", bad.display().to_string());
    let r = request(
        addr,
        "POST",
        "/admin/reload",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_error(&r, 422, "invalid_bundle");
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("corrupted") && msg.contains("\"customer_base\""),
        "{msg}"
    );
    assert_eq!(r.json()["model_version"], "model-a");

    let r = get(addr, "/v1/model");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["model_version"], "model-a");
    let metrics = get(addr, "/metrics").text();
    assert!(
        metrics.contains("propensity_reload_failures_total 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "propensity_model_info{{model_version=\"model-a\",format_version=\"{FORMAT_VERSION}\"}} 1\n"
    )));
}

#[test]
fn metrics_count_requests_by_route_and_status() {
    let (_dir, server) = server_with_bundle("model-a");
    let addr = server.addr();
    for _ in 0..3 {
        assert_eq!(get(addr, "/healthz").status, 200);
    }
    assert_eq!(get(addr, "/nowhere").status, 404);
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"))
    );
    let text = r.text();
    assert!(
        text.contains("propensity_http_requests_total{route=\"healthz\",status=\"200\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("propensity_http_requests_total{route=\"unmatched\",status=\"404\"} 1\n"),
        "{text}"
    );
    assert!(text.contains(
        "propensity_http_request_duration_seconds_count{route=\"healthz\",status=\"200\"} 3\n"
    ));
    assert!(text.contains("propensity_reloads_total 1\n"));
    assert!(text.contains("propensity_model_loaded 1\n"));
}

/// The binary: SIGHUP reloads the configured path, SIGTERM shuts down cleanly.
#[cfg(unix)]
#[test]
fn binary_reloads_on_sighup_and_exits_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.bundle");
    write_bundle(&path, "model-a");
    let mut srv = common::spawn_serve_bundle(&path, &["--workers".as_ref(), "1".as_ref()]);
    let addr = srv.addr;
    assert_eq!(
        get(addr, "/readyz").header("x-model-version"),
        Some("model-a")
    );

    write_bundle(&path, "model-b");
    let kill = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &srv.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(ok.success());
    };
    kill("-HUP");
    let mut version = String::new();
    for _ in 0..100 {
        version = get(addr, "/readyz")
            .header("x-model-version")
            .unwrap_or_default()
            .to_string();
        if version == "model-b" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(version, "model-b");

    kill("-TERM");
    let status = srv.child.wait().expect("exits");
    assert!(status.success(), "exit status {status}");
    let log = srv.final_log();
    assert!(log.contains("SIGHUP"), "{log}");
}

#[test]
fn customer_profile_and_unknown_customer() {
    let (_dir, server) = server_with_bundle("model-p");
    let addr = server.addr();
    let (store, models) = trained();
    // The most frequent buyer of the log: their profile must report their real order count.
    let base = &models.base;
    let row = (0..base.rows())
        .max_by_key(|&r| base.orders[r])
        .expect("rows");
    let id = &base.customer_ids[base.modelled[row] as usize];
    let r = get(addr, &format!("/v1/customers/{id}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["customer_id"], id.as_str());
    assert_eq!(v["model_version"], "model-p");
    let c = store.customer_idx(id).expect("known");
    let baskets_with_purchase = store
        .customer_baskets(c)
        .filter(|&b| {
            store
                .basket_events(b)
                .any(|e| store.kind[e] == propensity::ingest::EventKind::Purchase)
        })
        .count();
    assert_eq!(v["orders"].as_u64(), Some(baskets_with_purchase as u64));
    let segment = v["rfm"]["segment"].as_str().expect("segment");
    assert!(!segment.is_empty());
    let p_alive = v["value"]["p_alive"].as_f64().expect("p_alive");
    assert!((0.0..=1.0).contains(&p_alive));
    // The profile's scores are the churn and next-purchase answers, not a second estimate.
    let churn = get(addr, &format!("/v1/customers/{id}/churn")).json();
    let next = get(addr, &format!("/v1/customers/{id}/next-purchase")).json();
    let scores = &v["scores"];
    assert_eq!(
        scores["churn_probability"], churn["churn_probability"],
        "{v}"
    );
    assert_eq!(scores["risk_band"], churn["risk_band"]);
    assert_eq!(scores["horizon_days"], churn["horizon_days"]);
    assert_eq!(scores["predicted_next_purchase"], next["predicted_date"]);
    assert_eq!(scores["expected_purchases"], next["expected_purchases"]);
    let p = scores["churn_probability"].as_f64().expect("churn");
    let band = if p >= 0.6 {
        "high"
    } else if p >= 0.3 {
        "medium"
    } else {
        "low"
    };
    assert_eq!(scores["risk_band"], band);

    let r = get(addr, "/v1/customers/no-such-customer");
    assert_error(&r, 404, "unknown_customer");
    server.stop().expect("stops cleanly");
}

/// Distinct items `id` bought before the model's cutoff.
fn purchased(id: &str) -> std::collections::HashSet<String> {
    let (store, models) = trained();
    let c = store.customer_idx(id).expect("known customer");
    store
        .customer_events(c)
        .filter(|&e| {
            store.kind[e] == propensity::ingest::EventKind::Purchase
                && store.ts[e] < models.base.cutoff
        })
        .map(|e| store.items.name(store.item[e].0).expect("item").to_string())
        .collect()
}

#[test]
fn recommendations_filters_and_cold_start() {
    let (_dir, server) = server_with_bundle("model-r");
    let addr = server.addr();
    let id = busiest_customer();
    let r = get(addr, &format!("/v1/customers/{id}/recommendations?k=7"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["cold_start"], false);
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 7);
    let ids: Vec<&str> = items
        .iter()
        .map(|i| i["item_id"].as_str().expect("id"))
        .collect();
    let distinct: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "no duplicates");
    for i in items {
        let src = i["source"].as_str().expect("source");
        assert!(
            ["buy_again", "collaborative", "popular"].contains(&src),
            "{src}"
        );
    }

    // exclude_purchased removes every item the customer bought; exclude removes the named ones.
    let bought = purchased(&id);
    let first = ids[0].to_string();
    let r = get(
        addr,
        &format!("/v1/customers/{id}/recommendations?k=10&exclude_purchased=true&exclude={first}"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for i in r.json()["items"].as_array().expect("items") {
        let item = i["item_id"].as_str().expect("id");
        assert!(!bought.contains(item), "{item} was bought before");
        assert_ne!(item, first);
        assert_ne!(i["source"], "buy_again");
    }

    // Unknown customer: the popular list, flagged.
    let r = get(addr, "/v1/customers/never-seen/recommendations?k=3");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["cold_start"], true);
    assert_eq!(v["items"].as_array().expect("items").len(), 3);
    assert!(
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["source"] == "popular")
    );

    // Bad parameters are 400 with the envelope; an unknown item to show similar items for
    // is 404.
    assert_error(
        &get(addr, &format!("/v1/customers/{id}/recommendations?k=0")),
        400,
        "bad_parameter",
    );
    assert_error(
        &get(addr, &format!("/v1/customers/{id}/recommendations?k=101")),
        400,
        "bad_parameter",
    );
    assert_error(
        &get(addr, &format!("/v1/customers/{id}/recommendations?k=ten")),
        400,
        "bad_parameter",
    );
    // Excluding items the model does not know (e.g. added since training) changes nothing
    // and lists them back; the known ones are still excluded.
    let r = get(
        addr,
        &format!("/v1/customers/{id}/recommendations?k=7&exclude=no-such-item,{first},new-2"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["unknown_items"],
        serde_json::json!(["no-such-item", "new-2"])
    );
    let got: Vec<&str> = v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item_id"].as_str().expect("id"))
        .collect();
    assert_eq!(got.len(), 7);
    assert!(!got.contains(&first.as_str()));
    assert_eq!(
        got[..6],
        ids[1..],
        "the same ranking without the excluded item"
    );
    let plain = get(addr, &format!("/v1/customers/{id}/recommendations?k=7"));
    assert!(
        plain.json().get("unknown_items").is_none(),
        "only when some were unknown"
    );
    assert_error(
        &get(addr, "/v1/items/no-such-item/similar"),
        404,
        "unknown_item",
    );

    // Similar items and a cart: never the item itself / the cart's items.
    let r = get(addr, &format!("/v1/items/{first}/similar?k=5"));
    assert_eq!(r.status, 200, "{}", r.text());
    let sim = r.json();
    assert!(
        sim["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["item_id"] != first.as_str())
    );
    let r = post_json(
        addr,
        "/v1/recommendations",
        &serde_json::json!({"cart": [first], "k": 5}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let cart = r.json();
    let got = cart["items"].as_array().expect("items");
    assert!(!got.is_empty());
    assert!(got.iter().all(|i| i["item_id"] != first.as_str()));
    // An item the model does not know in the cart seeds nothing: the same answer, with the id
    // listed back.
    let r = post_json(
        addr,
        "/v1/recommendations",
        &serde_json::json!({"cart": [first, "new-in-store"], "k": 5}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let with_unknown = r.json();
    assert_eq!(with_unknown["items"], cart["items"]);
    assert_eq!(
        with_unknown["unknown_items"],
        serde_json::json!(["new-in-store"])
    );
    server.stop().expect("stops cleanly");
}

#[test]
fn churn_next_purchase_and_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.bundle");
    write_bundle(&path, "model-c");
    let server = start_server(ServeConfig {
        body_limit_bytes: 4 << 20,
        batch_limit: 20_000,
        ..config(path)
    });
    let addr = server.addr();
    let id = busiest_customer();

    let r = get(addr, &format!("/v1/customers/{id}/churn?explain=true"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let p = v["churn_probability"].as_f64().expect("probability");
    assert!((0.0..=1.0).contains(&p));
    assert!(["low", "medium", "high"].contains(&v["risk_band"].as_str().expect("band")));
    let factors = v["factors"].as_array().expect("factors");
    assert!(!factors.is_empty());
    assert!(
        factors
            .iter()
            .all(|f| !f["text"].as_str().unwrap_or_default().is_empty())
    );
    assert_error(
        &get(addr, "/v1/customers/never-seen/churn"),
        404,
        "unknown_customer",
    );

    let r = get(addr, &format!("/v1/customers/{id}/next-purchase"));
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let probs: Vec<f64> = v["probabilities"]
        .as_array()
        .expect("curve")
        .iter()
        .map(|h| h["probability"].as_f64().expect("p"))
        .collect();
    assert!(probs.len() >= 2);
    assert!(
        probs.windows(2).all(|w| w[0] <= w[1]),
        "curve must not decrease: {probs:?}"
    );
    // The whole-number forecast is the bundle's fitted quantile of this customer's count.
    let (_, models) = trained();
    let forecast = models
        .forecast
        .expect("trained bundles carry the forecast level");
    let expected = v["expected_purchases"].as_f64().expect("expected");
    let churn = get(addr, &format!("/v1/customers/{id}/churn")).json()["churn_probability"]
        .as_f64()
        .expect("churn");
    let predicted = v["predicted_purchases"]
        .as_f64()
        .expect("predicted_purchases");
    assert_eq!(predicted.fract(), 0.0, "{v}");
    assert_eq!(predicted, forecast.purchases(expected, churn), "{v}");

    // 10,000 ids in one call, unknown ones reported per id.
    let (_, models) = trained();
    let known: Vec<&String> = models
        .base
        .modelled
        .iter()
        .map(|&c| &models.base.customer_ids[c as usize])
        .collect();
    let ids: Vec<String> = (0..10_000)
        .map(|i| {
            if i % 10 == 9 {
                format!("ghost-{i}")
            } else {
                known[i % known.len()].clone()
            }
        })
        .collect();
    let body = serde_json::to_vec(&serde_json::json!({ "customer_ids": ids })).expect("json");
    let r = request(
        addr,
        "POST",
        "/v1/churn",
        &[("Content-Type", "application/json")],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["results"].as_array().expect("results").len(), 10_000);
    assert_eq!(v["unknown"], 1_000);
    assert_eq!(v["scored"], 9_000);
    // The batch answer equals the single-customer answer.
    let single = get(addr, &format!("/v1/customers/{}/churn", known[0])).json();
    assert_eq!(
        v["results"][0]["churn_probability"],
        single["churn_probability"]
    );

    let r = request(
        addr,
        "POST",
        "/v1/churn",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/x-ndjson"),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(r.text().lines().count(), 10_000);

    let too_many: Vec<String> = (0..20_001).map(|i| format!("c{i}")).collect();
    let body = serde_json::to_vec(&serde_json::json!({ "customer_ids": too_many })).expect("json");
    let r = request(
        addr,
        "POST",
        "/v1/churn",
        &[("Content-Type", "application/json")],
        Some(&body),
    );
    assert_error(&r, 413, "batch_too_large");
    let r = request(
        addr,
        "POST",
        "/v1/churn",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "text/html"),
        ],
        Some(b"{\"customer_ids\":[]}"),
    );
    assert_error(&r, 406, "not_acceptable");
    server.stop().expect("stops cleanly");
}
