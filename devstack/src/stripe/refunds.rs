//! `POST /v1/refunds`: a refund of a payment, by its payment intent; what
//! is left of it unless `amount` says less. Refunding a refunded payment is
//! refused, as Stripe refuses it.

use serde_json::Value;

use super::form::Form;
use super::{Refusal, Stripe};

impl Stripe {
    pub(super) fn create_refund(&self, form: &Form) -> Result<Value, Refusal> {
        let payment_intent = form.require("payment_intent")?;
        let amount = form
            .get("amount")
            .map(|_| form.integer("amount"))
            .transpose()?;
        self.refund_charge(
            &payment_intent,
            amount,
            form.get("reason"),
            form.object("metadata["),
        )
    }
}
