//! Signed URLs: `POST /object/sign/<bucket>/<path>` (one) and
//! `POST /object/sign/<bucket>` with `{"expiresIn", "paths"}` (many), for
//! objects the caller can read; `GET /object/sign/<bucket>/<path>?token=`
//! downloads without authentication until the token expires.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use warp::http::{HeaderMap, StatusCode};

use super::StorageResult;
use super::{begin_as, caller, object_response, parse_body, ObjectPath, Storage, StorageError};
use crate::supabase::jwt::{self, Claims};
use crate::supabase::reply;

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
    storage: &Storage,
    path: &ObjectPath,
    claims: &Claims,
    expires_in: i64,
) -> Result<String, StorageError> {
    let mut client = storage.db.get().await?;
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
        &storage.jwt_secret,
        &SignedUrlClaims {
            url: path.key(),
            iat: now,
            exp: now + expires_in,
        },
    );
    Ok(format!("/object/sign/{}?token={token}", path.key()))
}

pub async fn sign(
    storage: Arc<Storage>,
    path: ObjectPath,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&storage, &headers)?;
    let request: SignRequest = parse_body(&body)?;
    let url = signed_path(&storage, &path, &claims, valid_expiry(request.expires_in)?).await?;
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
    storage: Arc<Storage>,
    bucket: String,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&storage, &headers)?;
    let request: SignManyRequest = parse_body(&body)?;
    let expires_in = valid_expiry(request.expires_in)?;
    let mut answers = Vec::new();
    for path in request.paths.into_iter().take(1000) {
        let signed = match ObjectPath::parse(&format!("{bucket}/{path}")) {
            Ok(object) => signed_path(&storage, &object, &claims, expires_in).await,
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
    storage: Arc<Storage>,
    path: ObjectPath,
    token: Option<String>,
) -> StorageResult {
    let invalid = |why: String| StorageError::new(StatusCode::BAD_REQUEST, "InvalidSignature", why);
    let token = token.ok_or_else(|| invalid("Missing token".into()))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<SignedUrlClaims>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(storage.jwt_secret.as_bytes()),
        &validation,
    )
    .map_err(|e| invalid(e.to_string()))?
    .claims;
    if claims.url != path.key() {
        return Err(invalid("The token does not match this object".into()));
    }
    let row = storage
        .db
        .get()
        .await?
        .query_opt(
            "select id, metadata from storage.objects where bucket_id = $1 and name = $2",
            &[&path.bucket, &path.name],
        )
        .await?
        .ok_or_else(StorageError::not_found)?;
    object_response(&storage, row.get(0), row.get(1)).await
}
