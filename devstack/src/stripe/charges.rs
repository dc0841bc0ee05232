//! The charge behind a paid session, and what can happen to it afterwards
//! the way it happens at Stripe: a refund (through the API, or made by a
//! person in the Dashboard) sends `charge.refunded`; a buyer's bank opening
//! a dispute sends `charge.dispute.created`. `/_devstack/sessions/:id/refund`
//! and `/_devstack/sessions/:id/dispute` stand in for the Dashboard and the
//! bank.

use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::{random_id, stripe_error, Refusal, Stripe};

impl Stripe {
    /// The charge a payment makes, kept by its payment intent.
    pub(super) fn charge_for(&self, session: &Value) {
        let payment_intent = session["payment_intent"].as_str().unwrap_or_default();
        let charge = json!({
            "id": random_id("ch_test_"),
            "object": "charge",
            "amount": session["amount_total"],
            "amount_captured": session["amount_total"],
            "amount_refunded": 0,
            "currency": session["currency"],
            "paid": true,
            "refunded": false,
            "disputed": false,
            "payment_intent": payment_intent,
            "metadata": {},
            "livemode": false,
            "created": chrono::Utc::now().timestamp(),
        });
        self.state
            .lock()
            .unwrap()
            .charges
            .insert(payment_intent.to_owned(), charge);
    }

    /// Refunds `amount` (all that is left when none) of a payment's charge,
    /// records the refund, and sends `charge.refunded` with the charge as it
    /// is afterwards.
    pub(super) fn refund_charge(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
        reason: Option<String>,
        metadata: Value,
    ) -> Result<Value, Refusal> {
        let (refund, charge) = {
            let mut state = self.state.lock().unwrap();
            let charge = state.charges.get_mut(payment_intent).ok_or_else(|| {
                Refusal::new(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    format!("No such payment_intent: '{payment_intent}'"),
                    Some("payment_intent"),
                )
            })?;
            let total = charge["amount"].as_i64().unwrap_or(0);
            let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
            if refunded >= total {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!(
                        "Charge {} has already been refunded.",
                        charge["id"].as_str().unwrap_or_default()
                    ),
                    None,
                ));
            }
            let amount = amount.unwrap_or(total - refunded);
            if amount <= 0 || refunded + amount > total {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({}).", total - refunded),
                    Some("amount"),
                ));
            }
            charge["amount_refunded"] = json!(refunded + amount);
            charge["refunded"] = json!(refunded + amount == total);
            let refund = json!({
                "id": random_id("re_test_"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "currency": charge["currency"],
                "payment_intent": payment_intent,
                "reason": reason,
                "metadata": metadata,
                "status": "succeeded",
                "created": chrono::Utc::now().timestamp(),
            });
            let charge = charge.clone();
            state.refunds.push(refund.clone());
            (refund, charge)
        };
        self.deliver("charge.refunded", charge);
        Ok(refund)
    }

    fn payment_intent_of(&self, session_id: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        state.sessions.get(session_id)?["payment_intent"]
            .as_str()
            .map(str::to_owned)
    }

    /// A person refunding the session's payment in the Dashboard
    /// (`?amount=` cents for a partial refund).
    pub(super) fn dashboard_refund(&self, session_id: &str, amount: Option<i64>) -> Response {
        let Some(payment_intent) = self.payment_intent_of(session_id) else {
            return no_payment(session_id);
        };
        match self.refund_charge(
            &payment_intent,
            amount,
            Some("requested_by_customer".into()),
            json!({"source": "dashboard"}),
        ) {
            Ok(refund) => warp::reply::json(&refund).into_response(),
            Err(refusal) => {
                stripe_error(refusal.status, refusal.kind, refusal.message, refusal.param)
            }
        }
    }

    /// The buyer's bank disputing the session's payment.
    pub(super) fn dispute(&self, session_id: &str) -> Response {
        let Some(payment_intent) = self.payment_intent_of(session_id) else {
            return no_payment(session_id);
        };
        let dispute = {
            let mut state = self.state.lock().unwrap();
            let Some(charge) = state.charges.get_mut(&payment_intent) else {
                return no_payment(session_id);
            };
            charge["disputed"] = json!(true);
            json!({
                "id": random_id("dp_test_"),
                "object": "dispute",
                "amount": charge["amount"],
                "currency": charge["currency"],
                "charge": charge["id"],
                "payment_intent": payment_intent,
                "reason": "fraudulent",
                "status": "needs_response",
                "is_charge_refundable": true,
                "evidence_details": {
                    "due_by": chrono::Utc::now().timestamp() + 7 * 24 * 3600,
                    "has_evidence": false,
                    "past_due": false,
                    "submission_count": 0,
                },
                "livemode": false,
                "created": chrono::Utc::now().timestamp(),
            })
        };
        self.deliver("charge.dispute.created", dispute.clone());
        warp::reply::json(&dispute).into_response()
    }
}

fn no_payment(session_id: &str) -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("No paid checkout.session: '{session_id}'"),
        None,
    )
}
