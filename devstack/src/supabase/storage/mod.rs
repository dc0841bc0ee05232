//! `/storage/v1`: objects in buckets, with Supabase Storage's access rules.
//! Every object operation runs on `storage.objects` *as the caller* (role and
//! JWT claims set per transaction, as Storage does), so the bucket's RLS
//! policies decide. Bytes live on local disk under the object's id, never
//! under a name the caller chose, so no path can reach outside the folder.

mod list;
mod signed;
mod upload;

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use deadpool_postgres::Transaction;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::jwt::{self, Claims};
use super::reply::{self, describe_db_error};

pub use list::list;
pub use signed::{sign, sign_many, signed_download};
pub use upload::upload;

/// The largest object a bucket without a size limit of its own takes
/// (Supabase's global default, 50 MiB).
const MAX_OBJECT_BYTES: usize = 50 * 1024 * 1024;

/// What Storage needs: its own database login (`supabase_storage_admin`,
/// owner of the `storage` tables, which switches to each caller's role), the
/// secret that signs tokens and signed URLs, and where object bytes live.
pub struct Storage {
    pub db: deadpool_postgres::Pool,
    pub jwt_secret: String,
    pub dir: PathBuf,
}

/// Storage's error shape: `{"statusCode", "error", "message"}`.
#[derive(Debug)]
pub struct StorageError {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl StorageError {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
        }
    }

    fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Object not found")
    }

    fn invalid_key(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidKey",
            format!("Invalid key: {}", truncate(name)),
        )
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "storage request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal Server Error",
        )
    }

    pub fn into_response(self) -> Response {
        reply::json(
            self.status,
            &json!({"statusCode": self.status.as_u16().to_string(), "error": self.error, "message": self.message}),
        )
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code().map(|c| c.code()) {
            // As Storage does (DBError.fromDBError): a policy's refusal in
            // its generic words, any other 42501 with the database's own
            // message (a policy's function may explain itself).
            Some("42501") => {
                let message = e
                    .as_db_error()
                    .map(|db| db.message().to_owned())
                    .filter(|m| !m.contains("row-level security"))
                    .unwrap_or_else(|| "new row violates row-level security policy".into());
                Self::new(StatusCode::FORBIDDEN, "Unauthorized", message)
            }
            _ => Self::internal(describe_db_error(&e)),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StorageError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::internal(e)
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        Self::internal(e)
    }
}

pub type StorageResult = Result<Response, StorageError>;

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

/// An object's bucket and name, taken from the URL path and checked the way
/// Storage checks keys.
pub struct ObjectPath {
    pub bucket: String,
    pub name: String,
}

impl ObjectPath {
    /// `tail` is the percent-encoded rest of the URL: `<bucket>/<name…>`.
    pub fn parse(tail: &str) -> Result<Self, StorageError> {
        let decoded = percent_encoding::percent_decode_str(tail)
            .decode_utf8()
            .map_err(|_| StorageError::invalid_key(tail))?;
        let (bucket, name) = decoded
            .split_once('/')
            .ok_or_else(|| StorageError::invalid_key(&decoded))?;
        let valid_char = |c: char| c.is_alphanumeric() || "/!-_.*'() &$@=;:+,?".contains(c);
        let bad = name.is_empty()
            || name.len() > 1024
            || name.starts_with('/')
            || !name.chars().all(valid_char)
            || name
                .split('/')
                .any(|segment| segment.is_empty() || segment == "." || segment == "..");
        if bad
            || bucket.is_empty()
            || !bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(StorageError::invalid_key(&decoded));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
        })
    }

    fn key(&self) -> String {
        format!("{}/{}", self.bucket, self.name)
    }
}

fn object_file(storage: &Storage, id: Uuid) -> PathBuf {
    storage.dir.join(id.to_string())
}

/// The caller, from the bearer token (or the API key, as the gateway does).
fn caller(storage: &Storage, headers: &HeaderMap) -> Result<Claims, StorageError> {
    let token = headers
        .get("authorization")
        .and_then(|v| jwt::bearer(v.to_str().ok()))
        .or_else(|| headers.get("apikey").and_then(|v| v.to_str().ok()))
        .ok_or_else(|| {
            StorageError::new(
                StatusCode::BAD_REQUEST,
                "Missing",
                "headers must have required property 'authorization'",
            )
        })?;
    let claims = jwt::verify(&storage.jwt_secret, token)
        .map_err(|e| StorageError::new(StatusCode::BAD_REQUEST, "InvalidJWT", e))?;
    if !matches!(
        claims.role.as_str(),
        "anon" | "authenticated" | "service_role"
    ) {
        return Err(StorageError::new(
            StatusCode::FORBIDDEN,
            "Unauthorized",
            "role not allowed",
        ));
    }
    Ok(claims)
}

/// Starts a transaction that runs as the caller, as PostgREST and Storage do.
async fn begin_as<'a>(
    client: &'a mut deadpool_postgres::Client,
    claims: &Claims,
) -> Result<Transaction<'a>, StorageError> {
    let tx = client.transaction().await?;
    let claims_json = serde_json::to_string(claims).map_err(StorageError::internal)?;
    tx.execute(
        "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
        &[&claims.role, &claims_json],
    )
    .await?;
    Ok(tx)
}

struct Bucket {
    size_limit: Option<i64>,
    allowed_mime_types: Option<Vec<String>>,
}

async fn bucket(storage: &Storage, id: &str) -> Result<Bucket, StorageError> {
    let row = storage
        .db
        .get()
        .await?
        .query_opt(
            "select file_size_limit, allowed_mime_types from storage.buckets where id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(|| {
            StorageError::new(
                StatusCode::NOT_FOUND,
                "Bucket not found",
                "Bucket not found",
            )
        })?;
    Ok(Bucket {
        size_limit: row.get(0),
        allowed_mime_types: row.get(1),
    })
}

async fn object_response(
    storage: &Storage,
    id: Uuid,
    metadata: Option<serde_json::Value>,
) -> StorageResult {
    let bytes = match tokio::fs::read(object_file(storage, id)).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StorageError::not_found()),
        Err(e) => return Err(e.into()),
    };
    let metadata = metadata.unwrap_or_else(|| json!({}));
    let mime = metadata["mimetype"]
        .as_str()
        .unwrap_or("application/octet-stream");
    let cache = metadata["cacheControl"].as_str().unwrap_or("no-cache");
    let response = warp::http::Response::builder()
        .status(StatusCode::OK)
        .header("content-type", mime)
        .header("cache-control", cache)
        .header("etag", format!("\"{}\"", id.simple()))
        .body(bytes.into())
        .map_err(StorageError::internal)?;
    Ok(response)
}

pub async fn download(
    storage: Arc<Storage>,
    path: ObjectPath,
    headers: HeaderMap,
) -> StorageResult {
    let claims = caller(&storage, &headers)?;
    let mut client = storage.db.get().await?;
    let tx = begin_as(&mut client, &claims).await?;
    let row = tx
        .query_opt(
            "select id, metadata from storage.objects where bucket_id = $1 and name = $2",
            &[&path.bucket, &path.name],
        )
        .await?
        .ok_or_else(StorageError::not_found)?;
    tx.commit().await?;
    object_response(&storage, row.get(0), row.get(1)).await
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(body).map_err(|e| {
        StorageError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("body: {e}"),
        )
    })
}

#[derive(Deserialize)]
struct RemoveRequest {
    prefixes: Vec<String>,
}

/// `DELETE /object/<bucket>` with `{"prefixes": [names]}`: deletes the named
/// objects the caller may delete, as Storage does (its own statements set
/// `storage.allow_delete_query`, which the tables' guard asks for), and
/// answers with the objects deleted.
pub async fn remove(
    storage: Arc<Storage>,
    bucket: String,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&storage, &headers)?;
    let request: RemoveRequest = parse_body(&body)?;
    if request.prefixes.is_empty() || request.prefixes.len() > 1000 {
        return Err(StorageError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "prefixes must name between 1 and 1000 objects",
        ));
    }
    let mut client = storage.db.get().await?;
    let tx = begin_as(&mut client, &claims).await?;
    tx.execute(
        "select set_config('storage.allow_delete_query', 'true', true)",
        &[],
    )
    .await?;
    let rows = tx
        .query(
            "delete from storage.objects where bucket_id = $1 and name = any($2)
             returning id, name, bucket_id, owner, created_at, updated_at, last_accessed_at, metadata",
            &[&bucket, &request.prefixes],
        )
        .await?;
    tx.commit().await?;
    let mut removed = Vec::new();
    for row in rows {
        let id: Uuid = row.get("id");
        let _ = tokio::fs::remove_file(object_file(&storage, id)).await;
        removed.push(json!({
            "id": id,
            "name": row.get::<_, String>("name"),
            "bucket_id": row.get::<_, String>("bucket_id"),
            "owner": row.get::<_, Option<Uuid>>("owner"),
            "created_at": row.get::<_, Option<chrono::DateTime<chrono::Utc>>>("created_at"),
            "updated_at": row.get::<_, Option<chrono::DateTime<chrono::Utc>>>("updated_at"),
            "last_accessed_at": row.get::<_, Option<chrono::DateTime<chrono::Utc>>>("last_accessed_at"),
            "metadata": row.get::<_, Option<serde_json::Value>>("metadata"),
        }));
    }
    Ok(reply::json(
        StatusCode::OK,
        &serde_json::Value::Array(removed),
    ))
}
