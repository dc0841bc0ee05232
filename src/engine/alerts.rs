//! Mails an operator (OPERATOR_EMAIL) what needs a person: disputes,
//! follow-ups that keep failing, failed reports, a catalog that has not
//! synced for a day. The database raises each alert once where it happens
//! and decides which kinds are due (at most one mail per kind an hour);
//! this sends one mail per due kind, and records it sent.

use crate::email::Email;
use crate::engine::followup::Followups;
use crate::engine::store::{AlertBatch, AlertKind, StoreError};
use crate::templates::{alert_bodies, AlertLine, AlertParts};

/// Sends the due alerts, when an operator address and email are set up.
/// What fails is sent again once its lease ends.
pub async fn send_pending(followups: &Followups) {
    let (Some(to), Some(resend)) = (
        followups.retry.operator_email.as_deref(),
        followups.resend.as_ref(),
    ) else {
        return;
    };
    let batches = match followups
        .store
        .claim_operator_alerts(followups.retry.lease)
        .await
    {
        Ok(batches) => batches,
        Err(e) => return tracing::warn!(error = %e, "operator alerts could not be claimed"),
    };
    for batch in batches {
        let kind = batch.kind.as_str();
        if let Err(e) = resend.send(&alert_email(&batch, to)).await {
            tracing::error!(alert.kind = kind, error = %e, "operator alert not sent; will retry");
            continue;
        }
        match followups.store.record_operator_alerts_sent(&batch).await {
            Ok(()) => tracing::info!(
                alert.kind = kind,
                alerts = batch.alerts.len(),
                "operator alerted"
            ),
            Err(StoreError::AlertLeaseLost(_)) => {
                tracing::warn!(
                    alert.kind = kind,
                    "operator alerted after the lease ended; the mail may repeat"
                )
            }
            Err(e) => {
                tracing::warn!(alert.kind = kind, error = %e, "operator alerted but not recorded; the mail may repeat")
            }
        }
    }
}

/// The subject, the lead and where to look, for each kind.
fn wording(kind: AlertKind, count: usize) -> (String, &'static str, &'static str) {
    let many = |one: &str, more: &str| {
        if count == 1 {
            one.to_owned()
        } else {
            format!("{count} {more}")
        }
    };
    match kind {
        AlertKind::Dispute => (
            format!("[ModelPick] {} to answer", many("A payment dispute", "payment disputes")),
            "A buyer's bank disputed a payment. Answer each dispute in Stripe's Dashboard (Payments, Disputes) before its deadline, or it is lost.",
            "`modelpick ops stuck` lists them with their checkout sessions.",
        ),
        AlertKind::StuckFollowup => (
            format!("[ModelPick] {} keep failing", many("An email or refund", "emails or refunds")),
            "These keep failing after several attempts and need a person:",
            "`modelpick ops stuck` lists them; `modelpick ops report <id>` tells a report's story.",
        ),
        AlertKind::ReportFailed => (
            format!("[ModelPick] {} failed", many("A report", "reports")),
            "These paid reports produced nothing and are being refunded:",
            "`modelpick ops report <id>` tells each one's story, calls and errors included.",
        ),
        AlertKind::CatalogSync => (
            "[ModelPick] The model catalog has not synced for a day".to_owned(),
            "The model catalog could not be synced from the models API for a day, so its prices may be stale:",
            "Check OPENROUTER_BASE_URL and the engine's log; `modelpick catalog sync` tries once and says why it fails.",
        ),
    }
}

fn alert_email<'a>(batch: &AlertBatch, to: &'a str) -> Email<'a> {
    let (subject, lead, hint) = wording(batch.kind, batch.alerts.len());
    let alerts: Vec<AlertLine> = batch
        .alerts
        .iter()
        .map(|a| AlertLine {
            at: a.at,
            detail: a.detail.clone(),
        })
        .collect();
    let (text, html) = alert_bodies(&AlertParts {
        lead,
        alerts: &alerts,
        hint,
    });
    Email {
        to,
        subject,
        text,
        html,
        idempotency_key: format!(
            "operator-alert/{}/{}",
            batch.kind.as_str(),
            batch.lease_token
        ),
        one_click_unsubscribe: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::Alert;

    #[test]
    fn one_mail_lists_every_alert_of_its_kind() {
        let at = "2026-12-07T08:00:00Z".parse().unwrap();
        let batch = AlertBatch {
            kind: AlertKind::Dispute,
            lease_token: uuid::Uuid::nil(),
            alerts: vec![
                Alert {
                    subject: "dp_1".into(),
                    detail: "A payment of 14.99 USD was disputed <b>".into(),
                    at,
                },
                Alert {
                    subject: "dp_2".into(),
                    detail: "Another one".into(),
                    at,
                },
            ],
        };
        let email = alert_email(&batch, "ops@example.test");
        assert_eq!(email.subject, "[ModelPick] 2 payment disputes to answer");
        assert!(email.text.contains("- 2026-12-07 08:00 UTC: A payment of 14.99 USD was disputed <b>\n- 2026-12-07 08:00 UTC: Another one"), "{}", email.text);
        assert!(
            email.html.contains("disputed &#60;b&#62;</li>"),
            "{}",
            email.html
        );
        assert_eq!(
            email.idempotency_key,
            "operator-alert/dispute/00000000-0000-0000-0000-000000000000"
        );
    }
}
