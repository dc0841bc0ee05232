//! The engine's one door to Postgres: every statement the engine runs is
//! here, behind a typed function, over its direct connections, one file per
//! part of the schema (supabase/schemas/): `reports` (the queue and its
//! fenced writes), `ledger` (reserving and recording calls' money),
//! `followups` (emails and refunds), `rescoring` (reports scored again),
//! `watches` (reports watched for new models),
//! `catalog` (the model catalog and the
//! product's limits), `listener` (`report_paid`, `report_rescore`
//! notifications). The rules
//! themselves are the Postgres functions each file names. Whoever changes a
//! column or a function changes that file, and nothing else in the engine.
//! Rows are read by column name.

mod alerts;
mod catalog;
mod followups;
mod ledger;
mod listener;
pub mod operations;
mod reports;
mod rescoring;
mod sharing;
mod watches;

use std::future::Future;
use std::time::Duration;

use tokio_postgres::Row;
use uuid::Uuid;

pub use alerts::{Alert, AlertBatch, AlertKind};
pub use catalog::SyncSummary;
pub use followups::{AfterFailure, DueFollowup, FollowupKind, RefundState, Subject};
pub use ledger::{CallToReserve, RunRecord};
pub use listener::{Listener, Wakeup};
pub use reports::{ClaimedReport, FinishedReport, Outcome};
pub use rescoring::{PendingRescore, Rescored, StoredAnswer};
pub use watches::{DueWatch, OfferedModel, Pick};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another engine holds the report now (our lease expired and it was
    /// reclaimed, or it was finished). Stop working on it and write nothing.
    #[error("the lease on report {0} is no longer held")]
    LeaseLost(Uuid),
    /// Another engine holds the follow-up now, or it is done: nothing was
    /// written.
    #[error("the lease on follow-up {0} is no longer held")]
    FollowupLeaseLost(i64),
    /// Another engine holds these alerts now: nothing was written.
    #[error("the lease on the {0} alerts is no longer held")]
    AlertLeaseLost(&'static str),
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

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}

fn held(lease: &Lease, updated: bool) -> Result<(), StoreError> {
    if updated {
        Ok(())
    } else {
        Err(StoreError::LeaseLost(lease.report_id))
    }
}

/// Whether a fenced write (a report's or a follow-up's) found its lease
/// gone: the database says so with PT410.
fn lease_gone(error: &tokio_postgres::Error) -> bool {
    error.code().map(|c| c.code()) == Some("PT410")
}

/// A report write that found the lease gone is `LeaseLost`.
fn fenced(lease: &Lease, error: tokio_postgres::Error) -> StoreError {
    if lease_gone(&error) {
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

    /// The one value a function call answers, as column `value`.
    async fn value<T: tokio_postgres::types::FromSqlOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<T, StoreError> {
        let row = self.client().await?.query_one(sql, params).await?;
        Ok(row.try_get("value")?)
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

    /// The yes or no of one call of a database function (`sql` names it
    /// `answer`), asked `persistently`: whether a fenced write found its
    /// lease, or whether something was stored.
    async fn answer(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool, StoreError> {
        self.persistently(|client| async move {
            let row = client.query_one(sql, params).await?;
            Ok(row.try_get("answer")?)
        })
        .await
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
