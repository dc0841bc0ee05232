//! Runs one claimed report: every selected model on every image that has no
//! result yet, within the concurrency limits (`schedule`), each call's worst
//! case reserved before it is sent and replaced by its result and actual
//! cost after (`store`), the lease renewed all along (`queue`); then the
//! report is finished, or handed back for another engine.
//!
//! A call's slot is free as soon as its HTTP exchange ends: scoring and
//! recording follow in the call's own task while the next call is already
//! on its way. A short answer that scores within a few thousand steps
//! (`score::quick_score_text`, tens of microseconds) is scored where it
//! arrives; any other on a blocking thread, with a time cap.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::budget::Price;
use super::call::{CallOutcome, CallPlan, RateLimits, Slots};
use super::figures;
use super::images::{Image, ImageSource};
use super::limits;
use super::provider::{Envelope, Provider};
use super::queue::Heartbeat;
use super::schedule::{Cell, Schedule};
use super::score::{self, Score};
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

/// How long one answer's scoring may take before it counts as unreadable.
/// Scoring is bounded by its step budget (`score::WORK_BUDGET`) far below
/// this; the cap keeps a report moving even if that were ever wrong.
const SCORE_TIME_CAP: Duration = Duration::from_secs(20);
/// Images downloaded at once while a report starts.
const DOWNLOADS_AT_ONCE: usize = 4;
/// Calls reserved ahead of a free slot, at most.
const RESERVED_AHEAD: usize = 2;

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
    let snapshot = match runnable(&claim) {
        Ok(snapshot) => snapshot,
        Err(reason) => {
            return finish(&runner, &lease, Outcome::Failed { reason }).await;
        }
    };
    let heartbeat = Heartbeat::start(runner.store.clone(), lease.clone(), runner.limits.lease);
    let cells = CellRun::prepare(&runner, &claim, snapshot).await?;
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
            record_figures(&runner, &claim).await?;
            finish(&runner, &lease, outcome).await
        }
    }
}

/// The report's snapshot, or why it cannot run at all (it then fails at
/// once, before any call, with that reason).
fn runnable(claim: &ClaimedReport) -> Result<Snapshot, String> {
    let snapshot =
        serde_json::from_value::<Snapshot>(claim.config_snapshot.clone()).map_err(|e| {
            tracing::error!(error = %e, "unreadable report snapshot");
            "The benchmark's settings could not be read, so nothing was run. You will be refunded."
                .to_owned()
        })?;
    for (i, image) in snapshot.upload_data.images.iter().enumerate() {
        if let Err(why) = limits::check_shape(&image.expected) {
            return Err(format!(
                "The expected JSON of image {} is too large to score ({why}), so nothing was run. You will be refunded.",
                i + 1
            ));
        }
    }
    Ok(snapshot)
}

/// How a report that was not handed back ends, from its runs. It fails
/// (and is refunded) only when no call got an answer from the provider:
/// answers that are not JSON, or wrong, are results.
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

/// Computes the report's figures from every run it holds and stores them
/// before it finishes. A report is never held back for its figures: if
/// they cannot be computed it finishes without them (the page then shows
/// the plain summary).
async fn record_figures(runner: &Runner, claim: &ClaimedReport) -> Result<(), RunError> {
    let runs = runner.store.report_runs(claim.lease.report_id).await?;
    let (expected, models) = figures::inputs(&claim.config_snapshot);
    match tokio::task::spawn_blocking(move || figures::compute(&expected, &models, &runs)).await {
        Ok(figures) => runner.store.record_figures(&claim.lease, &figures).await?,
        Err(error) => tracing::error!(%error, "the report's figures could not be computed"),
    }
    Ok(())
}

async fn finish(runner: &Runner, lease: &Lease, outcome: Outcome) -> Result<(), RunError> {
    runner.store.finish(lease, &outcome).await?;
    tracing::info!(?outcome, "report finished");
    Ok(())
}

/// What the report's calls share, read-only: built once, dropped with the
/// report (the images' encodings with it).
struct Inputs {
    lease: Lease,
    expected: Vec<Arc<Value>>,
    schema: Option<Arc<Value>>,
    images: HashMap<usize, Image>,
    envelopes: HashMap<String, Envelope>,
    prices: HashMap<String, Price>,
}

/// What a call's task tells the report while it runs.
enum Event {
    /// The HTTP exchange ended (answered or not): the slot is free.
    HttpDone { model: String, answered: bool },
    RateLimited {
        model: String,
        retry_after: Option<Duration>,
    },
}

/// The calls of one report: admitted while the limits allow, their results
/// recorded as they come.
struct CellRun {
    runner: Arc<Runner>,
    inputs: Arc<Inputs>,
    schedule: Schedule,
    deadline: DateTime<Utc>,
    /// Calls recorded or being recorded.
    tasks: JoinSet<Result<(), StoreError>>,
    events: mpsc::UnboundedReceiver<Event>,
    events_tx: mpsc::UnboundedSender<Event>,
    /// HTTP exchanges under way.
    in_http: usize,
    /// Calls reserved ahead, to start when a slot frees.
    ahead: VecDeque<(Cell, Image)>,
    stopped_by: Stop,
    admitting: bool,
    /// A result could not be recorded: the report must not finish.
    unrecorded: bool,
    /// A fenced write found the lease gone.
    lost: bool,
}

impl CellRun {
    /// The cells still to run, and what they need: each image downloaded
    /// once, each model's request envelope built once. A model the report
    /// has no price for is never called: its cells are recorded as errors.
    async fn prepare(
        runner: &Arc<Runner>,
        claim: &ClaimedReport,
        snapshot: Snapshot,
    ) -> Result<Self, RunError> {
        let done = runner.store.done_cells(claim.lease.report_id).await?;
        let mut schedule = Schedule::new(
            &snapshot.selected_models,
            snapshot.upload_data.images.len(),
            &done,
            runner.limits.per_model_concurrency,
        );
        let expected: Vec<Arc<Value>> = snapshot
            .upload_data
            .images
            .iter()
            .map(|i| Arc::new(i.expected.clone()))
            .collect();
        for model in &snapshot.selected_models {
            if !snapshot.model_prices.contains_key(model) {
                for cell in schedule.remove_model(model) {
                    record_unpriced(&runner.store, &claim.lease, &cell, &expected).await?;
                }
            }
        }
        let images = download(runner, &schedule, &snapshot).await;
        let envelopes = envelopes(runner.provider.settings(), claim, &snapshot.model_prices);
        let inputs = Inputs {
            lease: claim.lease.clone(),
            expected,
            schema: claim.json_schema.clone().map(Arc::new),
            images,
            envelopes,
            prices: snapshot.model_prices,
        };
        let deadline = claim.started_at
            + chrono::Duration::from_std(runner.limits.max_duration).unwrap_or_default();
        let (events_tx, events) = mpsc::unbounded_channel();
        Ok(Self {
            runner: runner.clone(),
            inputs: Arc::new(inputs),
            schedule,
            deadline,
            tasks: JoinSet::new(),
            events,
            events_tx,
            in_http: 0,
            ahead: VecDeque::new(),
            stopped_by: Stop::AllDone,
            admitting: true,
            unrecorded: false,
            lost: false,
        })
    }

    /// Admits and awaits calls until none is left or a limit stops
    /// admission and the calls in flight have ended and been recorded.
    async fn run(mut self, heartbeat: &Heartbeat, stop: &mut watch::Receiver<bool>) -> Stop {
        loop {
            self.admit(heartbeat, stop).await;
            if self.admitting && !self.schedule.has_pending() && self.ahead.is_empty() {
                self.admitting = false;
            }
            if !self.admitting {
                self.release_ahead().await;
            }
            if !self.admitting && self.in_http == 0 && self.tasks.is_empty() {
                break;
            }
            let resume = self
                .schedule
                .next_resume(Instant::now())
                .filter(|_| self.admitting);
            tokio::select! {
                Some(event) = self.events.recv() => self.on_event(event),
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => self.settle(joined),
                _ = sleep_until(resume), if resume.is_some() => {}
                changed = stop.changed(), if self.admitting => {
                    if changed.is_err() {
                        // Whoever could stop the engine is gone: stop.
                        self.halt(Stop::HandBack);
                    }
                }
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

    fn on_event(&mut self, event: Event) {
        match event {
            Event::HttpDone { model, answered } => {
                self.in_http -= 1;
                self.schedule.finished(&model);
                if answered {
                    self.schedule.answered(&model);
                }
            }
            Event::RateLimited { model, retry_after } => {
                self.schedule
                    .rate_limited(&model, retry_after, Instant::now())
            }
        }
    }

    fn halt(&mut self, why: Stop) {
        self.stopped_by = why;
        self.admitting = false;
    }

    /// Starts calls while there is a free slot, a cell for it and money and
    /// time left; with every slot busy, reserves the next calls ahead
    /// (up to [`RESERVED_AHEAD`]), so that a slot that frees starts one
    /// without waiting for the database.
    async fn admit(&mut self, heartbeat: &Heartbeat, stop: &watch::Receiver<bool>) {
        loop {
            while let Ok(event) = self.events.try_recv() {
                self.on_event(event);
            }
            if !self.admitting {
                return;
            }
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
            let slot_free = self.in_http < self.runner.limits.global_concurrency;
            if slot_free {
                if let Some((cell, image)) = self.ahead.pop_front() {
                    self.start(cell, image);
                    continue;
                }
            } else if self.ahead.len() >= RESERVED_AHEAD {
                return;
            }
            let Some(cell) = self.schedule.start_next(Instant::now()) else {
                return;
            };
            let image = self.inputs.images[&cell.image_index].clone();
            let pixels = match &*image {
                Ok(image) => image.pixels,
                // Never sent: recorded with its reason, nothing to reserve.
                Err(_) => {
                    self.start(cell, image);
                    continue;
                }
            };
            match self.reserve(&cell, pixels).await {
                Ok(true) if slot_free => self.start(cell, image),
                Ok(true) => self.ahead.push_back((cell, image)),
                Ok(false) => {
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

    /// Gives back the reservations of calls reserved ahead and never sent.
    async fn release_ahead(&mut self) {
        while let Some((cell, _)) = self.ahead.pop_front() {
            self.schedule.finished(&cell.model);
            if let Err(e) = self
                .runner
                .store
                .release_reservation(&self.inputs.lease, &cell.model, cell.image_index as i32)
                .await
            {
                // Left reserved, it stays counted: safe, and settled when
                // the report is taken over.
                self.refused_write(e);
            }
        }
    }

    /// Reserves the cell's worst case; false when the money does not allow
    /// the call.
    async fn reserve(&self, cell: &Cell, pixels: u64) -> Result<bool, StoreError> {
        let reserved = self
            .runner
            .store
            .reserve(
                &self.inputs.lease,
                &cell.model,
                cell.image_index as i32,
                pixels,
                self.runner.provider.settings().max_tokens,
                self.runner.limits.soft_ceiling_usd,
            )
            .await?;
        Ok(reserved.is_some())
    }

    fn start(&mut self, cell: Cell, image: Image) {
        self.in_http += 1;
        let job = CellJob {
            runner: self.runner.clone(),
            inputs: self.inputs.clone(),
            events: self.events_tx.clone(),
            image,
            cell,
        };
        self.tasks.spawn(job.run().in_current_span());
    }

    /// A call's task ended: its result recorded, or not (then the report is
    /// handed back, or given up if the lease is gone).
    fn settle(&mut self, joined: Result<Result<(), StoreError>, tokio::task::JoinError>) {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.refused_write(e),
            Err(e) => {
                tracing::error!(error = %e, "a call task failed");
                self.unrecorded = true;
                self.admitting = false;
            }
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

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Each model's request without its image, built once.
fn envelopes(
    settings: &crate::config::ProviderSettings,
    claim: &ClaimedReport,
    prices: &HashMap<String, Price>,
) -> HashMap<String, Envelope> {
    prices
        .iter()
        .map(|(model, price)| {
            let envelope = Envelope::new(
                settings,
                model,
                &claim.extraction_prompt,
                claim.json_schema.as_ref(),
                price.supports_json_schema,
            );
            (model.clone(), envelope)
        })
        .collect()
}

/// Downloads the images some pending cell needs, a few at a time.
async fn download(
    runner: &Arc<Runner>,
    schedule: &Schedule,
    snapshot: &Snapshot,
) -> HashMap<usize, Image> {
    use futures_util::StreamExt;
    futures_util::stream::iter(schedule.images_needed())
        .map(|index| {
            let path = &snapshot.upload_data.images[index].path;
            async move { (index, runner.images.download(path).await) }
        })
        .buffer_unordered(DOWNLOADS_AT_ONCE)
        .collect()
        .await
}

/// Records the cell of a model the report has no price for: never called.
async fn record_unpriced(
    store: &Store,
    lease: &Lease,
    cell: &Cell,
    expected: &[Arc<Value>],
) -> Result<(), StoreError> {
    let outcome = CallOutcome {
        text: Err(format!(
            "no price is known for {}, so it was not called",
            cell.model
        )),
        response_time_ms: 0,
        usage: Default::default(),
        known_cost: 0.0,
        attempts: 0,
        attempts_at_worst_case: 0,
    };
    let record = run_record(cell, &outcome, score::failed(&expected[cell.image_index]));
    store.record_run(lease, &record).await
}

/// One call: sent, scored and recorded.
struct CellJob {
    runner: Arc<Runner>,
    inputs: Arc<Inputs>,
    events: mpsc::UnboundedSender<Event>,
    cell: Cell,
    image: Image,
}

/// The slot of a call's HTTP exchange: given back when dropped, so that a
/// task that ends in any way frees it.
struct HttpSlot<'a> {
    events: &'a mpsc::UnboundedSender<Event>,
    model: &'a str,
    answered: bool,
}

impl Drop for HttpSlot<'_> {
    fn drop(&mut self) {
        let _ = self.events.send(Event::HttpDone {
            model: self.model.to_owned(),
            answered: self.answered,
        });
    }
}

impl CellJob {
    async fn run(self) -> Result<(), StoreError> {
        let slot = HttpSlot {
            events: &self.events,
            model: &self.cell.model,
            answered: false,
        };
        let outcome = self.call(slot).await;
        let expected = self.inputs.expected[self.cell.image_index].clone();
        let schema = self.inputs.schema.clone();
        let scored = match &outcome.text {
            Ok(text) => match score::quick_score_text(&expected, text, schema.as_deref()) {
                Some(scored) => scored,
                None => score_off_thread(expected, text.clone(), schema).await,
            },
            Err(_) => score::failed(&expected),
        };
        let record = run_record(&self.cell, &outcome, scored);
        self.runner
            .store
            .record_run(&self.inputs.lease, &record)
            .await
    }

    /// The call's attempts; the slot is given back as soon as they end.
    async fn call(&self, mut slot: HttpSlot<'_>) -> CallOutcome {
        let image = match &*self.image {
            Ok(image) => image,
            Err(why) => {
                return CallOutcome {
                    text: Err(why.clone()),
                    response_time_ms: 0,
                    usage: Default::default(),
                    known_cost: 0.0,
                    attempts: 0,
                    attempts_at_worst_case: 0,
                }
            }
        };
        let plan = CallPlan {
            provider: &self.runner.provider,
            envelope: &self.inputs.envelopes[&self.cell.model],
            image,
            price: &self.inputs.prices[&self.cell.model],
        };
        let mut slots = RetrySlots { job: self };
        let outcome = plan.run(&mut slots, self).await;
        slot.answered = outcome.text.is_ok();
        outcome
    }
}

impl RateLimits for CellJob {
    fn rate_limited(&self, retry_after: Option<Duration>) {
        let _ = self.events.send(Event::RateLimited {
            model: self.cell.model.clone(),
            retry_after,
        });
    }
}

/// Another billed attempt of a call is allowed once its worst case is
/// reserved too.
struct RetrySlots<'a> {
    job: &'a CellJob,
}

impl Slots for RetrySlots<'_> {
    async fn reserve_another(&mut self) -> bool {
        let job = self.job;
        match job
            .runner
            .store
            .reserve_retry(
                &job.inputs.lease,
                &job.cell.model,
                job.cell.image_index as i32,
            )
            .await
        {
            Ok(reserved) => reserved,
            Err(e) => {
                tracing::warn!(error = %e, "could not reserve another attempt; not sending it");
                false
            }
        }
    }
}

/// Scores an answer on a blocking thread, within [`SCORE_TIME_CAP`].
async fn score_off_thread(expected: Arc<Value>, text: String, schema: Option<Arc<Value>>) -> Score {
    let fallback = expected.clone();
    let scoring =
        tokio::task::spawn_blocking(move || score::score_text(&expected, &text, schema.as_deref()));
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
fn run_record(cell: &Cell, outcome: &CallOutcome, scored: Score) -> RunRecord {
    let (output, error) = match &outcome.text {
        Ok(text) => (Some(text.clone()), None),
        Err(why) => (None, Some(why.clone())),
    };
    RunRecord {
        model_id: cell.model.clone(),
        image_index: cell.image_index as i32,
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
