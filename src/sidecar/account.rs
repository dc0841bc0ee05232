//! A customer's own account: `GET /api/account/export` (everything kept of
//! it, one JSON file) and `DELETE /api/account` (its drafts, reports and
//! images, then the account itself; the payments stay for bookkeeping,
//! naming no one). Both only for the bearer of the account's own token.

use uuid::Uuid;
use warp::http::{header, HeaderValue};
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::supabase::SupabaseError;

/// `GET /api/account/export`. At most a few at once per sidecar (an
/// export reads every report the account has).
pub async fn export(state: AppState, authorization: Option<String>) -> Result<Response, ApiError> {
    let caller = state.verifier.verify(authorization.as_deref()).await?;
    let _place = state.reads.enter("exports")?;
    let document = state.supabase.export_account(caller.user_id).await?;
    if document.is_null() {
        return Err(ApiError::NotFound("this account no longer exists".into()));
    }
    let mut response = warp::reply::json(&document).into_response();
    let filename = format!(
        "attachment; filename=\"modelpick-export-{}.json\"",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&filename).expect("a date is a header value"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// `DELETE /api/account`: each step may be asked again after a failure,
/// and the account in Auth goes last, so the caller keeps a token to ask
/// with until everything else is gone.
pub async fn delete(state: AppState, authorization: Option<String>) -> Result<Response, ApiError> {
    let caller = state.verifier.verify(authorization.as_deref()).await?;
    let deletion = match state.supabase.delete_account_data(caller.user_id).await {
        Ok(deletion) => deletion,
        Err(SupabaseError::Refused { code, message }) if code == "PT409" => {
            return Err(ApiError::Conflict(message))
        }
        Err(e) => return Err(e.into()),
    };
    state.supabase.remove_images(&deletion.images).await?;
    state.supabase.delete_auth_user(caller.user_id).await?;
    log_deleted(
        caller.user_id,
        deletion.images.len(),
        deletion.payments_kept,
    );
    Ok(warp::reply::json(&serde_json::json!({
        "deleted": true,
        "images_deleted": deletion.images.len(),
        "payments_kept": deletion.payments_kept,
    }))
    .into_response())
}

fn log_deleted(user_id: Uuid, images: usize, payments: i64) {
    tracing::info!(user.id = %user_id, images, payments_kept = payments, "account deleted at its owner's request");
}
