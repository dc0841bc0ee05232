//! After the checkout: a refund made in Stripe's Dashboard and a dispute,
//! as Stripe sends them (signed by the official `stripe` npm package, and
//! sent by the Stripe stand-in), change what they should and nothing else;
//! a payment refunded in the Dashboard is never refunded a second time.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::pay::{event, now, session, stripe_npm_signature};
use crate::support::app::{TestApp, WEBHOOK_SECRET};
use crate::support::fixtures::{create_ready_draft, create_user, DEMO_DRAFT, DEMO_USER};
use crate::support::http::json_body as body;
use crate::support::supabase::{DEMO_EMAIL, DEMO_PASSWORD};

/// Delivers `payload` signed as Stripe signs, by Stripe's own package.
async fn deliver(app: &TestApp, payload: &str) -> (StatusCode, Value) {
    let header = stripe_npm_signature(payload, WEBHOOK_SECRET, now()).await;
    body(app.post_webhook(payload, Some(&header)).await).await
}

fn paid_with(id: &str, draft: &str, user: &str, payment_intent: &str) -> Value {
    let mut paid = session(id, draft, user, "paid");
    paid["payment_intent"] = json!(payment_intent);
    paid
}

fn charge(id: &str, payment_intent: &str, amount_refunded: i64) -> Value {
    json!({
        "id": id, "object": "charge", "amount": 1499, "amount_captured": 1499,
        "amount_refunded": amount_refunded, "refunded": amount_refunded == 1499,
        "currency": "usd", "paid": true, "payment_intent": payment_intent,
        "metadata": {}, "livemode": false, "created": now(),
    })
}

/// Every session's and every report's payment state, to show what changed.
async fn ledger(db: &Client) -> Vec<String> {
    let sessions = db
        .query(
            "select format('%s %s %s %s %s', stripe_session_id, status, refund_id,
                           refunded_at is not null, amount_refunded)
               from public.checkout_sessions order by stripe_session_id",
            &[],
        )
        .await
        .unwrap();
    let reports = db
        .query(
            "select format('report of %s %s %s %s', stripe_session_id, status, refund_id,
                           refunded_at is not null)
               from public.reports order by stripe_session_id",
            &[],
        )
        .await
        .unwrap();
    sessions.iter().chain(&reports).map(|r| r.get(0)).collect()
}

/// Two paid reports: the demo user's (pi_test_a) and another user's.
async fn two_paid_reports(app: &TestApp) -> Client {
    let db = app.supabase.db.client().await;
    let other = create_user(&db, "other@example.test").await;
    let other_draft = create_ready_draft(&db, other, 1, 1).await.to_string();
    for (session_id, draft, user, payment_intent) in [
        (
            "cs_test_a",
            DEMO_DRAFT.to_owned(),
            DEMO_USER.to_owned(),
            "pi_test_a",
        ),
        ("cs_test_b", other_draft, other.to_string(), "pi_test_b"),
    ] {
        let payload = event(
            "checkout.session.completed",
            paid_with(session_id, &draft, &user, payment_intent),
        );
        let (status, answer) = deliver(app, &payload).await;
        assert_eq!(
            (status, answer["outcome"].as_str()),
            (StatusCode::OK, Some("fulfilled"))
        );
    }
    let recorded: Vec<(String, Option<String>, Option<i32>)> = db
        .query(
            "select stripe_session_id, payment_intent_id, amount_total from public.checkout_sessions
              order by stripe_session_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        recorded,
        [
            ("cs_test_a".into(), Some("pi_test_a".into()), Some(1499)),
            ("cs_test_b".into(), Some("pi_test_b".into()), Some(1499)),
        ],
        "a paid session keeps the payment that paid it"
    );
    db
}

#[tokio::test]
async fn a_dashboard_refund_marks_that_payment_refunded_and_changes_nothing_else() {
    let app = TestApp::spawn().await;
    let db = two_paid_reports(&app).await;
    let before = ledger(&db).await;

    let partial = event("charge.refunded", charge("ch_test_a", "pi_test_a", 500));
    let (status, answer) = deliver(&app, &partial).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("partially_refunded"))
    );
    let after_partial = ledger(&db).await;
    assert_eq!(
        after_partial[0], "cs_test_a paid  f 500",
        "{after_partial:?}"
    );
    assert_eq!(after_partial[1..], before[1..], "nothing else changed");

    let full = event("charge.refunded", charge("ch_test_a", "pi_test_a", 1499));
    let (status, answer) = deliver(&app, &full).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("refunded"))
    );
    let after = ledger(&db).await;
    assert_eq!(after[0], "cs_test_a refunded ch_test_a t 1499");
    assert_eq!(
        after[2], "report of cs_test_a paid ch_test_a t",
        "the report says so"
    );
    assert_eq!(
        (&after[1], &after[3]),
        (&before[1], &before[3]),
        "the other payment is untouched"
    );

    let (_, again) = deliver(&app, &full).await;
    assert_eq!(again["outcome"], "already_refunded");
    let stranger = event(
        "charge.refunded",
        charge("ch_test_x", "pi_test_unknown", 1499),
    );
    let (status, answer) = deliver(&app, &stranger).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("unknown_payment"))
    );
    let mut no_intent = charge("ch_test_y", "", 1499);
    no_intent["payment_intent"] = Value::Null;
    let (status, answer) = deliver(&app, &event("charge.refunded", no_intent)).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("unknown_payment")),
        "a charge of no payment intent is not ours, and not retried"
    );
    assert_eq!(
        ledger(&db).await,
        after,
        "redeliveries and strangers change nothing"
    );
}

#[tokio::test]
async fn a_dispute_is_recorded_and_changes_nothing_else() {
    let app = TestApp::spawn().await;
    let db = two_paid_reports(&app).await;
    let before = ledger(&db).await;
    let dispute = event(
        "charge.dispute.created",
        json!({
            "id": "dp_test_a", "object": "dispute", "amount": 1499, "currency": "usd",
            "charge": "ch_test_a", "payment_intent": "pi_test_a", "reason": "fraudulent",
            "status": "needs_response", "is_charge_refundable": true,
            "evidence_details": {"due_by": now() + 7 * 86400, "has_evidence": false},
            "livemode": false, "created": now(),
        }),
    );
    let (status, answer) = deliver(&app, &dispute).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (StatusCode::OK, Some("dispute_recorded"))
    );
    let (_, again) = deliver(&app, &dispute).await;
    assert_eq!(again["outcome"], "dispute_already_recorded");
    let kept: Vec<(String, String, String)> = db
        .query(
            "select dispute_id, stripe_session_id, reason from private.charge_disputes",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        kept,
        [("dp_test_a".into(), "cs_test_a".into(), "fraudulent".into())]
    );
    assert_eq!(
        ledger(&db).await,
        before,
        "a dispute refunds nothing and changes no report"
    );

    // The operator is told, once; a second dispute within the hour waits.
    let resend =
        devstack::resend::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap();
    let followups = modelpick::engine::followup::Followups {
        store: app.supabase.db.store(2),
        worker: "alerts-test".into(),
        resend: Some(modelpick::email::Resend::new(
            modelpick::config::ResendSettings {
                base_url: resend.url(),
                api_key: "re_test".into(),
                from: "ModelPick <reports@modelpick.test>".into(),
            },
        )),
        stripe: None,
        storage: None,
        site_url: app.url.clone(),
        retry: modelpick::config::FollowupSettings {
            operator_email: Some("ops@modelpick.test".into()),
            ..Default::default()
        },
    };
    modelpick::engine::alerts::send_pending(&followups).await;
    let second = dispute
        .replace("dp_test_a", "dp_test_b")
        .replace("\"fraudulent\"", "\"duplicate\"");
    let (_, answer) = deliver(&app, &second).await;
    assert_eq!(answer["outcome"], "dispute_recorded");
    modelpick::engine::alerts::send_pending(&followups).await;
    let sent = resend.sent();
    assert_eq!(sent.len(), 1, "one mail an hour per kind: {sent:?}");
    assert_eq!(sent[0]["to"][0], "ops@modelpick.test");
    assert_eq!(
        sent[0]["subject"],
        "[ModelPick] A payment dispute to answer"
    );
    let text = sent[0]["text"].as_str().unwrap();
    assert!(
        text.contains("A payment of 14.99 USD was disputed (fraudulent, needs_response), checkout session cs_test_a"),
        "{text}"
    );
}

async fn wait_for(db: &Client, sql: &str) {
    for _ in 0..200 {
        if db.query_one(sql, &[]).await.unwrap().get::<_, bool>(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never true: {sql}");
}

#[tokio::test]
async fn the_stand_in_sends_refunds_and_disputes_as_stripe_does_and_no_second_refund_is_made() {
    let app = TestApp::spawn().await;
    let db = app.supabase.db.client().await;
    let token = app.supabase.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (status, answer) = body(
        app.post_checkout(Some(&token), json!({"draftId": DEMO_DRAFT}).to_string())
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let session_id = answer["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let stripe = app.stripe.url();
    let http = TestApp::http();
    let paid = http
        .post(format!("{stripe}/pay/{session_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), StatusCode::SEE_OTHER);
    wait_for(&db, "select exists (select 1 from public.reports)").await;

    // A person refunds it in the Dashboard; Stripe tells us.
    let refund = http
        .post(format!("{stripe}/_devstack/sessions/{session_id}/refund"))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), StatusCode::OK);
    wait_for(
        &db,
        "select exists (select 1 from public.reports where refunded_at is not null)",
    )
    .await;
    let status: String = db
        .query_one(
            "select status from public.checkout_sessions where stripe_session_id = $1",
            &[&session_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "refunded");

    // The report then fails: the refund it would be owed is made already.
    db.batch_execute(
        "select public.finish_report(r.id, r.lease_token, 'failed', 'Every call failed.')
           from public.claim_next_report('test', 60) r",
    )
    .await
    .unwrap();
    let followups = modelpick::engine::followup::Followups {
        store: app.supabase.db.store(2),
        worker: "charges-test".into(),
        resend: None,
        stripe: Some(modelpick::stripe::client::StripeClient::new(
            &modelpick::config::StripeApi {
                api_base: stripe.clone(),
                secret_key: "sk_test_modelpick".into(),
            },
        )),
        storage: None,
        site_url: app.url.clone(),
        retry: modelpick::config::FollowupSettings::default(),
    };
    modelpick::engine::followup::run_pending(&followups).await;
    assert_eq!(
        app.stripe.refunds().len(),
        1,
        "only the Dashboard's refund: {:?}",
        app.stripe.refunds()
    );
    wait_for(
        &db,
        "select (select count(*) from private.followups where kind = 'refund' and done_at is not null) = 1",
    )
    .await;

    // The buyer's bank disputes it.
    let dispute = http
        .post(format!("{stripe}/_devstack/sessions/{session_id}/dispute"))
        .send()
        .await
        .unwrap();
    assert_eq!(dispute.status(), StatusCode::OK);
    wait_for(&db, "select exists (select 1 from private.charge_disputes)").await;
    let outcomes: Vec<String> = app
        .stripe
        .deliveries()
        .iter()
        .filter(|d| d.status == Some(200))
        .map(|d| d.event_type.clone())
        .collect();
    assert_eq!(
        outcomes,
        [
            "checkout.session.completed",
            "charge.refunded",
            "charge.dispute.created"
        ],
        "each event delivered once and accepted"
    );
}
