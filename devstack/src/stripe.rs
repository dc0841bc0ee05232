//! A Stripe stand-in: the Checkout Session and Refund APIs (form-encoded
//! requests, Stripe's JSON shapes, `Idempotency-Key`), a hosted checkout page whose Pay
//! button marks the session paid, and webhook delivery signed exactly as
//! Stripe signs, redelivered with backoff until the endpoint answers 2xx.

use crate::server::Server;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use warp::http::{header, HeaderMap, StatusCode};
use warp::reply::{Reply, Response};
use warp::Filter;

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
    /// Session ids asked for with `GET /v1/checkout/sessions/:id`.
    retrievals: Vec<String>,
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
type Create = fn(&Stripe, &[(String, String)]) -> Result<Value, Refusal>;

fn random_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::rng(), 24)
    )
}

fn routes(
    stripe: Stripe,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
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
            stripe.idempotent(&headers, &body, Stripe::create_session)
        });
    let refund = warp::path!("v1" / "refunds")
        .and(warp::post())
        .and(with())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .map(|stripe: Stripe, headers: HeaderMap, body: Bytes| {
            stripe.idempotent(&headers, &body, Stripe::create_refund)
        });
    let retrieve = warp::path!("v1" / "checkout" / "sessions" / String)
        .and(warp::get())
        .and(with())
        .and(warp::header::headers_cloned())
        .map(|id: String, stripe: Stripe, headers: HeaderMap| {
            stripe.retrieve_session(&headers, &id)
        });
    let pay_page = warp::path!("pay" / String)
        .and(warp::get())
        .and(with())
        .map(|id: String, stripe: Stripe| stripe.pay_page(&id));
    let pay = warp::path!("pay" / String)
        .and(warp::post())
        .and(with())
        .map(|id: String, stripe: Stripe| stripe.pay(&id));
    let deliveries = warp::path!("_devstack" / "deliveries")
        .and(warp::get())
        .and(with())
        .map(|stripe: Stripe| {
            warp::reply::json(&stripe.state.lock().unwrap().deliveries).into_response()
        });
    create
        .or(refund)
        .unify()
        .or(retrieve)
        .unify()
        .or(pay_page)
        .unify()
        .or(pay)
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

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|key| key.starts_with("sk_test_"))
}

impl Stripe {
    /// Stripe's `Idempotency-Key`: the same key with the same parameters
    /// replays the first answer; with other parameters it is an error.
    fn idempotent(&self, headers: &HeaderMap, body: &[u8], create: Create) -> Response {
        if !authorized(headers) {
            return stripe_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Invalid API Key provided.".into(),
                None,
            );
        }
        let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
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

    fn create_refund(&self, params: &[(String, String)]) -> Result<Value, Refusal> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let Some(payment_intent) = get("payment_intent") else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Missing required param: payment_intent.".into(),
                Some("payment_intent"),
            ));
        };
        let mut state = self.state.lock().unwrap();
        let paid = state
            .sessions
            .values()
            .find(|s| s["payment_intent"] == payment_intent.as_str())
            .cloned();
        let Some(session) = paid else {
            return Err(Refusal::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("No such payment_intent: '{payment_intent}'"),
                Some("payment_intent"),
            ));
        };
        if state
            .refunds
            .iter()
            .any(|r| r["payment_intent"] == payment_intent.as_str())
        {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("Charge for {payment_intent} has already been refunded."),
                None,
            ));
        }
        let metadata: serde_json::Map<String, Value> = params
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|r| r.strip_suffix(']'))
                    .map(|n| (n.to_owned(), json!(v)))
            })
            .collect();
        let refund = json!({
            "id": random_id("re_test_"),
            "object": "refund",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "payment_intent": payment_intent,
            "reason": get("reason"),
            "metadata": metadata,
            "status": "succeeded",
            "created": chrono::Utc::now().timestamp(),
        });
        state.refunds.push(refund.clone());
        Ok(refund)
    }

    fn create_session(&self, params: &[(String, String)]) -> Result<Value, Refusal> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        for required in [
            "mode",
            "success_url",
            "cancel_url",
            "line_items[0][quantity]",
            "line_items[0][price_data][currency]",
            "line_items[0][price_data][unit_amount]",
            "line_items[0][price_data][product_data][name]",
        ] {
            if get(required).is_none() {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!("Missing required param: {required}."),
                    Some(required),
                ));
            }
        }
        let number = |name: &str| get(name).and_then(|v| v.parse::<i64>().ok());
        let (Some(quantity), Some(unit_amount)) = (
            number("line_items[0][quantity]"),
            number("line_items[0][price_data][unit_amount]"),
        ) else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Invalid integer.".into(),
                None,
            ));
        };
        let metadata = |prefix: &str| -> Value {
            params
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix(prefix)
                        .and_then(|rest| rest.strip_suffix(']'))
                        .map(|name| (name.to_owned(), json!(v)))
                })
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let id = random_id("cs_test_");
        let now = chrono::Utc::now().timestamp();
        let session = json!({
            "id": id,
            "object": "checkout.session",
            "mode": get("mode"),
            "status": "open",
            "payment_status": "unpaid",
            "url": format!("{}/pay/{id}", self.config.public_url),
            "amount_subtotal": unit_amount * quantity,
            "amount_total": unit_amount * quantity,
            "currency": get("line_items[0][price_data][currency]"),
            "customer_email": get("customer_email"),
            "client_reference_id": get("client_reference_id"),
            "metadata": metadata("metadata["),
            "payment_intent": null,
            "payment_intent_data": {"metadata": metadata("payment_intent_data[metadata][")},
            "line_items": [{
                "quantity": quantity,
                "name": get("line_items[0][price_data][product_data][name]"),
                "description": get("line_items[0][price_data][product_data][description]"),
                "unit_amount": unit_amount,
            }],
            "success_url": get("success_url"),
            "cancel_url": get("cancel_url"),
            "livemode": false,
            "created": now,
            "expires_at": now + 24 * 3600,
        });
        self.state
            .lock()
            .unwrap()
            .sessions
            .insert(id, session.clone());
        Ok(session)
    }

    fn retrieve_session(&self, headers: &HeaderMap, id: &str) -> Response {
        if !authorized(headers) {
            return stripe_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "Invalid API Key provided.".into(),
                None,
            );
        }
        let mut state = self.state.lock().unwrap();
        state.retrievals.push(id.to_owned());
        match state.sessions.get(id) {
            Some(session) => warp::reply::json(session).into_response(),
            None => stripe_error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("No such checkout.session: '{id}'"),
                Some("session"),
            ),
        }
    }

    fn pay_page(&self, id: &str) -> Response {
        let Some(session) = self.state.lock().unwrap().sessions.get(id).cloned() else {
            return warp::reply::with_status(
                warp::reply::html("<h1>No such checkout</h1>".to_owned()),
                StatusCode::NOT_FOUND,
            )
            .into_response();
        };
        let item = &session["line_items"][0];
        let text = |v: &Value| {
            v.as_str()
                .unwrap_or("")
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;")
        };
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        let paid = session["payment_status"] == "paid";
        let html = format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout (test mode)</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;background:#f6f9fc;color:#1a1f36;display:grid;place-items:center;min-height:100vh;margin:0}}
main{{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 4px 24px #0001;max-width:26rem}}
.badge{{background:#ffde92;color:#5f3e00;border-radius:4px;padding:0 .4rem;font-size:.8rem}}
button{{width:100%;padding:.8rem;border:0;border-radius:6px;background:#635bff;color:#fff;font-size:1rem;cursor:pointer}}</style></head>
<body><main><p><span class="badge">TEST MODE</span> Local Stripe stand-in</p>
<h1 id="product">{name}</h1><p id="description">{description}</p>
<p id="amount"><strong>{dollars}.{cents:02} {currency}</strong></p><p id="email">{email}</p>
{action}
<p><a id="cancel" href="{cancel}">Cancel and go back</a></p></main></body></html>"#,
            name = text(&item["name"]),
            description = text(&item["description"]),
            dollars = amount / 100,
            cents = amount % 100,
            currency = text(&session["currency"]).to_uppercase(),
            email = text(&session["customer_email"]),
            cancel = text(&session["cancel_url"]),
            action = if paid {
                "<p id=\"paid\">This checkout is already paid.</p>".to_owned()
            } else {
                format!("<form method=\"post\" action=\"/pay/{id}\"><button id=\"pay\" type=\"submit\">Pay</button></form>")
            },
        );
        warp::reply::html(html).into_response()
    }

    /// The Pay button: the session becomes complete and paid, the
    /// `checkout.session.completed` event goes out, the browser goes on to
    /// `success_url`.
    fn pay(&self, id: &str) -> Response {
        let session = {
            let mut state = self.state.lock().unwrap();
            let Some(session) = state.sessions.get_mut(id) else {
                return stripe_error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("No such checkout.session: '{id}'"),
                    None,
                );
            };
            let first_payment = session["payment_status"] != "paid";
            if first_payment {
                session["status"] = json!("complete");
                session["payment_status"] = json!("paid");
                session["payment_intent"] = json!(random_id("pi_test_"));
            }
            (session.clone(), first_payment)
        };
        let (session, first_payment) = session;
        if first_payment {
            self.deliver("checkout.session.completed", session.clone());
        }
        let success = session["success_url"]
            .as_str()
            .unwrap_or("/")
            .replace("{CHECKOUT_SESSION_ID}", id);
        let mut response = Response::new(Vec::<u8>::new().into());
        *response.status_mut() = StatusCode::SEE_OTHER;
        response.headers_mut().insert(
            header::LOCATION,
            success.parse().unwrap_or_else(|_| "/".parse().unwrap()),
        );
        response
    }

    /// Sends an event to the webhook endpoint in the background, signed as
    /// Stripe signs, retrying with doubling delays until a 2xx.
    fn deliver(&self, event_type: &str, object: Value) {
        let Some(url) = self.config.webhook_url.clone() else {
            return;
        };
        let event = json!({
            "id": random_id("evt_test_"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": chrono::Utc::now().timestamp(),
            "livemode": false,
            "pending_webhooks": 1,
            "type": event_type,
            "data": {"object": object},
        });
        let stripe = self.clone();
        let event_type = event_type.to_owned();
        tokio::spawn(async move {
            let payload = event.to_string();
            let event_id = event["id"].as_str().unwrap_or_default().to_owned();
            let mut delay = stripe.config.retry_base;
            for attempt in 1..=stripe.config.max_attempts {
                let signature = sign(
                    payload.as_bytes(),
                    &stripe.config.webhook_secret,
                    chrono::Utc::now().timestamp(),
                );
                let status = stripe
                    .http
                    .post(&url)
                    .header("content-type", "application/json; charset=utf-8")
                    .header("stripe-signature", signature)
                    .body(payload.clone())
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status().as_u16());
                stripe.state.lock().unwrap().deliveries.push(Delivery {
                    event_id: event_id.clone(),
                    event_type: event_type.clone(),
                    attempt,
                    status,
                });
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    return;
                }
                tracing::warn!(event.id = %event_id, attempt, ?status, "webhook delivery failed; will retry");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        });
    }
}

/// `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload" keyed with the whole secret>`.
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}
