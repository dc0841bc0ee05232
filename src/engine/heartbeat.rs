//! Holding a claimed report: the lease is renewed every third of its length
//! for as long as the report runs. A renewal that finds the lease gone (it
//! expired and another engine took the report) stops admission, and every
//! later write fails its fence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::store::{Lease, Store, StoreError};

/// The heartbeat of one report's lease; it stops when dropped (the run
/// ended, or the engine was killed), so the lease can then expire.
pub struct Heartbeat {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    pub fn start(store: Store, lease: Lease, duration: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(
            async move {
                loop {
                    tokio::time::sleep(duration / 3).await;
                    match store.renew(&lease, duration).await {
                        Ok(()) => {}
                        Err(StoreError::LeaseLost(_)) => {
                            flag.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
                    }
                }
            }
            .in_current_span(),
        );
        Self { lost, task }
    }

    /// Whether another engine holds the report now.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}
