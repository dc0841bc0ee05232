//! `fulfill_checkout` under concurrent duplicate deliveries.

use futures_util::future::join_all;
use uuid::Uuid;

use crate::support::db::{connect, TestDb};
use crate::support::fixtures::{create_ready_draft, create_user, fulfill};

#[tokio::test]
async fn fifty_concurrent_fulfillments_of_one_session_create_one_report() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = create_user(&client, "payer@example.test").await;
    let draft = create_ready_draft(&client, user, 3, 3).await;

    let mut connections = Vec::new();
    for _ in 0..50 {
        connections.push(connect(&db.url).await);
    }
    let results = join_all(
        connections
            .iter()
            .map(|c| fulfill(c, "cs_test_concurrent", draft, user)),
    )
    .await;

    let results: Vec<(Uuid, bool)> = results.into_iter().map(|r| r.unwrap()).collect();
    let report = results[0].0;
    assert!(
        results.iter().all(|(id, _)| *id == report),
        "every caller gets the same report"
    );
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);

    let reports: i64 = client
        .query_one(
            "select count(*) from public.reports where draft_id = $1",
            &[&draft],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(reports, 1);
    let (status, planned): (String, i32) = client
        .query_one(
            "select d.status, r.runs_planned from public.benchmark_drafts d join public.reports r on r.draft_id = d.id where d.id = $1",
            &[&draft],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(status, "paid");
    assert_eq!(planned, 9);
}

#[tokio::test]
async fn a_second_session_for_a_paid_draft_is_refused_and_creates_nothing() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = create_user(&client, "twice@example.test").await;
    let draft = create_ready_draft(&client, user, 1, 1).await;
    fulfill(&client, "cs_first", draft, user).await.unwrap();

    let err = fulfill(&client, "cs_second", draft, user)
        .await
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("PT409"));
    let reports: i64 = client
        .query_one("select count(*) from public.reports", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reports, 1);
}

#[tokio::test]
async fn fulfillment_checks_owner_and_readiness() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let owner = create_user(&client, "owner@example.test").await;
    let stranger = create_user(&client, "stranger@example.test").await;
    let draft = create_ready_draft(&client, owner, 1, 1).await;

    let code = |e: tokio_postgres::Error| e.code().map(|c| c.code().to_owned());
    assert_eq!(
        code(fulfill(&client, "cs_a", draft, stranger).await.unwrap_err()).as_deref(),
        Some("PT403")
    );
    assert_eq!(
        code(
            fulfill(&client, "cs_b", Uuid::new_v4(), owner)
                .await
                .unwrap_err()
        )
        .as_deref(),
        Some("PT404")
    );
    client
        .execute(
            "update public.benchmark_drafts set status = 'draft' where id = $1",
            &[&draft],
        )
        .await
        .unwrap();
    assert_eq!(
        code(fulfill(&client, "cs_c", draft, owner).await.unwrap_err()).as_deref(),
        Some("PT422")
    );
    let reports: i64 = client
        .query_one("select count(*) from public.reports", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reports, 0, "refused fulfillments write nothing");
}
