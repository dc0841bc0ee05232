//! The engine end to end: claim, download, call, score, record, finish,
//! against the provider stand-in, with faults, budgets, crashes and rivals.

use std::collections::HashMap;
use std::time::Duration;

use modelpick::config::RunLimits as Limits;

use crate::support::engine::{report_states, TestWorld, HARD_CEILING_USD};

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_paid_report_runs_every_model_on_every_image_once_and_completes() {
    let world = TestWorld::new(6, |config| {
        config
            .mistake_rates
            .insert("anthropic/claude-3-haiku".into(), 0.3);
    })
    .await;
    let report = world.paid_report(3).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;

    let state = &states[0];
    assert_eq!(state.status, "complete", "{state:?}");
    assert!(!state.cut_short);
    assert_eq!((state.runs_done, state.runs_planned), (18, 18));

    let calls = world.answered_calls();
    assert_eq!(calls.len(), 18, "every cell was called");
    assert!(calls.values().all(|n| *n == 1), "and none twice: {calls:?}");
    let log = world.provider.calls();
    assert!(
        log.iter().all(|c| c.max_tokens == Some(1024)),
        "max_tokens on every call"
    );
    assert!(
        log.iter()
            .all(|c| c.provider == serde_json::json!({"data_collection": "deny"})),
        "every call asks for endpoints that neither keep nor train on the document"
    );

    let db = world.supabase.db.client().await;
    let rows = db
        .query(
            "select model_id, runs, passed, accuracy::float8, field_accuracy::float8, total_cost::float8
               from public.report_model_summary where report_id = $1 order by model_id",
            &[&report],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        let model: String = row.get(0);
        let (runs, passed, accuracy, field_accuracy): (i32, i32, f64, f64) =
            (row.get(1), row.get(2), row.get(3), row.get(4));
        assert_eq!(runs, 6);
        if model == "anthropic/claude-3-haiku" {
            assert!(
                field_accuracy < 1.0 && passed < 6,
                "the sloppy model is scored down: {field_accuracy}"
            );
        } else {
            assert_eq!((passed, accuracy, field_accuracy), (6, 1.0, 1.0), "{model}");
        }
    }
    let recorded_cost: f64 = db
        .query_one(
            "select sum(cost)::float8 from public.benchmark_runs where report_id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    let provider_cost: f64 = log.iter().map(|c| c.cost).sum();
    assert!(
        (recorded_cost - provider_cost).abs() < 1e-5,
        "the provider's usage.cost is what we record"
    );
    assert!(
        (state.cost_spent - recorded_cost).abs() < 1e-5,
        "money spent is kept up to date"
    );

    // The figures the report page shows were stored as it finished, and
    // agree with the runs.
    let figures: serde_json::Value = db
        .query_one(
            "select figures from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(figures["documents"], 6);
    let models = figures["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(
        models.last().unwrap()["model_id"],
        "anthropic/claude-3-haiku",
        "best first: the sloppy model last"
    );
    for model in models {
        let row = rows
            .iter()
            .find(|r| r.get::<_, String>(0) == model["model_id"].as_str().unwrap())
            .unwrap();
        let field_accuracy = row.get::<_, f64>(4);
        assert!((model["field_accuracy"].as_f64().unwrap() - field_accuracy).abs() < 1e-4);
        let [lo, hi] =
            [&model["field_interval"][0], &model["field_interval"][1]].map(|v| v.as_f64().unwrap());
        assert!(lo <= field_accuracy && field_accuracy <= hi, "{model}");
        assert_eq!(model["latency_n"], 6);
        assert!(model["latency_p95_ms"].is_null(), "no p95 from 6 calls");
    }
    assert!(figures["verdicts"]["accuracy"].as_str().unwrap().len() > 20);
    assert!(figures["sample_warning"]
        .as_str()
        .unwrap()
        .starts_with("With 6 documents"));
    let documents = figures["document_results"].as_array().unwrap();
    assert_eq!(documents.len(), 6);
    assert!(documents.iter().all(|d| d["of"] == 3));

    // A report finished without figures (before they were kept, or when
    // they could not be computed) gets them when an engine next starts,
    // the same as at its end, and no model is called for them.
    db.execute(
        "update public.reports set figures = null where id = $1",
        &[&report],
    )
    .await
    .unwrap();
    let calls_before = world.provider.calls().len();
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let mut again = None;
    for _ in 0..200 {
        again = db
            .query_one(
                "select figures from public.reports where id = $1",
                &[&report],
            )
            .await
            .unwrap()
            .get::<_, Option<serde_json::Value>>(0);
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.shutdown().await;
    assert_eq!(again.as_ref(), Some(&figures));
    assert_eq!(world.provider.calls().len(), calls_before);
    let sweeps: i64 = db
        .query_one("select count(*) from private.engine_sweeps", &[])
        .await
        .unwrap()
        .get("count");
    assert!(sweeps >= 1, "the engine says when it swept, for /ready");
}

#[tokio::test]
async fn a_fault_mix_completes_with_each_failure_on_its_run_row() {
    let world = TestWorld::new(10, |config| {
        config.faults.rate_429 = 0.30;
        config.faults.rate_500 = 0.10;
        config.faults.rate_timeout = 0.05;
        config.faults.rate_malformed = 0.05;
        config.faults.rate_prefaced = 0.05;
        config.timeout_ms = 3000;
        config.retry_after_s = 0.05;
    })
    .await;
    let report = world.paid_report(4).await;
    let engine = world.start_engine(Limits::default(), Duration::from_millis(1000));
    let states = world
        .wait_finished(&[report], Duration::from_secs(90))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    assert_eq!(
        states[0].runs_done, 40,
        "every cell has a run row, failed or not"
    );

    let db = world.supabase.db.client().await;
    let errors: Vec<String> = db
        .query(
            "select error from public.benchmark_runs where report_id = $1 and error is not null",
            &[&report],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let log = world.provider.calls();
    let timeouts = log.iter().filter(|c| c.fault == Some("timeout")).count();
    let malformed = log.iter().filter(|c| c.fault == Some("malformed")).count();
    assert!(
        log.iter().any(|c| c.status == 429) && log.iter().any(|c| c.status == 500),
        "faults happened"
    );
    assert_eq!(
        errors
            .iter()
            .filter(|e| e.contains("did not answer within"))
            .count(),
        timeouts,
        "a timed-out call is recorded, never resent: {errors:?}"
    );
    assert!(
        errors.iter().all(|e| !e.contains("not JSON")),
        "prose is an answer, not an error: {errors:?}"
    );
    let unreadable: i64 = db
        .query_one(
            "select count(*) from public.benchmark_runs
              where report_id = $1 and error is null and output_json like 'Sure!%'
                and fields_matched = 0 and not passed and field_diffs -> 0 ->> 'kind' = 'unreadable'",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        unreadable as usize, malformed,
        "prose answers are kept, shown and scored zero"
    );
    let prefaced = log.iter().filter(|c| c.fault == Some("prefaced")).count();
    let noted: i64 = db
        .query_one(
            "select count(*) from public.benchmark_runs
              where report_id = $1 and passed and field_diffs -> 0 ->> 'note' = 'answer had extra text'",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        noted as usize, prefaced,
        "a right answer after a preface passes, with a note"
    );
    let failed_runs: i64 = db
        .query_one(
            "select count(*) from public.benchmark_runs where report_id = $1 and error is not null and not passed and fields_matched = 0",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(failed_runs as usize, errors.len(), "a failed call scores 0");
    let at_worst: i64 = db
        .query_one(
            "select coalesce(sum(attempts_at_worst_case), 0) from public.benchmark_runs where report_id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        at_worst as usize, timeouts,
        "each timed-out call, billed by the provider, is settled at its worst case"
    );
}

#[tokio::test]
async fn an_expensive_provider_stops_at_the_soft_ceiling_and_never_passes_the_hard_one() {
    // $40 / $160 per million tokens: each call's worst case is about $0.22.
    let world = TestWorld::new(25, |config| {
        config.default_price = (40.0, 160.0);
        config.latency_ms = 50;
    })
    .await;
    world.price_every_model(40, 160).await;
    let report = world.paid_report(8).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    let state = &states[0];
    assert_eq!(state.status, "complete");
    assert!(state.cut_short, "{state:?}");
    assert!(
        state
            .reason
            .as_deref()
            .unwrap()
            .contains("$6.50 spending limit"),
        "{state:?}"
    );
    assert!(state.runs_done < 200);
    let spent: f64 = world.provider.calls().iter().map(|c| c.cost).sum();
    assert!(spent <= HARD_CEILING_USD, "the provider billed ${spent:.4}");
    assert!(
        state.committed <= 6.50 + 1e-9,
        "committed money stays within the soft ceiling: {state:?}"
    );
}

#[tokio::test]
async fn a_short_duration_budget_cuts_the_report_short_cleanly() {
    let world = TestWorld::new(20, |config| config.latency_ms = 400).await;
    let report = world.paid_report(5).await;
    let limits = Limits {
        max_duration: Duration::from_secs(2),
        ..Limits::default()
    };
    let engine = world.start_engine(limits, CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    engine.shutdown().await;
    let state = &states[0];
    assert_eq!(state.status, "complete");
    assert!(state.cut_short);
    assert!(
        state.reason.as_deref().unwrap().contains("2 s time limit"),
        "{state:?}"
    );
    assert!(state.runs_done > 0 && state.runs_done < 100, "{state:?}");
}

#[tokio::test]
async fn two_engines_on_one_database_never_run_the_same_report() {
    let world = TestWorld::new(5, |config| config.latency_ms = 30).await;
    let mut reports = Vec::new();
    for _ in 0..6 {
        reports.push(world.paid_report(2).await);
    }
    let a = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let b = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world.wait_finished(&reports, Duration::from_secs(60)).await;
    a.shutdown().await;
    b.shutdown().await;
    assert!(
        states
            .iter()
            .all(|s| s.status == "complete" && s.runs_done == 10),
        "{states:?}"
    );
    let calls: usize = world
        .provider
        .calls()
        .iter()
        .filter(|c| c.status == 200)
        .count();
    assert_eq!(
        calls, 60,
        "each (report, model, image) was called exactly once"
    );
}

#[tokio::test]
async fn killed_twenty_times_every_report_completes_and_no_recorded_call_is_sent_again() {
    let world = TestWorld::new(12, |config| config.latency_ms = 40).await;
    let report = world.paid_report(4).await;
    let db = world.supabase.db.client().await;
    let limits = Limits {
        lease: Duration::from_millis(900),
        max_attempts: 30,
        ..Limits::default()
    };
    // For every cell recorded before a kill: how often it had been called
    // when it was first seen recorded. It must never be called again.
    let mut calls_when_recorded: HashMap<(String, usize), usize> = HashMap::new();
    for kill in 0..20 {
        let engine = world.start_engine(limits.clone(), CALL_TIMEOUT);
        let wait = 60 + (kill * 37) % 200;
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        engine.kill().await;
        let calls = world.answered_calls();
        for row in db
            .query(
                "select model_id, image_index from public.benchmark_runs where report_id = $1",
                &[&report],
            )
            .await
            .unwrap()
        {
            let cell: (String, usize) = (row.get(0), row.get::<_, i32>(1) as usize);
            let count = calls.get(&cell).copied().unwrap_or(0);
            calls_when_recorded.entry(cell).or_insert(count);
        }
        // Let the dead engine's lease run out so the next one can take over.
        tokio::time::sleep(Duration::from_millis(950)).await;
    }
    let engine = world.start_engine(limits, CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(states[0].status, "complete", "{:?}", states[0]);
    assert_eq!(states[0].runs_done, 48);

    let calls = world.answered_calls();
    assert!(
        !calls_when_recorded.is_empty(),
        "kills happened after some results were recorded"
    );
    for (cell, count) in &calls_when_recorded {
        assert_eq!(
            calls[cell], *count,
            "{cell:?} was called again after its result was recorded"
        );
    }
    assert_eq!(calls.len(), 48, "every cell was called");
    let spent: f64 = world.provider.calls().iter().map(|c| c.cost).sum();
    assert!(spent <= HARD_CEILING_USD);
    let state = &report_states(&db, &[report]).await[0];
    assert!(
        state.committed >= spent - 1e-6,
        "unsettled calls stay counted: {state:?}"
    );
}

#[tokio::test]
async fn a_dropped_database_connection_is_replaced_and_nothing_paid_is_missed() {
    let world = TestWorld::new(6, |config| config.latency_ms = 100).await;
    let first = world.paid_report(3).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    tokio::time::sleep(Duration::from_millis(250)).await;

    // Cut every connection the engine holds, mid-run.
    let db = world.supabase.db.client().await;
    let cut: i64 = db
        .query_one(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity
              where datname = current_database() and pid <> pg_backend_pid()
                and application_name not like 'postrust%' and backend_type = 'client backend'
                and (query ilike '%listen%' or query ilike '%select 1%' or query ilike '%_run%' or query ilike '%report%')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(cut > 0, "the engine's connections were cut");
    // A report paid while the engine reconnects is picked up all the same.
    let second = world.paid_report(2).await;
    let states = world
        .wait_finished(&[first, second], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert!(states.iter().all(|s| s.status == "complete"), "{states:?}");
    assert_eq!(states[0].runs_done, 18);
    assert_eq!(states[1].runs_done, 12);
}

#[tokio::test]
async fn a_graceful_shutdown_finishes_calls_in_flight_and_hands_the_report_back() {
    let world = TestWorld::new(20, |config| config.latency_ms = 300).await;
    let report = world.paid_report(3).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let db = world.supabase.db.client().await;
    for _ in 0..100 {
        if report_states(&db, &[report]).await[0].status == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    engine.shutdown().await;

    let row = db
        .query_one(
            "select status, attempts, lease_token is null, cost_reserved::float8, runs_done from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap();
    let (status, attempts, no_lease, reserved, done): (String, i32, bool, f64, i32) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert_eq!(
        (status.as_str(), attempts, no_lease),
        ("paid", 0, true),
        "handed back, attempt not counted"
    );
    assert_eq!(reserved, 0.0, "calls in flight finished and were recorded");
    assert!(done > 0 && done < 60, "{done}");
    let sent: usize = world.provider.calls().len();
    assert_eq!(
        sent, done as usize,
        "every call sent was recorded before stopping"
    );

    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    engine.shutdown().await;
    assert_eq!(
        (states[0].status.as_str(), states[0].runs_done),
        ("complete", 60)
    );
    assert!(
        world.answered_calls().values().all(|n| *n == 1),
        "the second engine continued where the first stopped"
    );
}

#[tokio::test]
async fn a_finished_report_is_emailed_once() {
    let world = TestWorld::new(3, |_| {}).await;
    let report = world.paid_report(2).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    let db = world.supabase.db.client().await;
    let mut sent_at: Option<chrono::DateTime<chrono::Utc>> = None;
    for _ in 0..100 {
        sent_at = db
            .query_one(
                "select email_sent_at from public.reports where id = $1",
                &[&report],
            )
            .await
            .unwrap()
            .get(0);
        if sent_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sent_at.is_some(), "the email was recorded as sent");
    // More sweeps pass; still one email.
    tokio::time::sleep(Duration::from_millis(600)).await;
    engine.shutdown().await;
    let emails = world.resend.sent();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(emails[0]["subject"], "Your ModelPick report is ready");
    assert!(emails[0]["text"]
        .as_str()
        .unwrap()
        .contains(&format!("/report/{report}")));
    assert!(
        emails[0]["text"]
            .as_str()
            .unwrap()
            .contains("(30 days after it finished); the report stays readable without them"),
        "the owner is told when the images go: {}",
        emails[0]["text"]
    );
    let owner: String = db
        .query_one("select u.email::text from auth.users u join public.reports r on r.user_id = u.id where r.id = $1", &[&report])
        .await
        .unwrap()
        .get(0);
    assert_eq!(emails[0]["to"][0], owner.as_str());
    assert!(
        world.stripe.refunds().is_empty(),
        "a complete report is not refunded"
    );
}

#[tokio::test]
async fn a_paid_report_that_produced_nothing_fails_is_refunded_once_and_says_why() {
    let world = TestWorld::new(2, |config| config.faults.rate_500 = 1.0).await;
    let report = world.paid_report(2).await;
    // The test paid as a buyer would, with the session it made itself.
    let before = world.stripe.api_versions().len();
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    let states = world
        .wait_finished(&[report], Duration::from_secs(60))
        .await;
    assert_eq!(states[0].status, "failed");
    let reason = states[0].reason.clone().unwrap();
    assert!(
        reason.contains("None of the 4 calls") && reason.contains("provider failed"),
        "{reason}"
    );
    let db = world.supabase.db.client().await;
    let mut refund: Option<String> = None;
    for _ in 0..100 {
        refund = db
            .query_one(
                "select refund_id from public.reports where id = $1",
                &[&report],
            )
            .await
            .unwrap()
            .get(0);
        if refund.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    engine.shutdown().await;
    let refunds = world.stripe.refunds();
    let followup_error: Option<String> = db
        .query_one(
            "select followup_error from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refunds.len(), 1, "{refunds:?} {followup_error:?}");
    assert_eq!(
        refund.as_deref(),
        refunds[0]["id"].as_str(),
        "the refund is recorded"
    );
    assert_eq!(refunds[0]["amount"], 1499);
    assert_eq!(refunds[0]["metadata"]["report_id"], report.to_string());
    let versions = world.stripe.api_versions().split_off(before);
    assert!(
        !versions.is_empty()
            && versions
                .iter()
                .all(|v| v.as_deref() == Some(modelpick::stripe::client::STRIPE_API_VERSION)),
        "every Stripe request pins the API version: {versions:?}"
    );
    let emails = world.resend.sent();
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0]["subject"],
        "Your ModelPick benchmark could not finish"
    );
    assert!(emails[0]["text"].as_str().unwrap().contains("refunded"));
}

/// A typo in the buyer's expected JSON: both models read the document's
/// true total, so the figures doubt the label rather than the models.
#[tokio::test]
async fn a_value_every_model_reads_otherwise_is_doubted_as_a_label() {
    let mut world = TestWorld::new(2, |_| {}).await;
    let truth = world.truths[1]["total"].clone();
    world.truths[1]["total"] = serde_json::json!(truth.as_f64().unwrap() - 1.0);
    let report = world.paid_report(2).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    engine.shutdown().await;
    let figures: serde_json::Value = world
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select figures from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(figures["version"], 3);
    let doubts = figures["label_doubts"].as_array().unwrap();
    assert_eq!(doubts.len(), 1, "{doubts:?}");
    let key: String = world
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select encode(sha256(convert_to(r.config_snapshot -> 'upload_data' -> 'images' -> 1 ->> 'path', 'UTF8')), 'hex')
               from public.reports r where r.id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        doubts[0]["document_key"], key,
        "the key read_report gives the second document"
    );
    assert_eq!(doubts[0]["field"], "total");
    assert_eq!(doubts[0]["consensus"], truth);
    assert_eq!(doubts[0]["expected"], world.truths[1]["total"]);
    assert_eq!(doubts[0]["models"].as_array().unwrap().len(), 2);
}
