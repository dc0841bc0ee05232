//! Pay: checkout, the Stripe webhook and fulfillment, end to end against the
//! real database, the local Supabase API and the Stripe stand-in.

use std::process::Stdio;
use std::sync::atomic::Ordering;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::support::app::{TestApp, WEBHOOK_SECRET};
use crate::support::fixtures::{create_ready_draft, create_user, DEMO_DRAFT, DEMO_USER};
use crate::support::http::json_body as body;
use crate::support::supabase::{DEMO_EMAIL, DEMO_PASSWORD, JWT_SECRET, SERVICE_KEY};
use devstack::stripe::sign;

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn session(id: &str, draft: &str, user: &str, payment_status: &str) -> Value {
    json!({
        "id": id,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": payment_status,
        "amount_total": 1499,
        "currency": "usd",
        "client_reference_id": draft,
        "metadata": {"draft_id": draft, "user_id": user},
        "livemode": false,
    })
}

pub(super) fn event(kind: &str, object: Value) -> String {
    json!({
        "id": format!("evt_{}", Uuid::new_v4().simple()),
        "object": "event",
        "type": kind,
        "created": now(),
        "livemode": false,
        "data": {"object": object},
    })
    .to_string()
}

/// The header the official `stripe` npm package makes for this payload.
pub(super) async fn stripe_npm_signature(payload: &str, secret: &str, timestamp: i64) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js/stripe-sign.mjs");
    let mut child = tokio::process::Command::new("node")
        .args([script, secret, &timestamp.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/setup installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(payload.as_bytes())
        .await
        .unwrap();
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "stripe-sign.mjs failed");
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn a_webhook_signed_by_the_stripe_package_creates_one_report() {
    let app = TestApp::spawn().await;
    let payload = event(
        "checkout.session.completed",
        session("cs_test_npm", DEMO_DRAFT, DEMO_USER, "paid"),
    );
    let header = stripe_npm_signature(&payload, WEBHOOK_SECRET, now()).await;
    assert_eq!(
        header,
        sign(
            payload.as_bytes(),
            WEBHOOK_SECRET,
            header[2..12].parse().unwrap()
        ),
        "our signer and Stripe's agree byte for byte"
    );

    let (status, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["outcome"], "fulfilled");
    let (status, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("already_fulfilled"))
    );
    assert_eq!(app.report_count().await, 1);
}

#[tokio::test]
async fn forged_or_stale_signatures_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    let payload = event(
        "checkout.session.completed",
        session("cs_test_forged", DEMO_DRAFT, DEMO_USER, "paid"),
    );
    let t = now();
    let good = sign(payload.as_bytes(), WEBHOOK_SECRET, t);
    let v1 = good.split_once(",v1=").unwrap().1.to_owned();
    let one_byte_more = format!("{payload} ");
    let cases: Vec<(&str, String, Option<String>)> = vec![
        ("one byte changed", one_byte_more, Some(good.clone())),
        ("missing header", payload.clone(), None),
        ("no t", payload.clone(), Some(format!("v1={v1}"))),
        ("no v1", payload.clone(), Some(format!("t={t}"))),
        ("only v0", payload.clone(), Some(format!("t={t},v0={v1}"))),
        (
            "wrong secret",
            payload.clone(),
            Some(sign(payload.as_bytes(), "whsec_someone_else", t)),
        ),
        (
            "301 s old",
            payload.clone(),
            Some(sign(payload.as_bytes(), WEBHOOK_SECRET, t - 301)),
        ),
        (
            "301 s in the future",
            payload.clone(),
            Some(sign(payload.as_bytes(), WEBHOOK_SECRET, t + 301)),
        ),
    ];
    for (name, body_text, header) in cases {
        let (status, answer) = body(app.post_webhook(&body_text, header.as_deref()).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains("signature"),
            "{name}: {answer}"
        );
    }
    assert_eq!(app.report_count().await, 0, "nothing was written");

    // The sidecar's own clock decides: 299 s of skew either way passes.
    app.clock_offset.store(299, Ordering::SeqCst);
    let (status, _) = body(app.post_webhook(&payload, Some(&good)).await).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn any_v1_may_match_so_secret_rotation_works() {
    let app = TestApp::spawn().await;
    let db = app.supabase.db.client().await;
    let user = create_user(&db, "rotation@example.test").await;
    let t = now();
    for (i, valid_first) in [true, false].into_iter().enumerate() {
        let draft = create_ready_draft(&db, user, 1, 1).await;
        let payload = event(
            "checkout.session.completed",
            session(
                &format!("cs_test_rotation_{i}"),
                &draft.to_string(),
                &user.to_string(),
                "paid",
            ),
        );
        let good = sign(payload.as_bytes(), WEBHOOK_SECRET, t)
            .split_once(",v1=")
            .unwrap()
            .1
            .to_owned();
        let old = sign(payload.as_bytes(), "whsec_old_secret", t)
            .split_once(",v1=")
            .unwrap()
            .1
            .to_owned();
        let header = if valid_first {
            format!("t={t},v1={good},v1={old},v0={old}")
        } else {
            format!("t={t},v1={old},v1={good}")
        };
        let (status, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
        assert_eq!(
            (status, answer["outcome"].as_str()),
            (StatusCode::OK, Some("fulfilled"))
        );
    }
    assert_eq!(app.report_count().await, 2);
}

#[tokio::test]
async fn fifty_concurrent_deliveries_and_a_racing_success_page_make_one_report() {
    let app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (status, checkout) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pay_url = checkout["url"].as_str().unwrap().to_owned();
    let session_id = pay_url.rsplit('/').next().unwrap().to_owned();

    // Paying on the stand-in marks the session paid and starts its own
    // delivery of the event; the browser is sent to the success page.
    let paid = TestApp::http().post(&pay_url).send().await.unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    let success = paid.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        success,
        format!("{}/checkout/success?session_id={session_id}", app.url)
    );

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
    let payload = event("checkout.session.completed", stored);
    let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
    let deliveries = (0..50).map(|_| app.post_webhook(&payload, Some(&header)));
    let success_page = TestApp::http().get(&success).send();
    let (deliveries, success_page) = tokio::join!(join_all(deliveries), success_page);
    let success_page = success_page.unwrap();

    for delivery in deliveries {
        assert_eq!(delivery.status(), StatusCode::OK);
    }
    assert_eq!(success_page.status(), StatusCode::SEE_OTHER);
    let db = app.supabase.db.client().await;
    let report: Uuid = db
        .query_one(
            "select id from public.reports where stripe_session_id = $1",
            &[&session_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        success_page.headers()["location"],
        format!("/benchmark/{report}/processing")
    );
    assert_eq!(app.report_count().await, 1);
    let draft_status: String = db
        .query_one(
            "select status from public.benchmark_drafts where id = $1",
            &[&Uuid::parse_str(DEMO_DRAFT).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(draft_status, "paid");

    // Paying again through the API is refused now.
    let (status, _) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn admin() -> tokio_postgres::Client {
    crate::support::db::connect(
        &std::env::var("MODELPICK_TEST_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into()),
    )
    .await
}

/// Takes the test's database away from every client (as an outage would),
/// or gives it back.
pub(super) async fn database_available(app: &TestApp, available: bool) {
    let admin = admin().await;
    admin
        .execute(
            &format!(
                "alter database \"{}\" allow_connections {available}",
                app.supabase.db.name
            ),
            &[],
        )
        .await
        .unwrap();
    if !available {
        admin
            .execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1",
                &[&app.supabase.db.name],
            )
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_stand_in_delivers_the_event_itself_and_retries_until_accepted() {
    let app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (_, checkout) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    let pay_url = checkout["url"].as_str().unwrap();
    let page = TestApp::http()
        .get(pay_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("ModelPick Benchmark Report") && page.contains("14.99 USD"),
        "{page}"
    );
    assert!(
        page.contains("3 vision models on 3 of your documents"),
        "{page}"
    );

    // The first delivery meets an outage and is answered 5xx; Stripe's
    // redelivery after it is over creates the report. No success page visit.
    database_available(&app, false).await;
    TestApp::http().post(pay_url).send().await.unwrap();
    for _ in 0..100 {
        if !app.stripe.deliveries().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    database_available(&app, true).await;
    let mut reports = 0;
    for _ in 0..100 {
        reports = app.report_count().await;
        if reports == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(reports, 1, "a redelivered webhook fulfilled the session");
    let deliveries = app.stripe.deliveries();
    assert!(deliveries.len() >= 2, "{deliveries:?}");
    assert!(
        deliveries[0].status.is_none_or(|s| s >= 500),
        "{deliveries:?}"
    );
    assert_eq!(deliveries.last().unwrap().status, Some(200));
    assert!(
        deliveries
            .iter()
            .all(|d| d.event_id == deliveries[0].event_id),
        "the same event, redelivered"
    );
}

#[tokio::test]
async fn unpaid_then_async_success_gives_one_report_and_late_expiry_changes_nothing() {
    let app = TestApp::spawn().await;
    let send = |kind: &'static str, status: &'static str| {
        let payload = event(
            kind,
            session("cs_test_async", DEMO_DRAFT, DEMO_USER, status),
        );
        let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
        let app = &app;
        async move { body(app.post_webhook(&payload, Some(&header)).await).await }
    };
    let db = app.supabase.db.client().await;
    let session_status = || async {
        db.query_one(
            "select status from public.checkout_sessions where stripe_session_id = 'cs_test_async'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, String>(0)
    };

    let (_, answer) = send("checkout.session.completed", "unpaid").await;
    assert_eq!(answer["outcome"], "awaiting_payment");
    assert_eq!(app.report_count().await, 0);
    assert_eq!(session_status().await, "awaiting_payment");

    let (_, answer) = send("checkout.session.async_payment_succeeded", "paid").await;
    assert_eq!(answer["outcome"], "fulfilled");
    let (_, answer) = send("checkout.session.async_payment_succeeded", "paid").await;
    assert_eq!(answer["outcome"], "already_fulfilled");
    assert_eq!(app.report_count().await, 1);

    for kind in [
        "checkout.session.expired",
        "checkout.session.async_payment_failed",
    ] {
        let (status, _) = send(kind, "unpaid").await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(
        session_status().await,
        "paid",
        "a late expiry or failure does not undo a payment"
    );
    let report_status: String = db
        .query_one(
            "select status from public.reports where stripe_session_id = 'cs_test_async'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(report_status, "paid");
}

#[tokio::test]
async fn failed_expired_unknown_mismatched_and_anonymous_events_create_nothing() {
    let app = TestApp::spawn().await;
    let signed = |payload: String| {
        let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
        (payload, header)
    };
    let mut wrong_amount = session("cs_test_cheap", DEMO_DRAFT, DEMO_USER, "paid");
    wrong_amount["amount_total"] = json!(1);
    let mut wrong_currency = session("cs_test_eur", DEMO_DRAFT, DEMO_USER, "paid");
    wrong_currency["currency"] = json!("eur");
    let mut no_metadata = session("cs_test_nometa", DEMO_DRAFT, DEMO_USER, "paid");
    no_metadata["metadata"] = json!({});
    no_metadata["client_reference_id"] = Value::Null;
    let cases = [
        (
            "checkout.session.async_payment_failed",
            session("cs_test_failed", DEMO_DRAFT, DEMO_USER, "unpaid"),
            "payment_failed",
        ),
        (
            "checkout.session.expired",
            session("cs_test_expired", DEMO_DRAFT, DEMO_USER, "unpaid"),
            "expired",
        ),
        (
            "customer.created",
            json!({"id": "cus_1", "object": "customer"}),
            "ignored",
        ),
        ("invoice.paid", json!({"id": "in_1"}), "ignored"),
        ("checkout.session.completed", wrong_amount, "refunding"),
        ("checkout.session.completed", wrong_currency, "refunding"),
        ("checkout.session.completed", no_metadata, "rejected"),
        (
            "checkout.session.completed",
            json!({"id": "cs_test_weird", "surprise": true}),
            "ignored",
        ),
    ];
    for (kind, object, expected) in cases {
        let (payload, header) = signed(event(kind, object));
        let (status, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
        assert_eq!(
            (status, answer["outcome"].as_str()),
            (StatusCode::OK, Some(expected)),
            "{kind}"
        );
    }
    assert_eq!(app.report_count().await, 0);

    let (payload, header) = signed("not json".into());
    let (status, _) = body(app.post_webhook(&payload, Some(&header)).await).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "signed garbage is a bad request, not a crash"
    );

    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(1024 * 1024 + 1));
    let (status, _) = body(app.post_webhook(&huge, Some("t=1,v1=00")).await).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn checkout_refuses_bad_callers_and_bad_drafts_clearly() {
    let app = TestApp::spawn().await;
    let db = app.supabase.db.client().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let other = app
        .supabase
        .access_token("someone@example.test", "someone-else")
        .await;
    let draft_body = json!({"draftId": DEMO_DRAFT}).to_string();

    let forge = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let base = json!({"sub": DEMO_USER, "aud": "authenticated", "role": "authenticated", "exp": now() + 3600});
    let mut expired = base.clone();
    expired["exp"] = json!(now() - 3600);
    let mut wrong_aud = base.clone();
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_role = base.clone();
    wrong_role["role"] = json!("service_role");
    let mut tampered = token.clone();
    tampered.insert(tampered.len() - 2, 'x');
    for (name, bearer) in [
        ("no token", None),
        ("expired", Some(forge(expired))),
        ("wrong audience", Some(forge(wrong_aud))),
        ("wrong role", Some(forge(wrong_role))),
        ("service key", Some(SERVICE_KEY.to_owned())),
        ("tampered", Some(tampered)),
    ] {
        let (status, answer) = body(
            app.post_checkout(bearer.as_deref(), draft_body.clone())
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {answer}");
        assert!(answer["error"].is_string());
    }

    for (name, bad) in [
        ("not json", "{draftId".to_owned()),
        ("no draftId", "{}".to_owned()),
        (
            "not a uuid",
            json!({"draftId": "'; drop table reports; --"}).to_string(),
        ),
        (
            "unknown field",
            json!({"draftId": DEMO_DRAFT, "amount": 1}).to_string(),
        ),
    ] {
        let (status, _) = body(app.post_checkout(Some(&token), bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
    }
    let (status, _) = body(
        app.post_checkout(
            Some(&token),
            format!("{{\"draftId\": \"{}\"}}", " ".repeat(20_000)),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, _) = body(app.post_checkout(Some(&other), draft_body.clone()).await).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "someone else's draft is simply not found"
    );
    let (status, _) = body(
        app.post_checkout(Some(&token), json!({"draftId": Uuid::new_v4()}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let unfinished: Uuid = db
        .query_one(
            "insert into public.benchmark_drafts (user_id) values ($1) returning id",
            &[&Uuid::parse_str(DEMO_USER).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    let (status, _) = body(
        app.post_checkout(Some(&token), json!({"draftId": unfinished}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.stripe.deliveries().is_empty() && app.report_count().await == 0,
        "refusals changed nothing"
    );
}

#[tokio::test]
async fn a_double_click_gets_the_same_checkout_session() {
    let app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let request = || app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string());
    let (first, second) = tokio::join!(request(), request());
    let (first, second) = (body(first).await, body(second).await);
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(first, second, "both clicks get the same session");
    let url = first.1["url"].as_str().unwrap();
    let session_id = url.rsplit('/').next().unwrap();
    let session: Value = TestApp::http()
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
    assert_eq!(session["amount_total"], 1499);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["customer_email"], DEMO_EMAIL);
    assert_eq!(session["client_reference_id"], DEMO_DRAFT);
    assert_eq!(
        session["metadata"],
        json!({"draft_id": DEMO_DRAFT, "user_id": DEMO_USER})
    );
    assert_eq!(
        session["payment_intent_data"]["metadata"],
        json!({"draft_id": DEMO_DRAFT, "user_id": DEMO_USER})
    );
    assert_eq!(
        session["success_url"],
        format!(
            "{}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
            app.url
        )
    );
    assert_eq!(
        session["cancel_url"],
        format!("{}/checkout/cancel?draft={DEMO_DRAFT}", app.url)
    );

    let cancel = TestApp::http()
        .get(session["cancel_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    assert!(cancel
        .text()
        .await
        .unwrap()
        .contains(&format!("/benchmark/new?draft={DEMO_DRAFT}")));
    let generic = TestApp::http()
        .get(format!("{}/checkout/success", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(generic.status(), StatusCode::OK);
    let bogus = TestApp::http()
        .get(format!(
            "{}/checkout/success?session_id=../../v1/refunds",
            app.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_database_outage_answers_5xx_so_stripe_retries() {
    let app = TestApp::spawn().await;
    let payload = event(
        "checkout.session.completed",
        session("cs_test_outage", DEMO_DRAFT, DEMO_USER, "paid"),
    );
    let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
    database_available(&app, false).await;
    let (status, _) = body(app.post_webhook(&payload, Some(&header)).await).await;
    assert!(
        status.is_server_error(),
        "an outage is {status}, which Stripe retries"
    );

    database_available(&app, true).await;
    let mut outcome = Value::Null;
    for _ in 0..50 {
        let (status, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
        if status == StatusCode::OK {
            outcome = answer["outcome"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(outcome, "fulfilled", "the retry after the outage fulfills");
    assert_eq!(app.report_count().await, 1);
}

/// A Checkout Session made at the Stripe stand-in behind our back (a second
/// tab whose older session could not be expired), for the demo draft.
async fn session_behind_our_back(app: &TestApp) -> Value {
    TestApp::http()
        .post(format!("{}/v1/checkout/sessions", app.stripe.url()))
        .bearer_auth("sk_test_modelpick")
        .form(&[
            ("mode", "payment"),
            (
                "success_url",
                "http://127.0.0.1/ok?session_id={CHECKOUT_SESSION_ID}",
            ),
            ("cancel_url", "http://127.0.0.1/cancel"),
            ("client_reference_id", DEMO_DRAFT),
            ("metadata[draft_id]", DEMO_DRAFT),
            ("metadata[user_id]", DEMO_USER),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", "1499"),
            (
                "line_items[0][price_data][product_data][name]",
                "ModelPick Benchmark Report",
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn session_row(db: &tokio_postgres::Client, id: &str) -> Option<(String, Option<String>)> {
    db.query_opt(
        "select status, refund_id from public.checkout_sessions where stripe_session_id = $1",
        &[&id],
    )
    .await
    .unwrap()
    .map(|row| (row.get(0), row.get(1)))
}

#[tokio::test]
async fn a_new_checkout_expires_the_older_one_and_a_second_payment_is_refunded_once() {
    let app = TestApp::spawn().await;
    let db = app.supabase.db.client().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let draft_body = json!({"draftId": DEMO_DRAFT}).to_string();
    let checkout = |token: String, body: String| {
        let app = &app;
        async move {
            let (status, answer) =
                crate::support::http::json_body(app.post_checkout(Some(&token), body).await).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer["url"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let first = checkout(token.clone(), draft_body.clone()).await;
    assert_eq!(session_row(&db, &first).await, Some(("open".into(), None)));
    // An edit between two tabs' checkouts changes the idempotency key.
    db.execute(
        "update public.benchmark_drafts set config_data = '{\"name\": \"Edited\"}' where id = $1::text::uuid",
        &[&DEMO_DRAFT],
    )
    .await
    .unwrap();
    let second = checkout(token.clone(), draft_body.clone()).await;
    assert_ne!(first, second);
    assert_eq!(
        session_row(&db, &first).await.map(|s| s.0).as_deref(),
        Some("expired"),
        "the older session is expired when a newer one is made"
    );
    let stripe_url = app.stripe.url();
    let pay = |id: String| {
        let stripe_url = stripe_url.clone();
        async move {
            TestApp::http()
                .post(format!("{stripe_url}/pay/{id}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        pay(first.clone()).await,
        StatusCode::BAD_REQUEST,
        "an expired checkout cannot be paid"
    );

    // Paid twice all the same: the newest session, and one made behind our back.
    let third = session_behind_our_back(&app).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(pay(second.clone()).await, StatusCode::SEE_OTHER);
    // The stand-in delivers each webhook on its own: the newest session's
    // is taken first, so that which payment is the second one is certain.
    for _ in 0..200 {
        if session_row(&db, &second).await.map(|s| s.0).as_deref() == Some("paid") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(pay(third.clone()).await, StatusCode::SEE_OTHER);
    for _ in 0..200 {
        if session_row(&db, &third).await.map(|s| s.0).as_deref() == Some("refund_owed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(app.report_count().await, 1, "one draft, one report");
    assert_eq!(
        session_row(&db, &second).await.map(|s| s.0).as_deref(),
        Some("paid")
    );
    assert_eq!(
        session_row(&db, &third).await.map(|s| s.0).as_deref(),
        Some("refund_owed")
    );

    // The engine's follow-ups refund it, once, and tell the payer.
    let resend =
        devstack::resend::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap();
    let followups = modelpick::engine::followup::Followups {
        store: app.supabase.db.store(2),
        worker: "pay-test".into(),
        resend: Some(modelpick::email::Resend::new(
            modelpick::config::ResendSettings {
                base_url: resend.url(),
                api_key: "re_test".into(),
                from: "ModelPick <reports@modelpick.test>".into(),
            },
        )),
        stripe: Some(modelpick::stripe::client::StripeClient::new(
            &modelpick::config::StripeApi {
                api_base: app.stripe.url(),
                secret_key: "sk_test_modelpick".into(),
            },
        )),
        storage: None,
        site_url: app.url.clone(),
        retry: modelpick::config::FollowupSettings::default(),
    };
    modelpick::engine::followup::run_pending(&followups).await;
    modelpick::engine::followup::run_pending(&followups).await;
    let refunds = app.stripe.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["reason"], "duplicate");
    assert_eq!(refunds[0]["metadata"]["checkout_session"], third.as_str());
    let (status, refund_id) = session_row(&db, &third).await.unwrap();
    assert_eq!(
        (status.as_str(), refund_id.as_deref()),
        ("refunded", refunds[0]["id"].as_str()),
        "the refund is recorded on the session with its id"
    );
    let emails = resend.sent();
    let refund_emails: Vec<&Value> = emails
        .iter()
        .filter(|e| e["subject"] == "We refunded a payment for your ModelPick benchmark")
        .collect();
    assert_eq!(refund_emails.len(), 1, "{emails:?}");
    assert_eq!(refund_emails[0]["to"][0], DEMO_EMAIL);
    let text = refund_emails[0]["text"].as_str().unwrap();
    assert!(
        text.contains("already paid for through another checkout"),
        "{text}"
    );
    assert!(
        text.contains("/report/"),
        "it links the report the draft did get: {text}"
    );
}

#[tokio::test]
async fn checkout_emails_a_receipt_and_asks_for_invoices_and_tax_when_the_operator_turns_them_on() {
    let app = TestApp::spawn_with(&[
        ("STRIPE_INVOICES", "true".into()),
        ("STRIPE_TAX_ID_COLLECTION", "true".into()),
        ("STRIPE_AUTOMATIC_TAX", "true".into()),
    ])
    .await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (status, answer) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let session: Value = TestApp::http()
        .get(format!("{}/v1/checkout/sessions/{id}", app.stripe.url()))
        .bearer_auth("sk_test_modelpick")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["payment_intent_data"]["receipt_email"], DEMO_EMAIL);
    for setting in ["invoice_creation", "tax_id_collection", "automatic_tax"] {
        assert_eq!(session[setting]["enabled"], true, "{setting}");
    }

    // Tax Stripe adds on top of the price is not a wrong price.
    let mut taxed = session_paid_with_tax(&id);
    taxed["amount_total"] = json!(1799);
    let payload = event("checkout.session.completed", taxed);
    let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
    let (status, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("fulfilled"))
    );
}

fn session_paid_with_tax(id: &str) -> Value {
    let mut paid = session(id, DEMO_DRAFT, DEMO_USER, "paid");
    paid["amount_subtotal"] = json!(1499);
    paid["total_details"] = json!({"amount_tax": 300});
    paid
}

#[tokio::test]
async fn without_tax_settings_checkout_asks_for_none() {
    let app = TestApp::spawn().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (_, answer) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    let id = answer["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let session: Value = TestApp::http()
        .get(format!("{}/v1/checkout/sessions/{id}", app.stripe.url()))
        .bearer_auth("sk_test_modelpick")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["payment_intent_data"]["receipt_email"], DEMO_EMAIL,
        "a receipt always"
    );
    for setting in ["invoice_creation", "tax_id_collection", "automatic_tax"] {
        assert_eq!(session[setting]["enabled"], false, "{setting}");
    }
    // A session that is short of the price before tax is still refused.
    let mut short = session_paid_with_tax(&id);
    short["amount_subtotal"] = json!(999);
    let payload = event("checkout.session.completed", short);
    let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now());
    let (_, answer) = body(app.post_webhook(&payload, Some(&header)).await).await;
    assert_eq!(answer["outcome"], "refunding");
}
