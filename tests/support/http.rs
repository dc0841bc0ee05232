//! Reading answers in tests.

use reqwest::StatusCode;
use serde_json::Value;

/// The status and the body as JSON (or as a string when it is not JSON).
pub async fn json_body(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
