//! `POST`/`PUT /object/<bucket>/<path>`: an upload, as the raw body with its
//! `content-type` (what supabase-js sends for an ArrayBuffer or a Buffer), or
//! as `multipart/form-data` with the file in a part of its own (what it
//! sends for a browser's `Blob` or `File`, with a `cacheControl` field).
//! The bucket's size limit and MIME types are checked, then the row is
//! written as the caller, so the bucket's policies decide.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;
use warp::http::{HeaderMap, StatusCode};

use super::{
    begin_as, bucket, caller, object_file, truncate, Bucket, ObjectPath, Storage, StorageError,
};
use super::{StorageResult, MAX_OBJECT_BYTES};
use crate::supabase::reply;

/// What was uploaded, whichever way it came.
struct Upload {
    bytes: Bytes,
    mime: String,
    cache_control: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn bare_mime(value: &str) -> Option<String> {
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!mime.is_empty()).then_some(mime)
}

fn invalid(message: impl Into<String>) -> StorageError {
    StorageError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
}

/// The file part (the first part with a file name, or the unnamed one that
/// supabase-js sends) and the `cacheControl` field of a multipart body.
async fn from_multipart(boundary: String, body: Bytes) -> Result<Upload, StorageError> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut file = None;
    let mut cache_control = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| invalid(format!("malformed multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let is_file = field.file_name().is_some() || name.is_empty();
        if is_file && file.is_none() {
            let mime = field
                .content_type()
                .map(|m| m.essence_str().to_ascii_lowercase())
                .unwrap_or_else(|| "application/octet-stream".into());
            let bytes = field
                .bytes()
                .await
                .map_err(|e| invalid(format!("malformed multipart body: {e}")))?;
            file = Some((bytes, mime));
        } else if name == "cacheControl" {
            let value = field
                .text()
                .await
                .map_err(|e| invalid(format!("malformed multipart body: {e}")))?;
            cache_control = Some(format!("max-age={}", value.trim()));
        }
    }
    let (bytes, mime) = file.ok_or_else(|| invalid("the multipart body has no file"))?;
    Ok(Upload {
        bytes,
        mime,
        cache_control: cache_control.unwrap_or_else(|| "max-age=3600".into()),
    })
}

async fn read_upload(headers: &HeaderMap, body: Bytes) -> Result<Upload, StorageError> {
    let content_type = header(headers, "content-type").unwrap_or("");
    if bare_mime(content_type).as_deref() == Some("multipart/form-data") {
        let boundary = multer::parse_boundary(content_type)
            .map_err(|e| invalid(format!("malformed multipart content type: {e}")))?;
        return from_multipart(boundary, body).await;
    }
    Ok(Upload {
        bytes: body,
        mime: bare_mime(content_type).unwrap_or_else(|| "application/octet-stream".into()),
        cache_control: header(headers, "cache-control")
            .unwrap_or("max-age=3600")
            .to_owned(),
    })
}

pub async fn upload(
    storage: Arc<Storage>,
    path: ObjectPath,
    upsert: bool,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&storage, &headers)?;
    let bucket = bucket(&storage, &path.bucket).await?;
    let upload = read_upload(&headers, body).await?;
    fits(&bucket, &upload)?;
    let owner = claims.sub.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let metadata = json!({
        "size": upload.bytes.len(),
        "mimetype": upload.mime,
        "cacheControl": upload.cache_control,
        "lastModified": Utc::now(),
    });
    let conflict = if upsert {
        "on conflict (bucket_id, name) do update
            set metadata = excluded.metadata, owner = excluded.owner, owner_id = excluded.owner_id, updated_at = now()"
    } else {
        "on conflict (bucket_id, name) do nothing"
    };
    let mut client = storage.db.get().await?;
    let tx = begin_as(&mut client, &claims).await?;
    let row = tx
        .query_opt(
            &format!(
                "insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
                 values ($1, $2, $3, $4, $5) {conflict} returning id"
            ),
            &[
                &path.bucket,
                &path.name,
                &owner,
                &owner.map(|o| o.to_string()),
                &metadata,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(StorageError::new(
            StatusCode::CONFLICT,
            "Duplicate",
            "The resource already exists",
        ));
    };
    let id: Uuid = row.get(0);
    // Bytes first to a temporary file, renamed into place only once the row
    // is committed: a refused or failed upload leaves the old bytes alone.
    let file = object_file(&storage, id);
    let partial = file.with_extension(format!("partial-{}", Uuid::new_v4().simple()));
    tokio::fs::create_dir_all(&storage.dir).await?;
    tokio::fs::write(&partial, &upload.bytes).await?;
    if let Err(e) = tx.commit().await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e.into());
    }
    tokio::fs::rename(&partial, &file).await?;
    Ok(reply::json(
        StatusCode::OK,
        &json!({"Id": id, "Key": path.key()}),
    ))
}

/// The bucket's size limit and MIME types, as Storage checks them.
fn fits(bucket: &Bucket, upload: &Upload) -> Result<(), StorageError> {
    let size_limit = bucket.size_limit.unwrap_or(MAX_OBJECT_BYTES as i64);
    if upload.bytes.len() as i64 > size_limit {
        return Err(StorageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            "The object exceeded the maximum allowed size",
        ));
    }
    match &bucket.allowed_mime_types {
        Some(allowed) if !allowed.iter().any(|a| a == &upload.mime) => Err(StorageError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_mime_type",
            format!("mime type {} is not supported", truncate(&upload.mime)),
        )),
        _ => Ok(()),
    }
}
