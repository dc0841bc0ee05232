//! The parts of Stripe's objects this service reads. Unknown fields are
//! ignored, so a newer API version does not break parsing.

use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default)]
    pub url: Option<String>,
    pub payment_status: String,
    #[serde(default)]
    pub amount_total: Option<i64>,
    /// Before tax: the price itself, when Stripe Tax adds tax on top.
    #[serde(default)]
    pub amount_subtotal: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
}

impl CheckoutSession {
    pub fn is_paid(&self) -> bool {
        self.payment_status == "paid"
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// The events this service acts on; everything else is acknowledged and
/// ignored.
#[derive(Debug, Clone)]
pub enum CheckoutEvent {
    Completed(CheckoutSession),
    AsyncPaymentSucceeded(CheckoutSession),
    AsyncPaymentFailed(CheckoutSession),
    Expired(CheckoutSession),
}

impl Event {
    /// `Ok(None)` for event types we do not handle; `Err` when a checkout
    /// event's object is not a Checkout Session.
    pub fn checkout_event(&self) -> Result<Option<CheckoutEvent>, serde_json::Error> {
        let wrap: fn(CheckoutSession) -> CheckoutEvent = match self.kind.as_str() {
            "checkout.session.completed" => CheckoutEvent::Completed,
            "checkout.session.async_payment_succeeded" => CheckoutEvent::AsyncPaymentSucceeded,
            "checkout.session.async_payment_failed" => CheckoutEvent::AsyncPaymentFailed,
            "checkout.session.expired" => CheckoutEvent::Expired,
            _ => return Ok(None),
        };
        let session = CheckoutSession::deserialize(&self.data.object)?;
        Ok(Some(wrap(session)))
    }
}

/// A payment's charge, as `charge.refunded` carries it.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: i64,
    pub amount_refunded: i64,
    #[serde(default)]
    pub payment_intent: Option<String>,
}

/// A dispute of a payment, as `charge.dispute.created` carries it.
#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    #[serde(default)]
    pub charge: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
}

/// The events about a payment after its checkout.
#[derive(Debug, Clone)]
pub enum ChargeEvent {
    /// A refund, made in the Dashboard or by us.
    Refunded(Charge),
    DisputeCreated(Dispute),
}

impl Event {
    /// `Ok(None)` for other event types; `Err` when the object is not what
    /// the type says.
    pub fn charge_event(&self) -> Result<Option<ChargeEvent>, serde_json::Error> {
        Ok(Some(match self.kind.as_str() {
            "charge.refunded" => ChargeEvent::Refunded(Charge::deserialize(&self.data.object)?),
            "charge.dispute.created" => {
                ChargeEvent::DisputeCreated(Dispute::deserialize(&self.data.object)?)
            }
            _ => return Ok(None),
        }))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
}

/// A Checkout Session id as Stripe makes them (`cs_test_…`, `cs_live_…`).
/// Parsed at the edge, so no caller-supplied text reaches a Stripe URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// `cs_test_` or `cs_live_` and at most 200 letters, digits and `_`.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw
            .strip_prefix("cs_test_")
            .or_else(|| raw.strip_prefix("cs_live_"))?;
        let valid = (1..=200).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        valid.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
