//! After a report ends: the completion email and, for a paid report that
//! produced nothing, the refund. Each is a row of its own in the database
//! (013_fair_followups.sql) with its own attempts and backoff, so the sweep
//! does whatever is due, oldest first, a few at a time; one that keeps
//! failing waits for its turn and never holds up the others, and the email
//! does not wait for the refund. Resend and Stripe deduplicate by the
//! idempotency keys, so an attempt repeated after a crash is harmless.

use futures_util::StreamExt;
use tracing::Instrument;

use super::store::{DueFollowup, FollowupKind, RefundState, Store};
use crate::config::FollowupSettings;
use crate::email::{Email, Resend};
use crate::html::escape;
use crate::stripe::client::StripeClient;
use crate::stripe::types::SessionId;

/// Who to tell and how; either part may be absent (not configured).
pub struct Followups {
    pub store: Store,
    pub resend: Option<Resend>,
    pub stripe: Option<StripeClient>,
    /// Where report links point.
    pub site_url: String,
    pub retry: FollowupSettings,
}

/// Follow-ups done at once, so one slow provider call delays only itself.
const AT_ONCE: usize = 8;
/// Due follow-ups read per round, and rounds per sweep at most (what is
/// left waits for the next sweep).
const BATCH: i32 = 50;
const ROUNDS: usize = 20;

fn completion_email<'a>(site_url: &str, due: &DueFollowup, to: &'a str) -> Email<'a> {
    let report_id = due.report_id;
    let link = format!("{site_url}/report/{report_id}");
    let (subject, lead) = if due.status == "complete" {
        (
            "Your ModelPick report is ready".to_owned(),
            "Your benchmark has finished. See which model reads your documents best:".to_owned(),
        )
    } else {
        let refund = match due.refund_state {
            RefundState::Refunded => " Your payment has been refunded.",
            RefundState::Pending => " Your payment is being refunded.",
            RefundState::Failing => {
                " Refunding your payment has not worked yet; we have been alerted and will make it right."
            }
            RefundState::None => "",
        };
        (
            "Your ModelPick benchmark could not finish".to_owned(),
            format!(
                "{}{refund}",
                due.status_reason
                    .as_deref()
                    .unwrap_or("The benchmark could not produce a result.")
            ),
        )
    };
    let note = match (due.status.as_str(), due.status_reason.as_deref()) {
        ("complete", Some(reason)) => format!("\n\nNote: {reason}"),
        _ => String::new(),
    };
    Email {
        to,
        text: format!("{lead}\n\n{link}{note}\n\n— ModelPick"),
        html: format!(
            "<p>{}</p><p><a href=\"{link}\">{link}</a></p>{}<p>— ModelPick</p>",
            escape(&lead),
            if note.is_empty() {
                String::new()
            } else {
                format!("<p>{}</p>", escape(note.trim()))
            }
        ),
        subject,
        idempotency_key: format!("report-finished/{report_id}"),
    }
}

/// Does every follow-up that is due, a few at a time, until none is.
pub async fn run_pending(followups: &Followups) {
    for _ in 0..ROUNDS {
        let due = match followups.store.due_followups(BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the follow-ups due");
                return;
            }
        };
        let round = due.len();
        futures_util::stream::iter(due)
            .for_each_concurrent(AT_ONCE, |due| {
                let span = tracing::info_span!("followup", report.id = %due.report_id, followup.kind = due.kind.as_str());
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
        FollowupKind::Refund => refund(followups, &due).await.map(Some),
    };
    let store = &followups.store;
    match outcome {
        Ok(refund_id) => match store
            .complete_followup(due.report_id, due.kind, refund_id.as_deref())
            .await
        {
            Ok(()) => tracing::info!(stripe.refund_id = refund_id.as_deref(), "follow-up done"),
            Err(e) => {
                tracing::warn!(error = %e, "follow-up done but not recorded; it will be repeated (idempotently)")
            }
        },
        Err(why) => match store
            .fail_followup(due.report_id, due.kind, &why, &followups.retry)
            .await
        {
            Ok(true) => {
                tracing::error!(error = %why, attempts = followups.retry.alert_after, "follow-up keeps failing; operator attention needed (private.stuck_followups)")
            }
            Ok(false) => tracing::warn!(error = %why, "follow-up failed; will retry later"),
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
        .send(&completion_email(&followups.site_url, due, to))
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
        .ok_or("the report has no checkout session to refund")?;
    stripe
        .refund_session(&session, due.report_id)
        .await
        .map(|refund| refund.id)
        .map_err(|e| e.to_string())
}
