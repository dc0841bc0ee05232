//! What the sidecar says when something fails: a 5xx says "internal error"
//! with a request id (the same as the `x-request-id` header) and nothing of
//! what broke inside; the success page asks the database before Stripe,
//! Stripe only about sessions we created, and at most once per session,
//! however often it is loaded.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use super::pay::{database_available, event, now, session};
use crate::support::app::{TestApp, WEBHOOK_SECRET};
use crate::support::fixtures::{DEMO_DRAFT, DEMO_USER};
use crate::support::http::json_body as body;
use crate::support::supabase::{DEMO_EMAIL, DEMO_PASSWORD};
use devstack::stripe::sign;

fn assert_internal_error(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    answer: &serde_json::Value,
) {
    assert!(status.is_server_error(), "{status}");
    let id = headers["x-request-id"].to_str().unwrap();
    assert_eq!(
        answer["request_id"], id,
        "the body names the request the log names"
    );
    let error = answer["error"].as_str().unwrap();
    assert!(error.starts_with("internal error"), "{error}");
    for internal in [
        "postgres",
        "database is",
        "connection",
        "refused",
        "127.0.0.1",
        "reqwest",
        "error sending",
    ] {
        assert!(
            !error.to_lowercase().contains(internal),
            "{error:?} tells of {internal:?}"
        );
    }
}

#[tokio::test]
async fn an_outage_answers_internal_error_with_a_request_id_and_no_internals() {
    let app = TestApp::spawn().await;
    let payload = event(
        "checkout.session.completed",
        session("cs_test_outage_words", DEMO_DRAFT, DEMO_USER, "paid"),
    );
    let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
    database_available(&app, false).await;
    let response = app.post_webhook(&payload, Some(&header)).await;
    let headers = response.headers().clone();
    let (status, answer) = body(response).await;
    database_available(&app, true).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "Stripe retries a 503"
    );
    assert_internal_error(status, &headers, &answer);
}

#[tokio::test]
async fn an_unreachable_payment_provider_is_a_502_that_says_to_retry() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(&[("STRIPE_API_BASE", nowhere)]).await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let response = app
        .post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
        .await;
    let headers = response.headers().clone();
    let (status, answer) = body(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_internal_error(status, &headers, &answer);
    assert!(answer["error"].as_str().unwrap().contains("try again"));
}

#[tokio::test]
async fn client_errors_carry_a_request_id_too() {
    let app = TestApp::spawn().await;
    let response = app.post_checkout(None, "{}").await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, answer) = body(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["request_id"], id.as_str());
    assert_eq!(answer["error"], "sign in first: no bearer token");
}

async fn success_page(app: &TestApp, session_id: &str) -> (StatusCode, String) {
    let response = TestApp::http()
        .get(format!(
            "{}/checkout/success?session_id={session_id}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location.unwrap_or(response.text().await.unwrap()))
}

#[tokio::test]
async fn the_success_page_asks_the_database_first_and_stripe_once_per_session_of_ours() {
    let app = TestApp::spawn().await;

    // Fulfilled by the webhook: straight to the report, Stripe never asked.
    let payload = event(
        "checkout.session.completed",
        session("cs_test_known", DEMO_DRAFT, DEMO_USER, "paid"),
    );
    let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
    assert_eq!(
        app.post_webhook(&payload, Some(&header)).await.status(),
        StatusCode::OK
    );
    for _ in 0..5 {
        let (status, location) = success_page(&app, "cs_test_known").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(location.ends_with("/processing"), "{location}");
    }
    assert!(
        !app.stripe
            .retrievals()
            .iter()
            .any(|id| id == "cs_test_known"),
        "a session the database knows is not looked up at Stripe"
    );

    // Unknown to us: a 404 page, and Stripe is never asked about it,
    // however often or concurrently the page is loaded.
    let loads = (0..10).map(|_| success_page(&app, "cs_test_nobody_knows"));
    for (status, page) in join_all(loads).await {
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("We do not know this checkout"), "{page}");
        assert!(
            page.contains("href=\"/\""),
            "the page leads to the dashboard"
        );
    }
    for _ in 0..10 {
        assert_eq!(
            success_page(&app, "cs_test_nobody_knows").await.0,
            StatusCode::NOT_FOUND
        );
    }
    assert!(
        !app.stripe
            .retrievals()
            .iter()
            .any(|id| id == "cs_test_nobody_knows"),
        "a session we never created is not looked up at Stripe"
    );
}

#[tokio::test]
async fn a_session_of_ours_still_unpaid_is_looked_up_at_stripe_once() {
    let app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (status, checkout) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{checkout}");
    let session_id: String = app
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select stripe_session_id from public.checkout_sessions where status = 'open'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let loads = (0..10).map(|_| success_page(&app, &session_id));
    for (status, page) in join_all(loads).await {
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Payment processing"), "{page}");
    }
    let asked = app
        .stripe
        .retrievals()
        .iter()
        .filter(|id| **id == session_id)
        .count();
    assert_eq!(asked, 1, "Stripe is asked about a session once");
}

#[tokio::test]
async fn a_payment_provider_refusal_is_a_502_that_does_not_promise_a_retry() {
    // Stripe refuses a key it does not know (401, authentication_error):
    // trying again will not help, so the answer does not say to.
    let app = TestApp::spawn_with(&[("STRIPE_SECRET_KEY", "sk_live_not_ours".into())]).await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let response = app
        .post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
        .await;
    let headers = response.headers().clone();
    let (status, answer) = body(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_internal_error(status, &headers, &answer);
    let error = answer["error"].as_str().unwrap();
    assert!(!error.contains("try again"), "{error}");
    assert!(
        !error.contains("API Key"),
        "Stripe's words stay in the log: {error}"
    );
}
