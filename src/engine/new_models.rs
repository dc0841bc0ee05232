//! New models for watched reports: after a catalog sync offers models a
//! watched report did not try, its owner gets one email naming them, with
//! their prices and a link that opens a re-run draft with them and the
//! report's pick already chosen (nothing runs until the owner pays), at most
//! one a week per report, each model named once (supabase/schemas/watches.sql).
//! Each watch is claimed under a lease; an engine that dies between sending
//! and recording leaves it to the next, and Resend drops the second send by
//! its idempotency key (the report and the models named).

use sha2::{Digest, Sha256};

use super::followup::Followups;
use super::store::{DueWatch, StoreError};
use crate::email::Email;
use crate::money::rate;
use crate::templates::{email_bodies, EmailParts};

/// Watches claimed per round; rounds per sweep at most.
const BATCH: i32 = 20;
const ROUNDS: usize = 10;

/// Mails every watch with models to name; what is left waits for the next
/// sweep. Without Resend, watches wait.
pub async fn send_due(followups: &Followups) {
    let Some(resend) = followups.resend.as_ref() else {
        return;
    };
    let store = &followups.store;
    for _ in 0..ROUNDS {
        let due = match store
            .claim_watch_emails(&followups.worker, BATCH, followups.retry.lease)
            .await
        {
            Ok(due) if due.is_empty() => return,
            Ok(due) => due,
            Err(error) => return tracing::warn!(%error, "watched reports could not be read"),
        };
        for watch in due {
            let email = watch_email(&followups.site_url, &watch);
            if let Err(error) = resend.send(&email).await {
                tracing::warn!(report.id = %watch.report_id, %error, "new-model email not sent; tried again once its lease ends");
                continue;
            }
            match store.complete_watch_email(&watch).await {
                Ok(()) => {
                    tracing::info!(report.id = %watch.report_id, models = watch.models.len(), "new-model email sent")
                }
                Err(StoreError::Refused(why)) => {
                    tracing::warn!(report.id = %watch.report_id, why, "new-model email sent; another engine took the watch")
                }
                Err(error) => {
                    tracing::warn!(report.id = %watch.report_id, %error, "new-model email sent but not recorded; its idempotency key stops a second one")
                }
            }
        }
    }
}

/// The email about a watch's new models.
pub fn watch_email<'a>(site_url: &str, watch: &'a DueWatch) -> Email<'a> {
    let names: Vec<String> = watch
        .models
        .iter()
        .map(|m| {
            format!(
                "{} ({} / {} per million tokens in / out)",
                m.display_name,
                rate(m.prompt_usd_per_mtok),
                rate(m.completion_usd_per_mtok)
            )
        })
        .collect();
    let (offered, them) = match names.len() {
        1 => ("a new vision model is offered".to_owned(), "it"),
        n => (format!("{n} new vision models are offered"), "them"),
    };
    let against = watch.pick.as_ref().map_or(String::new(), |pick| {
        format!(" against {}, your report's pick,", pick.display_name)
    });
    let lead = format!(
        "Since you ran \u{201c}{name}\u{201d}, {offered}: {list}. Run the same documents on {them}{against} to see whether the pick changes. The link opens a draft with {them} chosen; nothing runs and nothing is charged until you pay.",
        name = watch.report_name,
        list = names.join("; "),
    );
    let ids: Vec<&str> = watch.models.iter().map(|m| m.id.as_str()).collect();
    let link = format!(
        "{site_url}/report/{}?again={}",
        watch.report_id,
        ids.join(",")
    );
    let unsubscribe = format!("{site_url}/unsubscribe?token={}", watch.unsubscribe_token);
    let one_click = format!(
        "{site_url}/api/unsubscribe?token={}",
        watch.unsubscribe_token
    );
    let (text, html) = email_bodies(&EmailParts {
        lead: &lead,
        link: Some(&link),
        note: None,
        retention: None,
        unsubscribe: Some(&unsubscribe),
    });
    Email {
        to: &watch.email,
        subject: format!("New models for \u{201c}{}\u{201d}", watch.report_name),
        text,
        html,
        idempotency_key: format!(
            "report-watch/{}/{}",
            watch.report_id,
            hex::encode(Sha256::digest(ids.join(",")))
        ),
        one_click_unsubscribe: Some(one_click),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::{OfferedModel, Pick};

    #[test]
    fn the_email_names_each_model_with_its_prices_and_links_the_draft_and_the_way_out() {
        let watch = DueWatch {
            report_id: uuid::Uuid::nil(),
            lease_token: uuid::Uuid::nil(),
            email: "owner@example.test".into(),
            report_name: "March invoices".into(),
            unsubscribe_token: "t0k3n".into(),
            pick: Some(Pick {
                id: "openai/gpt-4o-mini".into(),
                display_name: "GPT-4o-mini".into(),
            }),
            models: vec![OfferedModel {
                id: "acme/vision-pro".into(),
                display_name: "Acme: Vision Pro".into(),
                prompt_usd_per_mtok: "0.2".parse().unwrap(),
                completion_usd_per_mtok: "0.8".parse().unwrap(),
            }],
        };
        let email = watch_email("https://modelpick.example", &watch);
        assert_eq!(
            email.subject,
            "New models for \u{201c}March invoices\u{201d}"
        );
        assert!(
            email.text.starts_with(
                "Since you ran \u{201c}March invoices\u{201d}, a new vision model is offered: "
            ),
            "{}",
            email.text
        );
        assert!(email
            .text
            .contains("Acme: Vision Pro ($0.20 / $0.80 per million tokens in / out)"));
        assert!(email
            .text
            .contains("against GPT-4o-mini, your report's pick, to see whether the pick changes"));
        assert!(email.text.contains("https://modelpick.example/report/00000000-0000-0000-0000-000000000000?again=acme/vision-pro"));
        assert!(email
            .text
            .contains("https://modelpick.example/unsubscribe?token=t0k3n"));
        assert!(email
            .html
            .contains("href=\"https://modelpick.example/unsubscribe?token=t0k3n\""));
        let again = watch_email("https://modelpick.example", &watch);
        assert_eq!(
            again.idempotency_key, email.idempotency_key,
            "the same mail, the same key"
        );
    }
}
