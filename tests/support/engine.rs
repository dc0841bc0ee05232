//! The engine against a fresh database, the local Supabase API (Storage for
//! the images) and the provider stand-in, with knobs for limits and faults.

use std::collections::HashMap;
use std::time::Duration;

use devstack::provider::{self, ProviderConfig, RunningProvider};
use std::sync::Arc;

use modelpick::config::{
    CatalogSettings, EngineSettings, FollowupSettings, ProviderSettings, QueueSettings,
    ResendSettings, RunLimits, StripeApi,
};
use modelpick::engine::followup::Followups;
use modelpick::startup;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::fixtures::create_user;
use super::supabase::{TestSupabase, SERVICE_KEY};

/// What a report may never cost: the database's hard ceiling
/// (`draft_limits()`), which the tests hold the engine and the provider's
/// bill to.
pub const HARD_CEILING_USD: f64 = 7.00;

pub struct TestWorld {
    pub supabase: TestSupabase,
    pub provider: RunningProvider,
    pub stripe: devstack::stripe::RunningStripe,
    pub resend: devstack::resend::RunningResend,
    /// What each test image should read as, by image index.
    pub truths: Vec<Value>,
    pub images: Vec<Vec<u8>>,
}

pub fn truth(i: usize) -> Value {
    json!({
        "invoice_number": format!("INV-{i:04}"),
        "vendor": format!("Vendor {}", i % 7),
        "total": 100.0 + i as f64,
        "items": [
            {"description": "Paper", "quantity": 2, "unit_price": 10.5},
            {"description": format!("Service {i}"), "quantity": 1, "unit_price": 79.0 + i as f64}
        ]
    })
}

/// A unique A4 page at 150 dpi, as a PNG about `size` bytes long (the
/// engine reads its header).
fn image_bytes(i: usize, size: usize) -> Vec<u8> {
    devstack::png::png(
        1240,
        1754,
        &format!("test document {i} {}", Uuid::new_v4()),
        size,
    )
}

impl TestWorld {
    /// `images` distinct images whose answers the provider knows; the
    /// provider configured by `configure`.
    pub async fn new(images: usize, configure: impl FnOnce(&mut ProviderConfig)) -> Self {
        Self::with_supabase(TestSupabase::start().await, images, configure).await
    }

    /// The same with images of about `size` bytes each.
    pub async fn with_image_size(
        images: usize,
        size: usize,
        configure: impl FnOnce(&mut ProviderConfig),
    ) -> Self {
        Self::build(TestSupabase::start().await, images, size, configure).await
    }

    /// The same, over a local Supabase API started elsewhere (on a runtime
    /// of its own, say, to measure its CPU apart).
    pub async fn with_supabase(
        supabase: TestSupabase,
        images: usize,
        configure: impl FnOnce(&mut ProviderConfig),
    ) -> Self {
        Self::build(supabase, images, 0, configure).await
    }

    async fn build(
        supabase: TestSupabase,
        images: usize,
        size: usize,
        configure: impl FnOnce(&mut ProviderConfig),
    ) -> Self {
        let images: Vec<Vec<u8>> = (0..images).map(|i| image_bytes(i, size)).collect();
        Self::with_files(supabase, images, configure).await
    }

    /// A world whose documents are these files, as uploaded.
    pub async fn with_files(
        supabase: TestSupabase,
        images: Vec<Vec<u8>>,
        configure: impl FnOnce(&mut ProviderConfig),
    ) -> Self {
        let truths: Vec<Value> = (0..images.len()).map(truth).collect();
        let mut config = ProviderConfig {
            latency_ms: 20,
            answers: images
                .iter()
                .zip(&truths)
                .map(|(img, t)| (provider::sha256_hex(img), t.clone()))
                .collect(),
            ..ProviderConfig::default()
        };
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let provider = provider::start(config, listener).unwrap();
        let stripe_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stripe = devstack::stripe::start(
            devstack::stripe::StripeConfig {
                public_url: format!("http://{}", stripe_listener.local_addr().unwrap()),
                webhook_url: None,
                webhook_secret: "whsec_unused".into(),
                retry_base: Duration::from_millis(100),
                max_attempts: 1,
            },
            stripe_listener,
        )
        .unwrap();
        let resend =
            devstack::resend::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
                .unwrap();
        TestWorld {
            supabase,
            provider,
            stripe,
            resend,
            truths,
            images,
        }
    }

    /// Every catalog model at these prices per million tokens (to match a
    /// provider configured with the same `default_price`).
    pub async fn price_every_model(&self, prompt_usd_per_mtok: i32, completion_usd_per_mtok: i32) {
        self.supabase
            .db
            .client()
            .await
            .execute(
                "update public.model_catalog set prompt_usd_per_mtok = $1::int, completion_usd_per_mtok = $2::int",
                &[&prompt_usd_per_mtok, &completion_usd_per_mtok],
            )
            .await
            .unwrap();
    }

    /// A user, their images in Storage, a ready draft of the first `models`
    /// catalog models, and a paid report for it; returns the report id.
    pub async fn paid_report(&self, models: i64) -> Uuid {
        self.paid_report_with(models, json!({})).await
    }

    /// The same, with the draft's `config_data` (what the owner asked).
    pub async fn paid_report_with(&self, models: i64, config_data: Value) -> Uuid {
        self.paid_report_of(models, config_data, 1).await
    }

    /// The same, with the images as documents of `pages` pages each (in
    /// order; each document expects what its first page's truth says).
    pub async fn paid_report_of(&self, models: i64, config_data: Value, pages: usize) -> Uuid {
        let db = self.supabase.db.client().await;
        let user = create_user(&db, &format!("{}@example.test", Uuid::new_v4().simple())).await;
        self.paid_report_by(user, models, config_data, pages).await
    }

    /// The same, paid for by `user`.
    pub async fn paid_report_by(
        &self,
        user: Uuid,
        models: i64,
        config_data: Value,
        pages: usize,
    ) -> Uuid {
        let db = self.supabase.db.client().await;
        let http = reqwest::Client::new();
        let mut images = Vec::new();
        for (i, bytes) in self.images.iter().enumerate() {
            let path = format!("{user}/doc-{i}.png");
            let status = http
                .post(format!(
                    "{}/storage/v1/object/benchmark-images/{path}",
                    self.supabase.url
                ))
                .bearer_auth(SERVICE_KEY)
                .header("content-type", "image/png")
                .body(bytes.clone())
                .send()
                .await
                .unwrap()
                .status();
            assert!(status.is_success(), "upload {path}: {status}");
            images.push(json!({"path": path, "expected": self.truths[i]}));
        }
        let images: Vec<Value> = if pages == 1 {
            images
        } else {
            images
                .chunks(pages)
                .map(|document| {
                    let paths: Vec<Value> =
                        document.iter().map(|p| json!({"path": p["path"]})).collect();
                    json!({"path": document[0]["path"], "pages": paths, "expected": document[0]["expected"]})
                })
                .collect()
        };
        let draft: Uuid = db
            .query_one(
                "insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models, config_data)
                 values ($1, 'ready', $2, '{\"prompt\": \"Extract the invoice.\"}',
                         array(select id from public.model_catalog order by id limit $3), $4)
                 returning id",
                &[&user, &json!({ "images": images }), &models, &config_data],
            )
            .await
            .unwrap()
            .get(0);
        let session = self.paid_stripe_session(draft).await;
        super::fixtures::fulfill(&db, &session, draft, user)
            .await
            .unwrap()
            .0
    }

    /// A Checkout Session on the Stripe stand-in, paid, so refunds work.
    async fn paid_stripe_session(&self, draft: Uuid) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let draft = draft.to_string();
        let session: Value = http
            .post(format!("{}/v1/checkout/sessions", self.stripe.url()))
            .bearer_auth("sk_test_engine")
            .form(&[
                ("mode", "payment"),
                (
                    "success_url",
                    "http://127.0.0.1:8787/checkout/success?session_id={CHECKOUT_SESSION_ID}",
                ),
                ("cancel_url", "http://127.0.0.1:8787/checkout/cancel"),
                ("client_reference_id", draft.as_str()),
                ("line_items[0][quantity]", "1"),
                ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", "1499"),
                (
                    "line_items[0][price_data][product_data][name]",
                    "ModelPick Benchmark Report",
                ),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        http.post(session["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        session["id"].as_str().unwrap().to_owned()
    }

    /// The engine's settings for this world: the provider, Storage, email
    /// and refunds of the stand-ins, quick sweeps, and `limits`.
    pub fn settings(&self, limits: RunLimits, call_timeout: Duration) -> EngineSettings {
        let mut provider = ProviderSettings::new(self.provider.base_url(), "sk-or-test");
        provider.call_timeout = call_timeout;
        provider.backoff_base = Duration::from_millis(20);
        EngineSettings {
            database_url: self.supabase.db.url.clone(),
            supabase_url: self.supabase.url.clone(),
            service_role_key: SERVICE_KEY.into(),
            site_url: "http://127.0.0.1:8787".into(),
            provider,
            limits,
            queue: QueueSettings {
                sweep_interval: Duration::from_millis(200),
                health_interval: Duration::from_millis(500),
                max_reports: 4,
                shutdown_grace: Duration::from_secs(10),
            },
            followups: FollowupSettings::default(),
            resend: Some(ResendSettings {
                base_url: self.resend.url(),
                api_key: "re_test".into(),
                from: "ModelPick <reports@modelpick.test>".into(),
            }),
            stripe: Some(StripeApi {
                api_base: self.stripe.url(),
                secret_key: "sk_test_engine".into(),
            }),
            // The catalog stays as seeded unless a test syncs it.
            catalog: CatalogSettings::new(self.provider.base_url(), None),
        }
    }

    /// Starts an engine, built as `main` builds it; stop it with the
    /// returned sender, or abort it.
    pub fn start_engine(&self, limits: RunLimits, call_timeout: Duration) -> RunningEngine {
        let engine = startup::engine(&self.settings(limits, call_timeout)).unwrap();
        let (stop, stopped) = watch::channel(false);
        RunningEngine {
            stop,
            task: tokio::spawn(engine.run(stopped)),
        }
    }

    /// The engine's follow-ups (emails to the Resend stand-in, refunds to
    /// the Stripe stand-in), as `main` builds them.
    pub fn followups(&self) -> Arc<Followups> {
        let settings = self.settings(RunLimits::default(), Duration::from_secs(10));
        startup::engine(&settings).unwrap().followups
    }

    /// Waits (bounded) until every given report has ended.
    pub async fn wait_finished(&self, reports: &[Uuid], within: Duration) -> Vec<ReportState> {
        let db = self.supabase.db.client().await;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let states = report_states(&db, reports).await;
            if states
                .iter()
                .all(|s| s.status == "complete" || s.status == "failed")
            {
                return states;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "reports still running: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Successful provider calls per (model, image index).
    pub fn answered_calls(&self) -> HashMap<(String, usize), usize> {
        let index: HashMap<String, usize> = self
            .images
            .iter()
            .enumerate()
            .map(|(i, img)| (provider::sha256_hex(img), i))
            .collect();
        let mut counts = HashMap::new();
        for call in self
            .provider
            .calls()
            .into_iter()
            .filter(|c| c.status == 200)
        {
            *counts
                .entry((call.model, index[&call.image_sha256]))
                .or_insert(0) += 1;
        }
        counts
    }
}

pub struct RunningEngine {
    pub stop: watch::Sender<bool>,
    pub task: JoinHandle<()>,
}

impl RunningEngine {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Kills it mid-flight, as a crash would: nothing is released.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[derive(Debug, Clone)]
pub struct ReportState {
    pub id: Uuid,
    pub status: String,
    pub cut_short: bool,
    pub reason: Option<String>,
    pub runs_done: i32,
    pub runs_planned: i32,
    pub cost_spent: f64,
    pub committed: f64,
}

pub async fn report_states(db: &tokio_postgres::Client, reports: &[Uuid]) -> Vec<ReportState> {
    let mut states = Vec::new();
    for id in reports {
        let row = db
            .query_one(
                "select status, cut_short, status_reason, runs_done, runs_planned, cost_spent::float8,
                        (cost_spent + cost_reserved + cost_unsettled)::float8
                   from public.reports where id = $1",
                &[id],
            )
            .await
            .unwrap();
        states.push(ReportState {
            id: *id,
            status: row.get(0),
            cut_short: row.get(1),
            reason: row.get(2),
            runs_done: row.get(3),
            runs_planned: row.get(4),
            cost_spent: row.get(5),
            committed: row.get(6),
        });
    }
    states
}
