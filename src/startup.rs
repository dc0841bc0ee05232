//! Builds the sidecar from its settings, so `main` and the tests start the
//! very same thing (tests on a random port).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::TokenVerifier;
use crate::config::Settings;
use crate::fulfilment::Settlements;
use crate::stripe::client::StripeClient;
use crate::stripe::lookups::SessionLookups;
use crate::supabase::Supabase;

/// Unix seconds now; injectable so tests can check the webhook tolerance.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp())
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub supabase: Supabase,
    pub stripe: StripeClient,
    /// Stripe's answer about each session the success page asks after.
    pub session_lookups: Arc<SessionLookups>,
    /// Sessions settled for good, so redeliveries spare the database.
    pub settlements: Arc<Settlements>,
    pub verifier: TokenVerifier,
    pub clock: Clock,
}

/// How many Checkout Sessions the success page remembers Stripe's answer
/// for, and the sidecar remembers as settled.
const SESSION_LOOKUPS_REMEMBERED: usize = 10_000;
const SETTLEMENTS_REMEMBERED: usize = 100_000;

impl AppState {
    pub fn new(settings: Settings, clock: Clock) -> Self {
        Self {
            supabase: Supabase::new(&settings.supabase),
            stripe: StripeClient::new(&settings.stripe),
            session_lookups: Arc::new(SessionLookups::new(SESSION_LOOKUPS_REMEMBERED)),
            settlements: Arc::new(Settlements::new(SETTLEMENTS_REMEMBERED)),
            verifier: TokenVerifier::new(&settings.supabase),
            settings: Arc::new(settings),
            clock,
        }
    }
}

/// Serves the sidecar on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    warp::serve(crate::http::routes(state))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
}

/// Binds the configured address.
pub async fn bind(settings: &Settings) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(settings.sidecar_addr).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Builds the engine from its configuration.
pub fn engine(config: &crate::config::EngineConfig) -> Result<crate::engine::Engine, String> {
    use crate::engine::provider::{Provider, ProviderSettings};
    use crate::engine::runner::{self, Limits, RunnerContext};
    use std::time::Duration;

    let database =
        crate::database::Database::from_url(&config.database_url).map_err(|e| e.to_string())?;
    let db = database.pool(16).map_err(|e| e.to_string())?;
    let ctx = RunnerContext {
        db,
        provider: Provider::new(ProviderSettings {
            base_url: config.provider_base_url.clone(),
            api_key: config.provider_api_key.clone(),
            call_timeout: Duration::from_secs(config.provider_call_timeout_s),
            max_attempts: 4,
            backoff_base: Duration::from_millis(500),
            max_tokens: config.provider_max_tokens,
        }),
        storage: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?,
        storage_url: format!("{}/storage/v1", config.supabase_url),
        service_role_key: config.service_role_key.clone(),
        limits: Limits {
            max_duration: Duration::from_secs(config.max_benchmark_duration_s),
            ..Limits::default()
        },
    };
    let settings = crate::engine::EngineSettings {
        database,
        worker_id: runner::worker_id(),
        sweep_interval: Duration::from_secs(config.sweep_interval_s),
        health_interval: Duration::from_secs(10),
        max_reports: config.max_reports,
        shutdown_grace: Duration::from_secs(30),
    };
    if config.resend.is_none() {
        tracing::warn!("RESEND_API_KEY is not set: completion emails wait until it is");
    }
    if config.stripe.is_none() {
        tracing::warn!("STRIPE_SECRET_KEY is not set: refunds of failed reports wait until it is");
    }
    let followups = crate::engine::followup::Followups {
        resend: config.resend.clone().map(crate::email::Resend::new),
        stripe: config.stripe.as_ref().map(StripeClient::new),
        site_url: config.site_url.clone(),
        retry: crate::engine::followup::FollowupRetry::default(),
    };
    Ok(crate::engine::Engine::new(settings, ctx, followups))
}
