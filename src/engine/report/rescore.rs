//! Reports scored again after their owner corrected the expected JSON
//! (`rescore_report`): every answer the report holds is scored against the
//! corrected JSON exactly as when it was first recorded, the figures are
//! computed again, and both are stored in one write that keeps the earlier
//! figures. No model is called and nothing is charged. The write holds only
//! while the corrections it scored are still the ones waiting, so an owner
//! who corrects again meanwhile gets the newer ones scored next.

use std::sync::Arc;

use super::cell::score_answer;
use super::finish::compute_figures;
use super::snapshot::Snapshot;
use super::Runner;
use crate::engine::limits::ProductLimits;
use crate::engine::score::{self, StoredDiff};
use crate::engine::store::{PendingRescore, Rescored, StoreError, StoredAnswer};
use crate::figures::RunRow;

/// Reports read at once.
const BATCH: i32 = 20;
/// Batches read on one wake-up: what is left waits for the next sweep.
const PASSES: usize = 5;

/// Scores again every report waiting for it; how many were stored.
pub async fn rescore_pending(runner: Arc<Runner>, limits: Arc<ProductLimits>) -> usize {
    let mut stored = 0;
    for _ in 0..PASSES {
        let batch = match runner.store.reports_to_rescore(BATCH).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "reports to score again: not read this time");
                break;
            }
        };
        let mut stored_now = 0;
        for pending in batch {
            let id = pending.report.id;
            match rescore(&runner, &limits, pending).await {
                Ok(true) => {
                    stored_now += 1;
                    tracing::info!(report.id = %id, "report scored again with corrected expected JSON");
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(report.id = %id, %error, "report not scored again"),
            }
        }
        stored += stored_now;
        if stored_now == 0 {
            break;
        }
    }
    stored
}

/// One report scored again and stored; false when it cannot be (logged)
/// or its owner corrected it again meanwhile.
async fn rescore(
    runner: &Runner,
    limits: &ProductLimits,
    pending: PendingRescore,
) -> Result<bool, StoreError> {
    let report = pending.report;
    let snapshot = Snapshot::parse(
        report.config_snapshot,
        report.extraction_prompt,
        report.json_schema,
        &limits.json,
    )
    .and_then(|mut snapshot| {
        if let Some(corrections) = pending.corrections.as_object() {
            snapshot.correct(corrections, &limits.json)?;
        }
        Ok(snapshot)
    });
    let snapshot = match snapshot {
        Ok(snapshot) => snapshot,
        Err(why) => {
            tracing::error!(report.id = %report.id, why, "a report to score again cannot be read");
            return Ok(false);
        }
    };
    let answers = runner.store.report_answers(report.id).await?;
    let mut runs = Vec::with_capacity(answers.len());
    let mut rescored = Vec::with_capacity(answers.len());
    for answer in answers {
        let (run, scored) = score_again(&snapshot, limits, answer).await;
        runs.push(run);
        rescored.extend(scored);
    }
    match compute_figures(&snapshot, runs).await {
        Some(figures) => {
            runner
                .store
                .record_rescore(report.id, &pending.corrections, &figures, &rescored)
                .await
        }
        None => Ok(false),
    }
}

/// A call scored against its document's expected JSON now: the run as the
/// figures read it, and its new score to store (none for a call whose
/// document the report no longer has, which keeps its score).
async fn score_again(
    snapshot: &Snapshot,
    limits: &ProductLimits,
    answer: StoredAnswer,
) -> (RunRow, Option<Rescored>) {
    let mut run = answer.run;
    let Some(document) = snapshot.documents.get(run.image_index) else {
        return (run, None);
    };
    let expected = document.expected.clone();
    let scored = match &answer.output {
        Some(text) => score_answer(expected, text, snapshot.schema.clone(), limits.json).await,
        None => score::failed(&expected),
    };
    let field_diffs = serde_json::to_value(&scored.diffs).unwrap_or_default();
    run.passed = scored.passed;
    run.fields_total = scored.fields_total as u32;
    run.fields_matched = scored.fields_matched as u32;
    run.diffs = scored.diffs.iter().map(StoredDiff::from).collect();
    let rescored = Rescored {
        id: answer.id,
        passed: run.passed,
        field_diffs,
        fields_total: run.fields_total,
        fields_matched: run.fields_matched,
    };
    (run, Some(rescored))
}
