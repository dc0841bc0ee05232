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

use super::config::SupabaseConfig;
use super::rest::{self, Postrust, PostrustError};
use super::storage::{self, ObjectPath, StorageError};
use super::{auth, reply};

/// What every handler shares.
pub struct Stack {
    pub config: SupabaseConfig,
    pub db: deadpool_postgres::Pool,
    pub http: reqwest::Client,
    pub rest_url: String,
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

/// Largest REST or Storage request body the gateway accepts.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
struct BodyTooLarge;
impl warp::reject::Reject for BodyTooLarge {}

pub async fn start(
    config: SupabaseConfig,
    listener: TcpListener,
) -> Result<RunningSupabase, StartError> {
    let postrust = rest::spawn(&config).await?;
    let pg: tokio_postgres::Config = config
        .database_url
        .parse()
        .map_err(|e: tokio_postgres::Error| StartError::DatabaseUrl(e.to_string()))?;
    let manager = deadpool_postgres::Manager::from_config(
        pg,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        },
    );
    let db = deadpool_postgres::Pool::builder(manager)
        .max_size(8)
        .build()
        .map_err(|e| StartError::DatabaseUrl(e.to_string()))?;
    let stack = Arc::new(Stack {
        config,
        db,
        http: reqwest::Client::new(),
        rest_url: postrust.base_url.clone(),
    });
    let server = Server::spawn(with_cors(routes(stack)), listener)?;
    Ok(RunningSupabase {
        server,
        _postrust: postrust,
    })
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

fn body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(|length: Option<u64>| async move {
            match length {
                Some(n) if n > MAX_BODY_BYTES => Err(warp::reject::custom(BodyTooLarge)),
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::bytes())
}

fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

fn query_map() -> impl Filter<Extract = (HashMap<String, String>,), Error = Infallible> + Clone {
    warp::query::<HashMap<String, String>>()
        .or(warp::any().map(HashMap::new))
        .unify()
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
        Some(k) if k == stack.config.anon_key || k == stack.config.service_role_key => Ok(()),
        // A user's access token in `apikey` is not an API key.
        Some(_) if headers.contains_key("apikey") => Err(ApiKeyRefusal::Invalid),
        Some(_) => Ok(()),
    }
}

fn respond<E>(result: Result<Response, E>, into: impl FnOnce(E) -> Response) -> Response {
    result.unwrap_or_else(into)
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
    let storage = storage_routes(stack);

    rest.or(auth)
        .unify()
        .or(storage)
        .unify()
        .recover(|rejection: Rejection| async move {
            Ok::<_, Infallible>(rejection_response(rejection))
        })
        .unify()
}

fn auth_routes(stack: Arc<Stack>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let keyed = warp::header::headers_cloned()
        .and(with_stack(stack.clone()))
        .and_then(|headers: HeaderMap, stack: Arc<Stack>| async move {
            check_api_key(&stack, &headers).map_err(warp::reject::custom)?;
            Ok::<_, Rejection>(stack)
        });
    let authorization = warp::header::optional::<String>("authorization");
    let auth_error = |e: auth::AuthError| e.into_response();

    let signup = warp::path!("auth" / "v1" / "signup")
        .and(warp::post())
        .and(keyed.clone())
        .and(body())
        .then(
            move |stack, body| async move { respond(auth::signup(stack, body).await, auth_error) },
        );
    let token = warp::path!("auth" / "v1" / "token")
        .and(warp::post())
        .and(keyed.clone())
        .and(query_map())
        .and(body())
        .then(
            move |stack, query: HashMap<String, String>, body| async move {
                respond(
                    auth::token(stack, query.get("grant_type").cloned(), body).await,
                    auth_error,
                )
            },
        );
    let user = warp::path!("auth" / "v1" / "user")
        .and(warp::get())
        .and(keyed.clone())
        .and(authorization)
        .then(move |stack, authorization| async move {
            respond(auth::user(stack, authorization).await, auth_error)
        });
    let logout = warp::path!("auth" / "v1" / "logout")
        .and(warp::post())
        .and(keyed)
        .and(query_map())
        .and(authorization)
        .then(
            move |stack, query: HashMap<String, String>, authorization| async move {
                respond(
                    auth::logout(stack, query.get("scope").cloned(), authorization).await,
                    auth_error,
                )
            },
        );
    let jwks = warp::path!("auth" / "v1" / ".well-known" / "jwks.json")
        .and(warp::get())
        .map(auth::jwks);
    let settings = warp::path!("auth" / "v1" / "settings")
        .and(warp::get())
        .map(auth::settings);
    let health = warp::path!("auth" / "v1" / "health")
        .and(warp::get())
        .map(|| {
            reply::json(
                StatusCode::OK,
                &json!({"name": "GoTrue", "description": "local stand-in"}),
            )
        });

    signup
        .or(token)
        .unify()
        .or(user)
        .unify()
        .or(logout)
        .unify()
        .or(jwks)
        .unify()
        .or(settings)
        .unify()
        .or(health)
        .unify()
}

fn storage_routes(
    stack: Arc<Stack>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let storage_error = |e: StorageError| e.into_response();
    let object = |tail: Tail| ObjectPath::parse(tail.as_str());
    let headers = warp::header::headers_cloned();

    let sign = warp::path!("storage" / "v1" / "object" / "sign" / ..)
        .and(warp::path::tail())
        .and(warp::post())
        .and(headers)
        .and(body())
        .and(with_stack(stack.clone()))
        .then(move |tail: Tail, headers, body, stack| async move {
            // `/object/sign/<bucket>` signs many paths; `/object/sign/<bucket>/<path>` one.
            let result = if !tail.as_str().contains('/') {
                storage::sign_many(stack, tail.as_str().to_owned(), headers, body).await
            } else {
                match object(tail) {
                    Ok(path) => storage::sign(stack, path, headers, body).await,
                    Err(e) => Err(e),
                }
            };
            respond(result, storage_error)
        });
    let signed_download = warp::path!("storage" / "v1" / "object" / "sign" / ..)
        .and(warp::path::tail())
        .and(warp::get())
        .and(query_map())
        .and(with_stack(stack.clone()))
        .then(
            move |tail, query: HashMap<String, String>, stack| async move {
                let result = match object(tail) {
                    Ok(path) => {
                        storage::signed_download(stack, path, query.get("token").cloned()).await
                    }
                    Err(e) => Err(e),
                };
                respond(result, storage_error)
            },
        );
    let authenticated_download = warp::path!("storage" / "v1" / "object" / "authenticated" / ..)
        .and(warp::path::tail())
        .and(warp::get())
        .and(headers)
        .and(with_stack(stack.clone()))
        .then(move |tail, headers, stack| async move {
            let result = match object(tail) {
                Ok(path) => storage::download(stack, path, headers).await,
                Err(e) => Err(e),
            };
            respond(result, storage_error)
        });
    let remove = warp::path!("storage" / "v1" / "object" / String)
        .and(warp::delete())
        .and(headers)
        .and(body())
        .and(with_stack(stack.clone()))
        .then(move |bucket, headers, body, stack| async move {
            respond(
                storage::remove(stack, bucket, headers, body).await,
                storage_error,
            )
        });
    let object_routes = warp::path!("storage" / "v1" / "object" / ..)
        .and(warp::path::tail())
        .and(warp::method())
        .and(headers)
        .and(body())
        .and(with_stack(stack))
        .and_then(
            move |tail: Tail,
                  method: Method,
                  headers: HeaderMap,
                  body: Bytes,
                  stack: Arc<Stack>| async move {
                let upsert = match method {
                    Method::POST => headers
                        .get("x-upsert")
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")),
                    Method::PUT => true,
                    Method::GET => {
                        let result = match object(tail) {
                            Ok(path) => storage::download(stack, path, headers).await,
                            Err(e) => Err(e),
                        };
                        return Ok(respond(result, storage_error));
                    }
                    _ => return Err(warp::reject::not_found()),
                };
                let result = match object(tail) {
                    Ok(path) => storage::upload(stack, path, upsert, headers, body).await,
                    Err(e) => Err(e),
                };
                Ok::<_, Rejection>(respond(result, storage_error))
            },
        );

    sign.or(signed_download)
        .unify()
        .or(authenticated_download)
        .unify()
        .or(remove)
        .unify()
        .or(object_routes)
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
