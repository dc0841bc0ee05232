//! What `/metrics` shows, kept between scrapes: the counters of this
//! process (webhooks and checkouts by outcome), and the shop's figures as
//! the database last gave them (`operations_metrics()`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prometheus::{IntCounterVec, Opts, Registry};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::recent::Recent;

/// What this process counts, and the database's last figures.
#[derive(Clone)]
pub struct Metrics {
    pub(super) registry: Registry,
    webhooks: IntCounterVec,
    checkouts: IntCounterVec,
    /// The database's figures of the last scrape, shared for a moment.
    pub(super) figures: Recent<Option<ShopFigures>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| {
            let counter = IntCounterVec::new(Opts::new(name, help), &["outcome"])
                .expect("a counter with a valid name");
            registry
                .register(Box::new(counter.clone()))
                .expect("each counter is registered once");
            counter
        };
        let webhooks = counter(
            "modelpick_stripe_webhooks_total",
            "Stripe webhook deliveries by outcome (fulfilled, already_fulfilled, ignored, refused, ...)",
        );
        let checkouts = counter(
            "modelpick_checkouts_total",
            "Checkout requests by outcome (created, or the error code answered)",
        );
        Self {
            registry,
            webhooks,
            checkouts,
            figures: Recent::default(),
        }
    }
}

impl Metrics {
    pub fn webhook(&self, outcome: &str) {
        self.webhooks.with_label_values(&[outcome]).inc();
    }

    pub fn checkout(&self, outcome: &str) {
        self.checkouts.with_label_values(&[outcome]).inc();
    }
}

/// What `public.operations_metrics()` says.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopFigures {
    pub now: DateTime<Utc>,
    pub reports_by_status: BTreeMap<String, i64>,
    pub oldest_waiting_paid_at: Option<DateTime<Utc>>,
    pub calls_24h: Vec<CallCount>,
    #[serde(deserialize_with = "crate::money::exact")]
    pub model_spend_usd_24h: Decimal,
    #[serde(deserialize_with = "crate::money::exact")]
    pub revenue_usd_24h: Decimal,
    pub refunds_24h: i64,
    pub stuck_followups: i64,
    pub open_disputes: i64,
    pub unsent_alerts: i64,
    pub catalog_synced_at: Option<DateTime<Utc>>,
    pub engine_swept_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CallCount {
    pub model: String,
    pub outcome: String,
    pub calls: i64,
}
