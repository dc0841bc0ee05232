//! Stripe's HTTP API: form-encoded requests with Stripe's parameter names,
//! JSON answers.

use std::time::Duration;

use serde::Deserialize;
use uuid::Uuid;

use super::types::{CheckoutSession, Refund, SessionId};
use super::{CURRENCY, PRICE_CENTS, PRODUCT_NAME};
use crate::config::CheckoutOptions;
use crate::config::StripeApi;
use crate::config::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe could not be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// Stripe's own error: its HTTP status, `type` (e.g.
    /// `invalid_request_error`, `api_error`, `card_error`), `code` when it
    /// gives one, and message (for the operator, not the customer).
    #[error("Stripe refused the request (HTTP {status}, {kind}{}): {message}", code.as_deref().map(|c| format!("/{c}")).unwrap_or_default())]
    Refused {
        status: u16,
        kind: String,
        code: Option<String>,
        message: String,
    },
}

impl StripeError {
    /// Whether the same request may succeed later: Stripe unreachable,
    /// rate-limiting or failing. A 4xx other than 429 will be refused again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Refused { status, .. } => *status == 429 || *status >= 500,
        }
    }

    /// Stripe does not know the object asked for.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What the checkout page sells: one report for one draft.
pub struct CheckoutRequest<'a> {
    pub draft_id: Uuid,
    pub user_id: Uuid,
    pub customer_email: Option<&'a str>,
    pub model_count: usize,
    pub image_count: usize,
    pub success_url: String,
    pub cancel_url: String,
    /// Stable for one draft as it stands, so a double click or a retry gets
    /// the same session back instead of a second one.
    pub idempotency_key: String,
    pub options: &'a CheckoutOptions,
}

impl CheckoutRequest<'_> {
    fn form(&self) -> Vec<(&'static str, String)> {
        let draft = self.draft_id.to_string();
        let user = self.user_id.to_string();
        let mut form = vec![
            ("mode", "payment".to_owned()),
            ("client_reference_id", draft.clone()),
            ("metadata[draft_id]", draft.clone()),
            ("metadata[user_id]", user.clone()),
            ("payment_intent_data[metadata][draft_id]", draft),
            ("payment_intent_data[metadata][user_id]", user),
            ("line_items[0][quantity]", "1".into()),
            ("line_items[0][price_data][currency]", CURRENCY.into()),
            (
                "line_items[0][price_data][unit_amount]",
                PRICE_CENTS.to_string(),
            ),
            (
                "line_items[0][price_data][product_data][name]",
                PRODUCT_NAME.into(),
            ),
            (
                "line_items[0][price_data][product_data][description]",
                format!(
                    "Accuracy, cost and latency of {} vision model{} on {} of your document{}",
                    self.model_count,
                    if self.model_count == 1 { "" } else { "s" },
                    self.image_count,
                    if self.image_count == 1 { "" } else { "s" },
                ),
            ),
            ("success_url", self.success_url.clone()),
            ("cancel_url", self.cancel_url.clone()),
        ];
        if let Some(email) = self.customer_email {
            form.push(("customer_email", email.to_owned()));
            // Stripe emails the receipt of the payment to this address.
            form.push(("payment_intent_data[receipt_email]", email.to_owned()));
        }
        let switches = [
            (self.options.invoices, "invoice_creation[enabled]"),
            (self.options.tax_id_collection, "tax_id_collection[enabled]"),
            (self.options.automatic_tax, "automatic_tax[enabled]"),
        ];
        form.extend(
            switches
                .into_iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| (name, "true".to_owned())),
        );
        form
    }
}

#[derive(Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    secret_key: SecretString,
}

/// The Stripe API version every request is made with, whatever the
/// account's default: the shapes this client reads are this version's. The
/// webhook endpoint is created with the same version (docs/deploy.md), so
/// events arrive in them too.
pub const STRIPE_API_VERSION: &str = "2025-02-24.acacia";

impl StripeClient {
    pub fn new(settings: &StripeApi) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "Stripe-Version",
            reqwest::header::HeaderValue::from_static(STRIPE_API_VERSION),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .default_headers(headers)
            .build()
            .expect("the HTTP client builds");
        Self {
            http,
            base: settings.api_base.clone(),
            secret_key: settings.secret_key.clone(),
        }
    }

    async fn parse<T: serde::de::DeserializeOwned>(
        response: reqwest::Response,
    ) -> Result<T, StripeError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response.json().await?);
        }
        let detail = response.json::<ErrorBody>().await.ok().map(|b| b.error);
        let (kind, code, message) = match detail {
            Some(d) => (d.kind, d.code, d.message),
            None => (None, None, None),
        };
        Err(StripeError::Refused {
            status: status.as_u16(),
            kind: kind.unwrap_or_else(|| "unknown_error".into()),
            code,
            message: message.unwrap_or_else(|| status.to_string()),
        })
    }

    pub async fn create_checkout_session(
        &self,
        request: &CheckoutRequest<'_>,
    ) -> Result<CheckoutSession, StripeError> {
        let response = self
            .http
            .post(format!("{}/v1/checkout/sessions", self.base))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Idempotency-Key", &request.idempotency_key)
            .form(&request.form())
            .send()
            .await?;
        Self::parse(response).await
    }

    pub async fn retrieve_checkout_session(
        &self,
        id: &SessionId,
    ) -> Result<CheckoutSession, StripeError> {
        let response = self
            .http
            .get(format!(
                "{}/v1/checkout/sessions/{}",
                self.base,
                id.as_str()
            ))
            .bearer_auth(self.secret_key.expose_secret())
            .send()
            .await?;
        Self::parse(response).await
    }

    /// Refunds the whole payment of a Checkout Session, once: the
    /// idempotency key names what the refund is for, so a retried refund
    /// is never a second one.
    pub async fn refund_session(
        &self,
        session_id: &SessionId,
        refund: RefundFor,
    ) -> Result<Refund, StripeError> {
        let session = self.retrieve_checkout_session(session_id).await?;
        let payment_intent = session.payment_intent.ok_or_else(|| StripeError::Refused {
            status: 400,
            kind: "invalid_request_error".into(),
            code: None,
            message: format!("checkout session {} has no payment to refund", session.id),
        })?;
        let (key, reason, metadata) = match refund {
            RefundFor::FailedReport(report_id) => (
                format!("refund:{report_id}"),
                "requested_by_customer",
                ("metadata[report_id]", report_id.to_string()),
            ),
            RefundFor::UnfulfilledSession => (
                format!("refund:{}", session_id.as_str()),
                "duplicate",
                ("metadata[checkout_session]", session_id.as_str().to_owned()),
            ),
        };
        let response = self
            .http
            .post(format!("{}/v1/refunds", self.base))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Idempotency-Key", key)
            .form(&[
                ("payment_intent", payment_intent.as_str()),
                ("reason", reason),
                (metadata.0, &metadata.1),
            ])
            .send()
            .await?;
        Self::parse(response).await
    }

    /// Expires an open Checkout Session, so that it can no longer be paid.
    /// Stripe refuses (400) a session that is not open any more.
    pub async fn expire_checkout_session(
        &self,
        session_id: &SessionId,
    ) -> Result<CheckoutSession, StripeError> {
        let response = self
            .http
            .post(format!(
                "{}/v1/checkout/sessions/{}/expire",
                self.base,
                session_id.as_str()
            ))
            .bearer_auth(self.secret_key.expose_secret())
            .header("Idempotency-Key", format!("expire:{}", session_id.as_str()))
            .send()
            .await?;
        Self::parse(response).await
    }
}

/// What a refund is for.
#[derive(Debug, Clone, Copy)]
pub enum RefundFor {
    /// A paid report that produced nothing.
    FailedReport(Uuid),
    /// A paid session that could not become a report: its draft was paid
    /// through another session, say.
    UnfulfilledSession,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(options: &CheckoutOptions) -> Vec<(&'static str, String)> {
        CheckoutRequest {
            draft_id: Uuid::nil(),
            user_id: Uuid::nil(),
            customer_email: Some("buyer@example.test"),
            model_count: 2,
            image_count: 1,
            success_url: "https://s/ok".into(),
            cancel_url: "https://s/no".into(),
            idempotency_key: "k".into(),
            options,
        }
        .form()
    }

    #[test]
    fn checkout_emails_a_receipt_and_asks_for_tax_only_when_turned_on() {
        let plain = request(&CheckoutOptions::default());
        assert!(plain.contains(&(
            "payment_intent_data[receipt_email]",
            "buyer@example.test".into()
        )));
        assert!(!plain
            .iter()
            .any(|(name, _)| name.contains("invoice") || name.contains("tax")));
        let all = request(&CheckoutOptions {
            invoices: true,
            tax_id_collection: true,
            automatic_tax: true,
        });
        for name in [
            "invoice_creation[enabled]",
            "tax_id_collection[enabled]",
            "automatic_tax[enabled]",
        ] {
            assert!(all.contains(&(name, "true".into())), "{name}");
        }
    }
}
