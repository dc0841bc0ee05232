//! `modelpick ops` (the release binary) answers an operator from the
//! database: the day's and the week's business, what needs a person, and
//! one report's story.

use crate::support::db::TestDb;
use crate::support::fixtures::{create_ready_draft, create_user};

async fn ops(db: &TestDb, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelpick"))
        .arg("ops")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn ops_tells_the_business_what_needs_a_person_and_a_reports_story() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let user = create_user(&client, "buyer@example.test").await;
    let mut reports = Vec::new();
    for (session, payment_intent) in [("cs_ops_1", "pi_ops_1"), ("cs_ops_2", "pi_ops_2")] {
        let draft = create_ready_draft(&client, user, 2, 1).await;
        let row = client
            .query_one(
                "select report_id from public.fulfill_checkout($1, $2, $3, 1499, 'usd', $4)",
                &[&session, &draft, &user, &payment_intent],
            )
            .await
            .unwrap();
        reports.push(row.get::<_, uuid::Uuid>(0));
    }
    client
        .batch_execute(&format!(
            "insert into public.benchmark_runs (report_id, model_id, image_index, cost, passed, error)
             values ('{0}', 'acme/vision', 0, 0.25, true, null),
                    ('{0}', 'acme/vision', 1, 0.5, false, 'The model answered 500.');
             update public.reports set status = 'failed', status_reason = 'Every call failed.',
                    finished_at = now(), attempts = 1 where id = '{0}';
             select public.record_charge_refunded('pi_ops_1', 'ch_ops_1', 1499, 1499);
             update public.reports set paid_at = now() - interval '10 minutes' where id = '{1}';",
            reports[0], reports[1]
        ))
        .await
        .unwrap();

    let summary = ops(&db, &["summary"]).await;
    for row in [
        "paid                                2            2",
        "failed                              1            1",
        "refunded                            1            1",
        "payments                       $29.98       $29.98",
        "refunds                        $14.99       $14.99",
        "model spend                     $0.75        $0.75",
        "margin                         $14.24       $14.24",
    ] {
        assert!(
            summary.lines().any(|l| l == row),
            "{row:?} not in\n{summary}"
        );
    }

    let stuck = ops(&db, &["stuck"]).await;
    assert!(
        stuck.contains(&format!(
            "Paid reports no engine has started for 5 minutes (1):\n  {}",
            reports[1]
        )),
        "{stuck}"
    );
    assert!(
        stuck.contains("Emails and refunds that keep failing (0):"),
        "{stuck}"
    );

    let story = ops(&db, &["report", &reports[0].to_string()]).await;
    for line in [
        format!("Report {}: failed (Every call failed.)", reports[0]),
        "  owner: buyer@example.test".to_owned(),
        "  calls: 0 of 2 made; they cost $0 ($0 unsettled)".to_owned(),
        "    acme/vision: 2 calls, 1 passed, 1 failed, 0 unavailable, $0.75; last error: The model answered 500.".to_owned(),
    ] {
        assert!(story.lines().any(|l| l == line), "{line:?} not in\n{story}");
    }
    assert!(
        story.contains(
            "through cs_ops_1 (refunded: 14.99 USD, payment pi_ops_1, 14.99 USD refunded)"
        ),
        "{story}"
    );
    assert!(story.contains("refunded 20"), "{story}");

    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        ops(&db, &["report", &unknown.to_string()]).await,
        format!("No report {unknown}.\n")
    );
}
