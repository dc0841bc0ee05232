//! The model catalog, kept as the provider's models API lists it: fetched
//! (`GET {base}/models`, at most 16 MiB in 30 s, and `GET
//! {base}/endpoints/zdr` for which models can keep nothing), read
//! (`listing`: which models can be offered, at exact prices) and written
//! in one transaction
//! (`sync_model_catalog`, supabase/schemas/catalog.sql), which keeps inactive what is no
//! longer offered and every price a model has had. `modelpick catalog
//! sync` runs it once; the engine runs it every `CATALOG_SYNC_HOURS`. A
//! sync that fails changes nothing, is logged and kept for an operator,
//! and is tried again later: no report ever waits on it.

pub mod listing;

use std::time::Duration;

use tokio::sync::watch;

pub use super::store::SyncSummary;
use super::store::{Store, StoreError};
use crate::config::CatalogSettings;
use listing::ListingError;

/// The largest listing read: OpenRouter's is about 1 MB for 400 models.
const MAX_LISTING_BYTES: usize = 16 << 20;
/// Failed syncs are retried at most this far apart.
const MAX_RETRY: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the models API could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("the models API answered HTTP {0}")]
    Status(u16),
    #[error("the models API's answer is longer than {MAX_LISTING_BYTES} bytes")]
    TooLarge,
    #[error("the models API's answer is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error(transparent)]
    Listing(#[from] ListingError),
    #[error("the catalog could not be written: {0}")]
    Store(#[from] StoreError),
}

/// Syncs the catalog, once or on a schedule.
pub struct CatalogSync {
    store: Store,
    http: reqwest::Client,
    settings: CatalogSettings,
}

impl CatalogSync {
    pub fn new(store: Store, settings: CatalogSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()?;
        Ok(Self {
            store,
            http,
            settings,
        })
    }

    /// Fetches the listing and makes the catalog what it offers. A failure
    /// changes nothing and is recorded with its reason.
    pub async fn sync(&self) -> Result<SyncSummary, SyncError> {
        let result = self.try_sync().await;
        if let Err(e) = &result {
            if let Err(record) = self.store.record_catalog_sync_failure(&e.to_string()).await {
                tracing::warn!(error = %record, "a failed catalog sync could not be recorded");
            }
        }
        result
    }

    async fn try_sync(&self) -> Result<SyncSummary, SyncError> {
        let body = self.fetch("models").await?;
        let listing = listing::read(&serde_json::from_slice(&body)?)?;
        let zero_retention = self.zero_retention().await;
        Ok(self
            .store
            .sync_catalog(
                &listing.offered,
                &listing.refused,
                zero_retention.as_deref(),
            )
            .await?)
    }

    /// The ids of the models with a zero-data-retention endpoint (`GET
    /// {base}/endpoints/zdr`), or none when that listing cannot be read:
    /// then each model keeps what the last sync said, and the rest of the
    /// catalog syncs all the same.
    async fn zero_retention(&self) -> Option<Vec<String>> {
        let read = match self.fetch("endpoints/zdr").await {
            Ok(body) => serde_json::from_slice(&body)
                .map_err(SyncError::from)
                .and_then(|body| Ok(listing::zero_retention(&body)?)),
            Err(e) => Err(e),
        };
        read.inspect_err(|e| {
            tracing::warn!(error = %e, "zero-retention endpoints not read; each model keeps what the last sync said");
        })
        .ok()
    }

    async fn fetch(&self, path: &str) -> Result<Vec<u8>, SyncError> {
        let url = format!(
            "{}/{path}",
            self.settings.provider_base_url.trim_end_matches('/')
        );
        let mut response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(SyncError::Unreachable)?;
        if !response.status().is_success() {
            return Err(SyncError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_LISTING_BYTES as u64)
        {
            return Err(SyncError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(SyncError::Unreachable)? {
            if body.len() + chunk.len() > MAX_LISTING_BYTES {
                return Err(SyncError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Syncs every `every` until `shutdown` (at once if a sync is due), a
    /// failed sync again after a backoff. Several engines may run this: each
    /// syncs only when the database says the last sync is `every` old.
    pub async fn keep_current(self, mut shutdown: watch::Receiver<bool>) {
        let Some(every) = self.settings.every else {
            return;
        };
        let max_retry = every.min(MAX_RETRY);
        let mut retry = self.settings.first_retry.min(max_retry);
        while !*shutdown.borrow() {
            let wait = match self.store.catalog_sync_due(every).await {
                Ok(false) => every.min(MAX_RETRY),
                Ok(true) => match self.sync().await {
                    Ok(summary) => {
                        tracing::info!(
                            offered = summary.offered,
                            added = summary.added,
                            repriced = summary.repriced,
                            reactivated = summary.reactivated,
                            withdrawn = summary.deactivated,
                            not_offerable = summary.refused,
                            "model catalog synced"
                        );
                        retry = self.settings.first_retry.min(max_retry);
                        every
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in_s = retry.as_secs(), "model catalog sync failed; the catalog is as it was");
                        let wait = retry;
                        retry = (retry * 2).min(max_retry);
                        wait
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot tell whether the catalog is due a sync");
                    retry
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
