//! Claiming, fencing and finishing reports: `claim_next_report`,
//! `renew_report_lease`, `release_report`, `finish_report` (with the
//! report's figures; supabase/schemas/reports_queue.sql), and the
//! runs a report has recorded; finished reports whose figures are computed
//! again (`reports_to_refigure`, `record_refigured_report`).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{held, seconds, Lease, Store, StoreError};
use crate::engine::schedule::Cell;
use crate::figures::{Figures, RunRow};

/// A report this engine has claimed, with what it needs to run it (its
/// snapshot as stored: `report::snapshot` reads it).
#[derive(Debug, Clone)]
pub struct ClaimedReport {
    pub lease: Lease,
    /// How many times the report has been claimed, this claim included.
    pub attempts: i32,
    pub extraction_prompt: String,
    pub json_schema: Option<serde_json::Value>,
    pub config_snapshot: serde_json::Value,
    pub runs_planned: i32,
    pub started_at: DateTime<Utc>,
}

impl ClaimedReport {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            lease: Lease {
                report_id: row.try_get("id")?,
                token: row.try_get("lease_token")?,
            },
            attempts: row.try_get("attempts")?,
            extraction_prompt: row.try_get("extraction_prompt")?,
            json_schema: row.try_get("json_schema")?,
            config_snapshot: row.try_get("config_snapshot")?,
            runs_planned: row.try_get("runs_planned")?,
            started_at: row.try_get("started_at")?,
        })
    }
}

/// A finished report whose figures are computed again, with what its
/// snapshot needs.
#[derive(Debug, Clone)]
pub struct FinishedReport {
    pub id: Uuid,
    pub extraction_prompt: String,
    pub json_schema: Option<serde_json::Value>,
    pub config_snapshot: serde_json::Value,
}

impl FinishedReport {
    pub(super) fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            extraction_prompt: row.try_get("extraction_prompt")?,
            json_schema: row.try_get("json_schema")?,
            config_snapshot: row.try_get("config_snapshot")?,
        })
    }
}

/// How a report ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished with results; `cut_short` says why not every run was made.
    Complete { cut_short: Option<String> },
    /// No usable result; the reason is shown to the person who paid.
    Failed { reason: String },
}

impl Store {
    /// Claims the report that waited longest (one whose engine died first),
    /// with a lease of `lease`. `None` when there is nothing to run.
    /// Concurrent callers never get the same report.
    /// A report claimed `max_attempts` times already is ended by the claim
    /// instead (the database says why, and refunds it if nothing was
    /// delivered).
    pub async fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> Result<Option<ClaimedReport>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "select * from public.claim_next_report($1, $2, $3)",
                &[&worker, &seconds(lease), &max_attempts],
            )
            .await?;
        Ok(row.as_ref().map(ClaimedReport::from_row).transpose()?)
    }

    /// Extends the lease; `LeaseLost` means another engine owns the report.
    pub async fn renew(&self, lease: &Lease, duration: Duration) -> Result<(), StoreError> {
        let row = self
            .hot_row(
                lease,
                "select public.renew_report_lease($1, $2, $3) as held",
                &[&lease.report_id, &lease.token, &seconds(duration)],
            )
            .await?;
        held(lease, row.try_get("held")?)
    }

    /// Hands the report back untouched, for another engine to take at once.
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let sql = "select public.release_report($1, $2) as answer";
        held(
            lease,
            self.answer(sql, &[&lease.report_id, &lease.token]).await?,
        )
    }

    /// Ends the report, with its figures when they could be computed, in one
    /// write. Fenced: a lost lease writes nothing.
    pub async fn finish(
        &self,
        lease: &Lease,
        outcome: &Outcome,
        figures: Option<&Figures>,
    ) -> Result<(), StoreError> {
        let (status, reason, cut_short) = match outcome {
            Outcome::Complete { cut_short: None } => ("complete", None, false),
            Outcome::Complete {
                cut_short: Some(why),
            } => ("complete", Some(why.as_str()), true),
            Outcome::Failed { reason } => ("failed", Some(reason.as_str()), false),
        };
        let figures = figures.map(|f| serde_json::to_value(f).unwrap_or_default());
        let sql = "select public.finish_report($1, $2, $3, $4, $5, $6) as answer";
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
            &lease.report_id,
            &lease.token,
            &status,
            &reason,
            &cut_short,
            &figures,
        ];
        held(lease, self.answer(sql, &params).await?)
    }

    /// The calls (model, document, repeat) that already have a result.
    pub async fn done_cells(&self, report_id: Uuid) -> Result<HashSet<Cell>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "select model_id, image_index, repeat from public.benchmark_runs where report_id = $1",
                &[&report_id],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Cell {
                    model: row.try_get("model_id")?,
                    image_index: non_negative(row, "image_index")?,
                    repeat: non_negative(row, "repeat")?,
                })
            })
            .collect()
    }

    /// Every recorded run of a report, for its figures.
    pub async fn report_runs(&self, report_id: Uuid) -> Result<Vec<RunRow>, StoreError> {
        self.persistently(|client| async move {
            let rows = client
                .query(
                    &format!(
                        "select {RUN_COLUMNS} from public.benchmark_runs where report_id = $1"
                    ),
                    &[&report_id],
                )
                .await?;
            rows.iter().map(run_row).collect()
        })
        .await
    }

    /// Finished reports after `after` (in id order, at most `limit`) whose
    /// figures are missing or older than the report page reads.
    pub async fn reports_to_refigure(
        &self,
        after: Uuid,
        limit: i32,
    ) -> Result<Vec<FinishedReport>, StoreError> {
        self.persistently(|client| async move {
            let rows = client
                .query(
                    "select * from public.reports_to_refigure($1, $2)",
                    &[&after, &limit],
                )
                .await?;
            Ok(rows
                .iter()
                .map(FinishedReport::from_row)
                .collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Stores a finished report's figures computed again; false when they
    /// were current already (another engine got there first).
    pub async fn record_refigured(
        &self,
        report_id: Uuid,
        figures: &Figures,
    ) -> Result<bool, StoreError> {
        let figures = serde_json::to_value(figures).unwrap_or_default();
        let sql = "select public.record_refigured_report($1, $2) as answer";
        self.answer(sql, &[&report_id, &figures]).await
    }

    /// Says this engine swept the queue just now (what `/ready` reads).
    pub async fn record_sweep(&self, worker: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("select public.record_engine_sweep($1)", &[&worker])
            .await?;
        Ok(())
    }
}

/// What the figures read of a run (`run_row`), each difference cut down to
/// what `StoredDiff` holds.
pub(super) const RUN_COLUMNS: &str = "model_id, image_index, repeat, passed, fields_total, fields_matched, cost,
    response_time_ms, error, unavailable,
    coalesce((select jsonb_agg(jsonb_build_object('kind', d -> 'kind', 'path', d -> 'path')
                               || case when d ->> 'kind' = 'mismatch'
                                       then jsonb_build_object('expected', d -> 'expected', 'actual', d -> 'actual')
                                       else '{}' end)
                from jsonb_array_elements(field_diffs) d), '[]') as diffs";

pub(super) fn run_row(row: &Row) -> Result<RunRow, StoreError> {
    let diffs: serde_json::Value = row.try_get("diffs")?;
    Ok(RunRow {
        repeat: non_negative(row, "repeat")?,
        model_id: row.try_get("model_id")?,
        image_index: non_negative(row, "image_index")?,
        passed: row.try_get("passed")?,
        fields_total: non_negative(row, "fields_total")?,
        fields_matched: non_negative(row, "fields_matched")?,
        cost_usd: row.try_get("cost")?,
        latency_ms: non_negative(row, "response_time_ms")?,
        error: row.try_get("error")?,
        unavailable: row.try_get("unavailable")?,
        // Each difference on its own: one that cannot be read is left out,
        // never the run's others.
        diffs: match diffs {
            serde_json::Value::Array(diffs) => diffs
                .into_iter()
                .filter_map(|d| serde_json::from_value(d).ok())
                .collect(),
            _ => Vec::new(),
        },
    })
}

/// An integer column of `benchmark_runs` that is never negative (a count,
/// a document's place, a call's repeat), in the type the figures use.
fn non_negative<T: TryFrom<i32>>(row: &Row, column: &str) -> Result<T, StoreError> {
    let value: i32 = row.try_get(column)?;
    T::try_from(value)
        .map_err(|_| StoreError::Unexpected(format!("benchmark_runs.{column} is {value}")))
}
