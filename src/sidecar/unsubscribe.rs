//! One-click unsubscribe (RFC 8058) of the emails about new models: a mail
//! client POSTs `List-Unsubscribe=One-Click` to the address the mail's
//! `List-Unsubscribe` header gives, `/api/unsubscribe?token=`, without
//! signing in. The token alone decides (`stop_report_watch`); the answer
//! says whether it stopped a watch, and a token that cannot be one is
//! refused before any query.

use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::shared_images::looks_like_share_token;
use super::state::AppState;

/// The one-click body is `List-Unsubscribe=One-Click`; nothing longer is
/// read.
pub const MAX_BODY_BYTES: u64 = 1024;

pub async fn one_click(state: AppState, token: Option<String>) -> Result<Response, ApiError> {
    let token = token
        .filter(|t| looks_like_share_token(t))
        .ok_or_else(|| ApiError::BadRequest("this link has no unsubscribe token".into()))?;
    let _place = state.reads.enter("unsubscribes")?;
    let stopped = state.supabase.stop_report_watch(&token).await?;
    Ok(warp::reply::json(&serde_json::json!({ "stopped": stopped })).into_response())
}
