//! The report queue as the engine sees it: claim, heartbeat, release and
//! finish. Each is one call to the Postgres function that carries the rule
//! (`supabase/migrations/004_report_queue.sql`), over the engine's direct
//! connection.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Another engine holds the report now (our lease expired and it was
    /// reclaimed, or it was finished). Stop working on it and write nothing.
    #[error("the lease on report {0} is no longer held")]
    LeaseLost(Uuid),
    #[error("report queue query failed: {0}")]
    Db(#[from] tokio_postgres::Error),
}

/// Proof that this engine holds a report: every write is fenced by `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub report_id: Uuid,
    pub token: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// A report this engine has claimed, with what it needs to run it.
#[derive(Debug, Clone)]
pub struct ClaimedReport {
    pub lease: Lease,
    pub user_id: Uuid,
    /// How many times the report has been claimed, this claim included.
    pub attempts: i32,
    pub image_paths: Vec<String>,
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
                expires_at: row.try_get("lease_expires_at")?,
            },
            user_id: row.try_get("user_id")?,
            attempts: row.try_get("attempts")?,
            image_paths: row.try_get("image_paths")?,
            extraction_prompt: row.try_get("extraction_prompt")?,
            json_schema: row.try_get("json_schema")?,
            config_snapshot: row.try_get("config_snapshot")?,
            runs_planned: row.try_get("runs_planned")?,
            started_at: row.try_get("started_at")?,
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

fn lease_seconds(lease: Duration) -> i32 {
    i32::try_from(lease.as_secs().max(1)).unwrap_or(i32::MAX)
}

fn held(lease: &Lease, updated: bool) -> Result<(), QueueError> {
    if updated {
        Ok(())
    } else {
        Err(QueueError::LeaseLost(lease.report_id))
    }
}

/// Claims the oldest paid report, or one whose lease expired. `None` when
/// there is nothing to run. Concurrent callers never get the same report.
pub async fn claim_next(
    client: &Client,
    worker: &str,
    lease: Duration,
) -> Result<Option<ClaimedReport>, QueueError> {
    let row = client
        .query_opt(
            "select * from public.claim_next_report($1, $2)",
            &[&worker, &lease_seconds(lease)],
        )
        .await?;
    Ok(row.as_ref().map(ClaimedReport::from_row).transpose()?)
}

/// Extends the lease; `LeaseLost` means another engine owns the report now.
pub async fn renew(
    client: &Client,
    lease: &mut Lease,
    duration: Duration,
) -> Result<(), QueueError> {
    let row = client
        .query_one(
            "select public.renew_report_lease($1, $2, $3), now() + make_interval(secs => $3)",
            &[&lease.report_id, &lease.token, &lease_seconds(duration)],
        )
        .await?;
    held(lease, row.get(0))?;
    lease.expires_at = row.get(1);
    Ok(())
}

/// Hands the report back untouched, for another engine to take at once.
pub async fn release(client: &Client, lease: &Lease) -> Result<(), QueueError> {
    let row = client
        .query_one(
            "select public.release_report($1, $2)",
            &[&lease.report_id, &lease.token],
        )
        .await?;
    held(lease, row.get(0))
}

/// Ends the report. Fenced: a lost lease writes nothing.
pub async fn finish(client: &Client, lease: &Lease, outcome: &Outcome) -> Result<(), QueueError> {
    let (status, reason, cut_short) = match outcome {
        Outcome::Complete { cut_short: None } => ("complete", None, false),
        Outcome::Complete {
            cut_short: Some(why),
        } => ("complete", Some(why.as_str()), true),
        Outcome::Failed { reason } => ("failed", Some(reason.as_str()), false),
    };
    let row = client
        .query_one(
            "select public.finish_report($1, $2, $3, $4, $5)",
            &[&lease.report_id, &lease.token, &status, &reason, &cut_short],
        )
        .await?;
    held(lease, row.get(0))
}
