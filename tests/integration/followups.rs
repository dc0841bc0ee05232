//! Follow-ups are fair: a refund that keeps failing waits for its next
//! attempt instead of standing in front of every other report, and a failed
//! report's email does not wait for its refund.

use modelpick::engine::followup;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::support::engine::TestWorld;
use crate::support::fixtures::paid_report;

/// Claims every paid report and ends it as `status`.
async fn finish_all(db: &Client, status: &str) -> Vec<Uuid> {
    let mut finished = Vec::new();
    while let Some(row) = db
        .query_opt(
            "select id, lease_token from public.claim_next_report('test', 60)",
            &[],
        )
        .await
        .unwrap()
    {
        let (id, token): (Uuid, Uuid) = (row.get(0), row.get(1));
        let reason = (status == "failed").then_some("Every call timed out.");
        db.execute(
            "select public.finish_report($1, $2, $3, $4)",
            &[&id, &token, &status, &reason],
        )
        .await
        .unwrap();
        finished.push(id);
    }
    finished
}

#[tokio::test]
async fn fifty_failing_refunds_never_hold_up_a_new_reports_email() {
    let world = TestWorld::new(1, |_| {}).await;
    let db = world.supabase.db.client().await;
    let followups = world.followups();

    // Fifty paid reports that failed, paid through sessions Stripe does not
    // know: every refund fails.
    for _ in 0..50 {
        paid_report(&db).await;
    }
    let failed = finish_all(&db, "failed").await;
    assert_eq!(failed.len(), 50);
    followup::run_pending(&followups).await;

    let emailed: i64 = db
        .query_one(
            "select count(*) from public.reports where email_sent_at is not null",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        emailed, 50,
        "each failed report's email went out without its refund"
    );
    let (tried, refunded): (i64, i64) = {
        let row = db
            .query_one(
                "select count(*) filter (where attempts = 1), count(*) filter (where done_at is not null)
                   from private.followups where kind = 'refund'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        (tried, refunded),
        (50, 0),
        "every refund was tried once in the sweep, and failed"
    );
    let sent = world.resend.sent();
    assert!(sent
        .iter()
        .all(|email| email["text"].as_str().unwrap().contains("being refunded")));

    // A new report finishes: the next sweep emails it, whatever is failing.
    paid_report(&db).await;
    let fresh = finish_all(&db, "complete").await;
    followup::run_pending(&followups).await;
    let sent_at: Option<chrono::DateTime<chrono::Utc>> = db
        .query_one(
            "select email_sent_at from public.reports where id = $1",
            &[&fresh[0]],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        sent_at.is_some(),
        "the new report's email went out in one sweep"
    );
    let retried: i64 = db
        .query_one(
            "select count(*) from private.followups where kind = 'refund' and attempts > 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        retried, 0,
        "a failed refund waits for its backoff, not the next sweep"
    );
}

#[tokio::test]
async fn three_engines_send_each_followup_once() {
    let world = TestWorld::new(1, |_| {}).await;
    let db = world.supabase.db.client().await;
    for _ in 0..40 {
        paid_report(&db).await;
    }
    let finished = finish_all(&db, "complete").await;
    assert_eq!(finished.len(), 40);
    // Three engines, each with its own name, sweep at the same moment,
    // twice.
    let engines = [world.followups(), world.followups(), world.followups()];
    for _ in 0..2 {
        futures_util::future::join_all(engines.iter().map(|f| followup::run_pending(f))).await;
    }
    assert_eq!(
        world.resend.requests(),
        40,
        "each email asked for once, by one engine"
    );
    assert_eq!(world.resend.sent().len(), 40);
    let (done, attempts): (i64, i64) = {
        let row = db
            .query_one(
                "select count(*) filter (where done_at is not null), coalesce(sum(attempts), 0)
                   from private.followups where kind = 'email'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((done, attempts), (40, 40), "each done once, in one attempt");
}

/// An engine whose lease on a follow-up ran out writes nothing when it
/// finishes late: it is told its lease is lost (PT410), as with reports,
/// and the engine that took the follow-up over records it once.
#[tokio::test]
async fn a_followup_done_after_its_lease_ended_is_fenced_out() {
    use modelpick::config::FollowupSettings;
    use modelpick::engine::store::{FollowupKind, StoreError};
    use std::time::Duration;

    let world = TestWorld::new(1, |_| {}).await;
    let db = world.supabase.db.client().await;
    let store = world.supabase.db.store(2);
    paid_report(&db).await;
    let finished = finish_all(&db, "complete").await;
    assert_eq!(finished.len(), 1);

    let first = store
        .claim_followups("engine-1", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].kind, FollowupKind::Email);
    let finished_at: Option<chrono::DateTime<chrono::Utc>> = db
        .query_one("select finished_at from public.reports", &[])
        .await
        .unwrap()
        .get(0);
    assert!(finished_at.is_some());
    assert_eq!(
        first[0].finished_at, finished_at,
        "the email dates the images' deletion from when the report finished"
    );
    // Engine 1 stalls past its lease; engine 2 takes the email over.
    db.execute(
        "update private.followups set lease_expires_at = now() - interval '1 second'",
        &[],
    )
    .await
    .unwrap();
    let second = store
        .claim_followups("engine-2", 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(second.len(), 1);

    let late = store.complete_followup(&first[0], None).await;
    assert!(
        matches!(late, Err(StoreError::FollowupLeaseLost(id)) if id == first[0].id),
        "{late:?}"
    );
    let late = store
        .fail_followup(&first[0], "timed out", &FollowupSettings::default())
        .await;
    assert!(
        matches!(late, Err(StoreError::FollowupLeaseLost(_))),
        "{late:?}"
    );
    let sent_at: Option<chrono::DateTime<chrono::Utc>> = db
        .query_one("select email_sent_at from public.reports", &[])
        .await
        .unwrap()
        .get("email_sent_at");
    assert!(sent_at.is_none(), "the late engine recorded nothing");

    store.complete_followup(&second[0], None).await.unwrap();
    let again = store.complete_followup(&second[0], None).await;
    assert!(
        matches!(again, Err(StoreError::FollowupLeaseLost(_))),
        "done once: {again:?}"
    );
    let sent: i64 = db
        .query_one(
            "select count(*) from public.reports where email_sent_at is not null",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(sent, 1);
}
