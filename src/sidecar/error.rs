//! The one place where failures become HTTP answers: a status and a JSON
//! body `{"error": "<what a person can act on>", "code": "<machine code>",
//! "request_id": "<id>"}`. A 4xx says what the caller can fix; a 5xx says
//! "internal error" and, where retrying can help, when to retry; what went
//! wrong inside is logged with the request id, never sent.

use warp::http::StatusCode;
use warp::reply::{Reply, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(u64),
    /// The request did not arrive in time; the connection is closed.
    #[error("{0}")]
    TooSlow(String),
    /// A per-account limit; the sentence says when to try again.
    #[error("{0}")]
    TooManyRequests(String),
    /// The payment provider refused or failed; `retry` says whether trying
    /// again can help.
    #[error("payment could not be started: {detail}")]
    PaymentProvider { detail: String, retry: bool },
    /// Something we depend on is down; retrying later will work.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// As much of this work is under way as we allow at once; the sentence
    /// says what, and the answer says when to try again (Retry-After).
    #[error("{0}")]
    Busy(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::TooSlow(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::PaymentProvider { .. } => (StatusCode::BAD_GATEWAY, "payment_provider_failed"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The machine code the body carries (`bad_request`, `unauthorized`, ...).
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// Whether the same request may succeed later.
    fn retry_can_help(&self) -> bool {
        match self {
            Self::PaymentProvider { retry, .. } => *retry,
            Self::Unavailable(_) | Self::Busy(_) => true,
            _ => false,
        }
    }

    /// What the caller is told: the message itself for a 4xx, a plain
    /// sentence with no internals for a 5xx.
    fn public_message(&self) -> String {
        match self {
            Self::PaymentProvider { retry: true, .. } => {
                "internal error: the payment could not be started; try again in a minute".into()
            }
            Self::PaymentProvider { retry: false, .. } => {
                "internal error: the payment could not be started; we have been told and are on it"
                    .into()
            }
            Self::Unavailable(_) => {
                "internal error: a service we depend on is unavailable; try again in a minute"
                    .into()
            }
            Self::Internal(_) => "internal error".into(),
            plain => plain.to_string(),
        }
    }

    /// The answer to the request `request_id`; a server error is logged
    /// here, once, with what happened.
    pub fn into_response_for(self, request_id: &str) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() && !matches!(self, Self::Busy(_)) {
            tracing::error!(http.status = status.as_u16(), error = %self, "request failed");
        }
        let mut body = serde_json::json!({
            "error": self.public_message(),
            "code": code,
            "request_id": request_id,
        });
        if status.is_server_error() {
            body["retry"] = self.retry_can_help().into();
        }
        let mut response = json_reply(status, &body);
        if let Self::Busy(_) = self {
            response.headers_mut().insert(
                warp::http::header::RETRY_AFTER,
                warp::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::KeysUnavailable { detail } => Self::Unavailable(detail),
            refused => {
                tracing::info!(auth.refused = refused.detail(), "access token refused");
                Self::Unauthorized(refused.to_string())
            }
        }
    }
}

impl From<crate::supabase::SupabaseError> for ApiError {
    fn from(e: crate::supabase::SupabaseError) -> Self {
        use crate::supabase::SupabaseError;
        match e {
            SupabaseError::Unauthorized => {
                Self::Unauthorized("your session has expired; sign in again".into())
            }
            refused @ SupabaseError::Refused { .. } => Self::Internal(refused.to_string()),
            SupabaseError::Unavailable(why) => Self::Unavailable(format!("the database: {why}")),
        }
    }
}

pub fn json_reply(status: StatusCode, body: &serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}
