//! The pages Stripe sends the browser back to, in the product's look (the
//! same `web/app.css` as every other page).

use warp::http::{header, StatusCode};
use warp::reply::{Reply, Response};

use super::fulfill::Settlement;
use super::request::RequestId;
use super::state::AppState;
use crate::stripe::lookups::LookupError;
use crate::stripe::types::{CheckoutSession, SessionId};
use crate::supabase::SessionState;
use crate::templates::{render, Link, Notice};

/// A small page in the product's look, ending with a link to the dashboard.
fn page(status: StatusCode, title: &str, paragraphs: &[&str]) -> Response {
    notice(
        status,
        Notice {
            title,
            paragraphs,
            reference: None,
            link: Some(Link::dashboard()),
        },
    )
}

fn notice(status: StatusCode, notice: Notice<'_>) -> Response {
    warp::reply::with_status(warp::reply::html(render(&notice)), status).into_response()
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

/// A page for a failure on our side, with the reference support can find
/// the details by.
fn internal_error(status: StatusCode, title: &str, text: &str, id: &RequestId) -> Response {
    notice(
        status,
        Notice {
            title,
            paragraphs: &[text],
            reference: Some(id.as_str()),
            link: Some(Link::dashboard()),
        },
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
            &["Thank you! Your benchmark is being prepared."],
        );
    };
    let Some(session_id) = SessionId::parse(&raw) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Unknown checkout",
            &["This link does not name a checkout session."],
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
            "refund_owed" | "refunded" => {
                refunding("This payment cannot start a benchmark, so it is refunded.")
            }
            _ => page(
                StatusCode::OK,
                "No payment was taken",
                &["This checkout ended without a payment, so nothing was run."],
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
        &["No payment belongs to this link. If you paid, your benchmark is on your dashboard."],
    )
}

fn refunding(why: &str) -> Response {
    page(
        StatusCode::OK,
        "Your payment is being refunded",
        &[
            why,
            "Your payment is being refunded in full, and we have emailed you about it.",
        ],
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
            &["Your bank is still confirming the payment. Your benchmark starts as soon as it clears, and we will email you when the report is ready."],
        ),
        Ok(Settlement::Refunding(why)) => refunding(&why),
        Ok(Settlement::Rejected(_)) => notice(
            StatusCode::OK,
            Notice {
                title: "We could not start this benchmark",
                paragraphs: &["Your payment does not match this benchmark, so nothing was run. Contact support and we will sort it out or refund you."],
                reference: None,
                link: None,
            },
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
                &["Many payments are being confirmed right now. If you paid, your benchmark starts as soon as the payment provider confirms it, and we email you when the report is ready. Refresh this page in a few seconds."],
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
    notice(
        StatusCode::OK,
        Notice {
            title: "Payment cancelled",
            paragraphs: &["No payment was taken. Your draft is saved just as you left it."],
            reference: None,
            link: Some(Link {
                href: back,
                text: "Back to your benchmark",
            }),
        },
    )
}
