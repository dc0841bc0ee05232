//! One account starting checkout after checkout: each is a Stripe request,
//! so past 20 in an hour the database refuses the next before Stripe is
//! asked, and the answer says when to try again.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::app::TestApp;
use crate::support::fixtures::DEMO_DRAFT;
use crate::support::http::json_body;
use crate::support::supabase::{DEMO_EMAIL, DEMO_PASSWORD};

#[tokio::test]
async fn the_21st_checkout_in_an_hour_is_refused_before_stripe_is_asked() {
    let app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let body = json!({"draftId": DEMO_DRAFT}).to_string();
    for i in 0..20 {
        let (status, answer) = json_body(app.post_checkout(Some(&token), body.clone()).await).await;
        assert_eq!(status, StatusCode::OK, "checkout {i}: {answer}");
    }
    let created = app.stripe.sessions_created();
    let (status, answer) = json_body(app.post_checkout(Some(&token), body).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer["code"], "too_many_requests");
    assert_eq!(
        answer["error"],
        "You have started 20 checkouts in the last hour, the most we allow. Try again in 60 minutes."
    );
    assert_eq!(
        app.stripe.sessions_created(),
        created,
        "Stripe was not asked"
    );
}
