//! The gateway: one listener, routed like Supabase's (Kong) gateway.

use crate::server::Server;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use tokio::net::TcpListener;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::path::Tail;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::auth::Auth;
use super::config::SupabaseConfig;
use super::filters::{body, query_map, respond, BodyTooLarge};
use super::rest::{self, Postrust, PostrustError};
use super::storage::{self, ObjectPath, Storage, StorageError};
use super::{auth_routes, reply};

/// What the gateway routes to: REST through postrust, and the Auth and
/// Storage services, each with its own database login.
struct Stack {
    anon_key: String,
    service_role_key: String,
    http: reqwest::Client,
    rest_url: String,
    auth: Arc<Auth>,
    storage: Arc<Storage>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Postrust(#[from] PostrustError),
    #[error("bad DATABASE_URL: {0}")]
    DatabaseUrl(String),
    #[error("could not listen: {0}")]
    Listen(#[from] std::io::Error),
}

/// A running gateway and the postrust process behind it. Dropping it stops
/// postrust; `stop` also ends the gateway gracefully.
pub struct RunningSupabase {
    pub server: Server,
    _postrust: Postrust,
}

impl RunningSupabase {
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub async fn start(
    config: SupabaseConfig,
    listener: TcpListener,
) -> Result<RunningSupabase, StartError> {
    let postrust = rest::spawn(&config).await?;
    let stack = Arc::new(Stack {
        anon_key: config.anon_key.clone(),
        service_role_key: config.service_role_key.clone(),
        http: reqwest::Client::new(),
        rest_url: postrust.base_url.clone(),
        auth: Arc::new(Auth {
            db: pool(&config.auth_database_url, 8)?,
            jwt_secret: config.jwt_secret.clone(),
            issuer: format!("{}/auth/v1", config.public_url),
            jwt_expiry_secs: config.jwt_expiry_secs,
            site_url: config.site_url.clone(),
            mailer: config.mailer.clone().map(super::mailer::Mailer::new),
        }),
        storage: Arc::new(Storage {
            db: pool(&config.storage_database_url, 8)?,
            jwt_secret: config.jwt_secret.clone(),
            dir: config.storage_dir.clone(),
        }),
    });
    let server = Server::spawn(with_cors(routes(stack)), listener)?;
    Ok(RunningSupabase {
        server,
        _postrust: postrust,
    })
}

fn pool(url: &str, size: usize) -> Result<deadpool_postgres::Pool, StartError> {
    let pg: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| StartError::DatabaseUrl(e.to_string()))?;
    let manager = deadpool_postgres::Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| StartError::DatabaseUrl(e.to_string()))
}

/// Browsers call the API from the product's own origin, as with Supabase's
/// gateway (Kong's CORS plugin): any origin, the headers the clients send.
fn with_cors(
    routes: impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let cors = warp::cors()
        .allow_any_origin()
        .allow_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "apikey",
            "authorization",
            "content-type",
            "x-client-info",
            "accept",
            "accept-profile",
            "content-profile",
            "prefer",
            "range",
            "range-unit",
            "x-upsert",
            "cache-control",
            "x-share-token",
            "x-supabase-api-version",
        ])
        .expose_headers([
            "content-range",
            "content-location",
            "x-supabase-api-version",
        ])
        .max_age(3600);
    routes
        .with(cors)
        .map(Reply::into_response)
        .recover(|rejection: Rejection| async move {
            Ok::<_, Infallible>(rejection_response(rejection))
        })
        .unify()
}

fn with_stack(
    stack: Arc<Stack>,
) -> impl Filter<Extract = (Arc<Stack>,), Error = Infallible> + Clone {
    warp::any().map(move || stack.clone())
}

fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// Kong's key-auth refusals: `/rest/v1` and `/auth/v1` need a known API key
/// in the `apikey` header (or as the bearer token).
#[derive(Debug, Clone, Copy)]
enum ApiKeyRefusal {
    Missing,
    Invalid,
}
impl warp::reject::Reject for ApiKeyRefusal {}

impl ApiKeyRefusal {
    fn into_response(self) -> Response {
        let message = match self {
            Self::Missing => "No API key found in request",
            Self::Invalid => "Invalid authentication credentials",
        };
        reply::json(StatusCode::UNAUTHORIZED, &json!({ "message": message }))
    }
}

fn check_api_key(stack: &Stack, headers: &HeaderMap) -> Result<(), ApiKeyRefusal> {
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get("authorization")
                .and_then(|v| super::jwt::bearer(v.to_str().ok()))
        });
    match key {
        None => Err(ApiKeyRefusal::Missing),
        Some(k) if k == stack.anon_key || k == stack.service_role_key => Ok(()),
        // A user's access token in `apikey` is not an API key.
        Some(_) if headers.contains_key("apikey") => Err(ApiKeyRefusal::Invalid),
        Some(_) => Ok(()),
    }
}

fn routes(stack: Arc<Stack>) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let rest = warp::path!("rest" / "v1" / ..)
        .and(warp::path::tail())
        .and(warp::method())
        .and(raw_query())
        .and(warp::header::headers_cloned())
        .and(body())
        .and(with_stack(stack.clone()))
        .then(
            |tail: Tail,
             method: Method,
             query: String,
             headers: HeaderMap,
             body: Bytes,
             stack: Arc<Stack>| async move {
                if let Err(refusal) = check_api_key(&stack, &headers) {
                    return refusal.into_response();
                }
                rest::proxy(
                    &stack.http,
                    &stack.rest_url,
                    method,
                    tail.as_str(),
                    Some(query),
                    headers,
                    body,
                )
                .await
            },
        );

    let auth = auth_routes(stack.clone());
    let storage = storage_routes(stack.storage.clone());

    rest.or(auth)
        .unify()
        .or(storage)
        .unify()
        .boxed()
        .recover(|rejection: Rejection| async move {
            Ok::<_, Infallible>(rejection_response(rejection))
        })
        .unify()
}

/// Every Auth route but the public documents and the emailed link needs a
/// known API key.
fn auth_routes(stack: Arc<Stack>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let keyed = warp::header::headers_cloned()
        .and(with_stack(stack.clone()))
        .and_then(|headers: HeaderMap, stack: Arc<Stack>| async move {
            check_api_key(&stack, &headers).map_err(warp::reject::custom)?;
            Ok::<_, Rejection>(stack.auth.clone())
        });
    auth_routes::keyed(keyed)
        .or(auth_routes::open(stack.auth.clone()))
        .unify()
}

fn with_storage(
    storage: Arc<Storage>,
) -> impl Filter<Extract = (Arc<Storage>,), Error = Infallible> + Clone {
    warp::any().map(move || storage.clone())
}

/// An object path from the rest of the URL, or Storage's own refusal.
async fn with_object<F, Fut>(tail: Tail, then: F) -> Response
where
    F: FnOnce(ObjectPath) -> Fut,
    Fut: std::future::Future<Output = storage::StorageResult>,
{
    let result = match ObjectPath::parse(tail.as_str()) {
        Ok(path) => then(path).await,
        Err(e) => Err(e),
    };
    respond(result, StorageError::into_response)
}

fn storage_routes(
    storage: Arc<Storage>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    listing_and_signing(storage.clone())
        .or(objects(storage))
        .unify()
}

/// `list`, and signed URLs: making them and downloading through them.
fn listing_and_signing(
    storage: Arc<Storage>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let headers = warp::header::headers_cloned();
    let list = warp::path!("storage" / "v1" / "object" / "list" / String)
        .and(warp::post())
        .and(headers)
        .and(body())
        .and(with_storage(storage.clone()))
        .then(|bucket, headers, body, storage| async move {
            respond(
                storage::list(storage, bucket, headers, body).await,
                StorageError::into_response,
            )
        });
    // `/object/sign/<bucket>` signs many paths; `/object/sign/<bucket>/<path>` one.
    let sign_many = warp::path!("storage" / "v1" / "object" / "sign" / String)
        .and(warp::post())
        .and(headers)
        .and(body())
        .and(with_storage(storage.clone()))
        .then(|bucket, headers, body, storage| async move {
            respond(
                storage::sign_many(storage, bucket, headers, body).await,
                StorageError::into_response,
            )
        });
    let sign = warp::path!("storage" / "v1" / "object" / "sign" / ..)
        .and(warp::path::tail())
        .and(warp::post())
        .and(headers)
        .and(body())
        .and(with_storage(storage.clone()))
        .then(|tail, headers, body, storage| {
            with_object(tail, move |path| {
                storage::sign(storage, path, headers, body)
            })
        });
    let signed_download = warp::path!("storage" / "v1" / "object" / "sign" / ..)
        .and(warp::path::tail())
        .and(warp::get())
        .and(query_map())
        .and(with_storage(storage.clone()))
        .then(|tail, query: HashMap<String, String>, storage| {
            let token = query.get("token").cloned();
            with_object(tail, move |path| {
                storage::signed_download(storage, path, token)
            })
        });
    list.or(sign_many)
        .unify()
        .or(sign)
        .unify()
        .or(signed_download)
        .unify()
}

/// Objects themselves: download, upload, remove.
fn objects(storage: Arc<Storage>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let headers = warp::header::headers_cloned();
    let authenticated_download = warp::path!("storage" / "v1" / "object" / "authenticated" / ..)
        .and(warp::path::tail())
        .and(warp::get())
        .and(headers)
        .and(with_storage(storage.clone()))
        .then(|tail, headers, storage| {
            with_object(tail, move |path| storage::download(storage, path, headers))
        });
    let remove = warp::path!("storage" / "v1" / "object" / String)
        .and(warp::delete())
        .and(headers)
        .and(body())
        .and(with_storage(storage.clone()))
        .then(|bucket, headers, body, storage| async move {
            respond(
                storage::remove(storage, bucket, headers, body).await,
                StorageError::into_response,
            )
        });
    let download = warp::path!("storage" / "v1" / "object" / ..)
        .and(warp::path::tail())
        .and(warp::get())
        .and(headers)
        .and(with_storage(storage.clone()))
        .then(|tail, headers, storage| {
            with_object(tail, move |path| storage::download(storage, path, headers))
        });
    // POST uploads (replacing only with `x-upsert: true`); PUT replaces.
    let upload = warp::path!("storage" / "v1" / "object" / ..)
        .and(warp::path::tail())
        .and(
            warp::post()
                .map(|| false)
                .or(warp::put().map(|| true))
                .unify(),
        )
        .and(headers)
        .and(body())
        .and(with_storage(storage))
        .then(|tail, put: bool, headers: HeaderMap, body, storage| {
            let upsert = put
                || headers
                    .get("x-upsert")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
            with_object(tail, move |path| {
                storage::upload(storage, path, upsert, headers, body)
            })
        });

    authenticated_download
        .or(remove)
        .unify()
        .or(download)
        .unify()
        .or(upload)
        .unify()
}

fn rejection_response(rejection: Rejection) -> Response {
    if let Some(refusal) = rejection.find::<ApiKeyRefusal>() {
        return refusal.into_response();
    }
    if rejection.find::<BodyTooLarge>().is_some() {
        return reply::json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"message": "Request body too large"}),
        );
    }
    if rejection.is_not_found() {
        return reply::json(
            StatusCode::NOT_FOUND,
            &json!({"message": "no Route matched with those values"}),
        );
    }
    if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        return reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"message": "Method not allowed"}),
        );
    }
    reply::json(
        StatusCode::BAD_REQUEST,
        &json!({"message": format!("{rejection:?}")}),
    )
}
