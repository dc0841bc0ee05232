//! The pages Stripe sends the browser back to.

use warp::http::{header, StatusCode};
use warp::reply::{Reply, Response};

use super::fulfill::Settlement;
use super::state::AppState;
use crate::html::escape;
use crate::stripe::lookups::LookupError;
use crate::stripe::types::SessionId;

use super::request::RequestId;

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

const DASHBOARD_LINK: &str = "<p><a href=\"/\">Go to your dashboard</a></p>";

/// A page for a failure on our side, with the reference support can find
/// the details by.
fn internal_error(status: StatusCode, title: &str, text: &str, id: &RequestId) -> Response {
    page(
        status,
        title,
        &format!(
            "<p>{}</p><p class=\"muted\">Reference: <code>{}</code></p>{DASHBOARD_LINK}",
            escape(text),
            escape(id.as_str())
        ),
    )
}

/// Stripe's `success_url`. The database first: a session the webhook (or an
/// earlier visit) has settled goes straight to its report. Otherwise Stripe
/// is asked about the session, once per session id however often the page
/// is loaded, and the session is settled through the same function as the
/// webhook's.
pub async fn checkout_success(
    state: AppState,
    session_id: Option<String>,
    id: &RequestId,
) -> Response {
    let Some(raw) = session_id else {
        return page(
            StatusCode::OK,
            "Payment received",
            &format!("<p>Thank you! Your benchmark is being prepared.</p>{DASHBOARD_LINK}"),
        );
    };
    let Some(session_id) = SessionId::parse(&raw) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown checkout",
            &format!("<p>This link does not name a checkout session.</p>{DASHBOARD_LINK}"),
        );
    };
    let trouble_saving = |e: &dyn std::fmt::Display| {
        tracing::error!(stripe.session_id = session_id.as_str(), error = %e, "the success page could not reach the database");
        internal_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Confirming your payment…",
            "We are having trouble reaching our database. If you paid, your benchmark is safe and starts as soon as we can save it. Refresh this page in a minute.",
            id,
        )
    };
    if let Some(report_id) = state.settlements.known_report(session_id.as_str()) {
        return redirect(&format!("/benchmark/{report_id}/processing"));
    }
    match state
        .supabase
        .checkout_session_report(session_id.as_str())
        .await
    {
        Ok(Some(report_id)) => return redirect(&format!("/benchmark/{report_id}/processing")),
        Ok(None) => {}
        Err(e) => return trouble_saving(&e),
    }
    let session = match state
        .session_lookups
        .retrieve(&state.stripe, &session_id)
        .await
    {
        Ok(session) => session,
        Err(LookupError::NotFound) => {
            tracing::warn!(
                stripe.session_id = session_id.as_str(),
                "success page for a session Stripe does not know"
            );
            return page(
                StatusCode::NOT_FOUND,
                "We do not know this checkout",
                &format!("<p>No payment belongs to this link. If you paid, your benchmark is on your dashboard.</p>{DASHBOARD_LINK}"),
            );
        }
        Err(LookupError::Failed(why)) => {
            tracing::error!(stripe.session_id = session_id.as_str(), error = %why, "could not retrieve the checkout session");
            return internal_error(
                StatusCode::BAD_GATEWAY,
                "Confirming your payment…",
                "We could not confirm your payment with the payment provider just now. If you paid, your benchmark starts as soon as the provider confirms it, and we email you when the report is ready.",
                id,
            );
        }
    };
    match state.settlements.settle(&state.supabase, &session).await {
        Ok(Settlement::Fulfilled { report_id, .. }) => redirect(&format!("/benchmark/{report_id}/processing")),
        Ok(Settlement::AwaitingPayment) => page(
            StatusCode::OK,
            "Payment processing",
            &format!("<p>Your bank is still confirming the payment. Your benchmark starts as soon as it clears, and we will email you when the report is ready.</p>{DASHBOARD_LINK}"),
        ),
        Ok(Settlement::Rejected(_)) => page(
            StatusCode::OK,
            "We could not start this benchmark",
            "<p>Your payment does not match this benchmark, so nothing was run. Contact support and we will sort it out or refund you.</p>",
        ),
        Err(e) => trouble_saving(&e),
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
