//! `GET /` and `GET /assets/{file}`: the dashboard, static files compiled into the binary.
//!
//! The pages hold no data and need no key: the browser fetches everything from the public
//! JSON API with the key the user enters, exactly as any other client would.

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use actix_web::web;

use super::openapi::error_responses;
use crate::serve::error::ApiError;

/// One embedded file: name under `/assets/`, media type and contents.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    body: &'static str,
}

const INDEX_HTML: &str = include_str!("../dashboard/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../dashboard/app.js"),
    },
    Asset {
        name: "charts.js",
        media_type: "text/javascript; charset=utf-8",
        body: include_str!("../dashboard/charts.js"),
    },
    Asset {
        name: "style.css",
        media_type: "text/css; charset=utf-8",
        body: include_str!("../dashboard/style.css"),
    },
];

/// Only this origin's scripts and styles, and API calls to this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page(media_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(media_type)))
        // Assets change with the binary; revalidating costs little and avoids a stale UI
        // after an upgrade.
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header(("content-security-policy", CSP))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(body)
}

/// The single page; routes within it are URL fragments (`/#/customer/ID`).
#[utoipa::path(
    get,
    path = "/",
    operation_id = "dashboard",
    tag = "dashboard",
    summary = "The dashboard page",
    responses(
        (status = 200, description = "The dashboard's single HTML page; its scripts call the JSON API with the key the user enters",
            content((String = "text/html; charset=utf-8",
                example = json!("<!doctype html>\n<html lang=\"en\">\n<head>\n<title>propensity dashboard</title>\n…"))))
    )
)]
pub async fn index() -> HttpResponse {
    page("text/html; charset=utf-8", INDEX_HTML)
}

error_responses!(
    /// Errors of `GET /assets/{file}`.
    AssetErrors = [RouteNotFound],
    examples = [ApiError::RouteNotFound {
        method: "GET".to_string(),
        path: "/assets/secrets.txt".to_string(),
    }]
);

/// A script or stylesheet of the dashboard; 404 in the error envelope for other names.
#[utoipa::path(
    get,
    path = "/assets/{file}",
    operation_id = "dashboard_asset",
    tag = "dashboard",
    summary = "A script or stylesheet of the dashboard",
    params(("file" = String, Path, description = "`app.js`, `charts.js` or `style.css`")),
    responses(
        (status = 200, description = "The file",
            content(
                (String = "text/javascript; charset=utf-8", example = json!("import { hbar, columns, curve, fmt } from \"./charts.js\";\n…")),
                (String = "text/css; charset=utf-8", example = json!(":root { color-scheme: light dark; }\n…"))
            )),
        AssetErrors
    )
)]
pub async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    ASSETS
        .iter()
        .find(|a| a.name == name.as_str())
        .map(|a| page(a.media_type, a.body))
        .ok_or_else(|| ApiError::RouteNotFound {
            method: "GET".to_string(),
            path: format!("/assets/{name}"),
        })
}
