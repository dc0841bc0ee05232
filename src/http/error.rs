//! The one place where failures become HTTP answers: a status and a JSON
//! body `{"error": "<what a person can act on>", "code": "<machine code>"}`.

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
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Unavailable(String),
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
            Self::BadGateway(_) => (StatusCode::BAD_GATEWAY, "upstream_failed"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(http.status = status.as_u16(), error = %self, "request failed");
        }
        let body = serde_json::json!({ "error": self.to_string(), "code": code });
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        Self::Unauthorized(e.to_string())
    }
}

impl From<crate::supabase::SupabaseError> for ApiError {
    fn from(e: crate::supabase::SupabaseError) -> Self {
        use crate::supabase::SupabaseError;
        match e {
            SupabaseError::Unauthorized => {
                Self::Unauthorized("your session has expired; sign in again".into())
            }
            SupabaseError::Refused { message, .. } => Self::Unprocessable(message),
            SupabaseError::Unavailable(why) => {
                Self::Unavailable(format!("the database is unavailable: {why}"))
            }
        }
    }
}

pub fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}
