//! A prompt that makes every model answer with nothing: each blank answer
//! was billed, so it is a result (no field right, with its reason), the
//! report completes, and nothing is refunded.

use std::time::Duration;

use modelpick::config::RunLimits;

use crate::support::engine::TestWorld;

#[tokio::test]
async fn blank_answers_are_scored_results_and_never_refunded() {
    let world = TestWorld::new(2, |config| config.faults.rate_empty = 1.0).await;
    let report = world.paid_report(2).await;
    let engine = world.start_engine(RunLimits::default(), Duration::from_secs(5));
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    // Sweeps pass, so a refund would have been made by now.
    tokio::time::sleep(Duration::from_millis(800)).await;
    engine.shutdown().await;

    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    assert_eq!((states[0].runs_done, states[0].runs_planned), (4, 4));
    assert!(states[0].cost_spent > 0.0, "the blank answers were billed");
    let db = world.supabase.db.client().await;
    let rows = db
        .query(
            "select output_json, error, fields_matched, field_diffs -> 0 ->> 'note', attempts
               from public.benchmark_runs where report_id = $1",
            &[&report],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let (output, error, matched, note, attempts): (
            Option<String>,
            Option<String>,
            i32,
            Option<String>,
            i32,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert_eq!(
            output.as_deref().map(str::trim),
            Some(""),
            "the answer is kept as it was"
        );
        assert_eq!(error, None, "a blank answer is no failure");
        assert_eq!(matched, 0);
        assert_eq!(note.as_deref(), Some("the model's answer was empty"));
        assert_eq!(attempts, 1, "and it is not asked again");
    }
    assert!(world.stripe.refunds().is_empty(), "nothing is refunded");
    let refund_owed: i64 = db
        .query_one(
            "select count(*) from private.followups where report_id = $1 and kind = 'refund'",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refund_owed, 0);
}
