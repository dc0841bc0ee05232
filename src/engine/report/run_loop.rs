//! The run loop of one report. Its calls are admitted as a slot frees (10
//! at once, 3 per model: `schedule`), each with its worst case reserved and
//! money and time left; while every slot is busy the next calls are
//! reserved ahead, so that a slot that frees starts one at once. Then the
//! calls in flight end and are recorded, and the report knows how it ends.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::cell::{CellJob, Event, Inputs};
use super::recorder::Recorder;
use super::snapshot::Snapshot;
use super::Runner;
use crate::engine::call::envelope::Envelope;
use crate::engine::call::retry::CallOutcome;
use crate::engine::heartbeat::Heartbeat;
use crate::engine::images::{self, Image, PagesAhead};
use crate::engine::limits::ProductLimits;
use crate::engine::schedule::{Cell, Schedule};
use crate::engine::store::{CallToReserve, ClaimedReport, StoreError};

/// Calls reserved ahead of a free slot, at most; with every slot busy they
/// are topped up only once the last has started, all in one round trip.
const RESERVED_AHEAD: usize = 3;

/// A call admitted, with the image it sends.
type Admitted = (Cell, Image);

/// How a report's calls end, the graver the later: when two apply (the
/// money ran out, then a result could not be recorded) the graver wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ending {
    /// Every cell has a result.
    AllDone,
    /// No call may start after the time limit.
    Deadline,
    /// No call may start past the spending limit.
    Budget,
    /// Shutting down, or a result could not be recorded: the report is
    /// given back, to continue under a new lease (a cell without its
    /// result is run again; its reservation stays counted meanwhile).
    HandBack,
    /// Another engine holds the report now: nothing more is written.
    LeaseLost,
}

/// Where admission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Calls start while slots, money and time allow.
    Admitting,
    /// No call starts any more; those in flight end and are recorded.
    Draining(Ending),
}

/// The calls of one report: admitted while the limits allow, their results
/// recorded as they come.
pub(super) struct Admission {
    runner: Arc<Runner>,
    inputs: Arc<Inputs>,
    schedule: Schedule,
    deadline: DateTime<Utc>,
    /// Calls being made or recorded, each in its own task.
    tasks: JoinSet<Result<(), StoreError>>,
    events: mpsc::UnboundedReceiver<Event>,
    events_tx: mpsc::UnboundedSender<Event>,
    /// Calls whose HTTP exchange is under way (each holds a slot).
    in_flight: usize,
    /// Calls reserved ahead, to start when a slot frees.
    ahead: VecDeque<Admitted>,
    phase: Phase,
    /// The writer of the report's runs, awaited when the calls are over.
    recorder: tokio::task::JoinHandle<()>,
}

impl Admission {
    /// The cells still to run, and what they need: each page prepared
    /// once (ahead of the calls, in their order), each model's request
    /// envelope built once. A model the report
    /// has no price for is never called: its cells are recorded as errors.
    pub(super) async fn prepare(
        runner: &Arc<Runner>,
        claim: &ClaimedReport,
        snapshot: Arc<Snapshot>,
        limits: Arc<ProductLimits>,
    ) -> Result<Self, StoreError> {
        let done = runner.store.done_cells(claim.lease.report_id).await?;
        let ids: Vec<String> = snapshot.models.iter().map(|m| m.id.clone()).collect();
        let mut schedule = Schedule::new(
            &ids,
            snapshot.documents.len(),
            snapshot.repeats,
            &done,
            runner.limits.per_model_concurrency,
        );
        let unpriced: Vec<Cell> = snapshot
            .models
            .iter()
            .filter(|m| m.price.is_none())
            .flat_map(|m| schedule.remove_model(&m.id))
            .collect();
        let (events_tx, events) = mpsc::unbounded_channel();
        let (recorder, recording) = Recorder::start(runner.store.clone(), claim.lease.clone());
        let inputs = Arc::new(Inputs {
            lease: claim.lease.clone(),
            recorder,
            snapshot: snapshot.clone(),
            pages: pages_ahead(runner, &schedule, &snapshot, &limits),
            envelopes: envelopes(&snapshot, limits.max_answer_tokens),
            limits,
        });
        for cell in unpriced {
            let why = format!("no price is known for {}, so it was not called", cell.model);
            CellJob::new(runner.clone(), inputs.clone(), events_tx.clone(), cell)
                .record(CallOutcome::not_sent(why))
                .await?;
        }
        let deadline = claim.started_at
            + chrono::Duration::from_std(runner.limits.max_duration).unwrap_or_default();
        Ok(Self {
            runner: runner.clone(),
            inputs,
            schedule,
            deadline,
            tasks: JoinSet::new(),
            events,
            events_tx,
            in_flight: 0,
            ahead: VecDeque::new(),
            phase: Phase::Admitting,
            recorder: recording,
        })
    }

    /// Admits and awaits calls until none is left or a limit stops
    /// admission, and the calls in flight have ended and been recorded.
    pub(super) async fn run(
        mut self,
        heartbeat: &Heartbeat,
        stop: &mut watch::Receiver<bool>,
    ) -> Ending {
        loop {
            self.admit(heartbeat, stop).await;
            if self.phase == Phase::Admitting
                && !self.schedule.has_pending()
                && self.ahead.is_empty()
            {
                self.end(Ending::AllDone);
            }
            if self.phase != Phase::Admitting {
                self.release_ahead().await;
                if self.in_flight == 0 && self.tasks.is_empty() {
                    break;
                }
            }
            let admitting = self.phase == Phase::Admitting;
            let resume = self
                .schedule
                .next_resume(Instant::now())
                .filter(|_| admitting);
            tokio::select! {
                Some(event) = self.events.recv() => self.on_event(event),
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => self.settle(joined),
                _ = sleep_until(resume), if resume.is_some() => {}
                changed = stop.changed(), if admitting => {
                    if changed.is_err() {
                        // Whoever could stop the engine is gone: stop.
                        self.end(Ending::HandBack);
                    }
                }
            }
            if *stop.borrow() && self.phase == Phase::Admitting {
                self.end(Ending::HandBack);
            }
        }
        if heartbeat.lost() {
            self.end(Ending::LeaseLost);
        }
        // Every call has ended: the writer finishes what it holds and stops.
        drop(self.inputs);
        let _ = self.recorder.await;
        match self.phase {
            Phase::Draining(ending) => ending,
            Phase::Admitting => Ending::AllDone,
        }
    }

    /// No call starts any more, for `why` (or a graver reason already
    /// known).
    fn end(&mut self, why: Ending) {
        self.phase = match self.phase {
            Phase::Admitting => Phase::Draining(why),
            Phase::Draining(known) => Phase::Draining(known.max(why)),
        };
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::HttpDone { model, answered } => {
                self.in_flight -= 1;
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

    /// Starts calls while there is a free slot, a cell for it and money and
    /// time left; with every slot busy and none held ahead, reserves the
    /// next [`RESERVED_AHEAD`] calls. The calls of one document admitted
    /// together are reserved in one round trip.
    async fn admit(&mut self, heartbeat: &Heartbeat, stop: &watch::Receiver<bool>) {
        loop {
            while let Ok(event) = self.events.try_recv() {
                self.on_event(event);
            }
            if self.phase != Phase::Admitting {
                return;
            }
            if *stop.borrow() {
                return self.end(Ending::HandBack);
            }
            if heartbeat.lost() {
                return self.end(Ending::LeaseLost);
            }
            if Utc::now() >= self.deadline {
                return self.end(Ending::Deadline);
            }
            let global = self.runner.limits.global_concurrency;
            while self.in_flight < global {
                let Some((cell, image)) = self.ahead.pop_front() else {
                    break;
                };
                self.start(cell, image);
            }
            let free = global.saturating_sub(self.in_flight);
            if free == 0 && !self.ahead.is_empty() {
                return;
            }
            let wanted = free + RESERVED_AHEAD.saturating_sub(self.ahead.len());
            let cells: Vec<Cell> = std::iter::from_fn(|| self.schedule.start_next(Instant::now()))
                .take(wanted)
                .collect();
            if cells.is_empty() {
                return;
            }
            if !self.admit_all(cells).await {
                return;
            }
        }
    }

    /// Admits `cells` in document order, as soon as their pages are
    /// prepared: the first waits for its own document's pages, and takes
    /// along every following one whose pages are ready already, so a call
    /// never waits for a later document's pages and calls are reserved a
    /// batch at a time. False when admission must stop.
    async fn admit_all(&mut self, mut cells: Vec<Cell>) -> bool {
        cells.sort_by_key(|cell| cell.image_index);
        let mut rest = cells.into_iter().peekable();
        while let Some(first) = rest.next() {
            let image = self.inputs.pages.get(first.image_index).await;
            let mut batch = vec![(first, image)];
            while let Some(next) = rest.peek() {
                let Some(image) = self.inputs.pages.ready(next.image_index) else {
                    break;
                };
                batch.extend(rest.next().map(|cell| (cell, image)));
            }
            if !self.admit_batch(batch).await {
                for cell in rest {
                    self.schedule.finished(&cell.model);
                }
                return false;
            }
        }
        true
    }

    /// Reserves `admitted` in one round trip and starts them (or holds them
    /// ahead while every slot is busy); false when admission must stop
    /// (the money ran out, or the ledger could not be written). A document
    /// whose pages could not be read is never sent: each of its calls is
    /// recorded with the reason, and has nothing to reserve.
    async fn admit_batch(&mut self, admitted: Vec<Admitted>) -> bool {
        let (sendable, unreadable): (Vec<Admitted>, Vec<Admitted>) =
            admitted.into_iter().partition(|(_, image)| image.is_ok());
        for (cell, image) in unreadable {
            self.start(cell, image);
        }
        let reserved = match self.reserve(&sendable).await {
            Ok(reserved) => reserved,
            Err(e) => {
                for (cell, _) in &sendable {
                    self.schedule.finished(&cell.model);
                }
                self.refused_write(e);
                return false;
            }
        };
        let all = reserved == sendable.len();
        for (i, (cell, image)) in sendable.into_iter().enumerate() {
            if i >= reserved {
                self.schedule.finished(&cell.model);
            } else if self.in_flight < self.runner.limits.global_concurrency {
                self.start(cell, image);
            } else {
                self.ahead.push_back((cell, image));
            }
        }
        if !all {
            tracing::info!("spending limit reached; no new calls");
            self.end(Ending::Budget);
        }
        all
    }

    /// Gives back the reservations of calls reserved ahead and never sent.
    async fn release_ahead(&mut self) {
        while let Some((cell, _)) = self.ahead.pop_front() {
            self.schedule.finished(&cell.model);
            let released = self
                .runner
                .store
                .release_reservation(&self.inputs.lease, &cell)
                .await;
            if let Err(e) = released {
                // Left reserved, it stays counted: safe, and settled when
                // the report is taken over.
                self.refused_write(e);
            }
        }
    }

    /// Reserves the worst case of each call, in order: how many the money
    /// allows (those after the first it does not allow are not reserved).
    async fn reserve(&self, calls: &[Admitted]) -> Result<usize, StoreError> {
        if calls.is_empty() {
            return Ok(0);
        }
        let asked: Vec<CallToReserve> = calls
            .iter()
            .map(|(cell, image)| {
                let (image_index, repeat) = cell.numbers();
                CallToReserve {
                    model_id: &cell.model,
                    image_index,
                    repeat,
                    image_pixels: images::pixels(image).min(i64::MAX as u64) as i64,
                }
            })
            .collect();
        let reserved = self
            .runner
            .store
            .reserve(&self.inputs.lease, &asked)
            .await?;
        Ok(reserved.len())
    }

    fn start(&mut self, cell: Cell, image: Image) {
        self.in_flight += 1;
        let job = CellJob::new(
            self.runner.clone(),
            self.inputs.clone(),
            self.events_tx.clone(),
            cell,
        );
        self.tasks.spawn(job.run(image).in_current_span());
    }

    /// A call's task ended: its result recorded, or not (then the report is
    /// handed back, or given up if the lease is gone).
    fn settle(&mut self, joined: Result<Result<(), StoreError>, tokio::task::JoinError>) {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.refused_write(e),
            Err(e) => {
                tracing::error!(error = %e, "a call task failed");
                self.end(Ending::HandBack);
            }
        }
    }

    fn refused_write(&mut self, error: StoreError) {
        match error {
            StoreError::LeaseLost(_) => self.end(Ending::LeaseLost),
            e => {
                tracing::error!(error = %e, "a write failed; the report will be handed back");
                self.end(Ending::HandBack);
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Starts preparing the pages of every document a pending call needs, in
/// the order the calls take them.
fn pages_ahead(
    runner: &Runner,
    schedule: &Schedule,
    snapshot: &Snapshot,
    limits: &ProductLimits,
) -> PagesAhead {
    let wanted = schedule
        .calls_per_image()
        .into_iter()
        .map(|(i, calls)| (i, snapshot.documents[i].pages.clone(), calls))
        .collect();
    PagesAhead::start(
        runner.images.clone(),
        wanted,
        limits.max_image_bytes,
        snapshot.send_policy.unwrap_or_else(|| limits.send_policy()),
    )
}

/// Each priced model's request without its image, built once.
fn envelopes(snapshot: &Snapshot, max_tokens: u32) -> HashMap<String, Envelope> {
    snapshot
        .models
        .iter()
        .filter_map(|model| {
            let price = model.price.as_ref()?;
            let envelope = Envelope::new(
                &model.id,
                &snapshot.prompt,
                snapshot.schema.as_deref(),
                price.supports_json_schema,
                max_tokens,
                snapshot.privacy,
            );
            Some((model.id.clone(), envelope))
        })
        .collect()
}
