//! `modelpick ops`: an operator's questions, answered from the database
//! (`DATABASE_URL`) in plain text: how the business did today and this
//! week (`summary`), what needs a person (`stuck`), and one report's story
//! (`report <id>`).

use std::fmt::Write;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::engine::store::operations::{
    DisputeRow, ExpiredLease, ReportStory, StoryCalls, StoryFollowup, StoryReport, StorySession,
    Stuck, StuckFollowup, Summary, Window,
};
use crate::engine::store::{Store, StoreError};
use crate::money::dollars;

pub async fn summary(store: &Store) -> Result<String, StoreError> {
    Ok(summary_text(&store.operations_summary().await?))
}

pub async fn stuck(store: &Store) -> Result<String, StoreError> {
    Ok(stuck_text(&store.operations_stuck().await?))
}

pub async fn report(store: &Store, report_id: Uuid) -> Result<String, StoreError> {
    Ok(match store.report_story(report_id).await? {
        Some(story) => story_text(&story),
        None => format!("No report {report_id}.\n"),
    })
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One row of the summary: its name, and its value for a window.
type SummaryRow = (&'static str, fn(&Window) -> String);

fn summary_text(summary: &Summary) -> String {
    let rows: [SummaryRow; 8] = [
        ("paid", |w| w.paid.to_string()),
        ("complete", |w| w.complete.to_string()),
        ("failed", |w| w.failed.to_string()),
        ("refunded", |w| w.refunded.to_string()),
        ("payments", |w| dollars(w.payments_usd)),
        ("refunds", |w| dollars(w.refunds_usd)),
        ("model spend", |w| dollars(w.model_spend_usd)),
        ("margin", |w| dollars(w.margin())),
    ];
    let mut text = format!(
        "{:<12} {:>24} {:>12}\n",
        "",
        format!("today (since {})", summary.today.since.format("%H:%M UTC")),
        "7 days"
    );
    for (name, value) in rows {
        let _ = writeln!(
            text,
            "{name:<12} {:>24} {:>12}",
            value(&summary.today),
            value(&summary.week)
        );
    }
    text
}

fn stuck_text(stuck: &Stuck) -> String {
    let mut text = String::new();
    let mut section = |title: &str, lines: Vec<String>| {
        let _ = writeln!(text, "{title} ({}):", lines.len());
        for line in lines {
            let _ = writeln!(text, "  {line}");
        }
    };
    section(
        "Paid reports no engine has started for 5 minutes",
        stuck
            .waiting
            .iter()
            .map(|r| {
                format!(
                    "{}  paid {}, {} claims",
                    r.report_id,
                    when(r.paid_at),
                    r.attempts
                )
            })
            .collect(),
    );
    section(
        "Running reports whose lease expired",
        stuck.lease_expired.iter().map(expired_line).collect(),
    );
    section(
        "Emails and refunds that keep failing",
        stuck.followups.iter().map(followup_line).collect(),
    );
    section(
        "Payment disputes of the last 120 days (answer each in Stripe's Dashboard)",
        stuck.disputes.iter().map(dispute_line).collect(),
    );
    let _ = writeln!(text, "Alerts not mailed yet: {}", stuck.unsent_alerts);
    text
}

fn expired_line(r: &ExpiredLease) -> String {
    format!(
        "{}  held by {} until {}, {} claims",
        r.report_id,
        r.lease_owner.as_deref().unwrap_or("nobody"),
        when(r.lease_expires_at),
        r.attempts
    )
}

fn followup_line(f: &StuckFollowup) -> String {
    let subject = match (&f.report_id, &f.stripe_session_id) {
        (Some(report), _) => format!("report {report}"),
        (None, Some(session)) => format!("checkout session {session}"),
        (None, None) => "nothing".into(),
    };
    format!(
        "#{} {} of {subject}: {} attempts, next {}: {}",
        f.id,
        f.kind,
        f.attempts,
        when(f.next_attempt_at),
        f.last_error.as_deref().unwrap_or("no error recorded")
    )
}

fn dispute_line(d: &DisputeRow) -> String {
    format!(
        "{} {}: {}, {}, {}",
        d.dispute_id,
        d.stripe_session_id
            .as_deref()
            .unwrap_or("(not a payment of ours)"),
        cents(d.amount, d.currency.as_deref()),
        d.reason.as_deref().unwrap_or("no reason"),
        when(d.at)
    )
}

/// An amount in cents, as `14.99 USD`.
fn cents(amount: Option<i64>, currency: Option<&str>) -> String {
    let amount = amount.unwrap_or(0);
    format!(
        "{}.{:02} {}",
        amount / 100,
        amount % 100,
        currency.unwrap_or("").to_uppercase()
    )
}

fn story_text(story: &ReportStory) -> String {
    let r = &story.report;
    let mut lines = vec![
        format!(
            "owner: {}",
            r.owner.as_deref().unwrap_or("(account deleted)")
        ),
        payment_line(r, story.session.as_ref()),
        format!(
            "claimed {} times; started {}; finished {}{}",
            r.attempts,
            r.started_at.map(when).unwrap_or_else(|| "not yet".into()),
            r.finished_at.map(when).unwrap_or_else(|| "not yet".into()),
            match (&r.lease_owner, r.lease_expires_at) {
                (Some(owner), Some(until)) => format!("; held by {owner} until {}", when(until)),
                _ => String::new(),
            }
        ),
        format!(
            "calls: {} of {} made{}; they cost {} ({} unsettled)",
            r.runs_done,
            r.runs_planned,
            if r.cut_short { ", cut short" } else { "" },
            dollars(r.cost_spent),
            dollars(r.cost_unsettled)
        ),
    ];
    lines.extend(story.calls.iter().map(calls_line));
    lines.extend(story.followups.iter().map(story_followup_line));
    if let Some(at) = r.refunded_at {
        lines.push(format!(
            "refunded {} ({})",
            when(at),
            r.refund_id.as_deref().unwrap_or("no id")
        ));
    }
    lines.extend(story.disputes.iter().map(|d| {
        format!(
            "disputed {} ({}, {})",
            when(d.at),
            d.dispute_id,
            d.reason.as_deref().unwrap_or("no reason")
        )
    }));
    let reason = r
        .status_reason
        .as_deref()
        .map(|why| format!(" ({why})"))
        .unwrap_or_default();
    let mut text = format!("Report {}: {}{reason}\n", r.id, r.status);
    for line in lines {
        let _ = writeln!(text, "  {line}");
    }
    text
}

fn payment_line(r: &StoryReport, session: Option<&StorySession>) -> String {
    let Some(s) = session else {
        return format!("paid {} (no checkout session on record)", when(r.paid_at));
    };
    format!(
        "paid {} through {} ({}: {}, payment {}{}){}",
        when(r.paid_at),
        s.id,
        s.status,
        cents(s.amount_total, s.currency.as_deref()),
        s.payment_intent.as_deref().unwrap_or("unknown"),
        s.amount_refunded
            .filter(|a| *a > 0)
            .map(|a| format!(", {} refunded", cents(Some(a), s.currency.as_deref())))
            .unwrap_or_default(),
        s.detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    )
}

fn calls_line(c: &StoryCalls) -> String {
    format!(
        "  {}: {} calls, {} passed, {} failed, {} unavailable, {}{}",
        c.model,
        c.calls,
        c.passed,
        c.failed,
        c.unavailable,
        dollars(c.cost),
        c.last_error
            .as_deref()
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default()
    )
}

fn story_followup_line(f: &StoryFollowup) -> String {
    match f.done_at {
        Some(done) => format!("{}: done {}", f.kind, when(done)),
        None => format!(
            "{}: not done after {} attempts{}{}",
            f.kind,
            f.attempts,
            f.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default(),
            if f.alerted_at.is_some() {
                " (operator alerted)"
            } else {
                ""
            }
        ),
    }
}
