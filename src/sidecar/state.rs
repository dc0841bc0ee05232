//! What every request of the sidecar shares.

use std::sync::Arc;

use warp::http::StatusCode;

use super::body::BodyBudget;
use super::counters::Metrics;
use super::error::ApiError;
use super::fulfill::Settlements;
use super::headers::SecurityHeaders;
use super::legal::LegalPages;
use super::recent::Recent;
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
    /// Reports read for comparisons and shared image lists at once.
    pub reads: ReadBudget,
    /// Shared images streamed at once.
    pub images: ReadBudget,
    pub clock: Clock,
    /// The last answer of `/ready`, shared for a second.
    pub ready: Recent<(StatusCode, serde_json::Value)>,
    /// `/privacy` and `/terms`, as these settings make them.
    pub legal: Arc<LegalPages>,
    /// What `/metrics` counts in this process, and the database's figures
    /// of its last scrape.
    pub metrics: Metrics,
}

/// Work done for a report's readers (a comparison, signing its images):
/// at most `AT_ONCE` at a time in one sidecar, so that a share link's
/// holder in a loop costs a bounded share of the database and Storage.
#[derive(Clone)]
pub struct ReadBudget(Arc<tokio::sync::Semaphore>);

impl ReadBudget {
    pub const AT_ONCE: usize = 4;
    /// Images a page shows at once (a browser loads six at a time).
    pub const IMAGES_AT_ONCE: usize = 16;

    pub fn new(places: usize) -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(places)))
    }

    /// A place for one piece of such work, held until dropped; `Busy`
    /// (503, Retry-After) when every place is taken.
    pub fn enter(&self, what: &str) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.0.clone().try_acquire_owned().map_err(|_| {
            ApiError::Busy(format!(
                "many {what} are being made right now; try again in a second"
            ))
        })
    }
}

impl Default for ReadBudget {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(Self::AT_ONCE)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_budget_holds_four_places_and_frees_them() {
        let budget = ReadBudget::default();
        let held: Vec<_> = (0..ReadBudget::AT_ONCE)
            .map(|_| budget.enter("comparisons").unwrap())
            .collect();
        let refused = budget.enter("comparisons").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "many comparisons are being made right now; try again in a second"
        );
        drop(held);
        assert!(budget.enter("comparisons").is_ok());
    }
}
