//! The engine's one door to Postgres: every statement the engine runs is
//! here, behind a typed function, over its direct connections. The rules
//! themselves are Postgres functions (`supabase/migrations`): claiming and
//! fencing reports (004, 014, 016), the money ledger (009, 016), follow-ups
//! (013, 017).
//! Whoever changes a column or a function changes this file, and nothing
//! else in the engine.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Row};
use uuid::Uuid;

use super::catalog::listing::Listing;
use super::catalog::SyncSummary;
use super::limits::ProductLimits;
use crate::config::FollowupSettings;
use crate::database::Database;
use crate::figures::{Figures, RunRow};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another engine holds the report now (our lease expired and it was
    /// reclaimed, or it was finished). Stop working on it and write nothing.
    #[error("the lease on report {0} is no longer held")]
    LeaseLost(Uuid),
    #[error("report store: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("report store: no connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("report store: {0}")]
    Unexpected(String),
    /// A rule of the database's said no, in its words.
    #[error("{0}")]
    Refused(String),
}

/// Proof that this engine holds a report: every write is fenced by `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub report_id: Uuid,
    pub token: Uuid,
}

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

/// How a report ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished with results; `cut_short` says why not every run was made.
    Complete { cut_short: Option<String> },
    /// No usable result; the reason is shown to the person who paid.
    Failed { reason: String },
}

/// One call's result, as `record_run` stores it (its keys are the
/// function's).
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub model_id: String,
    pub image_index: i32,
    pub output_json: Option<String>,
    pub response_time_ms: u64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// What the attempts whose cost is known cost; the database adds the
    /// worst case of each of the others. Sent as an exact decimal string.
    #[serde(with = "rust_decimal::serde::str")]
    pub cost: Decimal,
    pub attempts: u32,
    pub attempts_at_worst_case: u32,
    pub passed: bool,
    pub field_diffs: serde_json::Value,
    pub fields_total: u32,
    pub fields_matched: u32,
    /// Why the provider gave no answer; none when it answered (whatever
    /// the answer said).
    pub error: Option<String>,
}

/// One call to reserve the worst case of (its keys are `reserve_runs`').
#[derive(Debug, Clone, Serialize)]
pub struct CallToReserve<'a> {
    pub model_id: &'a str,
    pub image_index: i32,
    pub image_pixels: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowupKind {
    Email,
    Refund,
}

impl FollowupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Refund => "refund",
        }
    }
}

/// Where a failed report's refund stands, as its email tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundState {
    Refunded,
    Pending,
    /// It keeps failing; an operator has been alerted.
    Failing,
    /// Nothing was paid, so nothing is refunded.
    None,
}

/// What a follow-up is for: a report that ended, or a paid checkout
/// session that could not become a report (paid twice, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Report(Uuid),
    Session(String),
}

/// A follow-up this engine has claimed, with what doing it needs; its
/// completion or failure is fenced by `lease_token`.
#[derive(Debug, Clone)]
pub struct DueFollowup {
    pub id: i64,
    pub lease_token: Uuid,
    pub subject: Subject,
    pub kind: FollowupKind,
    /// The report, or for a session the report its draft did get.
    pub report_id: Option<Uuid>,
    pub stripe_session_id: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub email: Option<String>,
    pub refund_state: RefundState,
}

impl DueFollowup {
    fn from_row(row: &Row) -> Self {
        let report_id: Option<Uuid> = row.get("report_id");
        let stripe_session_id: Option<String> = row.get("stripe_session_id");
        let subject = match (row.get::<_, &str>("subject"), report_id, &stripe_session_id) {
            ("report", Some(report), _) => Subject::Report(report),
            (_, _, Some(session)) => Subject::Session(session.clone()),
            _ => Subject::Session(String::new()),
        };
        Self {
            id: row.get("id"),
            lease_token: row.get("lease_token"),
            subject,
            kind: match row.get::<_, &str>("kind") {
                "refund" => FollowupKind::Refund,
                _ => FollowupKind::Email,
            },
            report_id,
            stripe_session_id,
            status: row.get("status"),
            status_reason: row.get("status_reason"),
            email: row.get("email"),
            refund_state: match row.get::<_, &str>("refund_state") {
                "refunded" => RefundState::Refunded,
                "pending" => RefundState::Pending,
                "failing" => RefundState::Failing,
                _ => RefundState::None,
            },
        }
    }
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}

fn run_row(row: &Row) -> RunRow {
    let count = |i: usize| u32::try_from(row.get::<_, i32>(i)).unwrap_or(0);
    let diffs: serde_json::Value = row.get(8);
    RunRow {
        model_id: row.get(0),
        image_index: usize::try_from(row.get::<_, i32>(1)).unwrap_or(usize::MAX),
        passed: row.get(2),
        fields_total: count(3),
        fields_matched: count(4),
        cost_usd: row.get(5),
        latency_ms: count(6),
        error: row.get(7),
        // Each difference on its own: one that cannot be read is left out,
        // never the run's others.
        diffs: match diffs {
            serde_json::Value::Array(diffs) => diffs
                .into_iter()
                .filter_map(|d| serde_json::from_value(d).ok())
                .collect(),
            _ => Vec::new(),
        },
    }
}

fn held(lease: &Lease, updated: bool) -> Result<(), StoreError> {
    if updated {
        Ok(())
    } else {
        Err(StoreError::LeaseLost(lease.report_id))
    }
}

/// A fenced write that found the lease gone says so with PT410.
fn fenced(lease: &Lease, error: tokio_postgres::Error) -> StoreError {
    if error.code().map(|c| c.code()) == Some("PT410") {
        StoreError::LeaseLost(lease.report_id)
    } else {
        StoreError::Db(error)
    }
}

/// The reports, runs and follow-ups the engine reads and writes.
#[derive(Clone)]
pub struct Store {
    pool: deadpool_postgres::Pool,
}

impl Store {
    pub fn new(pool: deadpool_postgres::Pool) -> Self {
        Self { pool }
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// One row of a statement run for every call (reserving, recording,
    /// renewing): prepared once per connection, then one round trip each.
    /// A fenced write that finds the lease gone says `LeaseLost`.
    async fn hot_row(
        &self,
        lease: &Lease,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Row, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        client
            .query_one(&statement, params)
            .await
            .map_err(|e| fenced(lease, e))
    }

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
                "select public.renew_report_lease($1, $2, $3)",
                &[&lease.report_id, &lease.token, &seconds(duration)],
            )
            .await?;
        held(lease, row.get(0))
    }

    /// Hands the report back untouched, for another engine to take at once.
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.persistently(|client| async move {
            let row = client
                .query_one(
                    "select public.release_report($1, $2)",
                    &[&lease.report_id, &lease.token],
                )
                .await?;
            held(lease, row.get(0))
        })
        .await
    }

    /// Ends the report. Fenced: a lost lease writes nothing.
    pub async fn finish(&self, lease: &Lease, outcome: &Outcome) -> Result<(), StoreError> {
        let (status, reason, cut_short) = match outcome {
            Outcome::Complete { cut_short: None } => ("complete", None, false),
            Outcome::Complete {
                cut_short: Some(why),
            } => ("complete", Some(why.as_str()), true),
            Outcome::Failed { reason } => ("failed", Some(reason.as_str()), false),
        };
        self.persistently(|client| async move {
            let row = client
                .query_one(
                    "select public.finish_report($1, $2, $3, $4, $5)",
                    &[&lease.report_id, &lease.token, &status, &reason, &cut_short],
                )
                .await?;
            held(lease, row.get(0))
        })
        .await
    }

    /// The (model, image index) cells that already have a result.
    pub async fn done_cells(&self, report_id: Uuid) -> Result<HashSet<(String, i32)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "select model_id, image_index from public.benchmark_runs where report_id = $1",
                &[&report_id],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// Reserves the worst case of each of `calls`, in order, which the
    /// database computes from what each call sends (the report's prompt and
    /// schema, an image of its pixels, `max_tokens` of answer) at the
    /// report's price, in one round trip. The amounts reserved, in order;
    /// fewer than asked when the next would take committed money past
    /// `soft_ceiling` or the hard ceiling (then do not send it, nor the
    /// rest).
    pub async fn reserve(
        &self,
        lease: &Lease,
        calls: &[CallToReserve<'_>],
        max_tokens: u32,
        soft_ceiling: Decimal,
    ) -> Result<Vec<Decimal>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("select amount from public.reserve_runs($1, $2, $3, $4, $5)")
            .await?;
        let rows = client
            .query(
                &statement,
                &[
                    &lease.report_id,
                    &lease.token,
                    &tokio_postgres::types::Json(calls),
                    &(max_tokens as i32),
                    &soft_ceiling,
                ],
            )
            .await
            .map_err(|e| fenced(lease, e))?;
        Ok(rows
            .iter()
            .map_while(|row| row.get::<_, Option<Decimal>>(0))
            .collect())
    }

    /// Reserves another worst case for a call whose last attempt was (or
    /// may have been) billed; false when the hard ceiling does not allow it.
    pub async fn reserve_retry(
        &self,
        lease: &Lease,
        model: &str,
        image_index: i32,
    ) -> Result<bool, StoreError> {
        let row = self
            .hot_row(
                lease,
                "select public.reserve_retry($1, $2, $3, $4)",
                &[&lease.report_id, &lease.token, &model, &image_index],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Gives back the reservation of a call that will not be sent.
    pub async fn release_reservation(
        &self,
        lease: &Lease,
        model: &str,
        image_index: i32,
    ) -> Result<(), StoreError> {
        self.hot_row(
            lease,
            "select public.release_reservation($1, $2, $3, $4)",
            &[&lease.report_id, &lease.token, &model, &image_index],
        )
        .await?;
        Ok(())
    }

    /// Records calls' results, each in place of its reservation, in one
    /// round trip. Idempotent per cell; fenced by the lease.
    pub async fn record_runs(&self, lease: &Lease, runs: &[RunRecord]) -> Result<(), StoreError> {
        let runs = tokio_postgres::types::Json(runs);
        self.hot_row(
            lease,
            "select public.record_runs($1, $2, $3)",
            &[&lease.report_id, &lease.token, &runs],
        )
        .await?;
        Ok(())
    }

    /// The product's limits, as `draft_limits()` states them.
    pub async fn product_limits(&self) -> Result<ProductLimits, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("select public.draft_limits()", &[])
            .await?;
        ProductLimits::from_json(row.get(0)).map_err(StoreError::Unexpected)
    }

    /// Makes the catalog what the provider lists (`sync_model_catalog`):
    /// what changed, as the database counts it.
    pub async fn sync_catalog(&self, listing: &Listing) -> Result<SyncSummary, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.sync_model_catalog($1, $2)",
                &[
                    &tokio_postgres::types::Json(&listing.offered),
                    &tokio_postgres::types::Json(&listing.refused),
                ],
            )
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) if db.code().code().starts_with("PT") => {
                    StoreError::Refused(db.message().to_owned())
                }
                _ => StoreError::Db(e),
            })?;
        serde_json::from_value(row.get(0)).map_err(|e| StoreError::Unexpected(e.to_string()))
    }

    /// Keeps a failed sync's reason for an operator.
    pub async fn record_catalog_sync_failure(&self, error: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("select public.record_catalog_sync_failure($1)", &[&error])
            .await?;
        Ok(())
    }

    /// Whether the catalog should be synced now: it offers nothing, or its
    /// last sync that worked is `every` old.
    pub async fn catalog_sync_due(&self, every: Duration) -> Result<bool, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.catalog_sync_due(make_interval(secs => $1))",
                &[&(every.as_secs_f64())],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Every recorded run of a report, for its figures.
    pub async fn report_runs(&self, report_id: Uuid) -> Result<Vec<RunRow>, StoreError> {
        self.persistently(|client| async move {
            let rows = client
                .query(
                    "select model_id, image_index, passed, fields_total, fields_matched, cost,
                            response_time_ms, error,
                            coalesce((select jsonb_agg(jsonb_build_object('kind', d -> 'kind', 'path', d -> 'path'))
                                        from jsonb_array_elements(field_diffs) d), '[]')
                       from public.benchmark_runs where report_id = $1",
                    &[&report_id],
                )
                .await?;
            Ok(rows.iter().map(run_row).collect())
        })
        .await
    }

    /// Stores a report's figures while it is still ours to finish.
    pub async fn record_figures(&self, lease: &Lease, figures: &Figures) -> Result<(), StoreError> {
        let figures = serde_json::to_value(figures).unwrap_or_default();
        let figures = &figures;
        self.persistently(|client| async move {
            let row = client
                .query_one(
                    "select public.record_report_figures($1, $2, $3)",
                    &[&lease.report_id, &lease.token, figures],
                )
                .await?;
            held(lease, row.get(0))
        })
        .await
    }

    /// Claims up to `limit` follow-ups whose time has come, the
    /// longest-waiting first, for `lease`; concurrent callers never get the
    /// same one, and the claim counts the attempt.
    pub async fn claim_followups(
        &self,
        worker: &str,
        limit: i32,
        lease: Duration,
    ) -> Result<Vec<DueFollowup>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "select * from public.claim_followups($1, $2, $3)",
                &[&worker, &limit, &seconds(lease)],
            )
            .await?;
        Ok(rows.iter().map(DueFollowup::from_row).collect())
    }

    /// A claimed follow-up is done (a refund with its Stripe id); false
    /// when its lease is no longer held (nothing was written).
    pub async fn complete_followup(
        &self,
        followup: &DueFollowup,
        refund_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.complete_followup($1, $2, $3)",
                &[&followup.id, &followup.lease_token, &refund_id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// A claimed follow-up failed and waits its backoff. `Ok(None)`: the
    /// lease is no longer held (nothing was written); `Ok(Some(true))`
    /// exactly once, when an operator should be alerted.
    pub async fn fail_followup(
        &self,
        followup: &DueFollowup,
        error: &str,
        retry: &FollowupSettings,
    ) -> Result<Option<bool>, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select held, alert from public.fail_followup($1, $2, $3, $4, $5, $6)",
                &[
                    &followup.id,
                    &followup.lease_token,
                    &error,
                    &seconds(retry.first_backoff),
                    &seconds(retry.max_backoff),
                    &(retry.alert_after.max(1) as i32),
                ],
            )
            .await?;
        Ok(row.get::<_, bool>(0).then(|| row.get(1)))
    }

    /// A last step of a report (its tally, finishing it, handing it back),
    /// on a fresh connection, and again on another when one breaks under it
    /// (a pooled connection the server has just closed looks alive until
    /// its driver runs): a report whose last step failed would otherwise sit
    /// until its lease expired. A lost lease is final and never retried.
    async fn persistently<T, F, Fut>(&self, step: F) -> Result<T, StoreError>
    where
        F: Fn(deadpool_postgres::Client) -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        const ATTEMPTS: u32 = 5;
        let mut wait = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let result = match self.client().await {
                Ok(client) => step(client).await,
                Err(e) => Err(e),
            };
            match result {
                Err(StoreError::LeaseLost(id)) => return Err(StoreError::LeaseLost(id)),
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "a report's last step failed; retrying on another connection");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// The connection that LISTENs for `report_paid`, and what it hears.
/// tokio-postgres hands notifications only to whoever polls the connection,
/// so its driver forwards them; when the connection ends, so do they.
pub struct Listener {
    client: tokio_postgres::Client,
    notifications: mpsc::UnboundedReceiver<String>,
}

impl Listener {
    pub async fn connect(database: &Database) -> Result<Self, tokio_postgres::Error> {
        let (client, mut connection) = database.connect().await?;
        let (tx, notifications) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(n) = message {
                    if tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
            }
        });
        client.batch_execute("listen report_paid").await?;
        Ok(Self {
            client,
            notifications,
        })
    }

    /// The next notification's payload; `None` once the connection ended.
    pub async fn next(&mut self) -> Option<String> {
        self.notifications.recv().await
    }

    /// Whether the connection still answers a round trip within `timeout`
    /// (a half-open connection otherwise looks alive forever).
    pub async fn answers(&self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.client.simple_query("select 1")).await,
            Ok(Ok(_))
        )
    }
}
