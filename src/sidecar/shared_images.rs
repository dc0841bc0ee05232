//! `GET /api/reports/<id>/images?share=<token>`: the images of a report
//! for the holder of its share link, when its owner lets link holders see
//! them: URLs signed by Storage for `VALID_FOR`, for that report's images
//! only. Not shared, a wrong or revoked token, no such report: the same
//! 404. Owners sign their own images in the page, under Storage's rules.

use uuid::Uuid;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::state::AppState;

/// Whether `token` could be a share token (the database makes 64 hex
/// digits; whether it opens anything is the database's to say): anything
/// else is refused before a query is made.
pub(super) fn looks_like_share_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 100
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How long a shared image's URL works.
pub const VALID_FOR_SECONDS: u32 = 600;
const BUCKET: &str = "benchmark-images";

pub async fn images(
    state: AppState,
    report_id: Uuid,
    share_token: Option<String>,
) -> Result<Response, ApiError> {
    let not_shared =
        || ApiError::NotFound("this link does not show this report's document images".into());
    let token = share_token
        .filter(|t| looks_like_share_token(t))
        .ok_or_else(not_shared)?;
    let _place = state.reads.enter("image links")?;
    let paths = state
        .supabase
        .shared_report_images(report_id, &token)
        .await?
        .ok_or_else(not_shared)?;
    let urls = state
        .supabase
        .sign_urls(BUCKET, &paths, VALID_FOR_SECONDS)
        .await?;
    let images: Vec<serde_json::Value> = urls
        .into_iter()
        .enumerate()
        .filter_map(|(index, url)| Some(serde_json::json!({"index": index, "url": url?})))
        .collect();
    let mut response = warp::reply::json(&serde_json::json!({
        "images": images,
        "expires_in": VALID_FOR_SECONDS,
    }))
    .into_response();
    response.headers_mut().insert(
        warp::http::header::CACHE_CONTROL,
        warp::http::HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
