//! Alerts for an operator: the unsent ones of each kind whose last mail is
//! an hour old, claimed under one lease per kind, and recorded sent once
//! the mail went out (`claim_operator_alerts`, `record_operator_alerts_sent`:
//! supabase/schemas/operations.sql, where the alerts are also raised).

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{seconds, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Dispute,
    StuckFollowup,
    ReportFailed,
    CatalogSync,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dispute => "dispute",
            Self::StuckFollowup => "stuck_followup",
            Self::ReportFailed => "report_failed",
            Self::CatalogSync => "catalog_sync",
        }
    }
}

impl FromStr for AlertKind {
    type Err = StoreError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "dispute" => Self::Dispute,
            "stuck_followup" => Self::StuckFollowup,
            "report_failed" => Self::ReportFailed,
            "catalog_sync" => Self::CatalogSync,
            other => {
                return Err(StoreError::Unexpected(format!(
                    "claim_operator_alerts returned an alert of kind {other:?}"
                )))
            }
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Alert {
    pub subject: String,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// The unsent alerts of one kind, claimed together: one mail.
#[derive(Debug, Clone)]
pub struct AlertBatch {
    pub kind: AlertKind,
    pub lease_token: Uuid,
    pub alerts: Vec<Alert>,
}

impl AlertBatch {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let kind: &str = row.try_get("kind")?;
        let alerts: serde_json::Value = row.try_get("alerts")?;
        Ok(Self {
            kind: kind.parse()?,
            lease_token: row.try_get("lease_token")?,
            alerts: serde_json::from_value(alerts)
                .map_err(|e| StoreError::Unexpected(format!("claim_operator_alerts: {e}")))?,
        })
    }
}

impl Store {
    /// The kinds of alerts due a mail, each with its alerts, for `lease`.
    pub async fn claim_operator_alerts(
        &self,
        lease: Duration,
    ) -> Result<Vec<AlertBatch>, StoreError> {
        self.client()
            .await?
            .query(
                "select kind, lease_token, alerts from public.claim_operator_alerts($1)",
                &[&seconds(lease)],
            )
            .await?
            .iter()
            .map(AlertBatch::from_row)
            .collect()
    }

    /// The batch's mail went out. `AlertLeaseLost` when the lease is gone
    /// (another engine took them; nothing was written).
    pub async fn record_operator_alerts_sent(&self, batch: &AlertBatch) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "select public.record_operator_alerts_sent($1, $2)",
                &[&batch.kind.as_str(), &batch.lease_token],
            )
            .await
            .map_err(|e| {
                if super::lease_gone(&e) {
                    StoreError::AlertLeaseLost(batch.kind.as_str())
                } else {
                    StoreError::Db(e)
                }
            })?;
        Ok(())
    }
}
