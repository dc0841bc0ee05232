//! One cell's attempts, as steps: which attempt to make next, what each
//! cost, and when to stop. Plain bookkeeping with no I/O: whoever drives it
//! (`report::cell`) sends, waits, reserves and looks up as each step says,
//! and hands back what happened.
//!
//! Another attempt is made, a bounded number of times, after a failure that
//! may pass (a 429, a 408 or 5xx, a connection that failed, a 200 that
//! could not be read), never after a timeout (billed in full, and the model
//! too slow) or a refusal. Every attempt counts: one the provider billed
//! uses the call's money reservation, so the next is sent only once
//! another worst case is reserved within the hard ceiling. An attempt whose
//! cost is unknown is looked up (OpenRouter's generation record) and, when
//! that does not say, settled at its worst case by the database.

use std::time::Duration;

use rand::Rng;
use rust_decimal::Decimal;

use super::attempt::{Attempt, Billed, Failure, Retry, Usage};
use super::price::SnapshotPrice;
use crate::config::ProviderSettings;

/// Why a call has no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum NoAnswer {
    /// The provider failed, refused or timed out, or the call was never
    /// sent: the model gets every field wrong.
    Failed(String),
    /// No endpoint of the model meets the data policy the report asked
    /// for: the model is unavailable for this report, not wrong, and is
    /// not ranked.
    Unavailable(String),
}

impl NoAnswer {
    pub fn why(&self) -> &str {
        match self {
            Self::Failed(why) | Self::Unavailable(why) => why,
        }
    }
}

/// What one cell's call came to.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    /// The model's text, or why there is none.
    pub text: Result<String, NoAnswer>,
    /// The answering (or last) attempt's time.
    pub response_time_ms: u64,
    /// The answering attempt's usage.
    pub usage: Usage,
    /// What the attempts whose cost is known cost.
    pub known_cost: Decimal,
    pub attempts: u32,
    /// Attempts whose cost is unknown: each is settled at the call's worst
    /// case.
    pub attempts_at_worst_case: u32,
}

impl CallOutcome {
    /// A call never sent, and why.
    pub fn not_sent(why: String) -> Self {
        Self {
            text: Err(NoAnswer::Failed(why)),
            response_time_ms: 0,
            usage: Usage::default(),
            known_cost: Decimal::ZERO,
            attempts: 0,
            attempts_at_worst_case: 0,
        }
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send an attempt, and hand it to [`Attempts::sent`].
    Send,
    /// Ask the provider what the last attempt cost (its generation id), and
    /// hand the answer to [`Attempts::looked_up`].
    LookUp(String),
    /// Wait this long, then call [`Attempts::waited`].
    Wait(Duration),
    /// Reserve another worst case for the next attempt (the last was, or
    /// may have been, billed), and say whether it could be, to
    /// [`Attempts::reserved`].
    Reserve,
    /// The call is over.
    Done(CallOutcome),
}

/// The longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// One cell's attempts so far.
pub struct Attempts<'a> {
    price: &'a SnapshotPrice,
    settings: &'a ProviderSettings,
    outcome: CallOutcome,
    /// The last failure, until it is settled and a retry is decided.
    failed: Option<Failure>,
    /// Whether the reservation in hand was used by a billed attempt.
    reservation_used: bool,
}

impl<'a> Attempts<'a> {
    /// The first step is always to send.
    pub fn new(price: &'a SnapshotPrice, settings: &'a ProviderSettings) -> (Self, Step) {
        let attempts = Self {
            price,
            settings,
            outcome: CallOutcome::not_sent(String::new()),
            failed: None,
            reservation_used: false,
        };
        (attempts, Step::Send)
    }

    /// An attempt was made.
    pub fn sent(&mut self, attempt: Attempt) -> Step {
        self.outcome.attempts += 1;
        self.outcome.response_time_ms = attempt.elapsed.as_millis() as u64;
        match attempt.result {
            Ok(answer) => {
                self.outcome.usage = answer.usage;
                self.outcome.text = Ok(answer.text);
                match answer.billed {
                    Billed::Unknown {
                        generation_id: Some(id),
                    } => Step::LookUp(id),
                    billed => {
                        self.count(self.cost_of(&billed));
                        self.done()
                    }
                }
            }
            Err(failure) => {
                let lookup = match &failure.billed {
                    Billed::Unknown {
                        generation_id: Some(id),
                    } => Some(id.clone()),
                    _ => None,
                };
                let billed = failure.billed.clone();
                self.failed = Some(failure);
                match lookup {
                    Some(id) => Step::LookUp(id),
                    None => {
                        self.reservation_used = self.count(self.cost_of(&billed));
                        self.decide()
                    }
                }
            }
        }
    }

    /// What the provider said the last attempt cost, if it said.
    pub fn looked_up(&mut self, cost: Option<Decimal>) -> Step {
        let used = self.count(cost.map_or(AttemptCost::Unknown, AttemptCost::Known));
        if self.failed.is_some() {
            self.reservation_used = used;
            self.decide()
        } else {
            self.done()
        }
    }

    /// The wait is over.
    pub fn waited(&mut self) -> Step {
        if self.reservation_used {
            Step::Reserve
        } else {
            Step::Send
        }
    }

    /// Whether another worst case could be reserved for the next attempt.
    pub fn reserved(&mut self, reserved: bool) -> Step {
        if reserved {
            self.reservation_used = false;
            return Step::Send;
        }
        let last = std::mem::replace(&mut self.outcome.text, Ok(String::new()))
            .err()
            .map(|last| last.why().to_owned())
            .unwrap_or_default();
        self.outcome.text = Err(NoAnswer::Failed(format!(
            "{last} (not tried again: another attempt could pass the report's spending limit)"
        )));
        self.done()
    }

    fn done(&mut self) -> Step {
        Step::Done(std::mem::replace(
            &mut self.outcome,
            CallOutcome::not_sent(String::new()),
        ))
    }

    /// After a failure is settled: another attempt, after its wait, or the
    /// end.
    fn decide(&mut self) -> Step {
        let Failure { why, retry, .. } = self.failed.take().expect("a failure to decide on");
        let wait = match retry {
            Retry::Unavailable => {
                self.outcome.text = Err(NoAnswer::Unavailable(why));
                return self.done();
            }
            Retry::Never => None,
            Retry::Backoff => Some(backoff(self.settings.backoff_base, self.outcome.attempts)),
            Retry::RateLimited(after) => Some(
                after.unwrap_or_else(|| backoff(self.settings.backoff_base, self.outcome.attempts)),
            ),
        };
        match wait {
            Some(wait) if self.outcome.attempts < self.settings.max_attempts => {
                tracing::debug!(attempt = self.outcome.attempts, wait_ms = wait.as_millis() as u64, %why, "trying again");
                self.outcome.text = Err(NoAnswer::Failed(why));
                Step::Wait(wait.min(MAX_WAIT))
            }
            Some(_) => {
                self.outcome.text = Err(NoAnswer::Failed(format!(
                    "{why} (gave up after {} attempts)",
                    self.outcome.attempts
                )));
                self.done()
            }
            None => {
                self.outcome.text = Err(NoAnswer::Failed(why));
                self.done()
            }
        }
    }

    /// What an attempt that said `billed` cost, as far as it says.
    fn cost_of(&self, billed: &Billed) -> AttemptCost {
        match billed {
            Billed::Nothing => AttemptCost::Nothing,
            Billed::Usage(usage) => AttemptCost::Known(self.price.cost_of(usage)),
            Billed::Unknown { .. } => AttemptCost::Unknown,
        }
    }

    /// Counts an attempt's cost; true when it was, or may have been,
    /// billed, which uses the reservation.
    fn count(&mut self, cost: AttemptCost) -> bool {
        match cost {
            AttemptCost::Nothing => false,
            AttemptCost::Known(cost) => {
                self.outcome.known_cost += cost;
                cost > Decimal::ZERO
            }
            AttemptCost::Unknown => {
                self.outcome.attempts_at_worst_case += 1;
                true
            }
        }
    }
}

/// What one attempt cost, as far as we know: the provider's usage or its
/// record of the generation, or nothing known (counted at its worst case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttemptCost {
    Nothing,
    Known(Decimal),
    Unknown,
}

/// The wait before attempt `attempt + 1`: doubling from `base`, jittered.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let doubled = base * 2u32.pow(attempt.saturating_sub(1).min(10));
    doubled.mul_f64(rand::rng().random_range(0.5..1.5))
}

#[cfg(test)]
mod tests {
    use super::super::attempt::Answer;
    use super::*;

    fn price() -> SnapshotPrice {
        serde_json::from_value(serde_json::json!({
            "prompt_usd_per_mtok": 1, "completion_usd_per_mtok": 4
        }))
        .unwrap()
    }

    fn failure(retry: Retry, billed: Billed) -> Attempt {
        Attempt {
            result: Err(Failure {
                why: "the provider failed (HTTP 500)".into(),
                billed,
                retry,
            }),
            elapsed: Duration::from_millis(7),
        }
    }

    fn answer(billed: Billed) -> Attempt {
        Attempt {
            result: Ok(Answer {
                text: "{}".into(),
                usage: Usage::default(),
                billed,
            }),
            elapsed: Duration::from_millis(9),
        }
    }

    fn usd(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_failure_that_may_pass_is_tried_again_and_a_billed_one_is_reserved_first() {
        let (price, settings) = (price(), ProviderSettings::new("http://x", "k"));
        let (mut attempts, first) = Attempts::new(&price, &settings);
        assert_eq!(first, Step::Send);
        // Not billed: wait, then send again without reserving.
        let step = attempts.sent(failure(Retry::Backoff, Billed::Nothing));
        assert!(matches!(step, Step::Wait(_)), "{step:?}");
        assert_eq!(attempts.waited(), Step::Send);
        // Billed at an unknown cost, looked up: known, and reserved first.
        let step = attempts.sent(failure(
            Retry::Backoff,
            Billed::Unknown {
                generation_id: Some("gen-1".into()),
            },
        ));
        assert_eq!(step, Step::LookUp("gen-1".into()));
        assert!(matches!(
            attempts.looked_up(Some(usd("0.002"))),
            Step::Wait(_)
        ));
        assert_eq!(attempts.waited(), Step::Reserve);
        assert_eq!(attempts.reserved(true), Step::Send);
        // The record did not say: settled at the worst case; answered next.
        assert_eq!(
            attempts.sent(failure(
                Retry::Backoff,
                Billed::Unknown {
                    generation_id: Some("gen-2".into())
                }
            )),
            Step::LookUp("gen-2".into())
        );
        assert!(matches!(attempts.looked_up(None), Step::Wait(_)));
        assert_eq!(attempts.waited(), Step::Reserve);
        assert_eq!(attempts.reserved(true), Step::Send);
        let Step::Done(outcome) = attempts.sent(answer(Billed::Usage(Usage {
            cost: Some(usd("0.001")),
            ..Usage::default()
        }))) else {
            panic!("answered")
        };
        assert_eq!(outcome.text, Ok("{}".into()));
        assert_eq!(outcome.attempts, 4);
        assert_eq!(outcome.attempts_at_worst_case, 1);
        assert_eq!(outcome.known_cost, usd("0.003"));
        assert_eq!(outcome.response_time_ms, 9);
    }

    #[test]
    fn a_call_ends_on_a_refusal_a_timeout_the_last_attempt_or_the_ceiling() {
        let (price, settings) = (price(), ProviderSettings::new("http://x", "k"));
        let (mut attempts, _) = Attempts::new(&price, &settings);
        let Step::Done(refused) = attempts.sent(failure(Retry::Never, Billed::Nothing)) else {
            panic!("a refusal is final")
        };
        assert_eq!(
            refused.text,
            Err(NoAnswer::Failed("the provider failed (HTTP 500)".into()))
        );
        let (mut attempts, _) = Attempts::new(&price, &settings);
        let Step::Done(unavailable) = attempts.sent(failure(Retry::Unavailable, Billed::Nothing))
        else {
            panic!("no endpoint under the policy is final")
        };
        assert_eq!(
            unavailable.text,
            Err(NoAnswer::Unavailable(
                "the provider failed (HTTP 500)".into()
            ))
        );
        assert_eq!(unavailable.attempts, 1);

        let (mut attempts, _) = Attempts::new(&price, &settings);
        for _ in 1..settings.max_attempts {
            assert!(matches!(
                attempts.sent(failure(Retry::Backoff, Billed::Nothing)),
                Step::Wait(_)
            ));
            assert_eq!(attempts.waited(), Step::Send);
        }
        let Step::Done(gave_up) = attempts.sent(failure(Retry::Backoff, Billed::Nothing)) else {
            panic!("the last attempt is the last")
        };
        assert_eq!(
            gave_up.text,
            Err(NoAnswer::Failed(
                "the provider failed (HTTP 500) (gave up after 4 attempts)".into()
            ))
        );

        let (mut attempts, _) = Attempts::new(&price, &settings);
        let billed = Billed::Usage(Usage {
            cost: Some(usd("0.5")),
            ..Usage::default()
        });
        assert!(matches!(
            attempts.sent(failure(Retry::RateLimited(Some(Duration::from_secs(90))), billed)),
            Step::Wait(w) if w == MAX_WAIT
        ));
        assert_eq!(attempts.waited(), Step::Reserve);
        let Step::Done(ceiling) = attempts.reserved(false) else {
            panic!("no money, no attempt")
        };
        assert_eq!(
            ceiling.text,
            Err(NoAnswer::Failed("the provider failed (HTTP 500) (not tried again: another attempt could pass the report's spending limit)".into()))
        );
        assert_eq!(ceiling.known_cost, usd("0.5"));
    }
}
