//! A finished report scored again after its owner corrects the expected
//! JSON: through PostgREST as the owner, by the engine, from the answers the
//! report holds, with no model called.

use std::time::Duration;

use modelpick::config::RunLimits as Limits;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::engine::{truth, TestWorld};

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

async fn user_id(world: &TestWorld, email: &str) -> Uuid {
    world
        .supabase
        .db
        .client()
        .await
        .query_one("select id from auth.users where email = $1", &[&email])
        .await
        .unwrap()
        .get(0)
}

async fn rescore(world: &TestWorld, token: &str, report: Uuid, expected: Value) -> (u16, Value) {
    let response = world
        .supabase
        .rest_as(token)
        .rpc(
            "rescore_report",
            json!({"p_report_id": report, "p_expected": expected}).to_string(),
        )
        .execute()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.text().await.unwrap()).unwrap(),
    )
}

async fn report_row(world: &TestWorld, report: Uuid) -> (i32, Value, Option<Value>) {
    let row = world
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select scoring_version, figures, pending_corrections from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

fn passed(figures: &Value) -> Vec<u64> {
    figures["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["passed"].as_u64().unwrap())
        .collect()
}

/// The buyer typed 1 less than the invoice says; both models read the
/// invoice. The report doubts the label; the owner corrects it by the key
/// the doubt names and the report is scored again: the doubt is gone, both
/// models pass that document, the first figures are kept, and the provider
/// is not called again. Nobody else may do it, nor give JSON over the
/// limits.
#[tokio::test]
async fn a_corrected_label_is_scored_again_without_calling_a_model() {
    let mut world = TestWorld::new(2, |_| {}).await;
    let truth = world.truths[1].clone();
    world.truths[1]["total"] = json!(truth["total"].as_f64().unwrap() - 1.0);
    let email = format!("{}@example.test", Uuid::new_v4().simple());
    let token = world.supabase.access_token(&email, "a long password").await;
    let owner = user_id(&world, &email).await;
    let report = world.paid_report_by(owner, 2, json!({}), 1).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;

    let (version, first, _) = report_row(&world, report).await;
    assert_eq!(version, 1);
    let doubt = &first["label_doubts"][0];
    assert_eq!(doubt["consensus"], truth["total"], "{first}");
    let key = doubt["document_key"].as_str().unwrap().to_owned();
    let calls = world.provider.calls().len();

    let other = world
        .supabase
        .access_token(
            &format!("{}@example.test", Uuid::new_v4().simple()),
            "another password",
        )
        .await;
    let (status, body) = rescore(&world, &other, report, json!({ &key: truth })).await;
    assert_eq!(status, 404, "another user: {body}");
    let too_big = json!({ &key: {"note": "x".repeat(70_000)} });
    let (status, body) = rescore(&world, &token, report, too_big).await;
    assert_eq!(status, 400, "over the draft limit: {body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("the limit is 64.0 KB"),
        "{body}"
    );
    let (status, body) = rescore(&world, &token, report, json!({"no-such-key": truth})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        report_row(&world, report).await.2,
        None,
        "refusals change nothing"
    );

    let (status, body) = rescore(&world, &token, report, json!({ &key: truth })).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"version": 2, "pending": true}))
    );
    let mut scored = report_row(&world, report).await;
    for _ in 0..300 {
        if scored.0 == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        scored = report_row(&world, report).await;
    }
    engine.shutdown().await;
    let (version, figures, pending) = scored;
    assert_eq!((version, pending), (2, None), "scored again within 30 s");
    assert_eq!(figures["label_doubts"], json!([]), "the doubt is gone");
    let before = passed(&first);
    let after = passed(&figures);
    assert_eq!(
        after,
        before.iter().map(|p| p + 1).collect::<Vec<_>>(),
        "each model now passes the corrected document"
    );
    assert_eq!(world.provider.calls().len(), calls, "no model was called");

    let db = world.supabase.db.client().await;
    let kept: Value = db
        .query_one(
            "select figures from public.report_scorings where report_id = $1 and version = 1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, first, "the first figures are kept as version 1");
    let runs_passed: i64 = db
        .query_one(
            "select count(*) from public.benchmark_runs where report_id = $1 and image_index = 1 and passed",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs_passed, 2, "each call of that document is scored again");

    let read = world
        .supabase
        .rest_as(&token)
        .rpc("read_report", json!({ "p_report_id": report }).to_string())
        .execute()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let read: Value = serde_json::from_str(&read).unwrap();
    assert_eq!(read["scoring"]["version"], 2);
    assert_eq!(read["scoring"]["earlier"][0]["version"], 1);
    assert_eq!(read["documents"][1]["expected"], truth);
    assert_eq!(read["documents"][1]["corrected"], true);
}

/// The provider stand-in's misreading knob, end to end: every model reads
/// one field the same wrong way, so the figures doubt the label, which the
/// buyer typed right. (What the page then offers is the buyer's choice.)
#[tokio::test]
async fn a_field_every_model_misreads_alike_is_doubted() {
    let misread = json!(truth(1)["total"].as_f64().unwrap() + 10.0);
    let world = TestWorld::new(2, |config| {
        let key = config
            .answers
            .iter()
            .find(|(_, answer)| **answer == truth(1))
            .map(|(key, _)| key.clone())
            .unwrap();
        let fields = [("total".to_owned(), misread.clone())]
            .into_iter()
            .collect();
        config.misreadings.insert(key, fields);
    })
    .await;
    let report = world.paid_report(3).await;
    let engine = world.start_engine(Limits::default(), CALL_TIMEOUT);
    world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    engine.shutdown().await;
    let (_, figures, _) = report_row(&world, report).await;
    let doubts = figures["label_doubts"].as_array().unwrap();
    assert_eq!(doubts.len(), 1, "{doubts:?}");
    assert_eq!(doubts[0]["field"], "total");
    assert_eq!(doubts[0]["path"], json!(["total"]));
    assert_eq!(doubts[0]["expected"], truth(1)["total"]);
    assert_eq!(doubts[0]["consensus"], misread);
    assert_eq!(doubts[0]["models"].as_array().unwrap().len(), 3);
}
