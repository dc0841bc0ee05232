//! The success page spends none of our Stripe quota on made-up ids, a
//! bounded amount on real ones, and does not remember a failed lookup.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::future::join_all;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use warp::Filter;

use crate::support::app::TestApp;
use crate::support::fixtures::{DEMO_DRAFT, DEMO_USER};

async fn load(app: &TestApp, session_id: &str) -> (StatusCode, Option<String>, String) {
    let response = TestApp::http()
        .get(format!(
            "{}/checkout/success?session_id={session_id}",
            app.url
        ))
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status(),
        retry_after,
        response.text().await.unwrap(),
    )
}

/// Records `id` as a session we opened for the demo draft, as checkout does.
async fn ours(app: &TestApp, id: &str) {
    app.supabase
        .db
        .client()
        .await
        .execute(
            "select public.open_checkout_session($1, $2::text::uuid)",
            &[&id, &DEMO_DRAFT],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_flood_of_made_up_ids_asks_stripe_nothing() {
    let app = TestApp::spawn().await;
    let made_up = (0..1000).map(|i| format!("cs_test_a1{i:06}Zz{}", i * 7919));
    let answers: Vec<_> = futures_util::stream::iter(made_up)
        .map(|id| {
            let app = &app;
            async move { load(app, &id).await.0 }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    assert!(answers.iter().all(|s| *s == StatusCode::NOT_FOUND));
    assert_eq!(app.stripe.retrievals(), Vec::<String>::new());
    for malformed in [
        "cs_",
        "cs_test_",
        "pi_123",
        "cs_test_../../v1/refunds",
        "cs_test_%2e%2e",
        "cs_prod_abc",
        &format!("cs_test_{}", "a".repeat(201)),
    ] {
        assert_eq!(
            load(&app, malformed).await.0,
            StatusCode::BAD_REQUEST,
            "{malformed}"
        );
    }
    assert_eq!(app.stripe.retrievals(), Vec::<String>::new());
}

#[tokio::test]
async fn stripe_lookups_from_the_page_stay_within_their_budget() {
    let app = TestApp::spawn().await;
    let sessions: Vec<String> = (0..40).map(|i| format!("cs_test_budget{i:02}")).collect();
    for id in &sessions {
        ours(&app, id).await;
    }
    let answers = join_all(sessions.iter().map(|id| load(&app, id))).await;
    let looked_up = answers
        .iter()
        .filter(|(s, ..)| *s != StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let held_back: Vec<_> = answers
        .iter()
        .filter(|(s, ..)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    println!(
        "# 40 success pages of our own sessions at once: {looked_up} looked up at Stripe, {} held back",
        held_back.len()
    );
    assert_eq!(app.stripe.retrievals().len(), looked_up);
    assert!(!held_back.is_empty(), "the budget held some back");
    for (_, retry_after, page) in held_back {
        assert!(retry_after.is_some(), "a held-back page says when to retry");
        assert!(
            page.contains("Refresh this page in a few seconds"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn a_failed_lookup_is_not_remembered() {
    // A Stripe that fails the first lookup and answers the next.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let stripe = warp::path!("v1" / "checkout" / "sessions" / String).map(move |id: String| {
        let reply: Box<dyn warp::Reply> = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Box::new(warp::reply::with_status(
                warp::reply::json(&json!({"error": {"type": "api_error", "message": "try later"}})),
                warp::http::StatusCode::INTERNAL_SERVER_ERROR,
            ))
        } else {
            Box::new(warp::reply::json(&json!({
                "id": id, "object": "checkout.session", "status": "open",
                "payment_status": "unpaid", "amount_total": 1499, "currency": "usd",
                "client_reference_id": DEMO_DRAFT,
                "metadata": {"draft_id": DEMO_DRAFT, "user_id": DEMO_USER},
            })))
        };
        reply
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stripe_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(warp::serve(stripe).incoming(listener).run());
    let app = TestApp::spawn_with(&[("STRIPE_API_BASE", stripe_url)]).await;
    ours(&app, "cs_test_flaky").await;

    assert_eq!(load(&app, "cs_test_flaky").await.0, StatusCode::BAD_GATEWAY);
    let (status, _, page) = load(&app, "cs_test_flaky").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Payment processing"), "{page}");
    assert_eq!(load(&app, "cs_test_flaky").await.0, StatusCode::OK);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked again after the failure, then answered from memory"
    );
}
