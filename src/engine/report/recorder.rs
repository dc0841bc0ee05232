//! Writes a report's runs: the results of calls that finish together go to
//! the database in one statement (`record_runs`). Nothing waits to make a
//! batch: a result is written at once when no write is under way, and the
//! results that arrive during a write go together in the next one. Each
//! call learns whether its own result was written.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::engine::store::{Lease, RunRecord, Store, StoreError};

/// Results written in one statement, at most (`record_runs` takes 50).
const BATCH: usize = 50;

/// Why a result was not written, as each call of a failed batch hears it.
#[derive(Debug, Clone)]
enum NotWritten {
    LeaseLost,
    Failed(String),
}

type Pending = (RunRecord, oneshot::Sender<Result<(), NotWritten>>);

/// The writer of one report's runs; it ends when every handle to it is
/// dropped and what it holds is written.
#[derive(Clone)]
pub(super) struct Recorder {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Recorder {
    pub(super) fn start(store: Store, lease: Lease) -> (Self, JoinHandle<()>) {
        let (queue, pending) = mpsc::unbounded_channel();
        let task = tokio::spawn(write(store, lease, pending).in_current_span());
        (Self { queue }, task)
    }

    /// Records one call's result, with whatever else finished meanwhile.
    pub(super) async fn record(&self, run: RunRecord, lease: &Lease) -> Result<(), StoreError> {
        let (done, written) = oneshot::channel();
        let gone = || StoreError::Unexpected("the report's writer has stopped".into());
        self.queue.send((run, done)).map_err(|_| gone())?;
        match written.await.map_err(|_| gone())? {
            Ok(()) => Ok(()),
            Err(NotWritten::LeaseLost) => Err(StoreError::LeaseLost(lease.report_id)),
            Err(NotWritten::Failed(why)) => Err(StoreError::Unexpected(why)),
        }
    }
}

async fn write(store: Store, lease: Lease, mut pending: mpsc::UnboundedReceiver<Pending>) {
    while let Some(first) = pending.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (runs, calls): (Vec<RunRecord>, Vec<_>) = batch.into_iter().unzip();
        let written = store.record_runs(&lease, &runs).await.map_err(|e| match e {
            StoreError::LeaseLost(_) => NotWritten::LeaseLost,
            other => NotWritten::Failed(other.to_string()),
        });
        for call in calls {
            let _ = call.send(written.clone());
        }
    }
}
