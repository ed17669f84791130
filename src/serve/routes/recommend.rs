//! Next-best products: `GET /v1/customers/{id}/recommendations`, `POST /v1/recommendations`
//! (cart-aware) and `GET /v1/items/{id}/similar`.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::json_ok;
use std::sync::Arc;

use super::events::LiveInfo;
use super::openapi::error_responses;
use crate::live::{LiveCustomer, Lookup};
use crate::ranking::{MAX_K, RecommendRequest, Recommendation, Source};
use crate::serve::auth::{Auth, Recommend};
use crate::serve::error::ApiError;
use crate::serve::state::{AppState, ServingModels, ServingState};

/// Query of the customer recommendation endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecommendQuery {
    /// Number of items, 1..=100.
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub k: Option<usize>,
    /// Leave out items the customer already bought.
    #[serde(default)]
    #[param(default = false)]
    pub exclude_purchased: bool,
    /// Comma-separated item ids never to return (e.g. already on the page); ids the model
    /// does not know are listed back in `unknown_items`.
    pub exclude: Option<String>,
    /// Only items of this category (400 `bad_parameter` for a category the model does
    /// not know).
    pub category: Option<String>,
    /// At most this many items per category (diversity).
    #[param(minimum = 1)]
    pub max_per_category: Option<usize>,
}

/// Body of the cart-aware endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"customer_id": "C00042", "cart": ["I0007", "I0019"], "k": 5}))]
pub struct CartRequest {
    /// Customer, if known (history and buy-again candidates).
    pub customer_id: Option<String>,
    /// Item ids in the cart: seeds for co-purchase and never returned; ids the model does
    /// not know are listed back in `unknown_items`.
    #[serde(default)]
    pub cart: Vec<String>,
    /// Number of items, 1..=100.
    #[schema(minimum = 1, maximum = 100, default = 10)]
    pub k: Option<usize>,
    /// Leave out items the customer already bought.
    #[serde(default)]
    pub exclude_purchased: bool,
}

/// Query of the similar-items endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SimilarQuery {
    /// Number of items, 1..=100.
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub k: Option<usize>,
}

/// Answer of the three recommendation endpoints.
// `render` writes this JSON from pre-rendered item fragments rather than through serde
// (the hot path), so this type only describes it; the OpenAPI test validates real answers
// against it.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON render() assembles")]
pub(crate) struct RecommendationsAnswer {
    /// Version of the model that answered.
    model_version: String,
    /// The customer asked about (absent for similar items and carts without a customer).
    #[schema(nullable = false)]
    customer_id: Option<String>,
    /// True when nothing personal was known: the list is popular items.
    cold_start: bool,
    /// Ranked items, best first; fewer than `k` when there are not enough candidates.
    items: Vec<RecommendedItem>,
    /// Ids in `exclude` or `cart` the model does not know (absent when none).
    #[schema(nullable = false)]
    unknown_items: Option<Vec<String>>,
    /// Present when the customer has events since the bundle.
    #[schema(nullable = false)]
    live: Option<LiveInfo>,
}

/// One recommended item.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON render() assembles")]
pub(crate) struct RecommendedItem {
    /// Item id.
    item_id: String,
    /// Ranking score (higher is better; comparable within one answer only).
    #[schema(nullable)]
    score: f32,
    /// Why the item is recommended.
    source: Source,
    /// The item's category (absent when the catalogue has none for it).
    #[schema(nullable = false)]
    category: Option<String>,
}

error_responses!(
    /// Errors of the customer recommendation endpoint.
    ForCustomerErrors = [BadParameter, MissingApiKey, InvalidApiKey, InsufficientScope, NoModel, Internal]
);
error_responses!(
    /// Errors of the cart recommendation endpoint.
    ForCartErrors = [BadParameter, BadJson, MissingApiKey, InvalidApiKey, InsufficientScope, PayloadTooLarge, UnsupportedMediaType, NoModel, Internal]
);
error_responses!(
    /// Errors of the similar-items endpoint.
    SimilarErrors = [BadParameter, MissingApiKey, InvalidApiKey, InsufficientScope, UnknownItem, NoModel, Internal]
);

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
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/recommendations",
    operation_id = "recommendations",
    tag = "recommend",
    summary = "Next-best products for a customer",
    params(("id" = String, Path, description = "Customer id; an unknown or erased customer gets the cold-start list"), RecommendQuery),
    security(("api_key" = ["recommend"])),
    responses(
        (status = 200, description = "Ranked items with score and source", body = RecommendationsAnswer,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "customer_id": "C00042", "cold_start": false,
                "items": [{"item_id": "I0007", "score": 2.31, "source": "buy_again", "category": "coffee"},
                          {"item_id": "I0019", "score": 0.87, "source": "collaborative", "category": "tea"},
                          {"item_id": "I0003", "score": 0.42, "source": "popular"}]})),
        ForCustomerErrors
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/recommendations",
    operation_id = "cart_recommendations",
    tag = "recommend",
    summary = "Cart-aware recommendations",
    request_body = CartRequest,
    security(("api_key" = ["recommend"])),
    responses(
        (status = 200, description = "Ranked items for the cart, never an item in it", body = RecommendationsAnswer,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "customer_id": "C00042", "cold_start": false,
                "items": [{"item_id": "I0011", "score": 0.93, "source": "collaborative", "category": "coffee"}],
                "unknown_items": ["I9999"]})),
        ForCartErrors
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/items/{id}/similar",
    operation_id = "similar",
    tag = "recommend",
    summary = "Items bought together with an item",
    params(("id" = String, Path, description = "Item id"), SimilarQuery),
    security(("api_key" = ["recommend"])),
    responses(
        (status = 200, description = "Similar items, most similar first", body = RecommendationsAnswer,
            example = json!({"model_version": "20261201T020000Z-3fa9c2d1", "cold_start": false,
                "items": [{"item_id": "I0019", "score": 0.61, "source": "collaborative", "category": "tea"}]})),
        SimilarErrors
    )
)]
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
