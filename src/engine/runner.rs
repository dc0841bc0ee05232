//! Runs one claimed report: every selected model on every image that has no
//! result yet, within the concurrency limits (`schedule`), each call's worst
//! case reserved before it is sent and replaced by its result and actual
//! cost after (`store`), the lease renewed all along (`queue`); then the
//! report is finished, or handed back for another engine.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use super::budget::Price;
use super::images::{Image, ImageSource};
use super::provider::{CallOutcome, CallRequest, Provider};
use super::queue::Heartbeat;
use super::schedule::{Cell, Schedule};
use super::score;
use super::store::{ClaimedReport, Lease, Outcome, RunRecord, Store, StoreError, Tally};
use crate::config::RunLimits;

/// What every report run shares.
pub struct Runner {
    pub store: Store,
    pub provider: Provider,
    pub images: ImageSource,
    pub limits: RunLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
struct ImageSpec {
    path: String,
    expected: Value,
}

#[derive(Deserialize)]
struct UploadData {
    images: Vec<ImageSpec>,
}

/// The draft as it was paid for.
#[derive(Deserialize)]
struct Snapshot {
    selected_models: Vec<String>,
    model_prices: HashMap<String, Price>,
    upload_data: UploadData,
}

/// Why a report's calls stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    AllDone,
    Deadline,
    Budget,
    /// Shutting down, or a result could not be recorded: give the report
    /// back so that it continues under a new lease.
    HandBack,
    /// Another engine holds the report now: write nothing more.
    LeaseLost,
}

/// Runs the report until every cell has a result or a limit stops it, then
/// finishes it. Returns `LeaseLost` (writing nothing more) when another
/// engine took the report over; on `stop`, lets calls in flight end and
/// hands the report back.
pub async fn run_report(
    runner: Arc<Runner>,
    claim: ClaimedReport,
    stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let span = tracing::info_span!("report", report.id = %claim.lease.report_id, report.attempt = claim.attempts);
    run_claimed(runner, claim, stop).instrument(span).await
}

async fn run_claimed(
    runner: Arc<Runner>,
    claim: ClaimedReport,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let lease = claim.lease.clone();
    let snapshot = match runnable(&runner.limits, &claim) {
        Ok(snapshot) => snapshot,
        Err(reason) => {
            return finish(
                &runner,
                &lease,
                Outcome::Failed {
                    reason: reason.into(),
                },
            )
            .await
        }
    };
    let heartbeat = Heartbeat::start(runner.store.clone(), lease.clone(), runner.limits.lease);
    let cells = CellRun::prepare(&runner, &claim, &snapshot).await?;
    let stopped_by = cells.run(&heartbeat, &mut stop).await;
    drop(heartbeat);
    match stopped_by {
        Stop::LeaseLost => Err(StoreError::LeaseLost(lease.report_id).into()),
        Stop::HandBack => {
            runner.store.release(&lease).await?;
            tracing::info!("report handed back for another engine");
            Ok(())
        }
        stopped_by => {
            let tally = runner.store.tally(lease.report_id).await?;
            let outcome = outcome(&tally, stopped_by, &runner.limits, claim.runs_planned);
            finish(&runner, &lease, outcome).await
        }
    }
}

/// The report's snapshot, or why it cannot run at all (it then fails at
/// once, with that reason).
fn runnable(limits: &RunLimits, claim: &ClaimedReport) -> Result<Snapshot, &'static str> {
    if claim.attempts > limits.max_attempts {
        return Err("The benchmark was interrupted too many times and could not finish. You will be refunded.");
    }
    serde_json::from_value::<Snapshot>(claim.config_snapshot.clone()).map_err(|e| {
        tracing::error!(error = %e, "unreadable report snapshot");
        "The benchmark's settings could not be read, so nothing was run. You will be refunded."
    })
}

/// How a report that was not handed back ends, from its runs.
fn outcome(tally: &Tally, stopped_by: Stop, limits: &RunLimits, planned: i32) -> Outcome {
    let done = tally.done;
    if tally.answered == 0 {
        return Outcome::Failed {
            reason: format!(
                "None of the {done} calls made returned an answer{}. You will be refunded.",
                tally
                    .common_error
                    .as_ref()
                    .map(|e| format!("; the most common problem: {e}"))
                    .unwrap_or_default()
            ),
        };
    }
    let cut_short = match stopped_by {
        Stop::Deadline => Some(format!(
            "Stopped at the {} s time limit: {done} of {planned} runs were made.",
            limits.max_duration.as_secs()
        )),
        Stop::Budget => Some(format!(
            "Stopped at the ${:.2} spending limit: {done} of {planned} runs were made.",
            limits.soft_ceiling_usd
        )),
        Stop::AllDone | Stop::HandBack | Stop::LeaseLost => None,
    };
    Outcome::Complete { cut_short }
}

async fn finish(runner: &Runner, lease: &Lease, outcome: Outcome) -> Result<(), RunError> {
    runner.store.finish(lease, &outcome).await?;
    tracing::info!(?outcome, "report finished");
    Ok(())
}

/// What one call's task gives back.
struct CellResult {
    model: String,
    recorded: Result<(), StoreError>,
}

/// The calls of one report: admitted while the limits allow, their results
/// recorded as they come.
struct CellRun<'a> {
    runner: &'a Arc<Runner>,
    claim: &'a ClaimedReport,
    snapshot: &'a Snapshot,
    schedule: Schedule,
    images: HashMap<usize, Image>,
    deadline: DateTime<Utc>,
    tasks: JoinSet<CellResult>,
    stopped_by: Stop,
    admitting: bool,
    /// A result could not be recorded: the report must not finish.
    unrecorded: bool,
    /// A fenced write found the lease gone.
    lost: bool,
}

impl<'a> CellRun<'a> {
    /// The cells still to run, and the images they need, each downloaded
    /// once before the calls that need it.
    async fn prepare(
        runner: &'a Arc<Runner>,
        claim: &'a ClaimedReport,
        snapshot: &'a Snapshot,
    ) -> Result<Self, RunError> {
        let done = runner.store.done_cells(claim.lease.report_id).await?;
        let schedule = Schedule::new(
            &snapshot.selected_models,
            snapshot.upload_data.images.len(),
            &done,
            runner.limits.per_model_concurrency,
        );
        let mut images = HashMap::new();
        for index in schedule.images_needed() {
            let path = &snapshot.upload_data.images[index].path;
            images.insert(index, runner.images.download(path).await);
        }
        let deadline = claim.started_at
            + chrono::Duration::from_std(runner.limits.max_duration).unwrap_or_default();
        Ok(Self {
            runner,
            claim,
            snapshot,
            schedule,
            images,
            deadline,
            tasks: JoinSet::new(),
            stopped_by: Stop::AllDone,
            admitting: true,
            unrecorded: false,
            lost: false,
        })
    }

    /// Admits and awaits calls until none is left or a limit stops
    /// admission and the calls in flight have ended.
    async fn run(mut self, heartbeat: &Heartbeat, stop: &mut watch::Receiver<bool>) -> Stop {
        loop {
            self.admit(heartbeat, stop).await;
            if self.admitting && !self.schedule.has_pending() {
                self.admitting = false;
            }
            let Some(joined) = self.tasks.join_next().await else {
                break;
            };
            self.settle(joined);
            if !self.admitting && self.tasks.is_empty() {
                break;
            }
            if *stop.borrow() && self.admitting {
                self.halt(Stop::HandBack);
            }
        }
        if self.lost || heartbeat.lost() {
            Stop::LeaseLost
        } else if self.unrecorded {
            // Never finish a report with a cell missing: under a new lease
            // the cell is run again (its reservation stays counted as
            // unsettled).
            Stop::HandBack
        } else {
            self.stopped_by
        }
    }

    fn halt(&mut self, why: Stop) {
        self.stopped_by = why;
        self.admitting = false;
    }

    /// Starts calls while there is a free slot, a cell for it and money and
    /// time left.
    async fn admit(&mut self, heartbeat: &Heartbeat, stop: &watch::Receiver<bool>) {
        while self.admitting && self.tasks.len() < self.runner.limits.global_concurrency {
            if *stop.borrow() {
                return self.halt(Stop::HandBack);
            }
            if heartbeat.lost() {
                self.admitting = false;
                return;
            }
            if Utc::now() >= self.deadline {
                return self.halt(Stop::Deadline);
            }
            let Some(cell) = self.schedule.start_next() else {
                return;
            };
            match self.reserve(&cell).await {
                Ok(Some(price)) => self.start(cell, price),
                Ok(None) => {
                    self.schedule.finished(&cell.model);
                    tracing::info!(model = %cell.model, "spending limit reached; no new calls");
                    return self.halt(Stop::Budget);
                }
                Err(e) => {
                    self.schedule.finished(&cell.model);
                    self.refused_write(e);
                    return;
                }
            }
        }
    }

    fn price(&self, model: &str) -> Price {
        self.snapshot
            .model_prices
            .get(model)
            .cloned()
            .unwrap_or(Price {
                prompt_usd_per_mtok: 0.0,
                completion_usd_per_mtok: 0.0,
                image_usd: 0.0,
                request_usd: 0.0,
                supports_json_schema: false,
            })
    }

    /// Reserves the cell's worst case; its price when the money allows the
    /// call, `None` when it does not.
    async fn reserve(&self, cell: &Cell) -> Result<Option<Price>, StoreError> {
        let price = self.price(&cell.model);
        let worst = price.worst_case(
            self.claim.extraction_prompt.len(),
            self.runner.provider.settings().max_tokens,
        );
        let reserved = self
            .runner
            .store
            .reserve(
                &self.claim.lease,
                &cell.model,
                cell.image_index as i32,
                worst,
                self.runner.limits.soft_ceiling_usd,
            )
            .await?;
        Ok(reserved.then_some(price))
    }

    fn start(&mut self, cell: Cell, price: Price) {
        let job = CellJob {
            runner: self.runner.clone(),
            lease: self.claim.lease.clone(),
            image: self.images[&cell.image_index].clone(),
            expected: self.snapshot.upload_data.images[cell.image_index]
                .expected
                .clone(),
            prompt: self.claim.extraction_prompt.clone(),
            schema: self.claim.json_schema.clone(),
            price,
            cell,
        };
        self.tasks.spawn(job.run().in_current_span());
    }

    /// A call's task ended: its slot is free, and its result recorded, or
    /// not (then the report is handed back, or given up if the lease is
    /// gone).
    fn settle(&mut self, joined: Result<CellResult, tokio::task::JoinError>) {
        match joined {
            Ok(result) => {
                self.schedule.finished(&result.model);
                if let Err(e) = result.recorded {
                    self.refused_write(e);
                }
            }
            Err(e) => tracing::error!(error = %e, "a call task failed"),
        }
    }

    fn refused_write(&mut self, error: StoreError) {
        self.admitting = false;
        match error {
            StoreError::LeaseLost(_) => self.lost = true,
            e => {
                tracing::error!(error = %e, "a write failed; the report will be handed back");
                self.unrecorded = true;
            }
        }
    }
}

/// One call: sent, scored and recorded.
struct CellJob {
    runner: Arc<Runner>,
    lease: Lease,
    cell: Cell,
    image: Image,
    expected: Value,
    prompt: String,
    schema: Option<Value>,
    price: Price,
}

impl CellJob {
    async fn run(self) -> CellResult {
        let outcome = self.call().await;
        let record = self.record(&outcome);
        let recorded = self.runner.store.record_run(&self.lease, &record).await;
        CellResult {
            model: self.cell.model,
            recorded,
        }
    }

    async fn call(&self) -> CallOutcome {
        match &*self.image {
            Ok((bytes, mime)) => {
                self.runner
                    .provider
                    .call(&CallRequest {
                        model: &self.cell.model,
                        prompt: &self.prompt,
                        image: bytes,
                        image_mime: mime,
                        json_schema: self.schema.as_ref(),
                        supports_json_schema: self.price.supports_json_schema,
                    })
                    .await
            }
            Err(why) => CallOutcome::failure(why.clone(), 0, 0),
        }
    }

    /// The call's result as stored: its answer scored against the expected
    /// JSON, its cost, or why there is no answer.
    fn record(&self, outcome: &CallOutcome) -> RunRecord {
        let (scored, error, output) = match &outcome.text {
            Ok(text) => match score::parse_output(text) {
                Ok(answer) => (
                    score::score(&self.expected, &answer, self.schema.as_ref()),
                    None,
                    Some(text.clone()),
                ),
                Err(e) => (
                    score::failed(&self.expected),
                    Some(e.to_string()),
                    Some(text.clone()),
                ),
            },
            Err(why) => (score::failed(&self.expected), Some(why.clone()), None),
        };
        RunRecord {
            model_id: self.cell.model.clone(),
            image_index: self.cell.image_index as i32,
            output_json: output,
            response_time_ms: outcome.response_time_ms,
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            total_tokens: outcome.total_tokens,
            cost: self.price.actual(outcome),
            passed: scored.passed,
            field_diffs: serde_json::to_value(&scored.diffs).unwrap_or_default(),
            fields_total: scored.fields_total as u32,
            fields_matched: scored.fields_matched as u32,
            error,
        }
    }
}

/// A fresh id for one engine process.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "engine".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(answered: i64, done: i64) -> Tally {
        Tally {
            answered,
            done,
            common_error: Some("the provider failed (HTTP 500)".into()),
        }
    }

    #[test]
    fn a_report_with_no_answer_fails_with_the_commonest_problem() {
        let outcome = outcome(&tally(0, 6), Stop::AllDone, &RunLimits::default(), 6);
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: "None of the 6 calls made returned an answer; the most common problem: \
                         the provider failed (HTTP 500). You will be refunded."
                    .into()
            }
        );
    }

    #[test]
    fn a_report_stopped_by_a_limit_completes_and_says_which() {
        let limits = RunLimits::default();
        assert_eq!(
            outcome(&tally(4, 6), Stop::AllDone, &limits, 6),
            Outcome::Complete { cut_short: None }
        );
        assert_eq!(
            outcome(&tally(4, 4), Stop::Budget, &limits, 6),
            Outcome::Complete {
                cut_short: Some(
                    "Stopped at the $6.50 spending limit: 4 of 6 runs were made.".into()
                )
            }
        );
        assert_eq!(
            outcome(&tally(4, 4), Stop::Deadline, &limits, 6),
            Outcome::Complete {
                cut_short: Some("Stopped at the 750 s time limit: 4 of 6 runs were made.".into())
            }
        );
    }
}
