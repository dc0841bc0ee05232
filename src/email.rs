//! Email through Resend's HTTP API (`POST /emails`), with an idempotency key
//! so that a retry never sends the same email twice.

use std::time::Duration;

use serde_json::json;

use crate::config::ExposeSecret;
use crate::config::ResendSettings;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("Resend could not be reached: {0}")]
    Unreachable(String),
    #[error("Resend refused the email ({status}): {body}")]
    Refused { status: u16, body: String },
}

pub struct Email<'a> {
    pub to: &'a str,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The same key for the same email, however often it is retried.
    pub idempotency_key: String,
    /// Where a mail client stops emails of this kind in one click (RFC
    /// 8058: sent as `List-Unsubscribe` with `List-Unsubscribe-Post`).
    pub one_click_unsubscribe: Option<String>,
}

#[derive(Clone)]
pub struct Resend {
    http: reqwest::Client,
    settings: ResendSettings,
}

impl Resend {
    pub fn new(settings: ResendSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("the HTTP client builds");
        Self { http, settings }
    }

    pub async fn send(&self, email: &Email<'_>) -> Result<(), EmailError> {
        let response = self
            .http
            .post(format!("{}/emails", self.settings.base_url))
            .bearer_auth(self.settings.api_key.expose_secret())
            .header("Idempotency-Key", &email.idempotency_key)
            .json(&body(&self.settings.from, email))
            .send()
            .await
            .map_err(|e| EmailError::Unreachable(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            let body = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            Err(EmailError::Refused { status, body })
        }
    }
}

/// The request Resend's `POST /emails` takes.
fn body(from: &str, email: &Email<'_>) -> serde_json::Value {
    let mut body = json!({
        "from": from,
        "to": [email.to],
        "subject": email.subject,
        "html": email.html,
        "text": email.text,
    });
    if let Some(url) = &email.one_click_unsubscribe {
        body["headers"] = json!({
            "List-Unsubscribe": format!("<{url}>"),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        });
    }
    body
}
