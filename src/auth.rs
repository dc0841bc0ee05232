//! Who is calling: a Supabase access token, verified here. HS256 with the
//! project's JWT secret, and, when configured, the asymmetric keys Supabase
//! publishes as a JWKS document (fetched once, cached, refetched when a token
//! names a key we have not seen, at most every 30 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;
use uuid::Uuid;

use crate::config::ExposeSecret;
use crate::config::SupabaseSettings;

/// A signed-in user, as their token says.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub email: Option<String>,
    /// The token itself, to act as the user towards PostgREST (RLS).
    pub access_token: String,
}

/// Why a caller is not signed in. What the caller is told is the variant's
/// sentence; `detail` (the library's words, a key id, a URL) is for the log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("sign in first: no bearer token")]
    Missing,
    #[error("the access token is not valid; sign in again")]
    Invalid { detail: String },
    /// The keys that would verify the token could not be fetched: our
    /// failure, not the caller's.
    #[error("the keys that verify access tokens are unavailable")]
    KeysUnavailable { detail: String },
}

impl AuthError {
    fn invalid(detail: impl Into<String>) -> Self {
        Self::Invalid {
            detail: detail.into(),
        }
    }

    /// What happened, for the log (never for the caller).
    pub fn detail(&self) -> &str {
        match self {
            Self::Missing => "no bearer token",
            Self::Invalid { detail } | Self::KeysUnavailable { detail } => detail,
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    email: Option<String>,
}

struct JwksCache {
    url: String,
    http: reqwest::Client,
    keys: RwLock<(JwkSet, Option<Instant>)>,
}

const JWKS_TTL: Duration = Duration::from_secs(600);
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(30);

impl JwksCache {
    async fn key(&self, kid: &str) -> Result<DecodingKey, AuthError> {
        {
            let (set, fetched) = &*self.keys.read().await;
            let fresh = fetched.is_some_and(|at| at.elapsed() < JWKS_TTL);
            if let (true, Some(jwk)) = (fresh, set.find(kid)) {
                return DecodingKey::from_jwk(jwk).map_err(|e| AuthError::invalid(e.to_string()));
            }
        }
        let mut guard = self.keys.write().await;
        let stale = guard.1.is_none_or(|at| at.elapsed() >= JWKS_TTL);
        let missing = guard.0.find(kid).is_none();
        let recently = guard.1.is_some_and(|at| at.elapsed() < JWKS_MIN_REFETCH);
        if stale || (missing && !recently) {
            let set: JwkSet = self
                .http
                .get(&self.url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| AuthError::KeysUnavailable {
                    detail: format!("signing keys unavailable: {e}"),
                })?
                .json()
                .await
                .map_err(|e| AuthError::KeysUnavailable {
                    detail: format!("signing keys unreadable: {e}"),
                })?;
            *guard = (set, Some(Instant::now()));
        }
        let jwk = guard
            .0
            .find(kid)
            .ok_or_else(|| AuthError::invalid(format!("unknown signing key {kid}")))?;
        DecodingKey::from_jwk(jwk).map_err(|e| AuthError::invalid(e.to_string()))
    }
}

#[derive(Clone)]
pub struct TokenVerifier {
    secret: Option<Arc<DecodingKey>>,
    jwks: Option<Arc<JwksCache>>,
}

impl TokenVerifier {
    pub fn new(settings: &SupabaseSettings) -> Self {
        Self {
            secret: settings
                .jwt_secret
                .as_ref()
                .map(|s| Arc::new(DecodingKey::from_secret(s.expose_secret().as_bytes()))),
            jwks: settings.use_jwks.then(|| {
                Arc::new(JwksCache {
                    url: settings.jwks_url(),
                    http: reqwest::Client::builder()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .expect("the HTTP client builds"),
                    keys: RwLock::new((JwkSet { keys: Vec::new() }, None)),
                })
            }),
        }
    }

    /// Verifies an `Authorization` header value. Expired, tampered, wrong
    /// audience or a role other than `authenticated`: refused.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = decode_header(token).map_err(|e| AuthError::invalid(e.to_string()))?;
        let key = match header.alg {
            Algorithm::HS256 => self
                .secret
                .as_deref()
                .cloned()
                .ok_or_else(|| AuthError::invalid("HS256 tokens are not accepted here"))?,
            Algorithm::ES256 | Algorithm::RS256 => {
                let jwks = self
                    .jwks
                    .as_ref()
                    .ok_or_else(|| AuthError::invalid("asymmetric tokens are not accepted here"))?;
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| AuthError::invalid("token names no key"))?;
                jwks.key(kid).await?
            }
            other => {
                return Err(AuthError::invalid(format!(
                    "algorithm {other:?} is not accepted"
                )))
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&["authenticated"]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = 30;
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::invalid(e.to_string()))?
            .claims;
        if claims.role != "authenticated" {
            return Err(AuthError::invalid(format!(
                "role {} cannot do this",
                claims.role
            )));
        }
        let user_id =
            Uuid::parse_str(&claims.sub).map_err(|_| AuthError::invalid("sub is not a user id"))?;
        Ok(Caller {
            user_id,
            email: claims.email,
            access_token: token.to_owned(),
        })
    }
}
