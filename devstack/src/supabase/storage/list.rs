//! `POST /object/list/<bucket>` with `{prefix, limit, offset, sortBy, search}`:
//! one folder level, as Storage's `storage.search` answers it. Folders
//! first (by name, `id: null`), then the files in the folder, each as
//! `{name, id, updated_at, created_at, last_accessed_at, metadata}` with the
//! name relative to the folder. It runs as the caller, so the bucket's
//! policies decide what is listed, exactly as for downloads.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use warp::http::{HeaderMap, StatusCode};

use super::{begin_as, bucket, caller, parse_body, Storage, StorageError, StorageResult};
use crate::supabase::reply;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListRequest {
    #[serde(default)]
    prefix: String,
    #[serde(default = "default_limit")]
    limit: i64,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    sort_by: Option<SortBy>,
    #[serde(default)]
    search: String,
}

#[derive(Deserialize)]
struct SortBy {
    #[serde(default)]
    column: Option<String>,
    #[serde(default)]
    order: Option<String>,
}

fn default_limit() -> i64 {
    100
}

fn invalid(message: impl Into<String>) -> StorageError {
    StorageError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
}

/// `text` as a literal inside an ILIKE pattern.
fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One folder's listing, as asked and checked.
struct Listing {
    /// The ILIKE pattern of the folder and the search.
    pattern: String,
    /// The path token that names an entry of this folder.
    level: i32,
    limit: i64,
    offset: i64,
    column: &'static str,
    order: &'static str,
}

impl Listing {
    fn read(request: ListRequest) -> Result<Self, StorageError> {
        if request.limit < 1 || request.offset < 0 {
            return Err(invalid("limit must be at least 1 and offset at least 0"));
        }
        let sort = request.sort_by.unwrap_or(SortBy {
            column: None,
            order: None,
        });
        let column = match sort.column.as_deref().unwrap_or("name") {
            "name" => "name",
            "updated_at" => "updated_at",
            "created_at" => "created_at",
            "last_accessed_at" => "last_accessed_at",
            other => return Err(invalid(format!("cannot sort by {other:?}"))),
        };
        let order = match sort
            .order
            .as_deref()
            .unwrap_or("asc")
            .to_ascii_lowercase()
            .as_str()
        {
            "asc" => "asc",
            "desc" => "desc",
            other => {
                return Err(invalid(format!(
                    "sort order {other:?} is neither asc nor desc"
                )))
            }
        };
        let mut prefix = request.prefix;
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        // The folder's depth: `a/b/` lists the third path token.
        let level = prefix.split('/').count() as i32;
        let pattern = format!(
            "{}{}%",
            like_literal(&prefix),
            like_literal(&request.search)
        );
        Ok(Self {
            pattern,
            level,
            limit: request.limit,
            offset: request.offset,
            column,
            order,
        })
    }
}

fn entry(row: &tokio_postgres::Row) -> serde_json::Value {
    json!({
        "name": row.get::<_, Option<String>>(0),
        "id": row.get::<_, Option<uuid::Uuid>>(1),
        "updated_at": row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(2),
        "created_at": row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(3),
        "last_accessed_at": row.get::<_, Option<chrono::DateTime<chrono::Utc>>>(4),
        "metadata": row.get::<_, Option<serde_json::Value>>(5),
    })
}

pub async fn list(
    storage: Arc<Storage>,
    bucket_id: String,
    headers: HeaderMap,
    body: Bytes,
) -> StorageResult {
    let claims = caller(&storage, &headers)?;
    let listing = Listing::read(parse_body(&body)?)?;
    bucket(&storage, &bucket_id).await?;
    let Listing {
        pattern,
        level,
        limit,
        offset,
        column,
        order,
    } = listing;
    let mut client = storage.db.get().await?;
    let tx = begin_as(&mut client, &claims).await?;
    let rows = tx
        .query(
            &format!(
                "with visible as (
                   select id, path_tokens, updated_at, created_at, last_accessed_at, metadata
                     from storage.objects
                    where bucket_id = $1 and name ilike $2
                 ),
                 entries as (
                   select distinct 0 as kind, path_tokens[$3] as name, null::uuid as id,
                          null::timestamptz as updated_at, null::timestamptz as created_at,
                          null::timestamptz as last_accessed_at, null::jsonb as metadata
                     from visible where array_length(path_tokens, 1) > $3
                   union all
                   select 1, path_tokens[$3], id, updated_at, created_at, last_accessed_at, metadata
                     from visible where array_length(path_tokens, 1) = $3
                 )
                 select name, id, updated_at, created_at, last_accessed_at, metadata
                   from entries
                  order by kind, case when kind = 0 then name end {order}, {column} {order}, name
                  limit $4 offset $5"
            ),
            &[&bucket_id, &pattern, &level, &limit, &offset],
        )
        .await?;
    tx.commit().await?;
    let entries: Vec<serde_json::Value> = rows.iter().map(entry).collect();
    Ok(reply::json(StatusCode::OK, &json!(entries)))
}
