//! Wires the two halves from their settings: the sidecar (its state, served
//! on a listener) and the engine. `main`, the tests and the benches all
//! start them through here, so they start the very same thing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::TokenVerifier;
use crate::config::{CatalogCommandSettings, EngineSettings, Settings};
use crate::database::{Database, DatabaseUrlError};
use crate::email::Resend;
use crate::engine::call::attempt::Provider;
use crate::engine::catalog::CatalogSync;
use crate::engine::followup::Followups;
use crate::engine::images::ImageSource;
use crate::engine::report::{self, Runner};
use crate::engine::store::Store;
use crate::engine::Engine;
use crate::sidecar::{
    AppState, BodyBudget, Clock, LegalPages, ReadBudget, SecurityHeaders, Settlements,
};
use crate::stripe::client::StripeClient;
use crate::stripe::lookups::SessionLookups;
use crate::supabase::Supabase;

/// How many Checkout Sessions the success page remembers Stripe's answer
/// for, and the sidecar remembers as settled.
const SESSION_LOOKUPS_REMEMBERED: usize = 10_000;
const SETTLEMENTS_REMEMBERED: usize = 100_000;
/// Direct database connections of one engine, its own: with reservations
/// and results written in batches a running engine needs few, and a small
/// pool bounds its share of Postgres, so that webhooks arriving while it
/// runs flat out still get answered at once.
const ENGINE_CONNECTIONS: usize = 4;
/// How long an image download may take.
const STORAGE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    DatabaseUrl(#[from] DatabaseUrlError),
    #[error("OPENROUTER_BASE_URL is not a URL: {0}")]
    ProviderUrl(String),
    #[error("the HTTP client for Storage could not be built: {0}")]
    Http(#[from] reqwest::Error),
}

/// The sidecar's state, from its settings.
pub fn sidecar(settings: Settings, clock: Clock) -> AppState {
    AppState {
        supabase: Supabase::new(&settings.supabase),
        stripe: StripeClient::new(&settings.stripe.api),
        session_lookups: Arc::new(SessionLookups::new(SESSION_LOOKUPS_REMEMBERED)),
        settlements: Arc::new(Settlements::new(SETTLEMENTS_REMEMBERED)),
        verifier: TokenVerifier::new(&settings.supabase),
        bodies: BodyBudget::default(),
        headers: SecurityHeaders::new(&settings.site_url, &settings.supabase.url),
        reads: ReadBudget::default(),
        images: ReadBudget::new(ReadBudget::IMAGES_AT_ONCE),
        legal: Arc::new(LegalPages::new(&settings)),
        settings: Arc::new(settings),
        clock,
        ready: Default::default(),
        metrics: Default::default(),
    }
}

/// Binds the configured address.
pub async fn bind(settings: &Settings) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(settings.sidecar_addr).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves the sidecar on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    crate::sidecar::serve(crate::sidecar::routes(state), listener, shutdown).await;
}

/// `modelpick catalog sync`'s syncer, from its settings (one connection).
pub fn catalog_sync(settings: &CatalogCommandSettings) -> Result<CatalogSync, StartupError> {
    let database = Database::from_url(&settings.database_url)?;
    let store = Store::new(database.pool(1)?);
    Ok(CatalogSync::new(store, settings.catalog.clone())?)
}

/// The store `modelpick ops` reads, with one connection.
pub fn operations_store(database_url: &str) -> Result<Store, StartupError> {
    Ok(Store::new(Database::from_url(database_url)?.pool(1)?))
}

/// The engine, from its settings.
pub fn engine(settings: &EngineSettings) -> Result<Engine, StartupError> {
    let database = Database::from_url(&settings.database_url)?;
    let store = Store::new(database.pool(ENGINE_CONNECTIONS)?);
    if settings.resend.is_none() {
        tracing::warn!("RESEND_API_KEY is not set: completion emails wait until it is");
    }
    if settings.stripe.is_none() {
        tracing::warn!("STRIPE_SECRET_KEY is not set: refunds of failed reports wait until it is");
    }
    let images = Arc::new(ImageSource {
        http: reqwest::Client::builder()
            .timeout(STORAGE_TIMEOUT)
            .build()?,
        storage_url: format!("{}/storage/v1", settings.supabase_url),
        service_role_key: settings.service_role_key.clone(),
    });
    let runner = Runner {
        store: store.clone(),
        provider: Provider::new(settings.provider.clone()).map_err(|e| {
            StartupError::ProviderUrl(format!("{}: {e}", settings.provider.base_url))
        })?,
        images: images.clone(),
        limits: settings.limits.clone(),
    };
    let worker_id = report::worker_id();
    let followups_store = store.clone();
    let followups = Followups {
        store,
        worker: worker_id.clone(),
        resend: settings.resend.clone().map(Resend::new),
        stripe: settings.stripe.as_ref().map(StripeClient::new),
        storage: Some(images),
        site_url: settings.site_url.clone(),
        retry: settings.followups.clone(),
    };
    Ok(Engine {
        database,
        worker_id,
        queue: settings.queue.clone(),
        runner: Arc::new(runner),
        followups: Arc::new(followups),
        catalog: Some(CatalogSync::new(followups_store, settings.catalog.clone())?),
    })
}
