//! After a report ends: the completion email (once) and, for a paid report
//! that produced nothing, a refund. Run after each report and on every
//! sweep, so one lost to a crash or an outage is done later; Resend and
//! Stripe deduplicate by the idempotency keys, and the database records
//! each step once it is done.

use uuid::Uuid;

use crate::email::{Email, Resend};
use crate::html::escape;
use crate::stripe::client::StripeClient;
use crate::stripe::types::SessionId;

/// Who to tell and how; either part may be absent (not configured).
pub struct Followups {
    pub resend: Option<Resend>,
    pub stripe: Option<StripeClient>,
    /// Where report links point.
    pub site_url: String,
}

fn completion_email<'a>(
    site_url: &str,
    report_id: Uuid,
    status: &str,
    reason: Option<&str>,
    to: &'a str,
) -> Email<'a> {
    let link = format!("{site_url}/report/{report_id}");
    let (subject, lead) = if status == "complete" {
        (
            "Your ModelPick report is ready".to_owned(),
            "Your benchmark has finished. See which model reads your documents best:".to_owned(),
        )
    } else {
        (
            "Your ModelPick benchmark could not finish".to_owned(),
            format!(
                "{} Your payment is being refunded.",
                reason.unwrap_or("The benchmark could not produce a result.")
            ),
        )
    };
    let note = match (status, reason) {
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

async fn record_error(client: &tokio_postgres::Client, report_id: Uuid, error: &str) {
    tracing::error!(%error, "follow-up failed; will retry");
    let _ = client
        .execute(
            "select public.record_report_followup_error($1, $2)",
            &[&report_id, &error],
        )
        .await;
}

/// Does what is owed for finished reports; errors are recorded on the
/// report and retried on the next sweep.
pub async fn run_pending(db: &deadpool_postgres::Pool, followups: &Followups) {
    let Ok(client) = db.get().await else { return };
    let Ok(rows) = client
        .query("select * from public.pending_report_followups(20)", &[])
        .await
    else {
        return;
    };
    for row in rows {
        let report_id: Uuid = row.get("report_id");
        let status: String = row.get("status");
        let email: Option<String> = row.get("email");
        let session: Option<String> = row.get("stripe_session_id");
        let span = tracing::info_span!("followup", report.id = %report_id);
        let _entered = span.enter();

        if row.get::<_, bool>("needs_refund") {
            let Some(stripe) = &followups.stripe else {
                continue;
            };
            let Some(session_id) = session.as_deref().and_then(SessionId::parse) else {
                continue;
            };
            match stripe.refund_session(&session_id, report_id).await {
                Ok(refund) => {
                    let _ = client
                        .execute(
                            "select public.record_report_refund($1, $2)",
                            &[&report_id, &refund.id],
                        )
                        .await;
                    tracing::info!(stripe.refund_id = %refund.id, "paid report refunded");
                }
                Err(e) => {
                    record_error(&client, report_id, &format!("refund: {e}")).await;
                    continue;
                }
            }
        }
        if row.get::<_, bool>("needs_email") {
            let (Some(resend), Some(to)) = (&followups.resend, email.as_deref()) else {
                continue;
            };
            let reason: Option<String> = client
                .query_one(
                    "select status_reason from public.reports where id = $1",
                    &[&report_id],
                )
                .await
                .ok()
                .and_then(|r| r.get(0));
            let message = completion_email(
                &followups.site_url,
                report_id,
                &status,
                reason.as_deref(),
                to,
            );
            match resend.send(&message).await {
                Ok(()) => {
                    let _ = client
                        .execute("select public.record_report_email_sent($1)", &[&report_id])
                        .await;
                    tracing::info!("completion email sent");
                }
                Err(e) => {
                    record_error(&client, report_id, &format!("email: {e}")).await;
                }
            }
        }
    }
}
