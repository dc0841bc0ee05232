//! What every request of the sidecar shares.

use std::sync::Arc;

use super::body::BodyBudget;
use super::fulfill::Settlements;
use super::headers::SecurityHeaders;
use crate::auth::TokenVerifier;
use crate::config::Settings;
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
    /// What all request bodies may hold at once.
    pub bodies: BodyBudget,
    /// What every answer carries.
    pub headers: SecurityHeaders,
    pub clock: Clock,
}
