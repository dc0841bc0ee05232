//! Follow-ups of reports and paid sessions (emails, refunds): claiming the
//! due ones, and completing or failing each under its lease
//! (`claim_followups`, `complete_followup`, `fail_followup`:
//! supabase/schemas/followups.sql). Completion and failure are fenced like
//! report writes: a lease no longer held writes nothing and answers PT410.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::Row;
use uuid::Uuid;

use super::{seconds, Store, StoreError};
use crate::config::FollowupSettings;

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

impl FromStr for FollowupKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "email" => Ok(Self::Email),
            "refund" => Ok(Self::Refund),
            other => Err(format!("a follow-up of kind {other:?}")),
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

impl FromStr for RefundState {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "refunded" => Ok(Self::Refunded),
            "pending" => Ok(Self::Pending),
            "failing" => Ok(Self::Failing),
            "none" => Ok(Self::None),
            other => Err(format!("a refund state of {other:?}")),
        }
    }
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
    /// When the report finished (its images' retention counts from here).
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What happens after a follow-up failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// It waits its backoff and is tried again.
    Retrying,
    /// As `Retrying`, and it has now failed often enough that an operator
    /// should look (said exactly once per follow-up).
    AlertOperator,
}

fn parsed<T: FromStr<Err = String>>(row: &Row, column: &str) -> Result<T, StoreError> {
    let text: &str = row.try_get(column)?;
    text.parse()
        .map_err(|what| StoreError::Unexpected(format!("claim_followups returned {what}")))
}

impl DueFollowup {
    fn from_row(row: &Row) -> Result<Self, StoreError> {
        let report_id: Option<Uuid> = row.try_get("report_id")?;
        let stripe_session_id: Option<String> = row.try_get("stripe_session_id")?;
        let subject = match (
            row.try_get::<_, &str>("subject")?,
            report_id,
            &stripe_session_id,
        ) {
            ("report", Some(report), _) => Subject::Report(report),
            ("session", _, Some(session)) => Subject::Session(session.clone()),
            (subject, _, _) => {
                return Err(StoreError::Unexpected(format!(
                    "claim_followups returned a {subject:?} follow-up without its id"
                )))
            }
        };
        Ok(Self {
            id: row.try_get("id")?,
            lease_token: row.try_get("lease_token")?,
            subject,
            kind: parsed(row, "kind")?,
            report_id,
            stripe_session_id,
            status: row.try_get("status")?,
            status_reason: row.try_get("status_reason")?,
            email: row.try_get("email")?,
            refund_state: parsed(row, "refund_state")?,
            finished_at: row.try_get("finished_at")?,
        })
    }
}

/// A follow-up write that found its lease gone is `FollowupLeaseLost`.
fn fenced(followup: &DueFollowup, error: tokio_postgres::Error) -> StoreError {
    if super::lease_gone(&error) {
        StoreError::FollowupLeaseLost(followup.id)
    } else {
        StoreError::Db(error)
    }
}

impl Store {
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
        rows.iter().map(DueFollowup::from_row).collect()
    }

    /// A claimed follow-up is done (a refund with its Stripe id).
    /// `FollowupLeaseLost` when its lease is no longer held (nothing was
    /// written).
    pub async fn complete_followup(
        &self,
        followup: &DueFollowup,
        refund_id: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "select public.complete_followup($1, $2, $3)",
                &[&followup.id, &followup.lease_token, &refund_id],
            )
            .await
            .map_err(|e| fenced(followup, e))?;
        Ok(())
    }

    /// A claimed follow-up failed and waits its backoff.
    /// `FollowupLeaseLost` when its lease is no longer held (nothing was
    /// written).
    pub async fn fail_followup(
        &self,
        followup: &DueFollowup,
        error: &str,
        retry: &FollowupSettings,
    ) -> Result<AfterFailure, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.fail_followup($1, $2, $3, $4, $5, $6) as alert",
                &[
                    &followup.id,
                    &followup.lease_token,
                    &error,
                    &seconds(retry.first_backoff),
                    &seconds(retry.max_backoff),
                    &(retry.alert_after.max(1) as i32),
                ],
            )
            .await
            .map_err(|e| fenced(followup, e))?;
        Ok(if row.try_get("alert")? {
            AfterFailure::AlertOperator
        } else {
            AfterFailure::Retrying
        })
    }
}
