//! An account's data through Supabase, with the service role: exported,
//! and deleted in three steps that can each be asked again: the database's
//! rows (`delete_account_data`), the images in Storage, then the account
//! in Auth (its admin API), last, so a failure before it leaves the caller
//! a token to try again with.

use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{Supabase, SupabaseError};
use crate::config::ExposeSecret;

/// What `delete_account_data` did, and what is left to delete.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountDeletion {
    /// The images the account stored, to delete from Storage.
    pub images: Vec<String>,
    /// Payments kept for bookkeeping, with nothing that names the person.
    pub payments_kept: i64,
}

impl Supabase {
    /// Everything kept of the account, in one document.
    pub async fn export_account(&self, user_id: Uuid) -> Result<serde_json::Value, SupabaseError> {
        Self::send(self.service_rpc("export_account", json!({"p_user_id": user_id}))).await
    }

    /// Deletes the account's rows; PT409 (`Refused`) while a report of
    /// theirs runs or a refund to them is owed.
    pub async fn delete_account_data(
        &self,
        user_id: Uuid,
    ) -> Result<AccountDeletion, SupabaseError> {
        Self::send(self.service_rpc("delete_account_data", json!({"p_user_id": user_id}))).await
    }

    /// Removes the named images from Storage; names that are gone already
    /// are no error.
    pub async fn remove_images(&self, names: &[String]) -> Result<(), SupabaseError> {
        crate::storage::service_remove(&self.http, &self.storage_url, &self.service_role_key, names)
            .await
            .map_err(SupabaseError::Unavailable)
    }

    /// Deletes the account in Auth (`DELETE /auth/v1/admin/users/:id`); an
    /// account that is gone already is no error.
    pub async fn delete_auth_user(&self, user_id: Uuid) -> Result<(), SupabaseError> {
        let response = self
            .http
            .delete(format!("{}/admin/users/{user_id}", self.auth_url))
            .bearer_auth(self.service_role_key.expose_secret())
            .header("apikey", self.service_role_key.expose_secret())
            .send()
            .await
            .map_err(|e| SupabaseError::Unavailable(format!("Auth: {e}")))?;
        match response.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(SupabaseError::Unavailable(format!(
                "Auth answered {status} deleting the account"
            ))),
        }
    }
}
