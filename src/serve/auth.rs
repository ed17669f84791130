//! API keys, scopes, and the `Auth<S>` extractor that makes a handler's required scope
//! part of its signature (meilisearch's `GuardedData`), so it cannot be forgotten.

use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use super::error::ApiError;
use super::state::AppState;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Recommendation endpoints.
    Recommend,
    /// Churn, next-purchase and profile scores.
    Score,
    /// Posting events and erasing customers.
    Ingest,
    /// `/admin/*` (reload).
    Admin,
}

impl Scope {
    const ALL: [Scope; 4] = [Scope::Recommend, Scope::Score, Scope::Ingest, Scope::Admin];

    /// The scope's name in config files and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Recommend => "recommend",
            Scope::Score => "score",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Scope::Recommend => 1,
            Scope::Score => 2,
            Scope::Ingest => 4,
            Scope::Admin => 8,
        }
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    /// Whether `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Parses scope names; an unknown name or an empty list is an error.
    pub fn parse_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Scopes, KeyError> {
        let mut set = 0u8;
        for name in names {
            let name = name.trim();
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == name)
                .ok_or_else(|| KeyError::UnknownScope {
                    name: name.to_string(),
                })?;
            set |= scope.bit();
        }
        if set == 0 {
            return Err(KeyError::NoScopes);
        }
        Ok(Scopes(set))
    }
}

/// Why an API key definition was refused. Never contains the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Keys must be long enough not to be guessed.
    #[error(
        "key is shorter than {MIN_KEY_LEN} characters; hint: generate one with `openssl rand -hex 24`"
    )]
    TooShort,
    /// Keys travel in a header and in `KEY:scopes;…` lists.
    #[error("key contains whitespace, ':' or ';'")]
    BadCharacter,
    /// A scope name that does not exist.
    #[error("unknown scope {name:?}; known scopes are recommend, score, ingest, admin")]
    UnknownScope {
        /// The name given.
        name: String,
    },
    /// A key with nothing it may do.
    #[error("key has no scopes")]
    NoScopes,
    /// An entry of `PROPENSITY_API_KEYS` without `:`.
    #[error("expected KEY:scope,scope")]
    Syntax,
}

/// Shortest accepted key, in bytes.
pub const MIN_KEY_LEN: usize = 16;

/// One API key and its scopes. `Debug` never shows the key.
#[derive(Clone)]
pub struct ApiKey {
    secret: Box<[u8]>,
    scopes: Scopes,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl ApiKey {
    /// A key with its scopes, checked for length and characters.
    pub fn new(secret: String, scopes: Scopes) -> Result<ApiKey, KeyError> {
        if secret.len() < MIN_KEY_LEN {
            return Err(KeyError::TooShort);
        }
        if secret
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || c == ';')
        {
            return Err(KeyError::BadCharacter);
        }
        Ok(ApiKey {
            secret: secret.into_bytes().into_boxed_slice(),
            scopes,
        })
    }

    /// The key's scopes.
    pub fn scopes(&self) -> Scopes {
        self.scopes
    }

    /// Parses `KEY1:recommend,score;KEY2:admin`; on error, the 1-based entry position.
    pub fn parse_env_list(spec: &str) -> Result<Vec<ApiKey>, (usize, KeyError)> {
        spec.split(';')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .enumerate()
            .map(|(i, entry)| {
                let (key, scopes) = entry.split_once(':').ok_or((i + 1, KeyError::Syntax))?;
                let scopes = Scopes::parse_list(scopes.split(',')).map_err(|e| (i + 1, e))?;
                ApiKey::new(key.trim().to_string(), scopes).map_err(|e| (i + 1, e))
            })
            .collect()
    }
}

/// Compares in time that depends only on the lengths, not on where the bytes differ, so
/// response timing does not reveal how much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// The configured keys.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<ApiKey>,
}

/// Outcome of checking a request's credentials for one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allowed,
    /// No `Authorization: Bearer` header.
    Missing,
    /// A key that matches no configured key.
    Invalid,
    /// A valid key without the scope.
    Forbidden,
}

impl KeyRing {
    /// A ring of the given keys; empty means the server is open.
    pub fn new(keys: Vec<ApiKey>) -> KeyRing {
        KeyRing { keys }
    }

    /// Whether no keys are configured.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks an `Authorization` header value against `scope`. Every key is compared, so
    /// timing does not reveal which one matched.
    pub fn check(&self, authorization: Option<&[u8]>, scope: Scope) -> Verdict {
        let Some(token) = authorization.and_then(bearer_token) else {
            return Verdict::Missing;
        };
        let mut matched: Option<Scopes> = None;
        for key in &self.keys {
            if constant_time_eq(&key.secret, token) {
                matched = Some(key.scopes);
            }
        }
        match matched {
            None => Verdict::Invalid,
            Some(s) if s.contains(scope) => Verdict::Allowed,
            Some(_) => Verdict::Forbidden,
        }
    }
}

fn bearer_token(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// A scope a handler requires, as a type.
pub trait RequiredScope {
    /// The scope.
    const SCOPE: Scope;
}

/// Marker: requires the `recommend` scope.
pub struct Recommend;
/// Marker: requires the `score` scope.
pub struct Score;
/// Marker: requires the `ingest` scope.
pub struct Ingest;
/// Marker: requires the `admin` scope.
pub struct Admin;

impl RequiredScope for Recommend {
    const SCOPE: Scope = Scope::Recommend;
}
impl RequiredScope for Score {
    const SCOPE: Scope = Scope::Score;
}
impl RequiredScope for Ingest {
    const SCOPE: Scope = Scope::Ingest;
}
impl RequiredScope for Admin {
    const SCOPE: Scope = Scope::Admin;
}

/// Marker: any valid key will do (read-only model information).
pub struct AnyKey;

/// Proof that the request may use scope `S`; put it in a handler's arguments.
///
/// With no keys configured the server is open, except that `Admin` then requires a
/// loopback peer that is not a proxy, so an unconfigured server cannot be reloaded or
/// made to erase from the network (see [`direct_loopback`]).
pub struct Auth<S>(PhantomData<S>);

/// How an extractor decides; implemented for every scope marker and [`AnyKey`].
pub trait Policy {
    /// Decides for one request.
    fn authorize(ring: &KeyRing, req: &HttpRequest) -> Result<(), ApiError>;
}

impl<S: RequiredScope> Policy for S {
    fn authorize(ring: &KeyRing, req: &HttpRequest) -> Result<(), ApiError> {
        if ring.is_open() {
            if S::SCOPE == Scope::Admin && !direct_loopback(req) {
                return Err(ApiError::AdminLoopbackOnly);
            }
            return Ok(());
        }
        let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        match ring.check(header, S::SCOPE) {
            Verdict::Allowed => Ok(()),
            Verdict::Missing => Err(ApiError::MissingApiKey),
            Verdict::Invalid => Err(ApiError::InvalidApiKey),
            Verdict::Forbidden => Err(ApiError::InsufficientScope { required: S::SCOPE }),
        }
    }
}

/// Headers a reverse proxy adds to say whom it forwards for.
const FORWARDING_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Whether the request comes from this machine itself: a loopback peer that carries no
/// forwarding header. A proxy on the same host (nginx, HAProxy) also connects from
/// loopback, on behalf of anyone; every common one adds `X-Forwarded-For` or `Forwarded`
/// when configured as a proxy, so such a request is not treated as local.
fn direct_loopback(req: &HttpRequest) -> bool {
    let loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    loopback
        && !FORWARDING_HEADERS
            .iter()
            .any(|h| req.headers().contains_key(*h))
}

impl Policy for AnyKey {
    fn authorize(ring: &KeyRing, req: &HttpRequest) -> Result<(), ApiError> {
        if ring.is_open() {
            return Ok(());
        }
        let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        // Every key has at least one scope, so "matches some key" is "has any scope".
        let verdicts = Scope::ALL.map(|s| ring.check(header, s));
        if verdicts.contains(&Verdict::Allowed) {
            Ok(())
        } else if verdicts[0] == Verdict::Missing {
            Err(ApiError::MissingApiKey)
        } else {
            Err(ApiError::InvalidApiKey)
        }
    }
}

impl<P: Policy> FromRequest for Auth<P> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.app_data::<web::Data<AppState>>() {
            Some(state) => P::authorize(&state.keys, req).map(|()| Auth(PhantomData)),
            None => Err(ApiError::Internal {
                reason: "application state missing",
            }),
        };
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::new(
            ApiKey::parse_env_list(
                "recommendkey-0000000:recommend,score; adminkey-00000000000:admin",
            )
            .expect("valid list"),
        )
    }

    #[test]
    fn bearer_key_with_scope_is_allowed() {
        let r = ring();
        assert_eq!(
            r.check(Some(b"Bearer recommendkey-0000000"), Scope::Score),
            Verdict::Allowed
        );
        assert_eq!(
            r.check(Some(b"bearer  adminkey-00000000000 "), Scope::Admin),
            Verdict::Allowed
        );
    }

    #[test]
    fn wrong_scope_missing_and_invalid_keys_are_told_apart() {
        let r = ring();
        assert_eq!(
            r.check(Some(b"Bearer recommendkey-0000000"), Scope::Admin),
            Verdict::Forbidden
        );
        assert_eq!(r.check(None, Scope::Score), Verdict::Missing);
        assert_eq!(r.check(Some(b"Basic abc"), Scope::Score), Verdict::Missing);
        assert_eq!(r.check(Some(b"Bearer "), Scope::Score), Verdict::Missing);
        assert_eq!(
            r.check(Some(b"Bearer recommendkey-000000"), Scope::Score),
            Verdict::Invalid
        );
        assert_eq!(
            r.check(Some(b"Bearer recommendkey-00000001"), Scope::Score),
            Verdict::Invalid
        );
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn env_list_errors_give_position_and_never_the_key() {
        let (pos, err) = ApiKey::parse_env_list("goodkey-000000000000:score;short:admin")
            .expect_err("short key");
        assert_eq!((pos, err.clone()), (2, KeyError::TooShort));
        assert!(!err.to_string().contains("short:"));
        let (pos, err) =
            ApiKey::parse_env_list("goodkey-000000000000").expect_err("no scopes given");
        assert_eq!((pos, err), (1, KeyError::Syntax));
        let (_, err) =
            ApiKey::parse_env_list("goodkey-000000000000:score,admn").expect_err("bad scope");
        assert_eq!(
            err,
            KeyError::UnknownScope {
                name: "admn".to_string()
            }
        );
        let (_, err) = ApiKey::parse_env_list("goodkey-000000000000:").expect_err("empty scopes");
        assert_eq!(
            err,
            KeyError::UnknownScope {
                name: String::new()
            }
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = ApiKey::new("supersecretkey-123456".to_string(), Scopes(1)).expect("valid");
        assert!(!format!("{k:?}").contains("supersecret"));
    }
}
