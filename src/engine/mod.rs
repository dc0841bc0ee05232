//! The benchmark engine: claims paid reports and runs them.
//!
//! NOTIFY `report_paid` (and `report_rescore`, for a finished report whose
//! owner corrected its expected JSON) is only a wake-up. On every connect and reconnect the
//! engine LISTENs first and sweeps second, so a report paid in between is
//! never missed; a periodic sweep also picks up notifications lost while
//! disconnected and reports whose engine died (expired lease). The LISTEN
//! connection is checked with a round trip, so a half-open connection is
//! noticed and replaced.
//!
//! The parts: `store` (every statement the engine runs), `queue` (holding a
//! lease), `report` (one claimed report, from its snapshot to its end),
//! `schedule` (which call next), `call` (a cell's attempts and what they
//! cost), `score` (what each answer is worth; the report's figures are
//! `crate::figures`), `limits` (the
//! database's), `images`, `followup` (emails, refunds), `catalog` (the
//! models offered, as the provider lists them), `new_models` (emails about new
//! models to owners who asked).

pub mod alerts;
pub mod call;
pub mod catalog;
pub mod followup;
pub mod heartbeat;
pub mod images;
pub mod limits;
pub mod new_models;
pub mod report;
pub mod retention;
pub mod schedule;
pub mod score;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::QueueSettings;
use crate::database::Database;
use catalog::CatalogSync;
use followup::Followups;
use limits::ProductLimits;
use report::{RunError, Runner};
use store::{Listener, Wakeup};

/// What the engine is made of; `startup::engine` builds it from settings.
pub struct Engine {
    pub database: Database,
    pub worker_id: String,
    pub queue: QueueSettings,
    pub runner: Arc<Runner>,
    pub followups: Arc<Followups>,
    /// Syncs the model catalog on its schedule; none: not this engine.
    pub catalog: Option<CatalogSync>,
}

/// Why the loop around one LISTEN connection ended.
enum Disconnect {
    Lost,
    ShuttingDown,
}

/// How long a finished report's follow-up waits for others to finish, so
/// that a busy engine claims them in one pass instead of one each.
const FOLLOW_UP_GATHER: Duration = Duration::from_millis(200);

/// What the engine has under way.
#[derive(Default)]
struct Work {
    reports: JoinSet<Result<(), RunError>>,
    followups: JoinSet<()>,
    /// Reports being scored again: one task at a time.
    rescoring: JoinSet<usize>,
    /// Corrections arrived while that task ran: it runs again once done.
    rescore_again: bool,
    /// A sweep asked for the housekeeping: the next follow-up task does it.
    housekeeping_due: bool,
}

impl Engine {
    /// Runs until `shutdown` turns true; then stops claiming, lets running
    /// reports finish their calls in flight (up to the grace period) and
    /// hands their leases back.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut work = Work::default();
        let catalog = self
            .catalog
            .take()
            .map(|catalog| tokio::spawn(catalog.keep_current(shutdown.clone())));
        let Some(limits) = self.load_limits(&mut shutdown).await else {
            return;
        };
        let refigure = tokio::spawn(report::refigure_finished(
            self.runner.clone(),
            limits.clone(),
        ));
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            let listener = match Listener::connect(&self.database).await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "engine cannot listen; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            tracing::info!(worker = %self.worker_id, "engine listening for paid reports");
            if let Disconnect::ShuttingDown = self
                .serve(listener, &limits, &mut work, &mut shutdown)
                .await
            {
                break;
            }
        }
        self.drain(work).await;
        refigure.abort();
        if let Some(catalog) = catalog {
            let _ = catalog.await;
        }
    }

    /// The product's limits, as the database states them; asked again with
    /// backoff until it answers. `None`: shut down meanwhile.
    async fn load_limits(
        &self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Option<Arc<ProductLimits>> {
        let mut backoff = Duration::from_millis(100);
        while !*shutdown.borrow() {
            match self.runner.store.product_limits().await {
                Ok(limits) => return Some(Arc::new(limits)),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "engine cannot read the product's limits; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        None
    }

    /// Claims on every wake-up, sweep and finished report, over one LISTEN
    /// connection, until it is lost or the engine shuts down.
    async fn serve(
        &self,
        mut listener: Listener,
        limits: &Arc<ProductLimits>,
        work: &mut Work,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Disconnect {
        self.fill(limits, &mut work.reports, shutdown).await;
        self.rescore(limits, work);
        let mut sweep = tokio::time::interval(self.queue.sweep_interval);
        let mut health = tokio::time::interval(self.queue.health_interval);
        loop {
            tokio::select! {
                wakeup = listener.next() => match wakeup {
                    None => {
                        tracing::warn!("the LISTEN connection closed; reconnecting");
                        return Disconnect::Lost;
                    }
                    Some(Wakeup::Paid) => self.fill(limits, &mut work.reports, shutdown).await,
                    Some(Wakeup::Rescore) => self.rescore(limits, work),
                },
                _ = sweep.tick() => {
                    self.fill(limits, &mut work.reports, shutdown).await;
                    self.rescore(limits, work);
                    self.follow_up(work, true);
                    if let Err(error) = self.runner.store.record_sweep(&self.worker_id).await {
                        tracing::warn!(%error, "the sweep could not be recorded for /ready");
                    }
                }
                Some(_) = work.followups.join_next(), if !work.followups.is_empty() => {
                    if work.housekeeping_due {
                        self.follow_up(work, false);
                    }
                }
                Some(_) = work.rescoring.join_next(), if !work.rescoring.is_empty() => {
                    if std::mem::take(&mut work.rescore_again) {
                        self.rescore(limits, work);
                    }
                }
                _ = health.tick() => {
                    if !listener.answers(Duration::from_secs(5)).await {
                        tracing::warn!("the LISTEN connection stopped answering; reconnecting");
                        return Disconnect::Lost;
                    }
                }
                Some(done) = work.reports.join_next(), if !work.reports.is_empty() => {
                    match done {
                        Ok(Err(e)) => tracing::warn!(error = %e, "a report run ended early"),
                        Err(e) => tracing::error!(error = %e, "a report run panicked"),
                        Ok(Ok(())) => {}
                    }
                    self.fill(limits, &mut work.reports, shutdown).await;
                    self.follow_up(work, false);
                }
                _ = shutdown.changed() => return Disconnect::ShuttingDown,
            }
        }
    }

    /// Lets running reports end (up to the grace period), then the
    /// follow-ups under way.
    async fn drain(&self, mut work: Work) {
        tracing::info!(running = work.reports.len(), "engine stopping");
        let reports = async { while work.reports.join_next().await.is_some() {} };
        if tokio::time::timeout(self.queue.shutdown_grace, reports)
            .await
            .is_err()
        {
            tracing::warn!("grace period over; leases of unfinished reports will expire");
            work.reports.abort_all();
        }
        while work.followups.join_next().await.is_some() {}
        while work.rescoring.join_next().await.is_some() {}
    }

    /// Scores again, in the background, the reports whose owners corrected
    /// their expected JSON; if that is under way already, once it is done.
    fn rescore(&self, limits: &Arc<ProductLimits>, work: &mut Work) {
        if work.rescoring.is_empty() {
            work.rescoring
                .spawn(report::rescore_pending(self.runner.clone(), limits.clone()));
        } else {
            work.rescore_again = true;
        }
    }

    /// Emails and refunds owed for finished reports, in the background,
    /// as soon as one finishes; on the sweep (`sweep`), with them, the
    /// housekeeping nothing waits on: operator alerts, image retention and
    /// the emails about new models. (Run after every finished report, the
    /// housekeeping's queries cost a busy database as much as the report's.)
    fn follow_up(&self, work: &mut Work, sweep: bool) {
        work.housekeeping_due |= sweep;
        if work.followups.is_empty() {
            let housekeeping = std::mem::take(&mut work.housekeeping_due);
            let followups = self.followups.clone();
            work.followups.spawn(async move {
                if !sweep {
                    // Reports finishing together are followed up together:
                    // one pass for all that finish meanwhile.
                    tokio::time::sleep(FOLLOW_UP_GATHER).await;
                }
                followup::run_pending(&followups).await;
                if housekeeping {
                    alerts::send_pending(&followups).await;
                    retention::run(&followups).await;
                    new_models::send_due(&followups).await;
                }
            });
        }
    }

    /// Claims reports while there is room, and starts them.
    async fn fill(
        &self,
        limits: &Arc<ProductLimits>,
        reports: &mut JoinSet<Result<(), RunError>>,
        shutdown: &watch::Receiver<bool>,
    ) {
        while reports.len() < self.queue.max_reports && !*shutdown.borrow() {
            match self
                .runner
                .store
                .claim(
                    &self.worker_id,
                    self.runner.limits.lease,
                    self.runner.limits.max_attempts,
                )
                .await
            {
                Ok(Some(claim)) => {
                    tracing::info!(report.id = %claim.lease.report_id, attempt = claim.attempts, "report claimed");
                    reports.spawn(report::run_report(
                        self.runner.clone(),
                        limits.clone(),
                        claim,
                        shutdown.clone(),
                    ));
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming failed");
                    return;
                }
            }
        }
    }
}
