//! The pages Stripe sends the browser back to, in the product's look (the
//! same `web/app.css` as every other page).

use warp::http::{header, StatusCode};
use warp::reply::{Reply, Response};

use super::fulfill::Settlement;
use super::request::RequestId;
use super::state::AppState;
use crate::html::escape;
use crate::stripe::lookups::LookupError;
use crate::stripe::types::{CheckoutSession, SessionId};
use crate::supabase::SessionState;

/// A whole page in the product's look (its stylesheet, icon, skip link and
/// header) around `main`, trusted HTML; `title` is text.
pub(super) fn document(title: &str, main: &str) -> String {
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · ModelPick</title><link rel="stylesheet" href="/assets/app.css"><link rel="icon" href="/assets/icon.svg" type="image/svg+xml"></head>
<body><a class="skip" href="#main">Skip to content</a><header><a class="brand" href="/">ModelPick</a></header>
<main id="main">{main}</main></body></html>"##,
        title = escape(title),
    )
}

/// A small page in the product's look; `body` is trusted HTML.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let main = format!(
        r#"<h1>{}</h1><div class="panel">{body}</div>"#,
        escape(title)
    );
    warp::reply::with_status(warp::reply::html(document(title, &main)), status).into_response()
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

fn to_report(report_id: uuid::Uuid) -> Response {
    redirect(&format!("/benchmark/{report_id}/processing"))
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

fn database_trouble(
    session_id: &SessionId,
    error: &dyn std::fmt::Display,
    id: &RequestId,
) -> Response {
    tracing::error!(stripe.session_id = session_id.as_str(), error = %error, "the success page could not reach the database");
    internal_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Confirming your payment…",
        "We are having trouble reaching our database. If you paid, your benchmark is safe and starts as soon as we can save it. Refresh this page in a minute.",
        id,
    )
}

/// Stripe's `success_url`. The database first: a session the webhook (or an
/// earlier visit) has settled goes straight to its report, and an id we
/// never created is answered without asking anyone else. Only a session of
/// ours still waiting for its payment is looked up at Stripe (once per
/// session, within the lookup budget) and settled through the same function
/// as the webhook's.
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
    if let Some(report_id) = state.settlements.known_report(session_id.as_str()) {
        return to_report(report_id);
    }
    let known = match state
        .supabase
        .checkout_session_state(session_id.as_str())
        .await
    {
        Ok(known) => known,
        Err(e) => return database_trouble(&session_id, &e, id),
    };
    match known {
        None => unknown_checkout(&session_id, "the database"),
        Some(SessionState {
            report_id: Some(report_id),
            ..
        }) => to_report(report_id),
        Some(SessionState { status, .. }) => match status.as_str() {
            "open" | "awaiting_payment" => ask_stripe(&state, &session_id, id).await,
            "refund_owed" | "refunded" => refunding(
                "This payment cannot start a benchmark, so it is refunded.",
            ),
            _ => page(
                StatusCode::OK,
                "No payment was taken",
                &format!("<p>This checkout ended without a payment, so nothing was run.</p>{DASHBOARD_LINK}"),
            ),
        },
    }
}

/// A session of ours that has no report yet: what Stripe says of it.
async fn ask_stripe(state: &AppState, session_id: &SessionId, id: &RequestId) -> Response {
    match state
        .session_lookups
        .retrieve(&state.stripe, session_id)
        .await
    {
        Ok(session) => settle(state, &session, session_id, id).await,
        Err(e) => unconfirmed(session_id, e, id),
    }
}

/// `who` is who does not know it (us, or Stripe), for the log.
fn unknown_checkout(session_id: &SessionId, who: &str) -> Response {
    tracing::warn!(
        stripe.session_id = session_id.as_str(),
        "success page for a session {who} does not know"
    );
    page(
        StatusCode::NOT_FOUND,
        "We do not know this checkout",
        &format!("<p>No payment belongs to this link. If you paid, your benchmark is on your dashboard.</p>{DASHBOARD_LINK}"),
    )
}

fn refunding(why: &str) -> Response {
    page(
        StatusCode::OK,
        "Your payment is being refunded",
        &format!(
            "<p>{} Your payment is being refunded in full, and we have emailed you about it.</p>{DASHBOARD_LINK}",
            escape(why)
        ),
    )
}

/// A session Stripe described: settled, and the page that says how.
async fn settle(
    state: &AppState,
    session: &CheckoutSession,
    session_id: &SessionId,
    id: &RequestId,
) -> Response {
    match state.settlements.settle(&state.supabase, session).await {
        Ok(Settlement::Fulfilled { report_id, .. }) => to_report(report_id),
        Ok(Settlement::AwaitingPayment) => page(
            StatusCode::OK,
            "Payment processing",
            &format!("<p>Your bank is still confirming the payment. Your benchmark starts as soon as it clears, and we will email you when the report is ready.</p>{DASHBOARD_LINK}"),
        ),
        Ok(Settlement::Refunding(why)) => refunding(&why),
        Ok(Settlement::Rejected(_)) => page(
            StatusCode::OK,
            "We could not start this benchmark",
            "<p>Your payment does not match this benchmark, so nothing was run. Contact support and we will sort it out or refund you.</p>",
        ),
        Err(e) => database_trouble(session_id, &e, id),
    }
}

/// Stripe did not describe the session: it knows none, could not say, or
/// was not asked (the lookup budget is spent).
fn unconfirmed(session_id: &SessionId, error: LookupError, id: &RequestId) -> Response {
    match error {
        LookupError::NotFound => unknown_checkout(session_id, "Stripe"),
        LookupError::OverBudget(wait) => {
            tracing::warn!(
                stripe.session_id = session_id.as_str(),
                "success page not confirmed: the Stripe lookup budget is spent"
            );
            let mut response = page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Confirming your payment…",
                &format!("<p>Many payments are being confirmed right now. If you paid, your benchmark starts as soon as the payment provider confirms it, and we email you when the report is ready. Refresh this page in a few seconds.</p>{DASHBOARD_LINK}"),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                wait.as_secs()
                    .max(1)
                    .to_string()
                    .parse()
                    .expect("digits are a header value"),
            );
            response
        }
        LookupError::Failed(why) => {
            tracing::error!(stripe.session_id = session_id.as_str(), error = %why, "could not retrieve the checkout session");
            internal_error(
                StatusCode::BAD_GATEWAY,
                "Confirming your payment…",
                "We could not confirm your payment with the payment provider just now. If you paid, your benchmark starts as soon as the provider confirms it, and we email you when the report is ready.",
                id,
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
