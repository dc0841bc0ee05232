//! Images let go of after their retention (`expire_report_images`), and
//! the files waiting to be deleted from Storage (`image_deletions_due`,
//! `image_deletions_done`): supabase/schemas/sharing.sql.

use super::{Store, StoreError};

impl Store {
    /// Up to `limit` finished reports kept `days` let go of their images;
    /// how many did.
    pub async fn expire_report_images(&self, days: u32, limit: i32) -> Result<i32, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "select public.expire_report_images($1, $2) as expired",
                &[&(days as i32), &limit],
            )
            .await?;
        Ok(row.try_get("expired")?)
    }

    /// Files waiting to be deleted from Storage, oldest first.
    pub async fn image_deletions_due(&self, limit: i32) -> Result<Vec<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("select public.image_deletions_due($1) as names", &[&limit])
            .await?;
        Ok(row.try_get("names")?)
    }

    /// These files are gone from Storage.
    pub async fn image_deletions_done(&self, names: &[String]) -> Result<i32, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("select public.image_deletions_done($1) as done", &[&names])
            .await?;
        Ok(row.try_get("done")?)
    }
}
