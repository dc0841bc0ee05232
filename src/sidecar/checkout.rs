//! `POST /api/checkout {draftId}`: a Stripe Checkout Session for the
//! caller's ready draft.

use bytes::Bytes;
use serde::Deserialize;
use uuid::Uuid;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::stripe::client::CheckoutRequest;
use crate::stripe::types::SessionId;
use crate::supabase::{SessionRecord, SupabaseError};

pub const MAX_BODY_BYTES: u64 = 16 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckoutBody {
    draft_id: String,
}

fn parse_body(body: &[u8]) -> Result<Uuid, ApiError> {
    let body: CheckoutBody = serde_json::from_slice(body).map_err(|e| {
        tracing::info!(error = %e, "checkout body refused");
        ApiError::BadRequest("expected a JSON body {\"draftId\": \"<uuid>\"}".into())
    })?;
    Uuid::parse_str(body.draft_id.trim())
        .map_err(|_| ApiError::BadRequest(format!("draftId {:?} is not a draft id", body.draft_id)))
}

/// One checkout request, counted by its outcome for `/metrics`.
pub async fn create(
    state: AppState,
    authorization: Option<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let outcome = start_checkout(&state, authorization, body).await;
    state.metrics.checkout(match &outcome {
        Ok(_) => "created",
        Err(error) => error.code(),
    });
    outcome
}

async fn start_checkout(
    state: &AppState,
    authorization: Option<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = state.verifier.verify(authorization.as_deref()).await?;
    let draft_id = parse_body(&body)?;
    let draft = state
        .supabase
        .draft_for_caller(&caller.access_token, draft_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no draft {draft_id} among yours")))?;
    match draft.status.as_str() {
        "ready" => {}
        "paid" => {
            return Err(ApiError::Conflict(
                "this benchmark is already paid for".into(),
            ))
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "finish the draft first: images, expected JSON, prompt and models".into(),
            ))
        }
    }
    admit(state, caller.user_id).await?;
    let site = &state.settings.site_url;
    let request = CheckoutRequest {
        draft_id,
        user_id: caller.user_id,
        customer_email: caller.email.as_deref(),
        model_count: draft.selected_models.len(),
        image_count: draft.image_count as usize,
        success_url: format!("{site}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"),
        cancel_url: format!("{site}/checkout/cancel?draft={draft_id}"),
        idempotency_key: format!("checkout:{draft_id}:{}", draft.updated_at),
        options: &state.settings.stripe.checkout,
    };
    let session = state
        .stripe
        .create_checkout_session(&request)
        .await
        .map_err(|e| ApiError::PaymentProvider {
            retry: e.is_retryable(),
            detail: format!("draft {draft_id}: {e}"),
        })?;
    let url = session.url.ok_or_else(|| ApiError::PaymentProvider {
        retry: false,
        detail: format!("session {} came without a checkout page URL", session.id),
    })?;
    tracing::info!(draft.id = %draft_id, stripe.session_id = %session.id, "checkout session created");
    expire_older_sessions(state, draft_id, &session.id).await;
    Ok(warp::reply::json(&serde_json::json!({ "url": url })).into_response())
}

/// Counts the checkout against the caller's hourly allowance before
/// Stripe is asked (every checkout is a Stripe request).
async fn admit(state: &AppState, user_id: Uuid) -> Result<(), ApiError> {
    match state.supabase.admit_checkout(user_id).await {
        Ok(()) => Ok(()),
        Err(SupabaseError::Refused { code, message }) if code == "PT429" => {
            Err(ApiError::TooManyRequests(message))
        }
        Err(e) => Err(e.into()),
    }
}

/// Records the new session and expires the draft's older open ones at
/// Stripe, so that only the newest can be paid. Best effort: a session
/// that cannot be expired (it was just completed, or Stripe is away) is
/// left to its webhook, and a second payment through it is refunded.
async fn expire_older_sessions(state: &AppState, draft_id: Uuid, session_id: &str) {
    let older = match state
        .supabase
        .open_checkout_session(session_id, draft_id)
        .await
    {
        Ok(older) => older,
        Err(e) => {
            tracing::warn!(error = %e, draft.id = %draft_id, "could not record the new checkout session");
            return;
        }
    };
    for id in older.iter().filter_map(|id| SessionId::parse(id)) {
        match state.stripe.expire_checkout_session(&id).await {
            Ok(expired) => {
                let record = SessionRecord {
                    session_id: id.as_str(),
                    status: "expired",
                    draft_id: Some(draft_id),
                    amount_total: expired.amount_total,
                    currency: expired.currency.as_deref(),
                    detail: Some("replaced by a newer checkout".into()),
                    payment_intent: None,
                };
                if let Err(e) = state.supabase.record_checkout_session(&record).await {
                    tracing::warn!(error = %e, stripe.session_id = id.as_str(), "expired session not recorded; its webhook will");
                }
                tracing::info!(
                    stripe.session_id = id.as_str(),
                    "older checkout session expired"
                );
            }
            Err(e) => {
                tracing::info!(error = %e, stripe.session_id = id.as_str(), "older checkout session not expired")
            }
        }
    }
}
