//! Images let go of after their retention (`expire_report_images`), and
//! the files waiting to be deleted from Storage (`image_deletions_due`,
//! `image_deletions_done`): supabase/schemas/sharing.sql.

use super::{Store, StoreError};

impl Store {
    /// Up to `limit` finished reports kept `days` let go of their images;
    /// how many did.
    pub async fn expire_report_images(&self, days: u32, limit: i32) -> Result<i32, StoreError> {
        self.value(
            "select public.expire_report_images($1, $2) as value",
            &[&(days as i32), &limit],
        )
        .await
    }

    /// Files waiting to be deleted from Storage, oldest first.
    pub async fn image_deletions_due(&self, limit: i32) -> Result<Vec<String>, StoreError> {
        self.value("select public.image_deletions_due($1) as value", &[&limit])
            .await
    }

    /// These files are gone from Storage.
    pub async fn image_deletions_done(&self, names: &[String]) -> Result<i32, StoreError> {
        self.value("select public.image_deletions_done($1) as value", &[&names])
            .await
    }
}
