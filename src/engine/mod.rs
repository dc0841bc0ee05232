//! The benchmark engine: claims paid reports and runs them.
//!
//! NOTIFY `report_paid` is only a wake-up. On every connect and reconnect the
//! engine LISTENs first and sweeps second, so a report paid in between is
//! never missed; a periodic sweep also picks up notifications lost while
//! disconnected and reports whose engine died (expired lease). The LISTEN
//! connection is driven explicitly (tokio-postgres hands notifications only
//! to whoever polls it) and checked with a round-trip, so a half-open
//! connection is noticed and replaced.

pub mod budget;
pub mod followup;
pub mod provider;
pub mod queue;
pub mod runner;
pub mod score;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_postgres::AsyncMessage;

use runner::{RunError, RunnerContext};

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// A direct or session-mode connection: LISTEN does not work through a
    /// transaction pooler.
    pub database: crate::database::Database,
    pub worker_id: String,
    pub sweep_interval: Duration,
    pub health_interval: Duration,
    /// Reports this engine runs at once.
    pub max_reports: usize,
    /// How long calls in flight may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

pub struct Engine {
    settings: EngineSettings,
    ctx: Arc<RunnerContext>,
    followups: Arc<followup::Followups>,
}

impl Engine {
    pub fn new(
        settings: EngineSettings,
        ctx: RunnerContext,
        followups: followup::Followups,
    ) -> Self {
        Self {
            settings,
            ctx: Arc::new(ctx),
            followups: Arc::new(followups),
        }
    }

    /// Emails and refunds owed for finished reports, in the background.
    fn follow_up(&self, tasks: &mut JoinSet<()>) {
        if tasks.is_empty() {
            let (db, followups) = (self.ctx.db.clone(), self.followups.clone());
            tasks.spawn(async move { followup::run_pending(&db, &followups).await });
        }
    }

    /// Runs until `shutdown` turns true; then stops claiming, lets running
    /// reports finish their calls in flight (up to the grace period) and
    /// hands their leases back.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut reports: JoinSet<Result<(), RunError>> = JoinSet::new();
        let mut followups: JoinSet<()> = JoinSet::new();
        let mut backoff = Duration::from_millis(100);
        'connect: while !*shutdown.borrow() {
            let (client, mut notifications) = match self.listen().await {
                Ok(pair) => {
                    backoff = Duration::from_millis(100);
                    pair
                }
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
            tracing::info!(worker = %self.settings.worker_id, "engine listening for paid reports");
            self.fill(&mut reports, &shutdown).await;
            let mut sweep = tokio::time::interval(self.settings.sweep_interval);
            let mut health = tokio::time::interval(self.settings.health_interval);
            loop {
                tokio::select! {
                    note = notifications.recv() => {
                        if note.is_none() {
                            tracing::warn!("the LISTEN connection closed; reconnecting");
                            continue 'connect;
                        }
                        self.fill(&mut reports, &shutdown).await;
                    }
                    _ = sweep.tick() => {
                        self.fill(&mut reports, &shutdown).await;
                        self.follow_up(&mut followups);
                    }
                    Some(_) = followups.join_next(), if !followups.is_empty() => {}
                    _ = health.tick() => {
                        let alive = tokio::time::timeout(Duration::from_secs(5), client.simple_query("select 1")).await;
                        if !matches!(alive, Ok(Ok(_))) {
                            tracing::warn!("the LISTEN connection stopped answering; reconnecting");
                            continue 'connect;
                        }
                    }
                    Some(done) = reports.join_next(), if !reports.is_empty() => {
                        match done {
                            Ok(Err(e)) => tracing::warn!(error = %e, "a report run ended early"),
                            Err(e) => tracing::error!(error = %e, "a report run panicked"),
                            Ok(Ok(())) => {}
                        }
                        self.fill(&mut reports, &shutdown).await;
                        self.follow_up(&mut followups);
                    }
                    _ = shutdown.changed() => break 'connect,
                }
            }
        }
        tracing::info!(running = reports.len(), "engine stopping");
        let drain = async { while reports.join_next().await.is_some() {} };
        if tokio::time::timeout(self.settings.shutdown_grace, drain)
            .await
            .is_err()
        {
            tracing::warn!("grace period over; leases of unfinished reports will expire");
            reports.abort_all();
        }
        while followups.join_next().await.is_some() {}
    }

    /// A connection that has run LISTEN, and its notifications.
    async fn listen(
        &self,
    ) -> Result<(tokio_postgres::Client, mpsc::UnboundedReceiver<String>), tokio_postgres::Error>
    {
        let (client, mut connection) = self.settings.database.connect().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
        client.batch_execute("listen report_paid").await?;
        Ok((client, rx))
    }

    /// Claims reports while there is room, and starts them.
    async fn fill(
        &self,
        reports: &mut JoinSet<Result<(), RunError>>,
        shutdown: &watch::Receiver<bool>,
    ) {
        while reports.len() < self.settings.max_reports && !*shutdown.borrow() {
            let client = match self.ctx.db.get().await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "no database connection to claim with");
                    return;
                }
            };
            match queue::claim_next(&client, &self.settings.worker_id, self.ctx.limits.lease).await
            {
                Ok(Some(claim)) => {
                    tracing::info!(report.id = %claim.lease.report_id, attempt = claim.attempts, "report claimed");
                    reports.spawn(runner::run_report(
                        self.ctx.clone(),
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
