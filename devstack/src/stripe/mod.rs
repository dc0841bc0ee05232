//! A Stripe stand-in: the Checkout Session and Refund APIs (form-encoded
//! requests, Stripe's JSON shapes, `Idempotency-Key`), a hosted checkout page whose Pay
//! button marks the session paid, refunds and disputes of the payment
//! afterwards (`charges.rs`), and webhook delivery signed exactly as
//! Stripe signs, redelivered with backoff until the endpoint answers 2xx.

mod charges;
mod form;
mod refunds;
mod sessions;
mod webhooks;

use crate::server::Server;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use form::Form;
use warp::http::{header, HeaderMap, StatusCode};
use warp::reply::{Reply, Response};
use warp::Filter;
pub use webhooks::sign;

#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// The URL browsers and the sidecar use to reach this stand-in.
    pub public_url: String,
    /// Where events are delivered; none means no deliveries.
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    /// First redelivery delay; doubles each attempt (Stripe: up to 3 days).
    pub retry_base: Duration,
    pub max_attempts: u32,
}

impl StripeConfig {
    pub fn from_env(addr: SocketAddr) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            public_url: var("STRIPE_API_BASE").unwrap_or_else(|| format!("http://{addr}")),
            webhook_url: Some(
                var("STRIPE_WEBHOOK_URL")
                    .unwrap_or_else(|| "http://127.0.0.1:8787/api/webhooks/stripe".into()),
            ),
            webhook_secret: var("STRIPE_WEBHOOK_SECRET")
                .unwrap_or_else(|| LOCAL_WEBHOOK_SECRET.into()),
            retry_base: Duration::from_secs(1),
            max_attempts: 8,
        }
    }
}

pub const LOCAL_WEBHOOK_SECRET: &str = "whsec_modelpick_local_development_secret";

/// One webhook delivery attempt, for tests and the curious.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub status: Option<u16>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, Value>,
    /// Idempotency-Key → (digest of the parameters, the answer given).
    idempotency: HashMap<String, (String, Value)>,
    deliveries: Vec<Delivery>,
    refunds: Vec<Value>,
    /// The charge of each paid session, by its payment intent.
    charges: HashMap<String, Value>,
    /// Session ids asked for with `GET /v1/checkout/sessions/:id`.
    retrievals: Vec<String>,
    /// `POST /v1/checkout/sessions` requests, idempotent replays included.
    creations: usize,
    /// The `Stripe-Version` of every API request admitted, in order.
    api_versions: Vec<Option<String>>,
}

#[derive(Clone)]
struct Stripe {
    config: Arc<StripeConfig>,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

pub struct RunningStripe {
    pub server: Server,
    stripe: Stripe,
}

impl RunningStripe {
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.stripe.state.lock().unwrap().deliveries.clone()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.stripe.state.lock().unwrap().refunds.clone()
    }

    /// How many times a session was asked to be created (each is a
    /// request to Stripe, whether or not it made a new session).
    pub fn sessions_created(&self) -> usize {
        self.stripe.state.lock().unwrap().creations
    }

    /// The `Stripe-Version` every API request so far was sent with (none:
    /// the account's default).
    pub fn api_versions(&self) -> Vec<Option<String>> {
        self.stripe.state.lock().unwrap().api_versions.clone()
    }

    /// Every session id retrieved so far, in order.
    pub fn retrievals(&self) -> Vec<String> {
        self.stripe.state.lock().unwrap().retrievals.clone()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub fn start(config: StripeConfig, listener: TcpListener) -> std::io::Result<RunningStripe> {
    let stripe = Stripe {
        config: Arc::new(config),
        state: Arc::default(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client builds"),
    };
    let server = Server::spawn(routes(stripe.clone()), listener)?;
    Ok(RunningStripe { stripe, server })
}

fn stripe_error(status: StatusCode, kind: &str, message: String, param: Option<&str>) -> Response {
    warp::reply::with_status(
        warp::reply::json(&json!({"error": {"type": kind, "message": message, "param": param}})),
        status,
    )
    .into_response()
}

/// Why a create request was refused, in Stripe's error terms.
struct Refusal {
    status: StatusCode,
    kind: &'static str,
    message: String,
    param: Option<&'static str>,
}

impl Refusal {
    fn new(
        status: StatusCode,
        kind: &'static str,
        message: String,
        param: Option<&'static str>,
    ) -> Self {
        Self {
            status,
            kind,
            message,
            param,
        }
    }
}

/// Creates one object from the request's form parameters.
type Create = fn(&Stripe, &Form) -> Result<Value, Refusal>;

fn random_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::rng(), 24)
    )
}

/// `/v1/checkout/sessions`: create, retrieve, expire.
fn session_routes(
    stripe: Stripe,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let with = move || {
        let stripe = stripe.clone();
        warp::any().map(move || stripe.clone())
    };
    let create = warp::path!("v1" / "checkout" / "sessions")
        .and(warp::post())
        .and(with())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(|stripe: Stripe, headers: HeaderMap, body: Bytes| {
            stripe.state.lock().unwrap().creations += 1;
            stripe.idempotent(&headers, &body, Stripe::create_session)
        });
    let retrieve = warp::path!("v1" / "checkout" / "sessions" / String)
        .and(warp::get())
        .and(with())
        .and(warp::header::headers_cloned())
        .map(|id: String, stripe: Stripe, headers: HeaderMap| {
            stripe.retrieve_session(&headers, &id)
        });
    let expire = warp::path!("v1" / "checkout" / "sessions" / String / "expire")
        .and(warp::post())
        .and(with())
        .and(warp::header::headers_cloned())
        .map(|id: String, stripe: Stripe, headers: HeaderMap| stripe.expire_session(&headers, &id));
    create.or(retrieve).unify().or(expire).unify()
}

fn routes(
    stripe: Stripe,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let sessions = stripe.clone();
    let with = move || {
        let stripe = stripe.clone();
        warp::any().map(move || stripe.clone())
    };
    let refund = warp::path!("v1" / "refunds")
        .and(warp::post())
        .and(with())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(|stripe: Stripe, headers: HeaderMap, body: Bytes| {
            stripe.idempotent(&headers, &body, Stripe::create_refund)
        });
    let pay_page = warp::path!("pay" / String)
        .and(warp::get())
        .and(with())
        .map(|id: String, stripe: Stripe| stripe.pay_page(&id));
    let pay = warp::path!("pay" / String)
        .and(warp::post())
        .and(with())
        .map(|id: String, stripe: Stripe| stripe.pay(&id));
    let dashboard_refund = warp::path!("_devstack" / "sessions" / String / "refund")
        .and(warp::post())
        .and(with())
        .and(warp::query::<HashMap<String, i64>>())
        .map(|id: String, stripe: Stripe, query: HashMap<String, i64>| {
            stripe.dashboard_refund(&id, query.get("amount").copied())
        });
    let dispute = warp::path!("_devstack" / "sessions" / String / "dispute")
        .and(warp::post())
        .and(with())
        .map(|id: String, stripe: Stripe| stripe.dispute(&id));
    let deliveries = warp::path!("_devstack" / "deliveries")
        .and(warp::get())
        .and(with())
        .map(|stripe: Stripe| {
            warp::reply::json(&stripe.state.lock().unwrap().deliveries).into_response()
        });
    session_routes(sessions)
        .or(refund)
        .unify()
        .or(pay_page)
        .unify()
        .or(pay)
        .unify()
        .or(dashboard_refund)
        .unify()
        .or(dispute)
        .unify()
        .or(deliveries)
        .unify()
        .recover(|_| async {
            Ok::<_, std::convert::Infallible>(stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "Unrecognized request URL.".into(),
                None,
            ))
        })
        .unify()
}

/// Whether `version` is a Stripe API version as Stripe names them
/// (`2025-02-24.acacia`): a date, a dot, a release name.
fn is_api_version(version: &str) -> bool {
    let (date, name) = version.split_once('.').unwrap_or((version, ""));
    let date: Vec<&str> = date.split('-').collect();
    date.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&date)
            .all(|(n, part)| part.len() == *n && part.bytes().all(|b| b.is_ascii_digit()))
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase())
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| key.starts_with("sk_test_"))
}

impl Stripe {
    /// Stripe's checks before any API request: a secret key (401), and a
    /// `Stripe-Version`, when sent, that names a version (400; without
    /// one the account's default applies). The version sent is recorded.
    fn admit(&self, headers: &HeaderMap) -> Option<Response> {
        if !authorized(headers) {
            return Some(stripe_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Invalid API Key provided.".into(),
                None,
            ));
        }
        let version = headers
            .get("stripe-version")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        if let Some(bad) = version.as_deref().filter(|v| !is_api_version(v)) {
            return Some(stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("Invalid Stripe API version: {bad}"),
                None,
            ));
        }
        self.state.lock().unwrap().api_versions.push(version);
        None
    }

    /// Stripe's `Idempotency-Key`: the same key with the same parameters
    /// replays the first answer; with other parameters it is an error.
    fn idempotent(&self, headers: &HeaderMap, body: &[u8], create: Create) -> Response {
        if let Some(refused) = self.admit(headers) {
            return refused;
        }
        let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).map(Form)
        else {
            return stripe_error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Invalid form body.".into(),
                None,
            );
        };
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let digest = hex::encode(Sha256::digest(body));
        if let Some(key) = &key {
            if let Some((seen, answer)) = self.state.lock().unwrap().idempotency.get(key) {
                if *seen != digest {
                    return stripe_error(
                        StatusCode::BAD_REQUEST,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first used with.".into(),
                        None,
                    );
                }
                let mut response = warp::reply::json(answer).into_response();
                response
                    .headers_mut()
                    .insert("idempotent-replayed", "true".parse().unwrap());
                return response;
            }
        }
        match create(self, &params) {
            Ok(answer) => {
                if let Some(key) = key {
                    self.state
                        .lock()
                        .unwrap()
                        .idempotency
                        .insert(key, (digest, answer.clone()));
                }
                warp::reply::json(&answer).into_response()
            }
            Err(refusal) => {
                stripe_error(refusal.status, refusal.kind, refusal.message, refusal.param)
            }
        }
    }
}
