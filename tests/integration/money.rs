//! Money and time cannot leak: each way a hostile or unlucky customer could
//! make the engine burn our money or hand theirs back for free, tried
//! against the engine, the database and the provider stand-in.

use std::time::Duration;

use modelpick::config::RunLimits as Limits;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::engine::{report_states, truth, TestWorld, HARD_CEILING_USD};

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

async fn wait_for_refund(world: &TestWorld, report: Uuid) -> Option<String> {
    let db = world.supabase.db.client().await;
    for _ in 0..200 {
        let refund: Option<String> = db
            .query_one(
                "select refund_id from public.reports where id = $1",
                &[&report],
            )
            .await
            .unwrap()
            .get(0);
        if refund.is_some() {
            return refund;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn the_engine_takes_its_limits_from_the_database() {
    let world = TestWorld::new(1, |_| {}).await;
    let db = world.supabase.db.client().await;
    let in_db: Value = db
        .query_one("select public.draft_limits()", &[])
        .await
        .unwrap()
        .get(0);
    let read = world.supabase.db.store(1).product_limits().await.unwrap();
    assert_eq!(
        (
            read.json.max_bytes as u64,
            read.json.max_depth as u64,
            read.json.max_array_items as u64,
            read.json.max_fields as u64,
            read.max_answer_tokens as u64,
            read.max_image_bytes as u64,
            read.hard_ceiling_usd,
            read.soft_ceiling_usd,
        ),
        (
            in_db["max_expected_bytes"].as_u64().unwrap(),
            in_db["max_depth"].as_u64().unwrap(),
            in_db["max_array_items"].as_u64().unwrap(),
            in_db["max_fields"].as_u64().unwrap(),
            in_db["max_answer_tokens"].as_u64().unwrap(),
            in_db["max_image_bytes"].as_u64().unwrap(),
            in_db["hard_ceiling_usd"].to_string().parse().unwrap(),
            in_db["soft_ceiling_usd"].to_string().parse().unwrap(),
        )
    );
    // The database says otherwise, and the engine's calls follow it.
    db.batch_execute(
        "do $d$ begin
           execute replace(pg_get_functiondef('public.draft_limits()'::regprocedure),
                           '''max_answer_tokens'', 1024', '''max_answer_tokens'', 77');
         end $d$",
    )
    .await
    .unwrap();
    let report = world.paid_report(1).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    let calls = world.provider.calls();
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.max_tokens == Some(77)),
        "the calls ask for the database's max_answer_tokens"
    );
}

#[tokio::test]
async fn a_report_of_prose_answers_completes_scored_and_is_not_refunded() {
    let world = TestWorld::new(3, |config| config.faults.rate_malformed = 1.0).await;
    let report = world.paid_report(2).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    // Sweeps pass: nothing is refunded, the owner hears it is ready.
    tokio::time::sleep(Duration::from_millis(800)).await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    assert!(!states[0].cut_short);
    let db = world.supabase.db.client().await;
    let rows = db
        .query(
            "select output_json, error, fields_matched, passed, field_diffs from public.benchmark_runs where report_id = $1",
            &[&report],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        let (output, error, matched, passed, diffs): (
            Option<String>,
            Option<String>,
            i32,
            bool,
            Value,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        assert!(
            output.unwrap().starts_with("Sure! Here is what I found"),
            "the answer is kept and shown"
        );
        assert_eq!(
            (error, matched, passed),
            (None, 0, false),
            "a result, scored zero"
        );
        assert_eq!(diffs[0]["kind"], "unreadable");
        assert!(
            diffs[0]["note"].as_str().unwrap().contains("not JSON"),
            "{diffs}"
        );
    }
    assert!(
        world.stripe.refunds().is_empty(),
        "answers that arrived are not refunded"
    );
    let emails = world.resend.sent();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["subject"], "Your ModelPick report is ready");
}

#[tokio::test]
async fn an_answer_too_large_to_score_is_a_scored_failure_not_a_stall() {
    // The model answers 5,000 items for the first image: past the limits.
    let world = TestWorld::new(2, |config| {
        let first = config
            .answers
            .iter()
            .find(|(_, answer)| **answer == truth(0))
            .map(|(image, _)| image.clone())
            .unwrap();
        config
            .answers
            .insert(first, json!({"items": (0..5000).collect::<Vec<_>>()}));
    })
    .await;
    let report = world.paid_report(2).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    let db = world.supabase.db.client().await;
    let notes: Vec<(i32, Option<String>)> = db
        .query(
            "select image_index, field_diffs -> 0 ->> 'note' from public.benchmark_runs
              where report_id = $1 and fields_matched = 0 order by image_index",
            &[&report],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    for (image, note) in notes {
        assert_eq!(image, 0);
        assert!(note.unwrap().contains("too large to score"));
    }
    let calls = world.answered_calls();
    assert!(
        calls.values().all(|n| *n == 1),
        "each call made once: {calls:?}"
    );
}

#[tokio::test]
async fn every_call_timing_out_never_passes_seven_dollars_and_is_refunded_once() {
    // Expensive ($40 / $160 per million tokens), and every call times out:
    // the provider bills each in full, and the engine cannot know for how
    // much.
    let world = TestWorld::new(25, |config| {
        config.default_price = (40.0, 160.0);
        config.faults.rate_timeout = 1.0;
        config.timeout_ms = 2_000;
    })
    .await;
    let db = world.supabase.db.client().await;
    world.price_every_model(40, 160).await;
    let report = world.paid_report(8).await;
    let engine = world.start_engine(Limits::default(), Duration::from_millis(300));
    let states = world
        .wait_finished(&[report], Duration::from_secs(120))
        .await;
    let refund = wait_for_refund(&world, report).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    engine.shutdown().await;

    let state = &states[0];
    assert_eq!(state.status, "failed", "nothing was delivered: {state:?}");
    assert!(
        state.reason.as_deref().unwrap().contains("did not answer"),
        "{state:?}"
    );
    let billed: f64 = world.provider.calls().iter().map(|c| c.cost).sum();
    assert!(billed > 0.0);
    assert!(
        billed <= HARD_CEILING_USD,
        "the provider billed ${billed:.4}"
    );
    let recorded: f64 = db
        .query_one(
            "select sum(cost)::float8 from public.benchmark_runs where report_id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        recorded >= billed - 1e-6,
        "unknown outcomes are settled at their worst case: recorded ${recorded:.4}, billed ${billed:.4}"
    );
    let state = &report_states(&db, &[report]).await[0];
    assert!(state.committed <= HARD_CEILING_USD + 1e-9, "{state:?}");
    let refunds = world.stripe.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refund.as_deref(), refunds[0]["id"].as_str());
}

#[tokio::test]
async fn a_two_hundred_that_cannot_be_read_is_looked_up_or_settled_at_its_worst() {
    for lookup in [true, false] {
        let world = TestWorld::new(2, |config| {
            config.faults.rate_unreadable = 1.0;
            config.generation_lookup = lookup;
        })
        .await;
        let report = world.paid_report(1).await;
        let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
        let states = world
            .wait_finished(&[report], Duration::from_secs(60))
            .await;
        engine.shutdown().await;
        assert_eq!(states[0].status, "failed", "{:?}", states[0]);
        let db = world.supabase.db.client().await;
        let rows = db
            .query(
                "select cost::float8, attempts, attempts_at_worst_case, error from public.benchmark_runs where report_id = $1",
                &[&report],
            )
            .await
            .unwrap();
        let billed: f64 = world.provider.calls().iter().map(|c| c.cost).sum();
        let sent = world.provider.calls().len() as i32;
        let recorded: f64 = rows.iter().map(|r| r.get::<_, f64>(0)).sum();
        let attempts: i32 = rows.iter().map(|r| r.get::<_, i32>(1)).sum();
        let at_worst: i32 = rows.iter().map(|r| r.get::<_, i32>(2)).sum();
        assert_eq!(attempts, sent, "every HTTP attempt is counted");
        assert!(
            attempts > 2,
            "an unreadable 200 is tried again, each retry reserved"
        );
        if lookup {
            assert_eq!(at_worst, 0);
            assert!(
                (recorded - billed).abs() < 1e-5,
                "the looked-up cost is recorded: {recorded} vs {billed}"
            );
        } else {
            assert_eq!(at_worst, attempts);
            assert!(
                recorded > billed,
                "settled at the worst case: {recorded} vs {billed}"
            );
        }
        let error: String = rows[0].get(3);
        assert!(error.contains("could not be read"), "{error}");
    }
}

#[tokio::test]
async fn a_model_without_a_price_is_never_called_and_the_report_says_why() {
    let world = TestWorld::new(2, |_| {}).await;
    let report = world.paid_report(2).await;
    let db = world.supabase.db.client().await;
    let unpriced: String = db
        .query_one(
            "update public.reports set config_snapshot = config_snapshot #- array['model_prices', selected.model]
               from (select config_snapshot -> 'selected_models' ->> 0 as model from public.reports where id = $1) selected
              where id = $1 returning selected.model",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete");
    assert!(
        world.provider.calls().iter().all(|c| c.model != unpriced),
        "{unpriced} was never called"
    );
    let errors: Vec<String> = db
        .query(
            "select error from public.benchmark_runs where report_id = $1 and model_id = $2",
            &[&report, &unpriced],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        errors,
        vec![format!("no price is known for {unpriced}, so it was not called"); 2]
    );
}

#[tokio::test]
async fn a_rate_limited_model_slows_down_instead_of_burning_the_clock() {
    // The provider takes one request at a time for this model; we start
    // with three.
    let world = TestWorld::new(12, |config| {
        config.latency_ms = 100;
        config.retry_after_s = 0.2;
        config
            .concurrency_limits
            .insert("anthropic/claude-3-haiku".into(), 1);
    })
    .await;
    let report = world.paid_report(1).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    let calls = world.provider.calls();
    let answered = calls.iter().filter(|c| c.status == 200).count();
    let limited = calls.iter().filter(|c| c.status == 429).count();
    assert_eq!(answered, 12, "every cell answered in the end");
    assert!(
        limited < answered,
        "the model slowed down instead of retrying every call: {limited} 429s"
    );
}

#[tokio::test]
async fn a_poison_report_stops_after_its_attempts_and_is_refunded() {
    let world = TestWorld::new(1, |_| {}).await;
    let report = world.paid_report(1).await;
    let db = world.supabase.db.client().await;
    // Data the engine cannot even read: nested past what its JSON parser
    // allows. Every claim dies before anything is recorded.
    let nested = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    db.execute(
        "update public.reports set config_snapshot = jsonb_set(config_snapshot, '{config_data}', $2::text::jsonb) where id = $1",
        &[&report, &nested],
    )
    .await
    .unwrap();
    let limits = Limits {
        lease: Duration::from_secs(1),
        ..Limits::default()
    };
    let engine = world.start_engine(limits, CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    let refund = wait_for_refund(&world, report).await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "failed");
    assert_eq!(
        states[0].reason.as_deref(),
        Some("The benchmark was interrupted 3 times and could not finish. You will be refunded.")
    );
    let attempts: i32 = db
        .query_one(
            "select attempts from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(attempts, 3, "claimed three times, never a fourth");
    assert!(world.provider.calls().is_empty());
    assert_eq!(world.stripe.refunds().len(), 1);
    assert!(refund.is_some());
}
