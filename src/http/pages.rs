//! The pages Stripe sends the browser back to.

use warp::http::{header, StatusCode};
use warp::reply::{Reply, Response};

use crate::fulfilment::{self, Settlement};
use crate::html::escape;
use crate::startup::AppState;
use crate::stripe::types::SessionId;

/// A small page in the product's look; `body` is trusted HTML.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · ModelPick</title>
<style>
  body {{ margin: 0; min-height: 100vh; display: grid; place-items: center; background: #1c1917; color: #f5f0e8;
         font: 16px/1.6 system-ui, -apple-system, "Segoe UI", sans-serif; }}
  main {{ max-width: 32rem; padding: 2rem; }}
  h1 {{ font-weight: 600; color: #fbbf77; }}
  a {{ color: #fbbf77; }}
</style></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"#,
        title = escape(title),
    );
    warp::reply::with_status(warp::reply::html(html), status).into_response()
}

fn redirect(location: &str) -> Response {
    let mut response = Response::new(Vec::<u8>::new().into());
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().insert(
        header::LOCATION,
        location.parse().expect("a path is a valid header value"),
    );
    response
}

/// Stripe's `success_url`. Fulfils through the same function as the webhook
/// (which may not have arrived yet), then sends the user to the processing
/// page.
pub async fn checkout_success(state: AppState, session_id: Option<String>) -> Response {
    let Some(raw) = session_id else {
        return page(
            StatusCode::OK,
            "Payment received",
            "<p>Thank you! Your benchmark is being prepared.</p><p><a href=\"/\">Go to your dashboard</a></p>",
        );
    };
    let Some(session_id) = SessionId::parse(&raw) else {
        return page(StatusCode::BAD_REQUEST, "Unknown checkout", "<p>This link does not name a checkout session.</p><p><a href=\"/\">Go to your dashboard</a></p>");
    };
    let session = match state.stripe.retrieve_checkout_session(&session_id).await {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(stripe.session_id = session_id.as_str(), error = %e, "could not retrieve the checkout session");
            return page(
                StatusCode::BAD_GATEWAY,
                "Confirming your payment…",
                "<p>We could not reach the payment provider just now. Your payment is safe; refresh this page in a moment.</p>",
            );
        }
    };
    match fulfilment::settle(&state.supabase, &session).await {
        Ok(Settlement::Fulfilled { report_id, .. }) => redirect(&format!("/benchmark/{report_id}/processing")),
        Ok(Settlement::AwaitingPayment) => page(
            StatusCode::OK,
            "Payment processing",
            "<p>Your bank is still confirming the payment. Your benchmark starts as soon as it clears, and we will email you when the report is ready.</p><p><a href=\"/\">Go to your dashboard</a></p>",
        ),
        Ok(Settlement::Rejected(_)) => page(
            StatusCode::OK,
            "We could not start this benchmark",
            "<p>Your payment does not match this benchmark, so nothing was run. Contact support and we will sort it out or refund you.</p>",
        ),
        Err(e) => {
            tracing::error!(stripe.session_id = session_id.as_str(), error = %e, "could not fulfil from the success page");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Confirming your payment…",
                "<p>Your payment went through; we are having trouble saving it. Refresh this page in a moment.</p>",
            )
        }
    }
}

/// Stripe's `cancel_url`.
pub fn checkout_cancel(draft: Option<String>) -> Response {
    let back = draft
        .as_deref()
        .and_then(|d| uuid::Uuid::parse_str(d).ok())
        .map(|d| format!("/benchmark/new?draft={d}"))
        .unwrap_or_else(|| "/".into());
    page(
        StatusCode::OK,
        "Payment cancelled",
        &format!(
            "<p>No payment was taken. Your draft is saved just as you left it.</p><p><a href=\"{}\">Back to your benchmark</a></p>",
            escape(&back)
        ),
    )
}
