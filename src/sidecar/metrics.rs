//! `GET /metrics`: Prometheus text for an operator's scraper. Not public:
//! it answers only `Authorization: Bearer $METRICS_TOKEN`, and without a
//! token configured there is no such page (404). What this process counts
//! (webhooks and checkouts by outcome) comes from its counters; the shop's
//! state (reports by status, the oldest paid report waiting, the last day's
//! calls, spend, revenue and refunds, stuck follow-ups, the catalog's and
//! the engine's age) from one read of the database (`operations_metrics()`),
//! shared by every scrape for a few seconds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{Encoder, Gauge, GaugeVec, Opts, Registry, TextEncoder};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use warp::http::{header, HeaderValue};
use warp::reply::Response;

use super::counters::{Metrics, ShopFigures};
use super::error::ApiError;
use super::state::AppState;
use crate::config::ExposeSecret;

/// How long one read of the database serves every scrape.
const FIGURES_FOR: Duration = Duration::from_secs(5);

/// `GET /metrics`.
pub async fn metrics(state: AppState, authorization: Option<String>) -> Result<Response, ApiError> {
    let Some(token) = &state.settings.metrics_token else {
        return Err(ApiError::NotFound("no such page".into()));
    };
    if !bearer_matches(authorization.as_deref(), token.expose_secret()) {
        return Err(ApiError::Unauthorized(
            "metrics need Authorization: Bearer <METRICS_TOKEN>".into(),
        ));
    }
    let figures = match state.metrics.figures.within(FIGURES_FOR) {
        Some(figures) => figures,
        None => {
            let figures = match state.supabase.operations_metrics().await {
                Ok(figures) => Some(figures),
                Err(error) => {
                    tracing::warn!(%error, "metrics: the database does not answer");
                    None
                }
            };
            state.metrics.figures.keep(figures.clone());
            figures
        }
    };
    let text = exposition(&state.metrics, figures.as_ref());
    let mut response = Response::new(text.into());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The caller's bearer token against ours, compared as digests so the time
/// taken says nothing about how much of it was right.
fn bearer_matches(authorization: Option<&str>, token: &str) -> bool {
    let Some(given) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    Sha256::digest(given.trim().as_bytes()) == Sha256::digest(token.as_bytes())
}

/// The process's counters and the shop's figures, in Prometheus text.
fn exposition(metrics: &Metrics, figures: Option<&ShopFigures>) -> String {
    let shop = Registry::new();
    let up = gauge(
        &shop,
        "modelpick_database_up",
        "1 when the database answered the last read of these figures",
    );
    up.set(if figures.is_some() { 1.0 } else { 0.0 });
    if let Some(figures) = figures {
        shop_gauges(&shop, figures);
    }
    let mut families = metrics.registry.gather();
    families.extend(shop.gather());
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut text)
        .expect("metrics encode to text");
    String::from_utf8(text).expect("the text encoder writes UTF-8")
}

fn shop_gauges(shop: &Registry, figures: &ShopFigures) {
    report_gauges(shop, figures);
    money_gauges(shop, figures);
    attention_gauges(shop, figures);
}

/// How long ago `at` was, at the figures' own time, in seconds.
fn ago(figures: &ShopFigures, at: DateTime<Utc>) -> f64 {
    (figures.now - at).num_milliseconds().max(0) as f64 / 1000.0
}

fn report_gauges(shop: &Registry, figures: &ShopFigures) {
    let reports = gauge_vec(shop, "modelpick_reports", "Reports by status", &["status"]);
    for status in ["paid", "running", "complete", "failed"] {
        let count = figures.reports_by_status.get(status).copied().unwrap_or(0);
        reports.with_label_values(&[status]).set(count as f64);
    }
    gauge(
        shop,
        "modelpick_oldest_waiting_report_seconds",
        "How long the oldest paid report no engine has started has waited (0: none waits)",
    )
    .set(
        figures
            .oldest_waiting_paid_at
            .map(|at| ago(figures, at))
            .unwrap_or(0.0),
    );
    let calls = gauge_vec(
        shop,
        "modelpick_model_calls_24h",
        "Model calls of the last 24 hours by model and outcome (answered, failed, unavailable)",
        &["model", "outcome"],
    );
    for call in &figures.calls_24h {
        calls
            .with_label_values(&[call.model.as_str(), call.outcome.as_str()])
            .set(call.calls as f64);
    }
}

fn money_gauges(shop: &Registry, figures: &ShopFigures) {
    let dollars = |amount: Decimal| amount.to_f64().unwrap_or(f64::NAN);
    gauge(
        shop,
        "modelpick_model_spend_usd_24h",
        "What model calls cost in the last 24 hours, in dollars",
    )
    .set(dollars(figures.model_spend_usd_24h));
    gauge(
        shop,
        "modelpick_revenue_usd_24h",
        "What reports paid in the last 24 hours brought in, in dollars",
    )
    .set(dollars(figures.revenue_usd_24h));
    gauge(
        shop,
        "modelpick_refunds_24h",
        "Refunds made in the last 24 hours",
    )
    .set(figures.refunds_24h as f64);
}

fn attention_gauges(shop: &Registry, figures: &ShopFigures) {
    gauge(
        shop,
        "modelpick_stuck_followups",
        "Emails and refunds that keep failing and need a person (private.stuck_followups)",
    )
    .set(figures.stuck_followups as f64);
    gauge(
        shop,
        "modelpick_disputes_120d",
        "Payments disputed in the last 120 days (answer each in Stripe's Dashboard)",
    )
    .set(figures.open_disputes as f64);
    gauge(
        shop,
        "modelpick_unsent_alerts",
        "Alerts for an operator not mailed yet (OPERATOR_EMAIL unset, or within the hour's limit)",
    )
    .set(figures.unsent_alerts as f64);
    if let Some(at) = figures.catalog_synced_at {
        gauge(
            shop,
            "modelpick_catalog_age_seconds",
            "Since the model catalog last synced",
        )
        .set(ago(figures, at));
    }
    if let Some(at) = figures.engine_swept_at {
        gauge(
            shop,
            "modelpick_engine_last_sweep_age_seconds",
            "Since an engine last swept the queue",
        )
        .set(ago(figures, at));
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Gauge {
    registered(registry, Gauge::new(name, help))
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    registered(registry, GaugeVec::new(Opts::new(name, help), labels))
}

/// A metric made and registered, once per scrape's registry.
fn registered<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    made: prometheus::Result<M>,
) -> M {
    let metric = made.expect("a metric with a valid name");
    registry
        .register(Box::new(metric.clone()))
        .expect("each metric is registered once");
    metric
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::counters::CallCount;
    use std::collections::BTreeMap;

    #[test]
    fn only_the_exact_bearer_token_opens_the_metrics() {
        assert!(bearer_matches(Some("Bearer s3cret-token"), "s3cret-token"));
        assert!(!bearer_matches(Some("Bearer s3cret-toke"), "s3cret-token"));
        assert!(!bearer_matches(Some("s3cret-token"), "s3cret-token"));
        assert!(!bearer_matches(Some("Basic s3cret-token"), "s3cret-token"));
        assert!(!bearer_matches(None, "s3cret-token"));
    }

    #[test]
    fn the_shop_figures_become_gauges() {
        let now = Utc::now();
        let figures = ShopFigures {
            now,
            reports_by_status: BTreeMap::from([("paid".into(), 2), ("complete".into(), 7)]),
            oldest_waiting_paid_at: Some(now - chrono::Duration::seconds(90)),
            calls_24h: vec![CallCount {
                model: "google/gemini-2.0-flash".into(),
                outcome: "answered".into(),
                calls: 30,
            }],
            model_spend_usd_24h: "1.25".parse().unwrap(),
            revenue_usd_24h: "29.98".parse().unwrap(),
            refunds_24h: 1,
            stuck_followups: 0,
            open_disputes: 1,
            unsent_alerts: 2,
            catalog_synced_at: Some(now - chrono::Duration::hours(2)),
            engine_swept_at: None,
        };
        let metrics = Metrics::default();
        metrics.webhook("fulfilled");
        metrics.webhook("fulfilled");
        let text = exposition(&metrics, Some(&figures));
        for line in [
            "modelpick_database_up 1",
            "modelpick_reports{status=\"paid\"} 2",
            "modelpick_reports{status=\"running\"} 0",
            "modelpick_reports{status=\"complete\"} 7",
            "modelpick_oldest_waiting_report_seconds 90",
            "modelpick_model_calls_24h{model=\"google/gemini-2.0-flash\",outcome=\"answered\"} 30",
            "modelpick_model_spend_usd_24h 1.25",
            "modelpick_revenue_usd_24h 29.98",
            "modelpick_catalog_age_seconds 7200",
            "modelpick_disputes_120d 1",
            "modelpick_unsent_alerts 2",
            "modelpick_stripe_webhooks_total{outcome=\"fulfilled\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(!text.contains("modelpick_engine_last_sweep_age_seconds "));

        let down = exposition(&metrics, None);
        assert!(
            down.lines().any(|l| l == "modelpick_database_up 0"),
            "{down}"
        );
    }
}
