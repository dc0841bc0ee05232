//! One cell's call: its HTTP attempts, and what they cost.
//!
//! Another attempt is made, a bounded number of times, after a failure that
//! may pass (a 429, a 408 or 5xx, a connection that failed, a 200 that
//! could not be read), never after a timeout (billed in full, and the model
//! too slow) or a refusal. Every attempt counts: one the provider billed
//! uses the call's reservation, so the next is sent only when another worst
//! case could be reserved within the hard ceiling (`Slots`). An attempt
//! whose cost is unknown is looked up (OpenRouter's generation record)
//! and, when that does not say, settled at its worst case by the database.

use std::time::Duration;

use rand::Rng;

use super::budget::Price;
use super::images::EncodedImage;
use super::provider::{Billed, Envelope, Failure, Provider, Retry, Usage};

/// What one cell's call came to.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// The model's text, or why there is none.
    pub text: Result<String, String>,
    /// The answering (or last) attempt's time.
    pub response_time_ms: u64,
    /// The answering attempt's usage.
    pub usage: Usage,
    /// What the attempts whose cost is known cost.
    pub known_cost: f64,
    pub attempts: u32,
    /// Attempts whose cost is unknown: each is settled at the call's worst
    /// case.
    pub attempts_at_worst_case: u32,
}

/// Asks whether another billed attempt may be sent: true once another
/// worst case is reserved.
pub trait Slots {
    fn reserve_another(&mut self) -> impl std::future::Future<Output = bool> + Send;
}

/// Tells the scheduler about 429s as they happen.
pub trait RateLimits {
    fn rate_limited(&self, retry_after: Option<Duration>);
}

pub struct CallPlan<'a> {
    pub provider: &'a Provider,
    pub envelope: &'a Envelope,
    pub image: &'a EncodedImage,
    pub price: &'a Price,
}

impl CallPlan<'_> {
    /// Makes the attempts, until one answers or no other should be sent.
    pub async fn run(&self, slots: &mut impl Slots, limits: &impl RateLimits) -> CallOutcome {
        let settings = self.provider.settings();
        let mut outcome = CallOutcome {
            text: Err(String::new()),
            response_time_ms: 0,
            usage: Usage::default(),
            known_cost: 0.0,
            attempts: 0,
            attempts_at_worst_case: 0,
        };
        // Whether the reservation in hand is used by a billed attempt.
        let mut slot_used = false;
        loop {
            if slot_used && !slots.reserve_another().await {
                let last = outcome.text.unwrap_err();
                outcome.text = Err(format!(
                    "{last} (not tried again: another attempt could pass the report's spending limit)"
                ));
                return outcome;
            }
            outcome.attempts += 1;
            let attempt = self.provider.attempt(self.envelope.body(self.image)).await;
            outcome.response_time_ms = attempt.elapsed.as_millis() as u64;
            let failure = match attempt.result {
                Ok(answer) => {
                    self.count(&answer.billed, &mut outcome).await;
                    outcome.usage = answer.usage;
                    outcome.text = Ok(answer.text);
                    return outcome;
                }
                Err(failure) => failure,
            };
            slot_used = self.count(&failure.billed, &mut outcome).await;
            let Failure { why, retry, .. } = failure;
            match wait_before_retry(retry, settings, outcome.attempts, limits) {
                Some(wait) if outcome.attempts < settings.max_attempts => {
                    tracing::debug!(attempt = outcome.attempts, wait_ms = wait.as_millis() as u64, %why, "trying again");
                    outcome.text = Err(why);
                    tokio::time::sleep(wait.min(MAX_WAIT)).await;
                }
                Some(_) => {
                    outcome.text = Err(format!(
                        "{why} (gave up after {} attempts)",
                        outcome.attempts
                    ));
                    return outcome;
                }
                None => {
                    outcome.text = Err(why);
                    return outcome;
                }
            }
        }
    }

    /// Counts an attempt's cost; true when it was (or may have been)
    /// billed, which uses the reservation.
    async fn count(&self, billed: &Billed, outcome: &mut CallOutcome) -> bool {
        match billed {
            Billed::Nothing => false,
            Billed::Usage(usage) => {
                let cost = self.price.cost_of(usage);
                outcome.known_cost += cost;
                cost > 0.0
            }
            Billed::Unknown { generation_id } => {
                let looked_up = match generation_id {
                    Some(id) => self.provider.generation_cost(id).await,
                    None => None,
                };
                match looked_up {
                    Some(cost) => {
                        outcome.known_cost += cost;
                        cost > 0.0
                    }
                    None => {
                        outcome.attempts_at_worst_case += 1;
                        true
                    }
                }
            }
        }
    }
}

/// How long to wait before another attempt, or `None` when none should
/// be made; a 429 is told to the scheduler.
fn wait_before_retry(
    retry: Retry,
    settings: &crate::config::ProviderSettings,
    attempts: u32,
    limits: &impl RateLimits,
) -> Option<Duration> {
    match retry {
        Retry::Never => None,
        Retry::Backoff => Some(backoff(settings.backoff_base, attempts)),
        Retry::RateLimited(after) => {
            limits.rate_limited(after);
            Some(after.unwrap_or_else(|| backoff(settings.backoff_base, attempts)))
        }
    }
}

/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// The wait before attempt `attempt + 1`: doubling from `base`, jittered.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let doubled = base * 2u32.pow(attempt.saturating_sub(1).min(10));
    doubled.mul_f64(rand::rng().random_range(0.5..1.5))
}
