//! `/rest/v1`: a PostgREST-compatible server (postrust, installed by
//! `scripts/setup`) run as a child process, behind a proxy that strips the
//! prefix the way Supabase's gateway does.

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use tokio::process::{Child, Command};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};
use warp::reply::Response;

use super::config::SupabaseConfig;
use super::jwt;

/// The running postrust process; killed when dropped.
pub struct Postrust {
    pub base_url: String,
    _child: Child,
}

#[derive(Debug, thiserror::Error)]
pub enum PostrustError {
    #[error("postrust is not installed at {0} (run scripts/setup)")]
    Missing(String),
    #[error("could not start postrust: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("postrust did not come up: {0}")]
    NotReady(String),
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub async fn spawn(config: &SupabaseConfig) -> Result<Postrust, PostrustError> {
    if !config.postrust_bin.exists() {
        return Err(PostrustError::Missing(
            config.postrust_bin.display().to_string(),
        ));
    }
    let http = reqwest::Client::new();
    let mut last_error = String::new();
    // The port is picked before postrust binds it; another process may take
    // it in between, so a failed start is retried on a fresh port.
    for _ in 0..5 {
        let port = free_port()?;
        let mut child = Command::new(&config.postrust_bin)
            .env("PGRST_DB_URI", &config.authenticator_url)
            .env("PGRST_DB_ANON_ROLE", "anon")
            .env("PGRST_DB_SCHEMAS", "public")
            .env("PGRST_DB_EXTRA_SEARCH_PATH", "public,extensions")
            .env("PGRST_JWT_SECRET", &config.jwt_secret)
            .env("PGRST_COMPAT_MODE", "true")
            .env("PGRST_DB_MAX_ROWS", "1000")
            .env("PGRST_DB_POOL", "5")
            .env("PGRST_SERVER_HOST", "127.0.0.1")
            .env("PGRST_SERVER_PORT", port.to_string())
            .env("PGRST_LOG_LEVEL", "error")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let base_url = format!("http://127.0.0.1:{port}");
        for _ in 0..150 {
            if let Ok(Some(status)) = child.try_wait() {
                last_error = format!("exited with {status}");
                break;
            }
            if http.get(format!("{base_url}/")).send().await.is_ok() {
                return Ok(Postrust {
                    base_url,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if last_error.is_empty() {
            last_error = "no answer within 15 s".into();
        }
    }
    Err(PostrustError::NotReady(last_error))
}

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Forwards one request to postrust and its answer back, correcting where
/// postrust and PostgREST disagree in ways the clients notice.
pub async fn proxy(
    http: &reqwest::Client,
    base_url: &str,
    method: Method,
    tail: &str,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = match upstream_url(base_url, tail, query) {
        Ok(url) => url,
        Err(message) => {
            return super::reply::json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"code": "PGRST100", "message": message, "details": null, "hint": null}),
            )
        }
    };
    let body = if method == Method::POST && tail.starts_with("rpc/") {
        without_null_arguments(body)
    } else {
        body
    };
    let headers = upstream_headers(headers);
    let caller_role = headers
        .get("authorization")
        .and_then(|v| jwt::bearer(v.to_str().ok()))
        .and_then(peek_role);
    match http
        .request(method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(upstream) => answer(upstream, caller_role.as_deref()).await,
        Err(e) => super::reply::json(
            StatusCode::BAD_GATEWAY,
            &serde_json::json!({"message": format!("REST service unavailable: {e}")}),
        ),
    }
}

/// postrust's URL for the request, with `columns=` as postrust reads it;
/// or why the query cannot be read.
fn upstream_url(base_url: &str, tail: &str, query: Option<String>) -> Result<String, String> {
    let mut url = format!("{base_url}/{tail}");
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let q = bare_columns(&q)?;
        url.push('?');
        url.push_str(&q);
    }
    Ok(url)
}

/// The caller's headers as the gateway passes them on: no hop-by-hop ones,
/// and, like Kong, the API key as the token when there is no Authorization.
fn upstream_headers(mut headers: HeaderMap) -> HeaderMap {
    for name in HOP_BY_HOP.iter().chain(&["content-length"]) {
        headers.remove(*name);
    }
    if !headers.contains_key("authorization") {
        if let Some(key) = headers.get("apikey").cloned() {
            if let Ok(value) =
                HeaderValue::from_str(&format!("Bearer {}", key.to_str().unwrap_or("")))
            {
                headers.insert("authorization", value);
            }
        }
    }
    headers
}

/// postrust's answer as PostgREST would give it.
async fn answer(upstream: reqwest::Response, caller_role: Option<&str>) -> Response {
    let mut status = upstream.status();
    let mut headers = upstream.headers().clone();
    let body = upstream.bytes().await.unwrap_or_default();
    // PostgREST answers a privilege refusal with 403 for an authenticated
    // caller and 401 only for anon; postrust says 401 to both.
    if status == StatusCode::UNAUTHORIZED
        && caller_role.is_some_and(|role| role != "anon")
        && error_code(&body).as_deref() == Some("42501")
    {
        status = StatusCode::FORBIDDEN;
        headers.remove("www-authenticate");
    }
    for name in HOP_BY_HOP.iter().chain(&["content-length"]) {
        headers.remove(*name);
    }
    // The gateway answers CORS for every route; upstream's copy would be a
    // second value, which browsers refuse.
    let cors: Vec<_> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-") || name.as_str() == "vary")
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The `role` claim of a token, unverified: only used to pick between two
/// refusals that postrust has already decided on.
fn peek_role(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("role")?.as_str().map(str::to_owned)
}

fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("code")?.as_str().map(str::to_owned)
}

/// An RPC's JSON arguments without those that are null. PostgREST passes a
/// null argument as SQL NULL; postrust passes an empty string, which a
/// `text` parameter takes for a value. Left out, the argument takes its
/// default, which is NULL wherever a function here lets an argument be
/// left out; an argument with no default is then refused (PGRST202), where
/// PostgREST would have passed NULL: stricter, never more permissive.
fn without_null_arguments(body: Bytes) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(mut args)) if args.values().any(|v| v.is_null()) => {
            args.retain(|_, value| !value.is_null());
            Bytes::from(serde_json::Value::Object(args).to_string())
        }
        _ => body,
    }
}

/// What a column name keeps unescaped in a query string.
const NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'$')
    .remove(b'-')
    .remove(b'.');

/// `columns="a","b"` as `columns=a,b`. supabase-js quotes every name of a
/// bulk insert's `columns` parameter; PostgREST takes quoted and bare names
/// alike, postrust only bare ones. A quoted name that could not be written
/// bare (a comma or a quote inside) is refused as PostgREST would refuse a
/// name it cannot parse.
fn bare_columns(query: &str) -> Result<String, String> {
    let mut pairs = Vec::new();
    for pair in query.split('&') {
        let Some(value) = pair.strip_prefix("columns=") else {
            pairs.push(pair.to_owned());
            continue;
        };
        let spaced = value.replace('+', " ");
        let decoded = percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .map_err(|_| "columns is not valid UTF-8".to_owned())?;
        let mut names = Vec::new();
        let mut rest = decoded.trim();
        while !rest.is_empty() {
            let (name, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("unterminated quote in columns={decoded}"))?;
                (&quoted[..end], quoted[end + 1..].trim_start())
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                (rest[..end].trim(), &rest[end..])
            };
            if name.is_empty() || name.contains(',') {
                return Err(format!("unexpected column name in columns={decoded}"));
            }
            names.push(name.to_owned());
            rest = match after.strip_prefix(',') {
                Some(next) => next.trim_start(),
                None if after.is_empty() => after,
                None => return Err(format!("expected a comma in columns={decoded}")),
            };
        }
        let encoded: Vec<String> = names
            .iter()
            .map(|n| percent_encoding::utf8_percent_encode(n, NAME).to_string())
            .collect();
        pairs.push(format!("columns={}", encoded.join(",")));
    }
    Ok(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::bare_columns;

    #[test]
    fn quoted_column_names_become_bare() {
        assert_eq!(
            bare_columns("columns=%22config_data%22,%22status%22&select=id").unwrap(),
            "columns=config_data,status&select=id"
        );
        assert_eq!(bare_columns("columns=a,b").unwrap(), "columns=a,b");
        assert_eq!(bare_columns("select=*").unwrap(), "select=*");
        assert!(bare_columns("columns=%22a,b%22").is_err());
        assert!(bare_columns("columns=%22a").is_err());
        assert!(bare_columns("columns=a,,b").is_err());
    }
}
