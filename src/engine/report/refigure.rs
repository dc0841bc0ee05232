//! Figures for finished reports that lack what the report page reads:
//! those finished before figures were kept, or before a part of them was
//! (`document_results`), and those whose figures could not be computed.
//! The engine computes them when it starts, from the runs each report
//! holds, exactly as when a report finishes; nothing is called or charged,
//! and a report whose figures are current is left alone.

use std::sync::Arc;

use uuid::Uuid;

use super::finish::compute_figures;
use super::snapshot::Snapshot;
use super::Runner;
use crate::engine::limits::ProductLimits;
use crate::engine::store::{FinishedReport, StoreError};

/// Reports read at once.
const BATCH: i32 = 20;

/// Computes the figures of every finished report that lacks them, in id
/// order; how many were stored.
pub async fn refigure_finished(runner: Arc<Runner>, limits: Arc<ProductLimits>) -> usize {
    let mut after = Uuid::nil();
    let mut stored = 0;
    loop {
        let batch = match runner.store.reports_to_refigure(after, BATCH).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(%error, "finished reports' figures: not computed again this time");
                return stored;
            }
        };
        let Some(last) = batch.last() else {
            break;
        };
        after = last.id;
        for report in batch {
            let id = report.id;
            match refigure(&runner, &limits, report).await {
                Ok(true) => stored += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(report.id = %id, %error, "figures not computed again"),
            }
        }
    }
    if stored > 0 {
        tracing::info!(reports = stored, "finished reports' figures computed again");
    }
    stored
}

/// One report's figures, computed again and stored; false when its
/// snapshot cannot be read (logged) or its figures were current already.
async fn refigure(
    runner: &Runner,
    limits: &ProductLimits,
    report: FinishedReport,
) -> Result<bool, StoreError> {
    let snapshot = match Snapshot::parse(
        report.config_snapshot,
        report.extraction_prompt,
        report.json_schema,
        &limits.json,
    ) {
        Ok(snapshot) => snapshot,
        Err(why) => {
            tracing::warn!(report.id = %report.id, why, "a finished report's snapshot cannot be read");
            return Ok(false);
        }
    };
    let runs = runner.store.report_runs(report.id).await?;
    match compute_figures(&snapshot, runs).await {
        Some(figures) => runner.store.record_refigured(report.id, &figures).await,
        None => Ok(false),
    }
}
