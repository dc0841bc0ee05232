//! One call, from send to record: the attempts (`call::retry` says which,
//! this makes them), the answer scored, and the run recorded in place of
//! its reservation. Its place among the calls in flight is given back as
//! soon as its HTTP exchange ends: scoring and recording follow while the
//! next call is already on its way. A short answer that scores within a
//! few thousand steps is scored where it arrives; any other on a blocking
//! thread, with a time cap.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::recorder::Recorder;
use super::snapshot::Snapshot;
use super::Runner;
use crate::engine::call::attempt::{Failure, Retry};
use crate::engine::call::envelope::Envelope;
use crate::engine::call::retry::{Attempts, CallOutcome, NoAnswer, Step};
use crate::engine::images::{Image, PagesAhead};
use crate::engine::limits::{JsonLimits, ProductLimits};
use crate::engine::schedule::Cell;
use crate::engine::score::{self, Score};
use crate::engine::store::{Lease, RunRecord, StoreError};

/// How long one answer's scoring may take before it counts as unreadable.
/// Scoring is bounded by its step budget (`score::WORK_BUDGET`) far below
/// this; the cap keeps a report moving even if that were ever wrong.
const SCORE_TIME_CAP: Duration = Duration::from_secs(20);

/// What a report's calls share, read-only: built once, dropped with the
/// report (a document's pages are let go after its last call).
pub(super) struct Inputs {
    pub lease: Lease,
    pub recorder: Recorder,
    pub snapshot: Arc<Snapshot>,
    pub pages: PagesAhead,
    pub envelopes: HashMap<String, Envelope>,
    pub limits: Arc<ProductLimits>,
}

/// What a call tells its report while it runs.
pub(super) enum Event {
    /// The HTTP exchange ended (answered or not): its slot is free.
    HttpDone { model: String, answered: bool },
    RateLimited {
        model: String,
        retry_after: Option<Duration>,
    },
}

/// A call's place among the calls in flight, given back when dropped, so
/// that a call that ends in any way (a panic included) frees it.
struct InFlight<'a> {
    events: &'a mpsc::UnboundedSender<Event>,
    model: &'a str,
    answered: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let _ = self.events.send(Event::HttpDone {
            model: self.model.to_owned(),
            answered: self.answered,
        });
    }
}

/// One call.
pub(super) struct CellJob {
    runner: Arc<Runner>,
    inputs: Arc<Inputs>,
    events: mpsc::UnboundedSender<Event>,
    cell: Cell,
}

impl CellJob {
    pub(super) fn new(
        runner: Arc<Runner>,
        inputs: Arc<Inputs>,
        events: mpsc::UnboundedSender<Event>,
        cell: Cell,
    ) -> Self {
        Self {
            runner,
            inputs,
            events,
            cell,
        }
    }

    /// Sends the call (it holds a slot), then scores and records it.
    pub(super) async fn run(self, image: Image) -> Result<(), StoreError> {
        let in_flight = InFlight {
            events: &self.events,
            model: &self.cell.model,
            answered: false,
        };
        let outcome = self.call(&image, in_flight).await;
        drop(image);
        self.inputs.pages.call_made(self.cell.image_index);
        self.record(outcome).await
    }

    /// The call's attempts; its place in flight is given back as soon as
    /// they end.
    async fn call(&self, image: &Image, mut in_flight: InFlight<'_>) -> CallOutcome {
        let image = match &**image {
            Ok(image) => image,
            Err(why) => return CallOutcome::not_sent(why.clone()),
        };
        let model = &self.cell.model;
        let price = self
            .inputs
            .snapshot
            .model(model)
            .and_then(|m| m.price.as_ref())
            .expect("only priced models are called");
        let envelope = &self.inputs.envelopes[model];
        let provider = &self.runner.provider;
        let (mut attempts, mut step) = Attempts::new(price, provider.settings());
        let outcome = loop {
            step = match step {
                Step::Send => {
                    let attempt = provider.attempt(envelope.body(image)).await;
                    if let Err(Failure {
                        retry: Retry::RateLimited(retry_after),
                        ..
                    }) = &attempt.result
                    {
                        let _ = self.events.send(Event::RateLimited {
                            model: model.clone(),
                            retry_after: *retry_after,
                        });
                    }
                    attempts.sent(attempt)
                }
                Step::LookUp(generation) => {
                    attempts.looked_up(provider.generation_cost(&generation).await)
                }
                Step::Wait(wait) => {
                    tokio::time::sleep(wait).await;
                    attempts.waited()
                }
                Step::Reserve => attempts.reserved(self.reserve_another().await),
                Step::Done(outcome) => break outcome,
            }
        };
        in_flight.answered = outcome.text.is_ok();
        outcome
    }

    /// Another worst case for the next attempt; false (do not send it) when
    /// the hard ceiling does not allow it, or it could not be asked.
    async fn reserve_another(&self) -> bool {
        let reserved = self
            .runner
            .store
            .reserve_retry(&self.inputs.lease, &self.cell)
            .await;
        reserved.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not reserve another attempt; not sending it");
            false
        })
    }

    /// Scores the call's outcome and records it in place of its
    /// reservation.
    pub(super) async fn record(&self, outcome: CallOutcome) -> Result<(), StoreError> {
        let expected = self.inputs.snapshot.documents[self.cell.image_index]
            .expected
            .clone();
        let scored = match &outcome.text {
            Ok(text) => self.score(expected, text).await,
            Err(_) => score::failed(&expected),
        };
        let record = run_record(&self.cell, outcome, scored);
        self.inputs
            .recorder
            .record(record, &self.inputs.lease)
            .await
    }

    async fn score(&self, expected: Arc<Value>, text: &str) -> Score {
        let schema = self.inputs.snapshot.schema.clone();
        score_answer(expected, text, schema, self.inputs.limits.json).await
    }
}

/// Scores an answer: at once when it is small, else off the async threads.
pub(super) async fn score_answer(
    expected: Arc<Value>,
    text: &str,
    schema: Option<Arc<Value>>,
    limits: JsonLimits,
) -> Score {
    match score::quick_score_text(&expected, text, schema.as_deref(), &limits) {
        Some(scored) => scored,
        None => score_off_thread(expected, text.to_owned(), schema, limits).await,
    }
}

/// Scores an answer on a blocking thread, within [`SCORE_TIME_CAP`].
async fn score_off_thread(
    expected: Arc<Value>,
    text: String,
    schema: Option<Arc<Value>>,
    limits: JsonLimits,
) -> Score {
    let fallback = expected.clone();
    let scoring = tokio::task::spawn_blocking(move || {
        score::score_text(&expected, &text, schema.as_deref(), &limits)
    });
    match tokio::time::timeout(SCORE_TIME_CAP, scoring).await {
        Ok(Ok(score)) => score,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "scoring failed");
            score::unreadable(&fallback, &"it could not be scored")
        }
        Err(_) => {
            tracing::error!("scoring took longer than its cap");
            score::unreadable(&fallback, &"it could not be scored in time")
        }
    }
}

/// A call's result as stored.
fn run_record(cell: &Cell, outcome: CallOutcome, scored: Score) -> RunRecord {
    let (output, error, unavailable) = match outcome.text {
        Ok(text) => (Some(text), None, false),
        Err(NoAnswer::Failed(why)) => (None, Some(why), false),
        Err(NoAnswer::Unavailable(why)) => (None, Some(why), true),
    };
    let (image_index, repeat) = cell.numbers();
    RunRecord {
        model_id: cell.model.clone(),
        image_index,
        repeat,
        output_json: output,
        response_time_ms: outcome.response_time_ms,
        prompt_tokens: outcome.usage.prompt_tokens,
        completion_tokens: outcome.usage.completion_tokens,
        total_tokens: outcome.usage.total_tokens,
        cost: outcome.known_cost,
        attempts: outcome.attempts,
        attempts_at_worst_case: outcome.attempts_at_worst_case,
        passed: scored.passed,
        field_diffs: serde_json::to_value(&scored.diffs).unwrap_or_default(),
        fields_total: scored.fields_total as u32,
        fields_matched: scored.fields_matched as u32,
        error,
        unavailable,
    }
}
