//! Webhook delivery: each event signed exactly as Stripe signs, sent in the
//! background and redelivered with doubling delays until a 2xx.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{random_id, Delivery, Stripe};

impl Stripe {
    /// Sends an event to the webhook endpoint in the background, signed as
    /// Stripe signs, retrying with doubling delays until a 2xx.
    pub(super) fn deliver(&self, event_type: &str, object: Value) {
        let Some(url) = self.config.webhook_url.clone() else {
            return;
        };
        let event = json!({
            "id": random_id("evt_test_"),
            "object": "event",
            "api_version": "2025-02-24.acacia",
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
