//! `/storage/v1`: objects in buckets, with Supabase Storage's access rules.
//! Every object operation runs on `storage.objects` *as the caller* (role and
//! JWT claims set per transaction, as Storage does), so the bucket's RLS
//! policies decide. Bytes live on local disk under the object's id, never
//! under a name the caller chose, so no path can reach outside the folder.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use deadpool_postgres::Transaction;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::gateway::Stack;
use super::jwt::{self, Claims};
use super::reply::{self, describe_db_error};

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
            Some("42501") => Self::new(
                StatusCode::FORBIDDEN,
                "Unauthorized",
                "new row violates row-level security policy",
            ),
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

fn object_file(stack: &Stack, id: Uuid) -> PathBuf {
    stack.config.storage_dir.join(id.to_string())
}

/// The caller, from the bearer token (or the API key, as the gateway does).
fn caller(stack: &Stack, headers: &HeaderMap) -> Result<Claims, StorageError> {
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
    let claims = jwt::verify(&stack.config.jwt_secret, token)
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

async fn bucket(stack: &Stack, id: &str) -> Result<Bucket, StorageError> {
    let row = stack
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

pub async fn upload(
    stack: Arc<Stack>,
    path: ObjectPath,
    upsert: bool,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&stack, &headers)?;
    let bucket = bucket(&stack, &path.bucket).await?;
    if bucket
        .size_limit
        .is_some_and(|limit| body.len() as i64 > limit)
    {
        return Err(StorageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            "The object exceeded the maximum allowed size",
        ));
    }
    let mime = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into());
    if let Some(allowed) = &bucket.allowed_mime_types {
        if !allowed.iter().any(|a| a == &mime) {
            return Err(StorageError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_mime_type",
                format!("mime type {} is not supported", truncate(&mime)),
            ));
        }
    }
    let owner = claims.sub.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let metadata = json!({
        "size": body.len(),
        "mimetype": mime,
        "cacheControl": headers.get("cache-control").and_then(|v| v.to_str().ok()).unwrap_or("max-age=3600"),
        "lastModified": Utc::now(),
    });
    let conflict = if upsert {
        "on conflict (bucket_id, name) do update
            set metadata = excluded.metadata, owner = excluded.owner, owner_id = excluded.owner_id, updated_at = now()"
    } else {
        "on conflict (bucket_id, name) do nothing"
    };
    let mut client = stack.db.get().await?;
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
    let file = object_file(&stack, id);
    let partial = file.with_extension(format!("partial-{}", Uuid::new_v4().simple()));
    tokio::fs::create_dir_all(&stack.config.storage_dir).await?;
    tokio::fs::write(&partial, &body).await?;
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

async fn object_response(
    stack: &Stack,
    id: Uuid,
    metadata: Option<serde_json::Value>,
) -> StorageResult {
    let bytes = match tokio::fs::read(object_file(stack, id)).await {
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

pub async fn download(stack: Arc<Stack>, path: ObjectPath, headers: HeaderMap) -> StorageResult {
    let claims = caller(&stack, &headers)?;
    let mut client = stack.db.get().await?;
    let tx = begin_as(&mut client, &claims).await?;
    let row = tx
        .query_opt(
            "select id, metadata from storage.objects where bucket_id = $1 and name = $2",
            &[&path.bucket, &path.name],
        )
        .await?
        .ok_or_else(StorageError::not_found)?;
    tx.commit().await?;
    object_response(&stack, row.get(0), row.get(1)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRequest {
    expires_in: Option<i64>,
}

#[derive(serde::Serialize, Deserialize)]
struct SignedUrlClaims {
    url: String,
    iat: i64,
    exp: i64,
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

fn valid_expiry(expires_in: Option<i64>) -> Result<i64, StorageError> {
    expires_in
        .filter(|s| (1..=60 * 60 * 24 * 365).contains(s))
        .ok_or_else(|| {
            StorageError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "expiresIn must be between 1 and 31536000 seconds",
            )
        })
}

/// The path (under `/storage/v1`) of a URL that downloads one object
/// without authentication until it expires. The caller must be able to read
/// the object to sign it.
async fn signed_path(
    stack: &Stack,
    path: &ObjectPath,
    claims: &Claims,
    expires_in: i64,
) -> Result<String, StorageError> {
    let mut client = stack.db.get().await?;
    let tx = begin_as(&mut client, claims).await?;
    tx.query_opt(
        "select id from storage.objects where bucket_id = $1 and name = $2",
        &[&path.bucket, &path.name],
    )
    .await?
    .ok_or_else(StorageError::not_found)?;
    tx.commit().await?;
    let now = Utc::now().timestamp();
    let token = jwt::sign(
        &stack.config.jwt_secret,
        &SignedUrlClaims {
            url: path.key(),
            iat: now,
            exp: now + expires_in,
        },
    );
    Ok(format!("/object/sign/{}?token={token}", path.key()))
}

pub async fn sign(
    stack: Arc<Stack>,
    path: ObjectPath,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&stack, &headers)?;
    let request: SignRequest = parse_body(&body)?;
    let url = signed_path(&stack, &path, &claims, valid_expiry(request.expires_in)?).await?;
    Ok(reply::json(StatusCode::OK, &json!({ "signedURL": url })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignManyRequest {
    expires_in: Option<i64>,
    paths: Vec<String>,
}

/// `POST /object/sign/<bucket>` with `{"expiresIn", "paths"}`: a signed URL
/// for each object the caller can read, an error for each other one.
pub async fn sign_many(
    stack: Arc<Stack>,
    bucket: String,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&stack, &headers)?;
    let request: SignManyRequest = parse_body(&body)?;
    let expires_in = valid_expiry(request.expires_in)?;
    let mut answers = Vec::new();
    for path in request.paths.into_iter().take(1000) {
        let signed = match ObjectPath::parse(&format!("{bucket}/{path}")) {
            Ok(object) => signed_path(&stack, &object, &claims, expires_in).await,
            Err(e) => Err(e),
        };
        answers.push(match signed {
            Ok(url) => json!({"path": path, "signedURL": url, "error": null}),
            Err(e) => json!({"path": path, "signedURL": null, "error": e.message}),
        });
    }
    Ok(reply::json(
        StatusCode::OK,
        &serde_json::Value::Array(answers),
    ))
}

pub async fn signed_download(
    stack: Arc<Stack>,
    path: ObjectPath,
    token: Option<String>,
) -> StorageResult {
    let invalid = |why: String| StorageError::new(StatusCode::BAD_REQUEST, "InvalidSignature", why);
    let token = token.ok_or_else(|| invalid("Missing token".into()))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<SignedUrlClaims>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(stack.config.jwt_secret.as_bytes()),
        &validation,
    )
    .map_err(|e| invalid(e.to_string()))?
    .claims;
    if claims.url != path.key() {
        return Err(invalid("The token does not match this object".into()));
    }
    let row = stack
        .db
        .get()
        .await?
        .query_opt(
            "select id, metadata from storage.objects where bucket_id = $1 and name = $2",
            &[&path.bucket, &path.name],
        )
        .await?
        .ok_or_else(StorageError::not_found)?;
    object_response(&stack, row.get(0), row.get(1)).await
}

#[derive(Deserialize)]
struct RemoveRequest {
    prefixes: Vec<String>,
}

/// Deletes the named objects the caller may delete; answers with those.
pub async fn remove(
    stack: Arc<Stack>,
    bucket: String,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&stack, &headers)?;
    let request: RemoveRequest = parse_body(&body)?;
    let mut client = stack.db.get().await?;
    let tx = begin_as(&mut client, &claims).await?;
    let rows = tx
        .query(
            "delete from storage.objects where bucket_id = $1 and name = any($2) returning id, name, bucket_id",
            &[&bucket, &request.prefixes],
        )
        .await?;
    tx.commit().await?;
    let mut removed = Vec::new();
    for row in rows {
        let id: Uuid = row.get(0);
        let _ = tokio::fs::remove_file(object_file(&stack, id)).await;
        removed.push(json!({"id": id, "name": row.get::<_, String>(1), "bucket_id": row.get::<_, String>(2)}));
    }
    Ok(reply::json(
        StatusCode::OK,
        &serde_json::Value::Array(removed),
    ))
}
