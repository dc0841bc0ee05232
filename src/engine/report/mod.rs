//! One claimed report, from its snapshot to its end. The walk of a claim:
//!
//! 1. `snapshot`: the report's paid-for draft, read once (documents,
//!    models and their prices, prompt, schema), or why it cannot run;
//! 2. `admission`: calls start within the limits (slots, money, time),
//!    the lease renewed all along (`heartbeat::Heartbeat`);
//! 3. `cell`: each call sent (`call`), scored (`score`) and recorded in
//!    place of its reservation, with the results of the calls that finish
//!    together (`recorder`);
//! 4. `finish`: the outcome from the runs, the figures stored, the report
//!    finished; or handed back for another engine, or left to the engine
//!    that holds it now.
//!
//! `refigure` computes again, when the engine starts, the figures of
//! finished reports that lack what the report page reads; `rescore` scores
//! a finished report again when its owner corrects the expected JSON.

mod cell;
mod finish;
mod recorder;
mod refigure;
mod rescore;
mod run_loop;
pub mod snapshot;

use std::sync::Arc;

use tokio::sync::watch;
use tracing::Instrument;

use super::call::attempt::Provider;
use super::heartbeat::Heartbeat;
use super::images::ImageSource;
use super::limits::ProductLimits;
use super::store::{ClaimedReport, Outcome, Store, StoreError};
use crate::config::RunLimits;
pub use refigure::refigure_finished;
pub use rescore::rescore_pending;
use run_loop::{Admission, Ending};
use snapshot::Snapshot;

/// What every report run shares.
pub struct Runner {
    pub store: Store,
    pub provider: Provider,
    pub images: Arc<ImageSource>,
    pub limits: RunLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the report until every cell has a result or a limit stops it, then
/// finishes it. Returns `LeaseLost` (writing nothing more) when another
/// engine took the report over; on `stop`, lets calls in flight end and
/// hands the report back.
pub async fn run_report(
    runner: Arc<Runner>,
    limits: Arc<ProductLimits>,
    claim: ClaimedReport,
    stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let span = tracing::info_span!("report", report.id = %claim.lease.report_id, report.attempt = claim.attempts);
    run_claimed(runner, limits, claim, stop)
        .instrument(span)
        .await
}

async fn run_claimed(
    runner: Arc<Runner>,
    limits: Arc<ProductLimits>,
    mut claim: ClaimedReport,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let lease = claim.lease.clone();
    let snapshot = match Snapshot::parse(
        std::mem::take(&mut claim.config_snapshot),
        std::mem::take(&mut claim.extraction_prompt),
        claim.json_schema.take(),
        &limits.json,
    ) {
        Ok(snapshot) => Arc::new(snapshot),
        Err(reason) => {
            return finish::finish(&runner, &lease, Outcome::Failed { reason }, None).await
        }
    };
    let heartbeat = Heartbeat::start(runner.store.clone(), lease.clone(), runner.limits.lease);
    let admission = Admission::prepare(&runner, &claim, snapshot.clone(), limits.clone()).await?;
    let ending = admission.run(&heartbeat, &mut stop).await;
    drop(heartbeat);
    match ending {
        Ending::LeaseLost => Err(StoreError::LeaseLost(lease.report_id).into()),
        Ending::HandBack => {
            runner.store.release(&lease).await?;
            tracing::info!("report handed back for another engine");
            Ok(())
        }
        ending => {
            let runs = runner.store.report_runs(lease.report_id).await?;
            let tally = finish::Tally::of(&runs);
            let outcome = finish::outcome(
                &tally,
                ending,
                &runner.limits,
                limits.soft_ceiling_usd,
                claim.runs_planned,
            );
            let figures = finish::compute_figures(&snapshot, runs).await;
            finish::finish(&runner, &lease, outcome, figures).await
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
