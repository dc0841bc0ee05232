//! `POST /v1/refunds`: a refund of a paid session's whole payment, once.

use serde_json::{json, Value};
use warp::http::StatusCode;

use super::form::Form;
use super::{random_id, Refusal, Stripe};

impl Stripe {
    pub(super) fn create_refund(&self, form: &Form) -> Result<Value, Refusal> {
        let payment_intent = form.require("payment_intent")?;
        let mut state = self.state.lock().unwrap();
        let session = state
            .sessions
            .values()
            .find(|s| s["payment_intent"] == payment_intent.as_str())
            .cloned()
            .ok_or_else(|| {
                Refusal::new(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("No such payment_intent: '{payment_intent}'"),
                    Some("payment_intent"),
                )
            })?;
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
        let refund = json!({
            "id": random_id("re_test_"),
            "object": "refund",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "payment_intent": payment_intent,
            "reason": form.get("reason"),
            "metadata": form.object("metadata["),
            "status": "succeeded",
            "created": chrono::Utc::now().timestamp(),
        });
        state.refunds.push(refund.clone());
        Ok(refund)
    }
}
