//! The model catalog and the product's limits as the database keeps them
//! (`sync_model_catalog`, `record_catalog_sync_failure`,
//! `catalog_sync_due`: supabase/schemas/catalog.sql; `draft_limits`:
//! supabase/schemas/drafts.sql).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::engine::limits::ProductLimits;

/// What a sync changed, as the database counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// Models offered now.
    pub offered: u32,
    pub added: u32,
    pub repriced: u32,
    pub reactivated: u32,
    pub deactivated: u32,
    /// Models listed that cannot be offered (text only, no fixed price).
    pub refused: u32,
}

impl Store {
    /// The product's limits, as `draft_limits()` states them.
    pub async fn product_limits(&self) -> Result<ProductLimits, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("select public.draft_limits() as limits", &[])
            .await?;
        ProductLimits::from_json(row.try_get("limits")?).map_err(StoreError::Unexpected)
    }

    /// Makes the catalog what the provider lists (`sync_model_catalog`):
    /// the models it offers and those it refuses, each as the function reads
    /// them, and the ids of those with a zero-retention endpoint when known;
    /// what changed, as the database counts it.
    pub async fn sync_catalog<O, R>(
        &self,
        offered: &[O],
        refused: &[R],
        zero_retention: Option<&[String]>,
    ) -> Result<SyncSummary, StoreError>
    where
        O: Serialize + std::fmt::Debug + Sync,
        R: Serialize + std::fmt::Debug + Sync,
    {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.sync_model_catalog($1, $2, $3) as summary",
                &[
                    &tokio_postgres::types::Json(offered),
                    &tokio_postgres::types::Json(refused),
                    &zero_retention,
                ],
            )
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) if db.code().code().starts_with("PT") => {
                    StoreError::Refused(db.message().to_owned())
                }
                _ => StoreError::Db(e),
            })?;
        serde_json::from_value(row.try_get("summary")?)
            .map_err(|e| StoreError::Unexpected(e.to_string()))
    }

    /// Keeps a failed sync's reason for an operator.
    pub async fn record_catalog_sync_failure(&self, error: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("select public.record_catalog_sync_failure($1)", &[&error])
            .await?;
        Ok(())
    }

    /// Whether the catalog should be synced now: it offers nothing, or its
    /// last sync that worked is `every` old.
    pub async fn catalog_sync_due(&self, every: Duration) -> Result<bool, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.catalog_sync_due(make_interval(secs => $1)) as due",
                &[&(every.as_secs_f64())],
            )
            .await?;
        Ok(row.try_get("due")?)
    }
}
