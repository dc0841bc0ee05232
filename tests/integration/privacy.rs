//! Documents stay private: every call asks OpenRouter for endpoints that
//! neither keep nor train on data, and a model none of whose endpoints
//! qualifies is unavailable under that policy, named as such, not ranked
//! and never scored as wrong; a report left with no model that could run
//! is our failure, refunded.

use std::time::Duration;

use modelpick::config::RunLimits;
use serde_json::{json, Value};

use crate::support::engine::TestWorld;

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The first `n` catalog models, as `paid_report(n)` picks them.
async fn first_models(world: &TestWorld, n: i64) -> Vec<String> {
    let db = world.supabase.db.client().await;
    db.query(
        "select id from public.model_catalog order by id limit $1",
        &[&n],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[tokio::test]
async fn a_model_that_keeps_data_is_unavailable_named_and_not_ranked() {
    let probe = TestWorld::new(0, |_| {}).await;
    let models = first_models(&probe, 3).await;
    let keeper = models[1].clone();
    let world = TestWorld::new(2, |config| config.retaining_models = vec![keeper.clone()]).await;
    let report = world.paid_report(3).await;
    let engine = world.start_engine(RunLimits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);

    let calls = world.provider.calls();
    assert_eq!(
        calls.len(),
        6,
        "one call per cell, none repeated: {calls:?}"
    );
    assert!(calls
        .iter()
        .all(|c| c.provider == json!({"data_collection": "deny"})));
    assert!(calls
        .iter()
        .filter(|c| c.model == keeper)
        .all(|c| c.status == 404));

    let db = world.supabase.db.client().await;
    let rows = db
        .query(
            "select model_id, unavailable, error, cost::text from public.benchmark_runs
              where report_id = $1 order by model_id, image_index",
            &[&report],
        )
        .await
        .unwrap();
    for row in &rows {
        let (model, unavailable, error, cost): (String, bool, Option<String>, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(unavailable, model == keeper, "{model}");
        if model == keeper {
            let error = error.unwrap();
            assert!(
                error.contains("privacy policy") && error.contains("data policy"),
                "{error}"
            );
            assert_eq!(cost, "0.000000", "a refused call costs nothing");
        }
    }
    let figures: Value = db
        .query_one(
            "select figures from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    let ranked: Vec<&str> = figures["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model_id"].as_str().unwrap())
        .collect();
    assert_eq!(ranked.len(), 2);
    assert!(!ranked.contains(&keeper.as_str()));
    assert_eq!(figures["unavailable"][0]["model_id"], keeper.as_str());
    assert!(figures["unavailable"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("No endpoints found matching your data policy"));
    assert!(
        world.stripe.refunds().is_empty(),
        "the others ran: nothing to refund"
    );
}

#[tokio::test]
async fn a_report_no_model_could_run_under_the_policy_fails_and_is_refunded() {
    let probe = TestWorld::new(0, |_| {}).await;
    let models = first_models(&probe, 2).await;
    let world = TestWorld::new(2, |config| config.retaining_models = models.clone()).await;
    let report = world.paid_report(2).await;
    let engine = world.start_engine(RunLimits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    assert_eq!(states[0].status, "failed", "{:?}", states[0]);
    let mut refunds = Vec::new();
    for _ in 0..100 {
        refunds = world.stripe.refunds();
        if !refunds.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.shutdown().await;
    assert_eq!(refunds.len(), 1, "our failure: the buyer is refunded");
    assert_eq!(refunds[0]["amount"], 1499);
}

#[tokio::test]
async fn with_zero_retention_asked_every_call_says_so_and_a_model_without_it_is_unavailable() {
    let probe = TestWorld::new(0, |_| {}).await;
    let models = first_models(&probe, 2).await;
    let (keeps_nothing, lost_it) = (models[0].clone(), models[1].clone());
    // The catalog said both had a zero-retention endpoint when the draft
    // was made ready; by the time it runs, only one still has.
    let world = TestWorld::new(2, |config| {
        config.zero_retention_models = Some(vec![keeps_nothing.clone()]);
    })
    .await;
    let db = world.supabase.db.client().await;
    db.execute(
        "update public.model_catalog set zero_retention = (id = any ($1))",
        &[&models],
    )
    .await
    .unwrap();
    let report = world
        .paid_report_with(2, json!({"zero_retention": true}))
        .await;
    let engine = world.start_engine(RunLimits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);

    let calls = world.provider.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls
        .iter()
        .all(|c| c.provider == json!({"data_collection": "deny", "zdr": true})));
    let how_sent: Value = db
        .query_one(
            "select config_snapshot -> 'how_sent' from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(how_sent["zero_retention"], true);
    assert_eq!(how_sent["data_collection"], "deny");
    let figures: Value = db
        .query_one(
            "select figures from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(figures["models"].as_array().unwrap().len(), 1);
    assert_eq!(figures["models"][0]["model_id"], keeps_nothing.as_str());
    assert_eq!(figures["unavailable"][0]["model_id"], lost_it.as_str());
    assert!(figures["unavailable"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("(Zero data retention)"));
}
