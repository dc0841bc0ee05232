//! Retention: a finished report's document images are deleted
//! IMAGE_RETENTION_DAYS after it finished. The database lets go of them
//! (the report stays readable) and queues the files no one keeps; this
//! deletes those from Storage, then says so, so a crash in between only
//! deletes a file twice.

use crate::engine::followup::Followups;
use crate::storage::service_remove;

/// Reports expired, and files deleted, per round; rounds per sweep.
const BATCH: i32 = 50;
const ROUNDS: usize = 10;

pub async fn run(followups: &Followups) {
    let Some(storage) = followups.storage.as_ref() else {
        return;
    };
    let store = &followups.store;
    let days = followups.retry.image_retention_days;
    for _ in 0..ROUNDS {
        match store.expire_report_images(days, BATCH).await {
            Ok(expired) if expired > 0 => {
                tracing::info!(
                    reports = expired,
                    days,
                    "report images past their retention let go of"
                )
            }
            Ok(_) => break,
            Err(e) => return tracing::warn!(error = %e, "image retention could not run"),
        }
    }
    for _ in 0..ROUNDS {
        let names = match store.image_deletions_due(BATCH).await {
            Ok(names) if names.is_empty() => return,
            Ok(names) => names,
            Err(e) => return tracing::warn!(error = %e, "images to delete could not be read"),
        };
        if let Err(e) = service_remove(
            &storage.http,
            &storage.storage_url,
            &storage.service_role_key,
            &names,
        )
        .await
        {
            return tracing::warn!(error = %e, "images not deleted from Storage; will retry");
        }
        match store.image_deletions_done(&names).await {
            Ok(done) => tracing::info!(images = done, "images deleted from Storage"),
            Err(e) => {
                return tracing::warn!(error = %e, "images deleted but not recorded; will delete again")
            }
        }
    }
}
