//! Auth's mailer: its emails (password recovery) through a
//! Resend-compatible API, as Supabase Auth's custom SMTP sends them
//! through the operator's provider.

use serde_json::json;

use super::config::MailerConfig;

/// Sends Auth's emails through a Resend-compatible API.
pub struct Mailer {
    http: reqwest::Client,
    config: MailerConfig,
}

impl Mailer {
    pub fn new(config: MailerConfig) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP client with a timeout"),
            config,
        }
    }

    pub(super) async fn send(&self, to: &str, subject: &str, html: String) -> Result<(), String> {
        let response = self
            .http
            .post(format!(
                "{}/emails",
                self.config.base_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.config.api_key)
            .json(&json!({"from": self.config.from, "to": [to], "subject": subject, "html": html}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the mail API answered {}", response.status()))
        }
    }
}
