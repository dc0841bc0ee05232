//! A storm of signed Stripe webhooks, as Stripe sends them on a busy day,
//! at the real `modelpick serve` process (the release binary when built with
//! `--release`, its log subscriber as in production, the engine running):
//! events at a fixed offered rate whatever the answers (open loop), each
//! delivered several times at once over keep-alive connections. Latency is
//! counted from when a delivery was due, so a stalled server cannot hide
//! its queue (no coordinated omission).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::app::WEBHOOK_SECRET;
use super::engine::TestWorld;
use super::supabase::{ANON_KEY, JWT_SECRET, SERVICE_KEY};
use devstack::stripe::sign;

/// The sidecar as its own process, its output in a log file.
pub struct Sidecar {
    pub url: String,
    pub log: PathBuf,
    child: Child,
}

impl Sidecar {
    /// `modelpick serve` against `world` (with its engine, or without),
    /// logging as in production (`RUST_LOG` unset) in `format` (`text` or
    /// `json`).
    pub async fn start(world: &TestWorld, format: &str, engine: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let log =
            std::env::temp_dir().join(format!("modelpick-storm-{}.log", Uuid::new_v4().simple()));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_modelpick"))
            .args(
                ["serve"]
                    .into_iter()
                    .chain((!engine).then_some("--no-engine")),
            )
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LOG_FORMAT", format)
            .env("SIDECAR_ADDR", format!("127.0.0.1:{port}"))
            .env("SITE_URL", &url)
            .env("DATABASE_URL", &world.supabase.db.url)
            .env("SUPABASE_URL", &world.supabase.url)
            .env("SUPABASE_ANON_KEY", ANON_KEY)
            .env("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
            .env("SUPABASE_JWT_SECRET", JWT_SECRET)
            .env("STRIPE_API_BASE", world.stripe.url())
            .env("STRIPE_SECRET_KEY", "sk_test_storm")
            .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("OPENROUTER_BASE_URL", world.provider.base_url())
            .env("OPENROUTER_API_KEY", "sk-or-storm")
            .env("RESEND_BASE_URL", world.resend.url())
            .env("RESEND_API_KEY", "re_storm")
            .env("ENGINE_SWEEP_INTERVAL_S", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start modelpick serve");
        let sidecar = Self { url, log, child };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http
                .get(format!("{}/health", sidecar.url))
                .send()
                .await
                .is_ok()
            {
                return sidecar;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let log = sidecar.log_text();
        drop(sidecar);
        panic!("the sidecar did not start: {log}");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running (it did not crash).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// One event's signed payload, and what it names.
pub struct Delivery {
    pub event_id: String,
    pub session_id: String,
    pub payload: String,
    pub signature: String,
}

/// `sessions` ready drafts of one user (each with the world's first image
/// in Storage, one model), and a paid `checkout.session.completed` for each.
pub async fn paid_sessions(world: &TestWorld, sessions: usize) -> Vec<Delivery> {
    let db = world.supabase.db.client().await;
    let user = super::fixtures::create_user(
        &db,
        &format!("storm-{}@example.test", Uuid::new_v4().simple()),
    )
    .await;
    let path = format!("{user}/storm.png");
    let status = reqwest::Client::new()
        .post(format!(
            "{}/storage/v1/object/benchmark-images/{path}",
            world.supabase.url
        ))
        .bearer_auth(SERVICE_KEY)
        .header("content-type", "image/png")
        .body(world.images[0].clone())
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "upload: {status}");
    let drafts: Vec<Uuid> = db
        .query(
            "insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
             select $1, 'ready',
                    jsonb_build_object('images', jsonb_build_array(jsonb_build_object('path', $2::text, 'expected', $3::jsonb))),
                    '{\"prompt\": \"Extract the invoice.\"}', array['openai/gpt-4o-mini']
               from generate_series(1, $4::int)
             returning id",
            &[&user, &path, &world.truths[0], &(sessions as i32)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let now = chrono::Utc::now().timestamp();
    drafts
        .iter()
        .map(|draft| {
            let session = format!("cs_test_storm_{}", Uuid::new_v4().simple());
            let event_id = format!("evt_{}", Uuid::new_v4().simple());
            let payload = json!({
                "id": event_id,
                "object": "event",
                "type": "checkout.session.completed",
                "created": now,
                "livemode": false,
                "data": {"object": {
                    "id": session,
                    "object": "checkout.session",
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_total": 1499,
                    "currency": "usd",
                    "client_reference_id": draft,
                    "metadata": {"draft_id": draft, "user_id": user},
                }},
            })
            .to_string();
            let signature = sign(payload.as_bytes(), WEBHOOK_SECRET, now);
            Delivery {
                event_id,
                session_id: session,
                payload,
                signature,
            }
        })
        .collect()
}

/// What each request of a storm got: its HTTP status (0: no answer) and
/// its latency from when it was due.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub status: u16,
    pub latency: Duration,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn deliver(client: &reqwest::Client, url: &str, delivery: &Delivery) -> u16 {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("stripe-signature", &delivery.signature)
        .body(delivery.payload.clone())
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// Open loop: event `i` is due at `i × copies / rate` seconds, and its
/// `copies` deliveries are sent at once then, answered or not.
pub async fn open_loop(
    sidecar_url: &str,
    events: Vec<Delivery>,
    rate_per_s: f64,
    copies: usize,
) -> Vec<Sample> {
    let url = format!("{sidecar_url}/api/webhooks/stripe");
    let client = client();
    let samples = Arc::new(Mutex::new(Vec::with_capacity(events.len() * copies)));
    let gap = Duration::from_secs_f64(copies as f64 / rate_per_s);
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, event) in events.into_iter().enumerate() {
        let due = start + gap * i as u32;
        tokio::time::sleep_until(due).await;
        let event = Arc::new(event);
        for _ in 0..copies {
            let (client, url, event, samples) =
                (client.clone(), url.clone(), event.clone(), samples.clone());
            tasks.spawn(async move {
                let status = deliver(&client, &url, &event).await;
                let latency = due.elapsed();
                samples.lock().await.push(Sample { status, latency });
            });
        }
    }
    while tasks.join_next().await.is_some() {}
    Arc::try_unwrap(samples).unwrap().into_inner()
}

/// Closed loop: `connections` deliveries in flight at all times, as fast as
/// the server answers; returns the samples and the requests per second.
pub async fn closed_loop(
    sidecar_url: &str,
    events: Vec<Delivery>,
    copies: usize,
    connections: usize,
) -> (Vec<Sample>, f64) {
    use futures_util::stream::{self, StreamExt};
    let url = format!("{sidecar_url}/api/webhooks/stripe");
    let client = client();
    let deliveries: Vec<Arc<Delivery>> = events
        .into_iter()
        .flat_map(|e| {
            let e = Arc::new(e);
            std::iter::repeat_n(e, copies)
        })
        .collect();
    let started = Instant::now();
    let samples: Vec<Sample> = stream::iter(deliveries)
        .map(|delivery| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let sent = tokio::time::Instant::now();
                let status = deliver(&client, &url, &delivery).await;
                Sample {
                    status,
                    latency: sent.elapsed(),
                }
            }
        })
        .buffer_unordered(connections)
        .collect()
        .await;
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    (samples, rate)
}

pub fn percentile(samples: &[Sample], p: f64) -> Duration {
    let mut latencies: Vec<Duration> = samples.iter().map(|s| s.latency).collect();
    latencies.sort();
    latencies[((latencies.len() as f64 - 1.0) * p).round() as usize]
}

/// Reports in the world's database.
pub async fn report_count(world: &TestWorld) -> i64 {
    world
        .supabase
        .db
        .client()
        .await
        .query_one("select count(*) from public.reports", &[])
        .await
        .unwrap()
        .get(0)
}
