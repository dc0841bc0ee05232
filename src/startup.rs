//! Builds the sidecar from its settings, so `main` and the tests start the
//! very same thing (tests on a random port).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use warp::Filter;

use crate::auth::TokenVerifier;
use crate::config::Settings;
use crate::stripe::client::StripeClient;
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
    pub verifier: TokenVerifier,
    pub clock: Clock,
}

impl AppState {
    pub fn new(settings: Settings, clock: Clock) -> Self {
        Self {
            supabase: Supabase::new(&settings.supabase),
            stripe: StripeClient::new(&settings.stripe),
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
    let routes = crate::http::routes(state).with(warp::trace::request());
    warp::serve(routes)
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
