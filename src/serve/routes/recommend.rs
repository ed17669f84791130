//! Next-best products: `GET /v1/customers/{id}/recommendations`, `POST /v1/recommendations`
//! (cart-aware) and `GET /v1/items/{id}/similar`.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use serde::Deserialize;

use super::json_ok;
use std::sync::Arc;

use super::events::LiveInfo;
use crate::live::{LiveCustomer, Lookup};
use crate::ranking::{RecommendRequest, Recommendation, Source};
use crate::serve::auth::{Auth, Recommend};
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, ServingModels, ServingState};

/// Largest `k` any recommendation call accepts.
pub const MAX_K: usize = 100;

/// Query of the customer recommendation endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendQuery {
    /// Number of items, 1..=100.
    pub k: Option<usize>,
    /// Leave out items the customer already bought.
    #[serde(default)]
    pub exclude_purchased: bool,
    /// Comma-separated item ids never to return (e.g. already on the page); ids the model
    /// does not know are listed back in `unknown_items`.
    pub exclude: Option<String>,
    /// Only items of this category.
    pub category: Option<String>,
    /// At most this many items per category (diversity).
    pub max_per_category: Option<usize>,
}

/// Body of the cart-aware endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartRequest {
    /// Customer, if known (history and buy-again candidates).
    pub customer_id: Option<String>,
    /// Item ids in the cart: seeds for co-purchase and never returned; ids the model does
    /// not know are listed back in `unknown_items`.
    #[serde(default)]
    pub cart: Vec<String>,
    /// Number of items, 1..=100.
    pub k: Option<usize>,
    /// Leave out items the customer already bought.
    #[serde(default)]
    pub exclude_purchased: bool,
}

/// Query of the similar-items endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarQuery {
    /// Number of items, 1..=100.
    pub k: Option<usize>,
}

fn check_k(k: Option<usize>) -> Result<usize, ApiError> {
    match k.unwrap_or(10) {
        k @ 1..=MAX_K => Ok(k),
        k => Err(ApiError::BadParameter {
            name: "k",
            reason: format!("{k} is outside 1..={MAX_K}"),
        }),
    }
}

/// The model's indices of `ids`, and the ids it does not know. An unknown id can neither be
/// returned nor seed co-purchase, so it changes nothing but is listed in the answer
/// (`unknown_items`): a page showing items added since the last training must still get its
/// recommendations, and the caller still sees what was not used.
fn known_items<'a>(m: &ServingModels, ids: &[&'a str]) -> (Vec<u32>, Vec<&'a str>) {
    let mut known = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    for &id in ids {
        match m.item(id) {
            Some(i) => known.push(i),
            None => unknown.push(id),
        }
    }
    (known, unknown)
}

/// The answer `{"model_version","customer_id"?,"cold_start","items":[{"item_id","score",
/// "source","category"?}],"unknown_items"?,"live"?}`, assembled from the items'
/// pre-rendered fragments.
fn render(
    s: &ServingState,
    customer_id: Option<&str>,
    cold_start: bool,
    live: Option<&LiveCustomer>,
    recs: &[Recommendation],
    unknown_items: &[&str],
) -> Result<HttpResponse, ApiError> {
    let fragments = &s.models.item_json;
    let mut body = Vec::with_capacity(128 + recs.len() * 112);
    body.extend_from_slice(b"{\"model_version\":");
    write_json(&mut body, s.model_version())?;
    if let Some(id) = customer_id {
        body.extend_from_slice(b",\"customer_id\":");
        write_json(&mut body, id)?;
    }
    let start: &[u8] = if cold_start {
        b",\"cold_start\":true,\"items\":["
    } else {
        b",\"cold_start\":false,\"items\":["
    };
    body.extend_from_slice(start);
    let mut first = true;
    for r in recs {
        let Some((head, tail)) = fragments.get(r.item) else {
            continue;
        };
        if !first {
            body.push(b',');
        }
        first = false;
        body.extend_from_slice(head);
        write_json(&mut body, &r.score)?;
        let source: &[u8] = match r.source {
            Source::BuyAgain => b",\"source\":\"buy_again\"",
            Source::Collaborative => b",\"source\":\"collaborative\"",
            Source::Popular => b",\"source\":\"popular\"",
        };
        body.extend_from_slice(source);
        body.extend_from_slice(tail);
    }
    body.push(b']');
    if !unknown_items.is_empty() {
        body.extend_from_slice(b",\"unknown_items\":");
        write_json(&mut body, unknown_items)?;
    }
    if let Some(c) = live {
        body.extend_from_slice(b",\"live\":");
        serde_json::to_writer(&mut body, &LiveInfo::of(s, c)).map_err(|_| ApiError::Internal {
            reason: "serialising recommendations",
        })?;
    }
    body.push(b'}');
    Ok(json_ok(Some(s), Bytes::from(body)))
}

/// Appends `v` with serde_json's own escaping and number format (NaN scores become null,
/// exactly as a derived `Serialize` would write them).
fn write_json<T: serde::Serialize + ?Sized>(body: &mut Vec<u8>, v: &T) -> Result<(), ApiError> {
    serde_json::to_writer(body, v).map_err(|_| ApiError::Internal {
        reason: "serialising recommendations",
    })
}

/// Ranked items for one customer; an unknown customer gets the cold-start (popular) list.
pub async fn for_customer(
    _: Auth<Recommend>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<RecommendQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let m = &s.models;
    let k = check_k(q.k)?;
    let exclude_ids: Vec<&str> = q
        .exclude
        .as_deref()
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let (exclude, unknown) = known_items(m, &exclude_ids);
    let category = match &q.category {
        None => None,
        Some(name) => Some(m.category(name).ok_or_else(|| ApiError::BadParameter {
            name: "category",
            reason: format!("unknown category {name:?}"),
        })?),
    };
    if q.max_per_category == Some(0) {
        return Err(ApiError::BadParameter {
            name: "max_per_category",
            reason: "must be at least 1".to_string(),
        });
    }
    let req = RecommendRequest {
        k,
        exclude_purchased: q.exclude_purchased,
        exclude: &exclude,
        category,
        cart: &[],
        available: Some(&m.trained.base.item_available),
        max_per_category: q.max_per_category,
        live: None,
    };
    let mut out = Vec::with_capacity(k);
    let (cold_start, live) = recommend_known(&s, &id, &req, &mut out);
    render(&s, Some(&id), cold_start, live.as_deref(), &out, &unknown)
}

/// Recommends for customer `id` as the server knows them now: erased customers get the
/// cold-start list with nothing personal. Returns whether the answer is cold-start and the
/// customer's live state, if any.
pub(crate) fn recommend_known(
    s: &ServingState,
    id: &str,
    req: &RecommendRequest<'_>,
    out: &mut Vec<Recommendation>,
) -> (bool, Option<Arc<LiveCustomer>>) {
    let rec = &s.models.trained.recommender;
    match s.lookup(id) {
        Lookup::Erased => {
            rec.recommend(None, req, out);
            (true, None)
        }
        Lookup::Live(c) => {
            // The live history replaces the bundle's; the bundle index only lends the
            // customer's ALS state when the snapshot has it.
            let live = &c.state.recommender;
            let req = RecommendRequest {
                live: Some(live),
                ..*req
            };
            rec.recommend(c.bundle_idx, &req, out);
            (live.is_empty(), Some(c.clone()))
        }
        Lookup::Untouched => {
            let known = s.bundle_customer(id).filter(|&c| rec.is_known(c));
            rec.recommend(known, req, out);
            (known.is_none(), None)
        }
    }
}

/// Basket/cart-aware recommendations.
pub async fn for_cart(
    _: Auth<Recommend>,
    state: web::Data<AppState>,
    body: web::Json<CartRequest>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let m = &s.models;
    let k = check_k(body.k)?;
    super::check_body_ids("customer_id", body.customer_id.as_deref(), false)?;
    super::check_body_ids("cart", body.cart.iter().map(String::as_str), true)?;
    let cart_ids: Vec<&str> = body.cart.iter().map(String::as_str).collect();
    let (cart, unknown) = known_items(m, &cart_ids);
    let req = RecommendRequest {
        k,
        exclude_purchased: body.exclude_purchased,
        exclude: &[],
        category: None,
        cart: &cart,
        available: Some(&m.trained.base.item_available),
        max_per_category: None,
        live: None,
    };
    let mut out = Vec::with_capacity(k);
    let (cold, live) = match body.customer_id.as_deref() {
        Some(id) => recommend_known(&s, id, &req, &mut out),
        None => {
            m.trained.recommender.recommend(None, &req, &mut out);
            (true, None)
        }
    };
    render(
        &s,
        body.customer_id.as_deref(),
        cold && cart.is_empty(),
        live.as_deref(),
        &out,
        &unknown,
    )
}

/// Items bought together with one item.
pub async fn similar(
    _: Auth<Recommend>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<SimilarQuery>,
) -> Result<HttpResponse, ApiError> {
    let s = state.current().ok_or(ApiError::NoModel)?;
    let k = check_k(q.k)?;
    let item = s
        .models
        .item(&id)
        .ok_or_else(|| ApiError::UnknownItem { id: id.to_string() })?;
    let recs = s.models.trained.recommender.similar(item, k);
    render(&s, None, false, None, &recs, &[])
}
