//! The OpenAPI description against the real server over HTTP: every route of the router is
//! documented and nothing else, real answers (and their errors) validate against the
//! schemas documented for their status and media type, every example validates, and
//! `docs/openapi.json` is exactly what the server serves.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

mod common;

use common::{Response, busiest_customer, request, start_server, trained};
use propensity::serve::auth::ApiKey;
use propensity::serve::error::Code;
use propensity::serve::routes::ROUTES;
use propensity::serve::{RunningServer, ServeConfig};
use propensity::time::format_rfc3339;
use serde_json::{Value, json};

const ALL_KEY: &str = "all-scopes-key-0123456789";
const RECOMMEND_KEY: &str = "recommend-only-key-012345";
const SCOPES: [&str; 4] = ["recommend", "score", "ingest", "admin"];

/// A server with keys (one with every scope, one with `recommend` only), serving a bundle
/// unless `with_bundle` is false.
fn serve(with_bundle: bool) -> (tempfile::TempDir, RunningServer) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("model.bundle");
    if with_bundle {
        common::write_bundle(&bundle, |meta| {
            meta.model_version = "openapi-test".to_string();
        });
    }
    let keys = format!("{ALL_KEY}:recommend,score,ingest,admin;{RECOMMEND_KEY}:recommend");
    let server = start_server(ServeConfig {
        api_keys: ApiKey::parse_env_list(&keys).expect("valid keys"),
        ..common::config(bundle)
    });
    (dir, server)
}

fn served_document(addr: std::net::SocketAddr) -> Response {
    let r = request(addr, "GET", "/openapi.json", &[], None);
    assert_eq!(r.status, 200, "/openapi.json needs no key: {}", r.text());
    r
}

/// The document, with validators for its schemas.
struct Spec {
    doc: Value,
    /// `components.schemas`, made strict for the test: every object schema that is not a
    /// part of another (`allOf`) refuses properties it does not declare, so an answer with
    /// a field the description lacks fails as surely as one missing a required field.
    strict_schemas: Value,
}

impl Spec {
    fn new(doc: Value) -> Spec {
        let mut schemas = doc["components"]["schemas"].clone();
        let mut parts = BTreeSet::new();
        for s in schemas.as_object().expect("schemas").values() {
            for part in s["allOf"].as_array().into_iter().flatten() {
                if let Some(r) = part["$ref"].as_str() {
                    parts.insert(r.rsplit('/').next().unwrap_or_default().to_string());
                }
            }
        }
        for (name, s) in schemas.as_object_mut().expect("schemas") {
            let object = s.get("properties").is_some() || s.get("allOf").is_some();
            if object && !parts.contains(name) && s.get("additionalProperties").is_none() {
                s["unevaluatedProperties"] = json!(false);
            }
        }
        Spec {
            doc,
            strict_schemas: schemas,
        }
    }

    /// Validates `instance` against `schema`, whose `$ref`s point into the components.
    fn validate(&self, schema: &Value, instance: &Value) -> Result<(), String> {
        let mut root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": {"schemas": self.strict_schemas},
            "allOf": [schema],
        });
        if let Some(defs) = schema.get("$defs") {
            root["$defs"] = defs.clone();
        }
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("schema does not compile: {e}"))?;
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    fn component(&self, name: &str) -> Value {
        json!({"$ref": format!("#/components/schemas/{name}")})
    }

    fn operation(&self, template: &str, method: &str) -> &Value {
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        op
    }

    /// Checks one real answer of `method template`: its status is documented, its media
    /// type is one documented for that status, the `X-Model-Version` header is there, and
    /// the body validates (JSON as a whole, NDJSON line by line, CSV by its header row).
    fn check(&self, template: &str, method: &str, r: &Response) {
        let what = format!("{method} {template} → {}", r.status);
        let op = self.operation(template, method);
        let response = &op["responses"][r.status.to_string()];
        assert!(
            response.is_object(),
            "{what}: status not documented; body {}",
            r.text()
        );
        assert!(
            r.header("x-model-version").is_some(),
            "{what}: no X-Model-Version"
        );
        let media = r.header("content-type").expect("content type");
        let content = &response["content"][media];
        assert!(
            content.is_object(),
            "{what}: media type {media} not documented (documented: {})",
            response["content"]
        );
        let schema = &content["schema"];
        let result = if media.starts_with("application/json") {
            self.validate(schema, &r.json())
        } else if media.starts_with("application/x-ndjson") {
            let text = r.text();
            assert!(!text.is_empty(), "{what}: empty NDJSON");
            text.lines().try_for_each(|line| {
                let v: Value = serde_json::from_str(line).expect("NDJSON line is JSON");
                self.validate(schema, &v)
            })
        } else if media.starts_with("text/csv") {
            let text = r.text();
            let header: BTreeSet<&str> =
                text.lines().next().unwrap_or_default().split(',').collect();
            let columns: BTreeSet<&str> =
                self.doc["components"]["schemas"]["ListedCustomer"]["properties"]
                    .as_object()
                    .expect("ListedCustomer properties")
                    .keys()
                    .map(String::as_str)
                    .collect();
            assert_eq!(header, columns, "{what}: CSV columns");
            self.validate(schema, &Value::String(r.text()))
        } else {
            assert!(!r.body.is_empty(), "{what}: empty body");
            self.validate(schema, &Value::String(r.text()))
        };
        if let Err(e) = result {
            panic!(
                "{what} ({media}) does not match its schema: {e}\nbody: {}",
                r.text()
            );
        }
    }

    /// The error envelope schema, for answers no operation describes (unmatched paths).
    fn check_envelope(&self, r: &Response) {
        if let Err(e) = self.validate(&self.component("ErrorEnvelope"), &r.json()) {
            panic!("{} is not the error envelope: {e}", r.text());
        }
    }
}

/// Every (path, method) in the document.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (path.clone(), m.to_string()))
        })
        .collect()
}

#[test]
fn every_route_is_documented_with_its_scope_and_nothing_else() {
    let (_dir, server) = serve(true);
    let doc = served_document(server.addr()).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let registered: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|def| {
            def.methods
                .iter()
                .map(|(m, _)| (def.path.to_string(), m.as_str().to_ascii_lowercase()))
        })
        .collect();
    let documented = documented_operations(&doc);
    let missing: Vec<_> = registered.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&registered).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes without a description: {missing:?}; described routes the router lacks: {extra:?}"
    );

    // API routes name the scope they need; probes, the dashboard and this document are open.
    let mut ids = BTreeSet::new();
    for (path, method) in &documented {
        let op = &doc["paths"][path][method];
        assert!(
            ids.insert(op["operationId"].as_str().expect("operationId").to_string()),
            "duplicate operationId at {method} {path}"
        );
        let in_template: BTreeSet<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let in_params: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path" && p["required"] == true)
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(in_template, in_params, "{method} {path}: path parameters");
        // The query parameters described are exactly those the router lets through.
        let in_query: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let accepted: BTreeSet<&str> = ROUTES
            .iter()
            .find(|d| d.path == path.as_str())
            .map(|d| d.query.iter().copied().collect())
            .unwrap_or_default();
        assert_eq!(in_query, accepted, "{method} {path}: query parameters");
        let api = path.starts_with("/v1/") || path.starts_with("/admin/");
        let security = op["security"].as_array();
        if !api {
            assert!(security.is_none(), "{method} {path} should be open");
            continue;
        }
        let requirement = security
            .and_then(|s| s.first())
            .and_then(|r| r["api_key"].as_array())
            .unwrap_or_else(|| panic!("{method} {path} has no api_key requirement"));
        for scope in requirement {
            let scope = scope.as_str().unwrap_or_default();
            assert!(SCOPES.contains(&scope), "{method} {path}: scope {scope}");
        }
        assert!(
            op["responses"]["401"].is_object(),
            "{method} {path} lacks 401"
        );
        if path.starts_with("/v1/") {
            assert!(
                op["responses"]["503"].is_object(),
                "{method} {path} lacks 503"
            );
        }
    }
    let scheme = &doc["components"]["securitySchemes"]["api_key"];
    assert_eq!(
        (&scheme["type"], &scheme["scheme"]),
        (&json!("http"), &json!("bearer"))
    );

    // Every error code is documented with its status in the ErrorCode schema and, except
    // the router's 405, in some operation's responses under that status.
    let codes = &doc["components"]["schemas"]["ErrorCode"];
    let described = codes["description"].as_str().expect("code table");
    let mut answered = BTreeSet::new();
    for (path, method) in &documented {
        let responses = doc["paths"][path][method]["responses"]
            .as_object()
            .expect("responses");
        for (status, r) in responses {
            for name in r["content"]["application/json"]["examples"]
                .as_object()
                .into_iter()
                .flat_map(|e| e.keys())
            {
                answered.insert((name.clone(), status.clone()));
            }
        }
    }
    for c in Code::ALL {
        assert!(
            codes["enum"]
                .as_array()
                .expect("enum")
                .contains(&json!(c.name()))
        );
        let status = c.status().as_u16().to_string();
        assert!(
            described.contains(&format!("| `{}` | {status} |", c.name())),
            "{} missing from the code table",
            c.name()
        );
        if c != Code::MethodNotAllowed {
            assert!(
                answered.contains(&(c.name().to_string(), status.clone())),
                "no operation documents {} under {status}",
                c.name()
            );
        }
    }
}

/// Calls the real server and checks every answer against the description, noting which
/// operations answered successfully.
struct Probe<'a> {
    addr: SocketAddr,
    spec: &'a Spec,
    /// `Authorization` value sent by [`Probe::get`] and [`Probe::post`].
    auth: String,
    /// `(path template, method)` of every validated 2xx answer.
    answered: BTreeSet<(String, String)>,
}

impl Probe<'_> {
    fn call(
        &mut self,
        method: &str,
        template: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let r = request(self.addr, method, uri, headers, body);
        self.spec.check(template, method, &r);
        if (200..300).contains(&r.status) {
            self.answered
                .insert((template.to_string(), method.to_ascii_lowercase()));
        }
        r
    }

    /// GET with the all-scopes key.
    fn get(&mut self, template: &str, uri: &str) -> Response {
        let auth = self.auth.clone();
        self.call("GET", template, uri, &[("Authorization", &auth)], None)
    }

    /// POST of `body` to `path` with the all-scopes key, `Content-Type: content_type` and
    /// `extra` headers.
    fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Response {
        let auth = self.auth.clone();
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", content_type),
        ];
        headers.extend_from_slice(extra);
        self.call("POST", path, path, &headers, Some(body))
    }

    fn post_json(&mut self, path: &str, body: &Value, extra: &[(&str, &str)]) -> Response {
        let bytes = serde_json::to_vec(body).expect("json");
        self.post(path, "application/json", &bytes, extra)
    }
}

/// [`common::assert_error`] on an answer the probe has validated.
fn assert_error(r: Response, status: u16, code: &str) {
    common::assert_error(&r, status, code);
}

#[test]
fn real_answers_validate_against_the_served_schemas() {
    let (_dir, server) = serve(true);
    let spec = Spec::new(served_document(server.addr()).json());
    let mut p = Probe {
        addr: server.addr(),
        spec: &spec,
        auth: format!("Bearer {ALL_KEY}"),
        answered: BTreeSet::new(),
    };
    let (_, models) = trained();
    let base = &models.base;
    let id = busiest_customer();
    let other = base.customer_ids[base.modelled[0] as usize].clone();
    let item = base.item_ids[0].clone();

    for (template, uri) in [
        ("/healthz", "/healthz"),
        ("/readyz", "/readyz"),
        ("/metrics", "/metrics"),
        ("/v1/model", "/v1/model"),
        ("/v1/segments", "/v1/segments"),
        (
            "/v1/customers",
            "/v1/customers?limit=5&sort=churn&order=asc",
        ),
        ("/v1/customers", "/v1/customers?format=csv&limit=3"),
        ("/", "/"),
        ("/assets/{file}", "/assets/app.js"),
        ("/assets/{file}", "/assets/style.css"),
        ("/openapi.json", "/openapi.json"),
        (
            "/v1/customers/{id}/recommendations",
            "/v1/customers/nobody/recommendations",
        ),
        (
            "/v1/items/{id}/similar",
            &format!("/v1/items/{item}/similar?k=5"),
        ),
    ] {
        assert_eq!(p.get(template, uri).status, 200, "{uri}");
    }
    let auth = p.auth.clone();
    let csv = p.call(
        "GET",
        "/v1/customers",
        "/v1/customers?limit=2",
        &[("Authorization", &auth), ("Accept", "text/csv")],
        None,
    );
    assert!(
        csv.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv"))
    );

    let about = |id: &str| {
        [
            ("/v1/customers/{id}", format!("/v1/customers/{id}")),
            (
                "/v1/customers/{id}/recommendations",
                format!("/v1/customers/{id}/recommendations?k=5&exclude=no-such-item"),
            ),
            (
                "/v1/customers/{id}/churn",
                format!("/v1/customers/{id}/churn?explain=true"),
            ),
            (
                "/v1/customers/{id}/next-purchase",
                format!("/v1/customers/{id}/next-purchase"),
            ),
        ]
    };
    for (template, uri) in about(&id) {
        assert_eq!(p.get(template, &uri).status, 200, "{uri}");
    }
    let r = p.post_json(
        "/v1/recommendations",
        &json!({"customer_id": id, "cart": [item, "no-such-item"], "k": 5}),
        &[],
    );
    assert_eq!(r.json()["unknown_items"], json!(["no-such-item"]));
    p.post_json("/v1/recommendations", &json!({"cart": [item]}), &[]);
    let batch = json!({"customer_ids": [id, other, "no-such-customer"], "explain": true});
    assert_eq!(p.post_json("/v1/churn", &batch, &[]).json()["unknown"], 1);
    let ndjson = p.post_json("/v1/churn", &batch, &[("Accept", "application/x-ndjson")]);
    assert_eq!(ndjson.text().lines().count(), 3);

    // Events: accepted with one refused, NDJSON, none valid; then every answer about the
    // customer carries its `live` block.
    let at = format_rfc3339(base.cutoff + 3600);
    let events = json!([
        {"customer_id": id, "item_id": item, "timestamp": at, "price": 9.5, "quantity": 2},
        {"customer_id": id, "item_id": item, "timestamp": "yesterday"}
    ]);
    let r = p.post_json("/v1/events", &events, &[]).json();
    assert_eq!(
        (&r["accepted"], &r["rejected"][0]["index"]),
        (&json!(1), &json!(1))
    );
    let line = json!({"customer_id": id, "item_id": item, "timestamp": at, "event": "view"});
    p.post(
        "/v1/events",
        "application/x-ndjson",
        format!("{line}\n").as_bytes(),
        &[],
    );
    let none = p.post_json("/v1/events", &json!([{"customer_id": id}]), &[]);
    assert_error(none, 400, "no_valid_events");
    for (template, uri) in about(&id) {
        let r = p.get(template, &uri);
        assert!(r.json()["live"].is_object(), "{uri}: {}", r.text());
    }
    let erase = format!("/v1/customers/{other}");
    let r = p.call(
        "DELETE",
        "/v1/customers/{id}",
        &erase,
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(r.json()["erased"], true);
    p.call(
        "POST",
        "/admin/reload",
        "/admin/reload",
        &[("Authorization", &auth)],
        None,
    );

    // Errors validate against the envelope documented for their status.
    assert_error(
        p.get("/v1/items/{id}/similar", "/v1/items/no-such-item/similar"),
        404,
        "unknown_item",
    );
    for k in ["0", "101", "ten"] {
        let uri = format!("/v1/customers/{id}/recommendations?k={k}");
        assert_error(
            p.get("/v1/customers/{id}/recommendations", &uri),
            400,
            "bad_parameter",
        );
    }
    let unknown = "/v1/customers/no-such-customer/churn";
    assert_error(
        p.get("/v1/customers/{id}/churn", unknown),
        404,
        "unknown_customer",
    );
    assert_error(p.get("/v1/customers/{id}", &erase), 404, "unknown_customer");
    assert_error(
        p.get("/v1/customers", "/v1/customers?min_churn=2"),
        400,
        "bad_parameter",
    );
    assert_error(
        p.get("/v1/customers", "/v1/customers?limit=5000"),
        400,
        "bad_parameter",
    );
    let png = [("Authorization", auth.as_str()), ("Accept", "image/png")];
    assert_error(
        p.call("GET", "/v1/customers", "/v1/customers", &png, None),
        406,
        "not_acceptable",
    );
    assert_error(
        p.post_json("/v1/churn", &batch, &[("Accept", "text/html")]),
        406,
        "not_acceptable",
    );
    assert_error(
        p.post(
            "/v1/churn",
            "application/json",
            b"{\"customer_ids\": 7}",
            &[],
        ),
        400,
        "bad_json",
    );
    assert_error(
        p.post("/v1/recommendations", "text/plain", b"{}", &[]),
        415,
        "unsupported_media_type",
    );
    assert_error(
        p.post("/v1/events", "text/plain", b"{}", &[]),
        415,
        "unsupported_media_type",
    );
    assert_error(
        p.get(
            "/v1/customers/{id}",
            &format!("/v1/customers/{id}?verbose=1"),
        ),
        400,
        "bad_parameter",
    );
    assert_error(
        p.call("GET", "/v1/model", "/v1/model", &[], None),
        401,
        "missing_api_key",
    );
    let wrong = format!("Bearer {ALL_KEY}x");
    let r = p.call(
        "GET",
        "/v1/segments",
        "/v1/segments",
        &[("Authorization", &wrong)],
        None,
    );
    assert_error(r, 401, "invalid_api_key");
    let recommend_only = format!("Bearer {RECOMMEND_KEY}");
    let r = p.call(
        "GET",
        "/v1/segments",
        "/v1/segments",
        &[("Authorization", &recommend_only)],
        None,
    );
    assert_error(r, 403, "insufficient_scope");
    assert_error(
        p.call("GET", "/assets/{file}", "/assets/secrets.txt", &[], None),
        404,
        "route_not_found",
    );
    // No operation describes unmatched paths and methods; they still answer the envelope.
    let r = request(server.addr(), "GET", "/v1/nowhere", &[], None);
    assert_eq!(r.status, 404);
    spec.check_envelope(&r);
    let r = request(
        server.addr(),
        "PUT",
        "/v1/model",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 405);
    spec.check_envelope(&r);
    let long = format!("/v1/customers/{}", "x".repeat(9000));
    assert_error(p.get("/v1/customers/{id}", &long), 414, "uri_too_long");

    let unanswered: Vec<_> = ROUTES
        .iter()
        .flat_map(|d| {
            d.methods
                .iter()
                .map(|(m, _)| (d.path.to_string(), m.as_str().to_ascii_lowercase()))
        })
        .filter(|op| !p.answered.contains(op))
        .collect();
    assert!(
        unanswered.is_empty(),
        "no successful answer was validated for {unanswered:?}"
    );
    server.stop().expect("stops");

    // A server without a model: null versions and 503 `no_model`.
    let (_dir, server) = serve(false);
    let mut p = Probe {
        addr: server.addr(),
        spec: &spec,
        auth,
        answered: BTreeSet::new(),
    };
    assert_eq!(
        p.get("/healthz", "/healthz").json()["model_version"],
        Value::Null
    );
    for path in ["/readyz", "/v1/model", "/v1/segments"] {
        assert_error(p.get(path, path), 503, "no_model");
    }
    let r = p.post_json("/v1/churn", &json!({"customer_ids": ["x"]}), &[]);
    assert_error(r, 503, "no_model");
    server.stop().expect("stops");
}

#[test]
fn schemas_refuse_a_missing_or_an_undescribed_field() {
    let (_dir, server) = serve(true);
    let addr = server.addr();
    let spec = Spec::new(served_document(addr).json());
    let all = format!("Bearer {ALL_KEY}");
    let id = busiest_customer();
    for (uri, schema, field) in [
        (
            format!("/v1/customers/{id}/churn"),
            "ChurnScore",
            "horizon_days",
        ),
        (
            format!("/v1/customers/{id}/recommendations"),
            "RecommendationsAnswer",
            "items",
        ),
        (format!("/v1/customers/{id}"), "CustomerProfile", "rfm"),
        (
            "/v1/segments".to_string(),
            "SegmentsAnswer",
            "churn_histogram",
        ),
        ("/v1/model".to_string(), "ModelAnswer", "bundle"),
    ] {
        let v = request(addr, "GET", &uri, &[("Authorization", &all)], None).json();
        let schema = spec.component(schema);
        spec.validate(&schema, &v)
            .expect("the real answer validates");
        let mut without = v.clone();
        without.as_object_mut().expect("object").remove(field);
        assert!(
            spec.validate(&schema, &without).is_err(),
            "{uri} without {field} passes"
        );
        let mut extra = v.clone();
        extra["surprise"] = json!(1);
        assert!(
            spec.validate(&schema, &extra).is_err(),
            "{uri} with an undescribed field passes"
        );
    }
    // Nested objects and enums are checked too.
    let mut v = request(
        addr,
        "GET",
        &format!("/v1/customers/{id}/recommendations"),
        &[("Authorization", &all)],
        None,
    )
    .json();
    v["items"][0]["source"] = json!("editorial");
    assert!(
        spec.validate(&spec.component("RecommendationsAnswer"), &v)
            .is_err()
    );
    server.stop().expect("stops");
}

/// Every `example` and `examples` entry under `value`, with the schema it illustrates and
/// the media type, collected from responses, request bodies and component schemas.
fn examples(doc: &Value) -> Vec<(String, Value, Value, String)> {
    let mut out = Vec::new();
    let resolve = |e: &Value| -> Value {
        match e["$ref"].as_str() {
            Some(r) => {
                doc["components"]["examples"][r.rsplit('/').next().unwrap_or_default()]["value"]
                    .clone()
            }
            None => e["value"].clone(),
        }
    };
    let mut from_content = |at: String, content: &Value| {
        for (media, c) in content.as_object().into_iter().flatten() {
            if let Some(e) = c.get("example") {
                out.push((at.clone(), c["schema"].clone(), e.clone(), media.clone()));
            }
            for (name, e) in c["examples"].as_object().into_iter().flatten() {
                out.push((
                    format!("{at} {name}"),
                    c["schema"].clone(),
                    resolve(e),
                    media.clone(),
                ));
            }
        }
    };
    for (path, method) in documented_operations(doc) {
        let op = &doc["paths"][&path][&method];
        for (status, r) in op["responses"].as_object().expect("responses") {
            from_content(format!("{method} {path} {status}"), &r["content"]);
        }
        from_content(
            format!("{method} {path} request"),
            &op["requestBody"]["content"],
        );
    }
    for (name, s) in doc["components"]["schemas"].as_object().expect("schemas") {
        if let Some(e) = s.get("example") {
            out.push((
                name.clone(),
                json!({"$ref": format!("#/components/schemas/{name}")}),
                e.clone(),
                "application/json".to_string(),
            ));
        }
    }
    out
}

#[test]
fn every_example_validates_against_its_schema() {
    let doc: Value =
        serde_json::from_str(propensity::serve::routes::openapi::document()).expect("JSON");
    let spec = Spec::new(doc);
    let all = examples(&spec.doc);
    assert!(all.len() > 40, "only {} examples", all.len());
    for (at, schema, example, media) in all {
        let result = if media.starts_with("application/x-ndjson") {
            let text = example.as_str().expect("NDJSON example is text");
            text.lines().try_for_each(|l| {
                spec.validate(&schema, &serde_json::from_str(l).expect("JSON line"))
            })
        } else {
            spec.validate(&schema, &example)
        };
        if let Err(e) = result {
            panic!("example {at} ({media}) does not match its schema: {e}\n{example}");
        }
    }
}

#[test]
fn committed_description_is_what_the_server_serves() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let committed = std::fs::read_to_string(&committed).unwrap_or_default();
    let (_dir, server) = serve(false);
    let served = served_document(server.addr());
    assert_eq!(served.header("content-type"), Some("application/json"));
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_propensity-serve"))
        .arg("--print-openapi")
        .output()
        .expect("runs propensity-serve --print-openapi");
    assert!(printed.status.success());
    assert_eq!(
        printed.stdout, served.body,
        "--print-openapi prints what is served"
    );
    assert!(
        committed.as_bytes() == served.body,
        "docs/openapi.json differs from the served description; regenerate it with\n  \
         cargo run --bin propensity-serve -- --print-openapi > docs/openapi.json"
    );
    server.stop().expect("stops");
}
