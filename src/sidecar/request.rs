//! One request's life: an id (in the logs, in every error body and in the
//! `x-request-id` header), a span that follows its work across every
//! `.await`, and a guard that turns a panic inside a handler into a 500 for
//! that request alone.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tracing::Instrument;
use warp::http::HeaderValue;
use warp::reply::Response;
use warp::Filter;

use super::error::ApiError;

/// A request's id: short, random, and safe in logs and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string()[..16].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

/// What a handler runs in: the request's id and its span.
pub struct Request {
    pub id: RequestId,
    span: tracing::Span,
}

/// A fresh [`Request`] for every request reaching the route `route`.
pub fn request(
    route: &'static str,
) -> impl Filter<Extract = (Request,), Error = std::convert::Infallible> + Clone {
    warp::method().map(move |method: warp::http::Method| {
        let id = RequestId::new();
        let span = tracing::info_span!("request", request.id = id.as_str(), http.method = %method, http.route = route);
        Request { id, span }
    })
}

impl Request {
    /// Runs `work` inside the request's span; its error, or its panic,
    /// becomes this request's answer.
    pub async fn run<F>(self, work: F) -> Response
    where
        F: Future<Output = Result<Response, ApiError>>,
    {
        let outcome = AssertUnwindSafe(work)
            .catch_unwind()
            .instrument(self.span.clone())
            .await;
        let mut response = self.span.in_scope(|| match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => error.into_response_for(self.id.as_str()),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                ApiError::Internal(format!("the handler panicked: {what}"))
                    .into_response_for(self.id.as_str())
            }
        });
        if let Ok(value) = HeaderValue::from_str(self.id.as_str()) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::StatusCode;

    async fn answer(
        work: impl Future<Output = Result<Response, ApiError>>,
    ) -> (StatusCode, String, serde_json::Value) {
        let request = Request {
            id: RequestId::new(),
            span: tracing::Span::none(),
        };
        let response = request.run(work).await;
        let status = response.status();
        let header = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, header, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_panic_is_that_requests_500_with_its_id() {
        let (status, id, body) =
            answer(async { panic!("the database row was {}", "secret") }).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal error");
        assert_eq!(body["request_id"], id.as_str());
        assert!(!body.to_string().contains("secret"));
    }

    #[tokio::test]
    async fn an_internal_error_keeps_its_details_to_the_log() {
        let (status, _, body) =
            answer(async { Err(ApiError::Internal("row 42 of reports".into())) }).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"], "internal error");
        assert!(!body.to_string().contains("row 42"));
    }
}
