//! `POST /api/webhooks/stripe`: verify first, on the exact bytes; then act
//! on the checkout events quickly (one database call) and acknowledge.
//! 4xx only for requests that are not genuine Stripe deliveries; 5xx only
//! when a retry can succeed (the database is down); 200 for everything else,
//! so Stripe neither retries nor disables the endpoint.

use bytes::Bytes;
use tracing::Instrument;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::fulfill::{self, Settlement};
use super::state::AppState;
use crate::config::ExposeSecret;
use crate::stripe::signature;
use crate::stripe::types::{ChargeEvent, CheckoutEvent, Event};

pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

fn ack(outcome: &str) -> Response {
    warp::reply::with_status(
        warp::reply::json(&serde_json::json!({ "received": true, "outcome": outcome })),
        StatusCode::OK,
    )
    .into_response()
}

/// One delivery, counted by its outcome for `/metrics`.
pub async fn receive(
    state: AppState,
    signature_header: Option<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let outcome = verify_and_act(&state, signature_header, body).await;
    state.metrics.webhook(match &outcome {
        Ok(acted) => acted,
        Err(ApiError::BadRequest(_)) => "refused",
        Err(error) => error.code(),
    });
    outcome.map(ack)
}

async fn verify_and_act(
    state: &AppState,
    signature_header: Option<String>,
    body: Bytes,
) -> Result<&'static str, ApiError> {
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    signature::verify(
        signature_header.as_deref(),
        &body,
        state.settings.stripe.webhook_secret.expose_secret(),
        (state.clock)(),
    )
    .map_err(|e| {
        tracing::warn!(error = %e, "webhook signature refused");
        ApiError::BadRequest(format!("webhook signature refused: {e}"))
    })?;
    let event: Event = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "signed webhook body is not a Stripe event");
        ApiError::BadRequest("the signed body is not a Stripe event".into())
    })?;
    let span = tracing::info_span!("stripe_event", stripe.event_id = %event.id, stripe.event_type = %event.kind);
    act_on(state, &event).instrument(span).await
}

/// Fulfills, records or ignores one verified event.
async fn act_on(state: &AppState, event: &Event) -> Result<&'static str, ApiError> {
    let checkout = match event.checkout_event() {
        Ok(Some(checkout)) => checkout,
        Ok(None) => return act_on_charge(state, event).await,
        Err(e) => {
            tracing::warn!(error = %e, "checkout event without a readable session; ignored");
            return Ok("ignored");
        }
    };
    let outcome = match checkout {
        CheckoutEvent::Completed(session) | CheckoutEvent::AsyncPaymentSucceeded(session) => {
            match state.settlements.settle(&state.supabase, &session).await? {
                Settlement::Fulfilled { created: true, .. } => "fulfilled",
                Settlement::Fulfilled { created: false, .. } => "already_fulfilled",
                Settlement::AwaitingPayment => "awaiting_payment",
                Settlement::Rejected(_) => "rejected",
                Settlement::Refunding(_) => "refunding",
            }
        }
        CheckoutEvent::AsyncPaymentFailed(session) => {
            fulfill::record_unpaid_end(&state.supabase, &session, "payment_failed").await?;
            "payment_failed"
        }
        CheckoutEvent::Expired(session) => {
            fulfill::record_unpaid_end(&state.supabase, &session, "expired").await?;
            "expired"
        }
    };
    Ok(outcome)
}

/// A refund or a dispute of a payment, after its checkout.
async fn act_on_charge(state: &AppState, event: &Event) -> Result<&'static str, ApiError> {
    let charge_event = match event.charge_event() {
        Ok(Some(charge_event)) => charge_event,
        Ok(None) => return Ok("ignored"),
        Err(e) => {
            tracing::warn!(error = %e, "charge event without a readable object; ignored");
            return Ok("ignored");
        }
    };
    match charge_event {
        // Every payment of ours is a Checkout Session's payment intent; a
        // charge without one (another integration on the same account) is
        // not ours, and is not worth a retry from Stripe.
        ChargeEvent::Refunded(charge) if charge.payment_intent.is_none() => Ok("unknown_payment"),
        ChargeEvent::Refunded(charge) => {
            let outcome = state.supabase.record_charge_refunded(&charge).await?;
            tracing::info!(stripe.charge_id = %charge.id, outcome = %outcome, "charge refunded");
            Ok(match outcome.as_str() {
                "refunded" => "refunded",
                "already_refunded" => "already_refunded",
                "partially_refunded" => "partially_refunded",
                _ => "unknown_payment",
            })
        }
        ChargeEvent::DisputeCreated(dispute) => {
            let outcome = state.supabase.record_charge_dispute(&dispute).await?;
            tracing::warn!(stripe.dispute_id = %dispute.id, reason = %dispute.reason, outcome = %outcome, "payment disputed; answer it in Stripe's Dashboard");
            Ok(if outcome == "recorded" {
                "dispute_recorded"
            } else {
                "dispute_already_recorded"
            })
        }
    }
}
