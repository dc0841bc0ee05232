//! After a report ends: the completion email and, for a paid report that
//! produced nothing, the refund; after a paid checkout session that could
//! not become a report (its draft was already paid for, say), its refund
//! and an email saying so. Each is a row of its own in the database
//! (013_fair_followups.sql, 017_paid_twice.sql, 022_claimed_followups.sql)
//! with its own attempts and backoff: the sweep claims whatever is due,
//! oldest first, under a lease (no two engines do the same one), and does
//! it a few at a time; one that keeps failing waits for its turn and never
//! holds up the others, and the email does not wait for the refund. An
//! engine that dies doing one leaves it to another when its lease expires;
//! Resend and Stripe deduplicate by the idempotency keys, so that attempt
//! repeated is harmless.

use futures_util::StreamExt;
use tracing::Instrument;

use super::store::{
    AfterFailure, DueFollowup, FollowupKind, RefundState, Store, StoreError, Subject,
};
use crate::config::FollowupSettings;
use crate::email::{Email, Resend};
use crate::stripe::client::{RefundFor, StripeClient};
use crate::stripe::types::SessionId;
use crate::templates::{email_bodies, EmailParts};

/// Who to tell and how; either part may be absent (not configured).
pub struct Followups {
    pub store: Store,
    /// The engine's name on its claims.
    pub worker: String,
    pub resend: Option<Resend>,
    pub stripe: Option<StripeClient>,
    /// Storage, where images past their retention are deleted; none: they
    /// wait (tests that do not need it).
    pub storage: Option<std::sync::Arc<crate::engine::images::ImageSource>>,
    /// Where report links point.
    pub site_url: String,
    pub retry: FollowupSettings,
}

/// Follow-ups done at once, so one slow provider call delays only itself.
const AT_ONCE: usize = 8;
/// Follow-ups claimed per round, and rounds per sweep at most (what is
/// left waits for the next sweep).
const BATCH: i32 = 50;
const ROUNDS: usize = 20;

/// What a refund's state adds to an email, in words.
fn refund_sentence(state: RefundState) -> &'static str {
    match state {
        RefundState::Refunded => " Your payment has been refunded.",
        RefundState::Pending => " Your payment is being refunded.",
        RefundState::Failing => {
            " Refunding your payment has not worked yet; we have been alerted and will make it right."
        }
        RefundState::None => "",
    }
}

/// The email a follow-up sends, in parts.
struct Message {
    subject: &'static str,
    lead: String,
    /// Why a complete report was cut short, if it was.
    note: Option<String>,
    /// The report (for a session: the one its draft did get), if any.
    link: Option<String>,
    idempotency_key: String,
}

fn message(site_url: &str, due: &DueFollowup) -> Message {
    let reason = |otherwise: &str| {
        format!(
            "{}{}",
            due.status_reason.as_deref().unwrap_or(otherwise),
            refund_sentence(due.refund_state)
        )
    };
    let link = due
        .report_id
        .map(|report_id| format!("{site_url}/report/{report_id}"));
    match &due.subject {
        Subject::Session(session) => Message {
            subject: "We refunded a payment for your ModelPick benchmark",
            lead: reason("This payment could not start a benchmark."),
            note: None,
            link,
            idempotency_key: format!("session-refunded/{session}"),
        },
        Subject::Report(report_id) if due.status == "complete" => Message {
            subject: "Your ModelPick report is ready",
            lead: "Your benchmark has finished. See which model reads your documents best:".into(),
            note: due.status_reason.clone(),
            link,
            idempotency_key: format!("report-finished/{report_id}"),
        },
        Subject::Report(report_id) => Message {
            subject: "Your ModelPick benchmark could not finish",
            lead: reason("The benchmark could not produce a result."),
            note: None,
            link,
            idempotency_key: format!("report-finished/{report_id}"),
        },
    }
}

/// When a report's images go, said in its email (IMAGE_RETENTION_DAYS).
fn retention_sentence(due: &DueFollowup, days: u32) -> Option<String> {
    matches!(due.subject, Subject::Report(_)).then(|| {
        let finished = due.finished_at.unwrap_or_else(chrono::Utc::now);
        let on = finished + chrono::Duration::days(i64::from(days));
        format!(
            "We delete this report's document images on {} ({days} days after it finished); the report stays readable without them, and you can delete them sooner on its page.",
            on.format("%B %-d, %Y")
        )
    })
}

fn completion_email<'a>(
    site_url: &str,
    due: &DueFollowup,
    to: &'a str,
    retention_days: u32,
) -> Email<'a> {
    let Message {
        subject,
        lead,
        note,
        link,
        idempotency_key,
    } = message(site_url, due);
    let retention = retention_sentence(due, retention_days);
    let (text, html) = email_bodies(&EmailParts {
        lead: &lead,
        link: link.as_deref(),
        note: note.as_deref(),
        retention: retention.as_deref(),
        unsubscribe: None,
    });
    Email {
        to,
        text,
        html,
        subject: subject.to_owned(),
        idempotency_key,
        one_click_unsubscribe: None,
    }
}

/// Does every follow-up that is due, a few at a time, until none is.
pub async fn run_pending(followups: &Followups) {
    for _ in 0..ROUNDS {
        let claimed = followups
            .store
            .claim_followups(&followups.worker, BATCH, followups.retry.lease)
            .await;
        let due = match claimed {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim the follow-ups due");
                return;
            }
        };
        let round = due.len();
        futures_util::stream::iter(due)
            .for_each_concurrent(AT_ONCE, |due| {
                let span = match &due.subject {
                    Subject::Report(id) => tracing::info_span!("followup", report.id = %id, followup.kind = due.kind.as_str()),
                    Subject::Session(id) => tracing::info_span!("followup", stripe.session_id = %id, followup.kind = due.kind.as_str()),
                };
                follow_up(followups, due).instrument(span)
            })
            .await;
        // A short round means nothing more is due; a full one may leave some.
        if round < BATCH as usize {
            return;
        }
    }
}

/// One follow-up, done and recorded, or failed and rescheduled.
async fn follow_up(followups: &Followups, due: DueFollowup) {
    let outcome = match due.kind {
        FollowupKind::Email => send_email(followups, &due).await.map(|()| None),
        // Refunded meanwhile (in Stripe's Dashboard): done, and never twice.
        FollowupKind::Refund if matches!(due.refund_state, RefundState::Refunded) => Ok(None),
        FollowupKind::Refund => refund(followups, &due).await.map(Some),
    };
    let store = &followups.store;
    match outcome {
        Ok(refund_id) => match store.complete_followup(&due, refund_id.as_deref()).await {
            Ok(()) => tracing::info!(stripe.refund_id = refund_id.as_deref(), "follow-up done"),
            Err(StoreError::FollowupLeaseLost(_)) => {
                tracing::warn!("follow-up done after its lease ended; another engine repeats it (idempotently)")
            }
            Err(e) => {
                tracing::warn!(error = %e, "follow-up done but not recorded; it will be repeated (idempotently)")
            }
        },
        Err(why) => match store.fail_followup(&due, &why, &followups.retry).await {
            Ok(AfterFailure::AlertOperator) => {
                tracing::error!(error = %why, attempts = followups.retry.alert_after, "follow-up keeps failing; operator attention needed (private.stuck_followups)")
            }
            Ok(AfterFailure::Retrying) => {
                tracing::warn!(error = %why, "follow-up failed; will retry later")
            }
            Err(StoreError::FollowupLeaseLost(_)) => {
                tracing::warn!(error = %why, "follow-up failed after its lease ended")
            }
            Err(e) => {
                tracing::warn!(error = %why, record_error = %e, "follow-up failed and could not be rescheduled")
            }
        },
    }
}

async fn send_email(followups: &Followups, due: &DueFollowup) -> Result<(), String> {
    let resend = followups
        .resend
        .as_ref()
        .ok_or("email is not configured (RESEND_API_KEY)")?;
    let to = due
        .email
        .as_deref()
        .ok_or("the user has no email address")?;
    resend
        .send(&completion_email(
            &followups.site_url,
            due,
            to,
            followups.retry.image_retention_days,
        ))
        .await
        .map_err(|e| e.to_string())
}

async fn refund(followups: &Followups, due: &DueFollowup) -> Result<String, String> {
    let stripe = followups
        .stripe
        .as_ref()
        .ok_or("refunds are not configured (STRIPE_SECRET_KEY)")?;
    let session = due
        .stripe_session_id
        .as_deref()
        .and_then(SessionId::parse)
        .ok_or("there is no checkout session to refund")?;
    let refund_for = match &due.subject {
        Subject::Report(report_id) => RefundFor::FailedReport(*report_id),
        Subject::Session(_) => RefundFor::UnfulfilledSession,
    };
    stripe
        .refund_session(&session, refund_for)
        .await
        .map(|refund| refund.id)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_go_a_retention_period_after_the_report_finished_not_after_the_email() {
        let finished = chrono::DateTime::parse_from_rfc3339("2026-03-01T23:30:00Z")
            .unwrap()
            .to_utc();
        let due = DueFollowup {
            id: 1,
            lease_token: uuid::Uuid::nil(),
            subject: Subject::Report(uuid::Uuid::nil()),
            kind: FollowupKind::Email,
            report_id: Some(uuid::Uuid::nil()),
            stripe_session_id: None,
            status: "complete".into(),
            status_reason: None,
            email: Some("owner@example.test".into()),
            refund_state: RefundState::None,
            finished_at: Some(finished),
        };
        let sentence = retention_sentence(&due, 30).unwrap();
        assert!(
            sentence.contains("on March 31, 2026 (30 days after it finished)"),
            "{sentence}"
        );
        let session = DueFollowup {
            subject: Subject::Session("cs_test".into()),
            ..due
        };
        assert_eq!(
            retention_sentence(&session, 30),
            None,
            "no report, no images"
        );
    }
}
