//! Reports scored again after their owner corrected the expected JSON:
//! `reports_to_rescore`, `record_rescore` (supabase/schemas/rescoring.sql),
//! and the answers a report holds.

use serde::Serialize;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use super::reports::{run_row, FinishedReport, RUN_COLUMNS};
use super::{Store, StoreError};
use crate::figures::{Figures, RunRow};

/// A complete report waiting to be scored again.
#[derive(Debug, Clone)]
pub struct PendingRescore {
    pub report: FinishedReport,
    /// Document key (as the report gives it) to the corrected JSON, exactly
    /// as stored: `record_rescore` writes only while these are current.
    pub corrections: Value,
}

/// One call of a report, with what it answered.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    pub id: Uuid,
    /// The model's answer; none when the call failed.
    pub output: Option<String>,
    /// The call as the figures read it, scored against the expected JSON
    /// of its last scoring.
    pub run: RunRow,
}

/// A call's new score, as `record_rescore` stores it.
#[derive(Debug, Clone, Serialize)]
pub struct Rescored {
    pub id: Uuid,
    pub passed: bool,
    pub field_diffs: Value,
    pub fields_total: u32,
    pub fields_matched: u32,
}

impl PendingRescore {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            report: FinishedReport::from_row(row)?,
            corrections: row.try_get("corrections")?,
        })
    }
}

impl Store {
    /// Reports waiting to be scored again (at most `limit`).
    pub async fn reports_to_rescore(&self, limit: i32) -> Result<Vec<PendingRescore>, StoreError> {
        self.persistently(|client| async move {
            let rows = client
                .query("select * from public.reports_to_rescore($1)", &[&limit])
                .await?;
            Ok(rows
                .iter()
                .map(PendingRescore::from_row)
                .collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Every call of a report, with its answer.
    pub async fn report_answers(&self, report_id: Uuid) -> Result<Vec<StoredAnswer>, StoreError> {
        self.persistently(|client| async move {
            let rows = client
                .query(
                    &format!(
                        "select id, output_json, {RUN_COLUMNS} from public.benchmark_runs
                          where report_id = $1 order by image_index, model_id"
                    ),
                    &[&report_id],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(StoredAnswer {
                        id: row.try_get("id")?,
                        output: row.try_get("output_json")?,
                        run: run_row(row)?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Stores a report scored again with `corrections`; false, writing
    /// nothing, when they are no longer the ones waiting.
    pub async fn record_rescore(
        &self,
        report_id: Uuid,
        corrections: &Value,
        figures: &Figures,
        runs: &[Rescored],
    ) -> Result<bool, StoreError> {
        let figures = serde_json::to_value(figures).unwrap_or_default();
        let runs = serde_json::to_value(runs).unwrap_or_default();
        let sql = "select public.record_rescore($1, $2, $3, $4) as answer";
        self.answer(sql, &[&report_id, corrections, &figures, &runs])
            .await
    }
}
