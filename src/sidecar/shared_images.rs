//! A report's document images for the holder of its share link, when its
//! owner lets link holders see them. `GET /api/reports/<id>/images?share=`
//! lists them as links to this sidecar, and `GET
//! /api/reports/<id>/images/<n>?share=` streams image `n` from Storage:
//! nothing a link holder receives names a storage path, so nothing names
//! the owner's user id or draft (a signed Storage URL would). Not shared,
//! a wrong or revoked token, no such report or image: the same 404. Owners
//! sign their own images in the page, under Storage's rules.

use futures_util::StreamExt;
use uuid::Uuid;
use warp::http::{header, HeaderValue};
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

/// The bucket's own limit on one image; a longer answer from Storage is cut.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// What the bucket takes (migration 002); anything else is sent as bytes.
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/webp", "image/gif"];

fn not_shared() -> ApiError {
    ApiError::NotFound("this link does not show this report's document images".into())
}

/// The report's image paths, if `share_token` opens them.
async fn shared_paths(
    state: &AppState,
    report_id: Uuid,
    share_token: Option<String>,
) -> Result<(String, Vec<String>), ApiError> {
    let token = share_token
        .filter(|t| looks_like_share_token(t))
        .ok_or_else(not_shared)?;
    let paths = state
        .supabase
        .shared_report_images(report_id, &token)
        .await?
        .ok_or_else(not_shared)?;
    Ok((token, paths))
}

fn private_no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// The list: one link of ours per image, in the report's order.
pub async fn images(
    state: AppState,
    report_id: Uuid,
    share_token: Option<String>,
) -> Result<Response, ApiError> {
    let _place = state.reads.enter("image lists")?;
    let (token, paths) = shared_paths(&state, report_id, share_token).await?;
    let images: Vec<serde_json::Value> = (0..paths.len())
        .map(|index| {
            serde_json::json!({
                "index": index,
                "url": format!("/api/reports/{report_id}/images/{index}?share={token}"),
            })
        })
        .collect();
    Ok(private_no_store(
        warp::reply::json(&serde_json::json!({ "images": images })).into_response(),
    ))
}

/// Image `index`, streamed from Storage within the image budget.
pub async fn image(
    state: AppState,
    report_id: Uuid,
    index: usize,
    share_token: Option<String>,
) -> Result<Response, ApiError> {
    let place = state.images.enter("shared images")?;
    let (_, paths) = shared_paths(&state, report_id, share_token).await?;
    let path = paths.get(index).ok_or_else(not_shared)?;
    let download = state
        .supabase
        .download_object(crate::storage::BENCHMARK_IMAGES, path)
        .await?
        .ok_or_else(not_shared)?;
    let content_type = download
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| IMAGE_TYPES.iter().find(|t| v.starts_with(*t)))
        .copied()
        .unwrap_or("application/octet-stream");
    // The place is held until the last byte is sent; the stream stops at
    // the bucket's limit whatever Storage sends.
    let mut sent = 0usize;
    let body = download.bytes_stream().map(move |chunk| {
        let _held = &place;
        let chunk = chunk.map_err(std::io::Error::other)?;
        sent += chunk.len();
        if sent > MAX_IMAGE_BYTES {
            return Err(std::io::Error::other(
                "the image is larger than the bucket allows",
            ));
        }
        Ok(chunk)
    });
    let mut response = warp::reply::stream(sync_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    Ok(private_no_store(response))
}

/// warp wants a `Sync` body stream and reqwest's is only `Send`: a mutex
/// (never contended: one poller) makes it so.
fn sync_stream<S, T>(stream: S) -> impl futures_util::Stream<Item = T> + Send + Sync + 'static
where
    S: futures_util::Stream<Item = T> + Send + 'static,
    T: Send + 'static,
{
    let stream = std::sync::Mutex::new(Box::pin(stream));
    futures_util::stream::poll_fn(move |cx| {
        stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .poll_next(cx)
    })
}
