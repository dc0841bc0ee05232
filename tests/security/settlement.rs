//! A refund and a report for one payment. The owner pays for a draft they
//! have just flipped back to `draft` (so the payment is owed a refund),
//! flips it to `ready` again, and then, after a restart of the sidecar has
//! emptied its memory, opens the success page and has the webhook
//! redelivered: neither makes a report of a payment being refunded.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::pay::{event, now};
use crate::support::app::{TestApp, WEBHOOK_SECRET};
use crate::support::fixtures::DEMO_DRAFT;
use crate::support::http::json_body;
use crate::support::supabase::{ANON_KEY, DEMO_EMAIL, DEMO_PASSWORD};
use devstack::stripe::sign;

/// Sets the draft's status as its owner would, through the Data API.
async fn set_status(app: &TestApp, token: &str, status: &str) {
    let response = TestApp::http()
        .patch(format!(
            "{}/rest/v1/benchmark_drafts?id=eq.{DEMO_DRAFT}",
            app.supabase.url
        ))
        .header("apikey", ANON_KEY)
        .bearer_auth(token)
        .json(&json!({ "status": status }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

async fn session_status(app: &TestApp, id: &str) -> Option<String> {
    app.supabase
        .db
        .client()
        .await
        .query_opt(
            "select status from public.checkout_sessions where stripe_session_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .map(|row| row.get(0))
}

async fn reports_for(app: &TestApp, id: &str) -> i64 {
    app.supabase
        .db
        .client()
        .await
        .query_one(
            "select count(*) from public.reports where stripe_session_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_payment_owed_a_refund_never_becomes_a_report_even_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (status, checkout) = json_body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{checkout}");
    let pay_url = checkout["url"].as_str().unwrap().to_owned();
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();

    // Not ready any more when the money arrives: owed a refund.
    set_status(&app, &token, "draft").await;
    let paid = TestApp::http().post(&pay_url).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    for _ in 0..200 {
        if session_status(&app, &session_id).await.as_deref() == Some("refund_owed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        session_status(&app, &session_id).await.as_deref(),
        Some("refund_owed")
    );

    // Ready again, and the sidecar forgets everything it held.
    set_status(&app, &token, "ready").await;
    app.restart().await;

    let page = TestApp::http()
        .get(format!(
            "{}/checkout/success?session_id={session_id}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Your payment is being refunded"));

    let stored: Value = TestApp::http()
        .get(format!(
            "{}/v1/checkout/sessions/{session_id}",
            app.stripe.url()
        ))
        .bearer_auth("sk_test_modelpick")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for kind in [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ] {
        let payload = event(kind, stored.clone());
        let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
        assert_eq!(
            app.post_webhook(&payload, Some(&header)).await.status(),
            StatusCode::OK
        );
    }

    assert_eq!(reports_for(&app, &session_id).await, 0, "no report");
    assert_eq!(
        session_status(&app, &session_id).await.as_deref(),
        Some("refund_owed")
    );
    let refunds: i64 = app
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select count(*) from private.followups where stripe_session_id = $1 and kind = 'refund'",
            &[&session_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refunds, 1, "one refund, owed once");
}
