//! Stripe's answer about a Checkout Session, for the success page: asked
//! at most once per session id however often the page is loaded, refreshed
//! or hammered, concurrently or not, and only within a budget of lookups a
//! second, so that no flood of page loads spends the Stripe rate limit that
//! checkouts and refunds share. Only answers are kept (a bounded number,
//! oldest forgotten first); a failure is not, so a later load asks again.
//! Which ids are worth asking about at all is the caller's business: the
//! success page asks only about sessions we created.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::client::StripeClient;
use super::types::{CheckoutSession, SessionId};
use crate::once_map::OnceMap;

/// Why Stripe gave no session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("Stripe knows no such checkout session")]
    NotFound,
    /// The lookup budget is spent for now; Stripe was not asked.
    #[error("too many checkout lookups just now; try again in {0:?}")]
    OverBudget(Duration),
    #[error("{0}")]
    Failed(String),
}

/// Lookups the success page may make: a burst of this many...
pub const LOOKUP_BURST: u32 = 20;
/// ...refilled at this many a second.
pub const LOOKUPS_PER_SECOND: f64 = 2.0;

pub struct SessionLookups {
    answers: OnceMap<CheckoutSession>,
    budget: TokenBucket,
}

impl SessionLookups {
    pub fn new(capacity: usize) -> Self {
        Self {
            answers: OnceMap::new(capacity),
            budget: TokenBucket::new(LOOKUP_BURST, LOOKUPS_PER_SECOND),
        }
    }

    /// The session as Stripe described it, asked once per id (callers
    /// arriving while it is asked wait for the same answer).
    pub async fn retrieve(
        &self,
        stripe: &StripeClient,
        id: &SessionId,
    ) -> Result<CheckoutSession, LookupError> {
        if let Some(known) = self.answers.get(id.as_str()) {
            return Ok(known);
        }
        self.answers
            .get_or_try_init(id.as_str(), || async {
                self.budget.take().map_err(LookupError::OverBudget)?;
                stripe.retrieve_checkout_session(id).await.map_err(|e| {
                    if e.is_not_found() {
                        LookupError::NotFound
                    } else {
                        LookupError::Failed(e.to_string())
                    }
                })
            })
            .await
            .map(|(session, _)| session)
    }
}

/// A token bucket: `burst` at once, refilled at `per_second`.
struct TokenBucket {
    burst: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    fn new(burst: u32, per_second: f64) -> Self {
        Self {
            burst: burst as f64,
            per_second,
            state: Mutex::new((burst as f64, Instant::now())),
        }
    }

    /// Takes one token, or says how long until one is there.
    fn take(&self) -> Result<(), Duration> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, at) = &mut *guard;
        let now = Instant::now();
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_gives_its_burst_then_waits_for_the_refill() {
        let bucket = TokenBucket::new(3, 2.0);
        assert!((0..3).all(|_| bucket.take().is_ok()));
        let wait = bucket.take().unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        std::thread::sleep(wait + Duration::from_millis(20));
        assert!(bucket.take().is_ok(), "refilled after the wait it named");
    }
}
