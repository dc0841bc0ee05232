//! What an operator reads (`operations_summary`, `operations_stuck`,
//! `report_story`: supabase/schemas/operations.sql), as types.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use uuid::Uuid;

use super::{Store, StoreError};

/// The business of a stretch of time.
#[derive(Debug, Clone, Deserialize)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub paid: i64,
    pub complete: i64,
    pub failed: i64,
    pub refunded: i64,
    #[serde(deserialize_with = "crate::money::exact")]
    pub payments_usd: Decimal,
    #[serde(deserialize_with = "crate::money::exact")]
    pub refunds_usd: Decimal,
    #[serde(deserialize_with = "crate::money::exact")]
    pub model_spend_usd: Decimal,
}

impl Window {
    /// What is left of the payments after refunds and model calls.
    pub fn margin(&self) -> Decimal {
        self.payments_usd - self.refunds_usd - self.model_spend_usd
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub today: Window,
    #[serde(rename = "7 days")]
    pub week: Window,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WaitingReport {
    pub report_id: Uuid,
    pub paid_at: DateTime<Utc>,
    pub attempts: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExpiredLease {
    pub report_id: Uuid,
    pub lease_owner: Option<String>,
    pub lease_expires_at: DateTime<Utc>,
    pub attempts: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StuckFollowup {
    pub id: i64,
    pub kind: String,
    pub report_id: Option<Uuid>,
    pub stripe_session_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DisputeRow {
    pub dispute_id: String,
    pub stripe_session_id: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// What needs a person.
#[derive(Debug, Clone, Deserialize)]
pub struct Stuck {
    pub waiting: Vec<WaitingReport>,
    pub lease_expired: Vec<ExpiredLease>,
    pub followups: Vec<StuckFollowup>,
    pub disputes: Vec<DisputeRow>,
    pub unsent_alerts: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoryReport {
    pub id: Uuid,
    pub status: String,
    pub status_reason: Option<String>,
    pub cut_short: bool,
    pub paid_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub runs_planned: i32,
    pub runs_done: i32,
    #[serde(deserialize_with = "crate::money::exact")]
    pub cost_spent: Decimal,
    #[serde(deserialize_with = "crate::money::exact")]
    pub cost_unsettled: Decimal,
    pub email_sent_at: Option<DateTime<Utc>>,
    pub refund_id: Option<String>,
    pub refunded_at: Option<DateTime<Utc>>,
    pub followup_error: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorySession {
    pub id: String,
    pub status: String,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
    pub payment_intent: Option<String>,
    pub amount_refunded: Option<i64>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoryCalls {
    pub model: String,
    pub calls: i64,
    pub passed: i64,
    pub failed: i64,
    pub unavailable: i64,
    #[serde(deserialize_with = "crate::money::exact")]
    pub cost: Decimal,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoryFollowup {
    pub kind: String,
    pub attempts: i32,
    pub done_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub alerted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoryDispute {
    pub dispute_id: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// One report, from payment to follow-ups.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportStory {
    pub report: StoryReport,
    pub session: Option<StorySession>,
    pub calls: Vec<StoryCalls>,
    pub followups: Vec<StoryFollowup>,
    pub disputes: Vec<StoryDispute>,
}

impl Store {
    /// The JSON document a function answers, as `T`; `None` for null.
    async fn document<T: DeserializeOwned>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<T>, StoreError> {
        let value: Option<serde_json::Value> = self.value(sql, params).await?;
        value
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Unexpected(format!("{sql}: {e}")))
    }

    pub async fn operations_summary(&self) -> Result<Summary, StoreError> {
        self.document("select public.operations_summary() as value", &[])
            .await?
            .ok_or_else(|| StoreError::Unexpected("operations_summary() said nothing".into()))
    }

    pub async fn operations_stuck(&self) -> Result<Stuck, StoreError> {
        self.document("select public.operations_stuck() as value", &[])
            .await?
            .ok_or_else(|| StoreError::Unexpected("operations_stuck() said nothing".into()))
    }

    /// `None` for an id that is no report.
    pub async fn report_story(&self, report_id: Uuid) -> Result<Option<ReportStory>, StoreError> {
        self.document("select public.report_story($1) as value", &[&report_id])
            .await
    }
}
