//! Claiming, leasing, releasing and finishing reports, across connections.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::future::join_all;
use modelpick::engine::store::{Outcome, StoreError};
use uuid::Uuid;

use crate::support::db::{listen, TestDb};
use crate::support::fixtures::{create_ready_draft, create_user, fulfill, paid_report};

const LEASE: Duration = Duration::from_secs(60);
const ATTEMPTS: i32 = modelpick::config::MAX_REPORT_ATTEMPTS;

async fn expire_lease(client: &tokio_postgres::Client, report: Uuid) {
    client
        .execute(
            "update public.reports set lease_expires_at = now() - interval '1 second' where id = $1",
            &[&report],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_claimers_never_get_the_same_report() {
    let db = TestDb::new().await;
    let setup = db.client().await;
    let mut expected = HashSet::new();
    for _ in 0..20 {
        expected.insert(paid_report(&setup).await);
    }

    let mut workers = Vec::new();
    for i in 0..8 {
        workers.push((format!("worker-{i}"), db.store(1)));
    }
    let claimed = join_all(workers.iter().map(|(name, store)| async move {
        let mut mine = Vec::new();
        while let Some(report) = store.claim(name, LEASE, ATTEMPTS).await.unwrap() {
            mine.push(report.lease.report_id);
        }
        mine
    }))
    .await;

    let all: Vec<Uuid> = claimed.into_iter().flatten().collect();
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), 20, "each report claimed exactly once");
    assert_eq!(unique, expected);
}

#[tokio::test]
async fn a_claim_skips_a_report_locked_by_another_session() {
    let db = TestDb::new().await;
    let setup = db.client().await;
    let first = paid_report(&setup).await;
    let second = paid_report(&setup).await;

    let mut holder = db.client().await;
    let tx = holder.transaction().await.unwrap();
    tx.execute(
        "select 1 from public.reports where id = $1 for update",
        &[&first],
    )
    .await
    .unwrap();

    let claimer = db.store(1);
    let claimed = claimer.claim("w", LEASE, ATTEMPTS).await.unwrap().unwrap();
    assert_eq!(
        claimed.lease.report_id, second,
        "the locked, older report is skipped"
    );
    assert!(claimer.claim("w", LEASE, ATTEMPTS).await.unwrap().is_none());
    tx.rollback().await.unwrap();
    let claimed = claimer.claim("w", LEASE, ATTEMPTS).await.unwrap().unwrap();
    assert_eq!(claimed.lease.report_id, first);
}

#[tokio::test]
async fn a_live_lease_is_left_alone_and_an_expired_one_is_taken_over() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let store = db.store(2);
    let report = paid_report(&client).await;

    let dead = store.claim("dead", LEASE, ATTEMPTS).await.unwrap().unwrap();
    assert_eq!(dead.attempts, 1);
    assert!(store
        .claim("other", LEASE, ATTEMPTS)
        .await
        .unwrap()
        .is_none());

    expire_lease(&client, report).await;
    let alive = store
        .claim("alive", LEASE, ATTEMPTS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alive.lease.report_id, report);
    assert_eq!(alive.attempts, 2);
    assert_ne!(alive.lease.token, dead.lease.token);
    assert_eq!(
        alive.started_at, dead.started_at,
        "the report's clock keeps running"
    );

    // The engine that lost its lease can neither renew nor finish.
    let stale = dead.lease.clone();
    assert!(matches!(
        store.renew(&stale, LEASE).await,
        Err(StoreError::LeaseLost(id)) if id == report
    ));
    let failed = Outcome::Failed {
        reason: "stale".into(),
    };
    assert!(matches!(
        store.finish(&dead.lease, &failed, None).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(matches!(
        store.release(&dead.lease).await,
        Err(StoreError::LeaseLost(_))
    ));

    let lease = alive.lease.clone();
    let before: chrono::DateTime<chrono::Utc> = client
        .query_one(
            "select lease_expires_at from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    store.renew(&lease, Duration::from_secs(600)).await.unwrap();
    let after: chrono::DateTime<chrono::Utc> = client
        .query_one(
            "select lease_expires_at from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert!(after > before);
    store
        .finish(&lease, &Outcome::Complete { cut_short: None }, None)
        .await
        .unwrap();

    let row = client
        .query_one(
            "select status, status_reason, lease_token, finished_at is not null from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "complete");
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, Option<Uuid>>(2), None);
    assert!(row.get::<_, bool>(3));
    assert!(store
        .claim("late", LEASE, ATTEMPTS)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_report_cut_short_or_failed_keeps_its_reason() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let store = db.store(2);
    let cut = paid_report(&client).await;
    let failed = paid_report(&client).await;

    let claim = store.claim("w", LEASE, ATTEMPTS).await.unwrap().unwrap();
    assert_eq!(claim.lease.report_id, cut);
    let why = "Stopped after 750 s; 7 of 9 runs were made.".to_owned();
    store
        .finish(
            &claim.lease,
            &Outcome::Complete {
                cut_short: Some(why.clone()),
            },
            None,
        )
        .await
        .unwrap();

    let claim = store.claim("w", LEASE, ATTEMPTS).await.unwrap().unwrap();
    assert_eq!(claim.lease.report_id, failed);
    let empty = client
        .query_one(
            "select public.finish_report($1, $2, 'failed', '  ')",
            &[&claim.lease.report_id, &claim.lease.token],
        )
        .await
        .unwrap_err();
    assert_eq!(
        empty.code().map(|c| c.code()),
        Some("PT400"),
        "a failure needs a reason"
    );
    let reason = "No model answered.".to_owned();
    store
        .finish(
            &claim.lease,
            &Outcome::Failed {
                reason: reason.clone(),
            },
            None,
        )
        .await
        .unwrap();

    let rows = client
        .query(
            "select id, status, cut_short, status_reason from public.reports order by paid_at",
            &[],
        )
        .await
        .unwrap();
    let seen: Vec<(Uuid, String, bool, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        seen,
        vec![
            (cut, "complete".into(), true, Some(why)),
            (failed, "failed".into(), false, Some(reason)),
        ]
    );
}

#[tokio::test]
async fn payment_and_release_notify_report_paid_at_commit_only() {
    let db = TestDb::new().await;
    let (_listener, mut notifications) = listen(&db.url, "report_paid").await;
    let mut client = db.client().await;
    let store = db.store(2);
    let user = create_user(&client, "notify@example.test").await;

    // A rolled-back payment never notifies.
    let draft = create_ready_draft(&client, user, 1, 1).await;
    let tx = client.transaction().await.unwrap();
    tx.query_one(
        "select report_id from public.fulfill_checkout('cs_rolled_back', $1, $2)",
        &[&draft, &user],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    let (report, _) = fulfill(&client, "cs_notify", draft, user).await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(5), notifications.recv())
        .await
        .expect("a notification within 5 s")
        .unwrap();
    assert_eq!(note.channel(), "report_paid");
    assert_eq!(note.payload(), report.to_string());

    // Claiming does not notify; giving the report back does, and the attempt
    // is not counted.
    let claim = store.claim("w", LEASE, ATTEMPTS).await.unwrap().unwrap();
    store.release(&claim.lease).await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(5), notifications.recv())
        .await
        .expect("a notification after release")
        .unwrap();
    assert_eq!(note.payload(), report.to_string());
    let attempts: i32 = client
        .query_one(
            "select attempts from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 0);

    // Nothing else was sent: the rolled-back payment stayed silent.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), notifications.recv())
            .await
            .is_err()
    );
}
