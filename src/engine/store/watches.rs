//! Finished reports watched for new models: claiming the watches with
//! models to name, and recording each mail under its lease
//! (`claim_watch_emails`, `complete_watch_email`:
//! supabase/schemas/watches.sql).

use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{lease_gone, seconds, Store, StoreError};

/// A model a watch names, as the catalog offers it now.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OfferedModel {
    pub id: String,
    pub display_name: String,
    pub prompt_usd_per_mtok: Decimal,
    pub completion_usd_per_mtok: Decimal,
}

/// A report's best model, as its figures rank them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Pick {
    pub id: String,
    pub display_name: String,
}

/// A claimed watch: whom to mail about which models.
#[derive(Debug, Clone)]
pub struct DueWatch {
    pub report_id: Uuid,
    pub lease_token: Uuid,
    pub email: String,
    pub report_name: String,
    pub unsubscribe_token: String,
    /// None for a report without ranked models.
    pub pick: Option<Pick>,
    pub models: Vec<OfferedModel>,
}

impl DueWatch {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let pick: Option<serde_json::Value> = row.try_get("pick")?;
        let models: serde_json::Value = row.try_get("models")?;
        Ok(Self {
            report_id: row.try_get("report_id")?,
            lease_token: row.try_get("lease_token")?,
            email: row.try_get("email")?,
            report_name: row.try_get("report_name")?,
            unsubscribe_token: row.try_get("unsubscribe_token")?,
            pick: pick.and_then(|p| serde_json::from_value(p).ok()),
            models: serde_json::from_value(models).map_err(|e| {
                StoreError::Unexpected(format!("claim_watch_emails returned models: {e}"))
            })?,
        })
    }
}

impl Store {
    /// Claims up to `limit` watches with models to name and no mail this
    /// week, for `lease`; concurrent callers never get the same one.
    pub async fn claim_watch_emails(
        &self,
        worker: &str,
        limit: i32,
        lease: Duration,
    ) -> Result<Vec<DueWatch>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "select * from public.claim_watch_emails($1, $2, $3)",
                &[&worker, &limit, &seconds(lease)],
            )
            .await?;
        rows.iter().map(DueWatch::from_row).collect()
    }

    /// The watch's mail was sent: its models are never named again, and
    /// the next mail waits a week. `Refused` when its lease is no longer
    /// held (nothing was written).
    pub async fn complete_watch_email(&self, watch: &DueWatch) -> Result<(), StoreError> {
        let models: Vec<&str> = watch.models.iter().map(|m| m.id.as_str()).collect();
        self.client()
            .await?
            .execute(
                "select public.complete_watch_email($1, $2, $3)",
                &[&watch.report_id, &watch.lease_token, &models],
            )
            .await
            .map_err(|e| {
                if lease_gone(&e) {
                    StoreError::Refused(format!(
                        "the lease on the watch of report {} is no longer held",
                        watch.report_id
                    ))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }
}
