//! `/auth/v1`'s routes, as Supabase's gateway exposes them: the account
//! routes behind an API key, and the documents and the emailed link open
//! to anyone.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::auth::{self, Auth, AuthError};
use super::filters::{body, query_map, respond};
use super::{auth_admin, auth_recovery, auth_user, reply};

fn auth_error(e: AuthError) -> Response {
    e.into_response()
}

/// The routes that need a known API key; `keyed` yields Auth once the
/// request has one.
pub(super) fn keyed(
    keyed: impl Filter<Extract = (Arc<Auth>,), Error = Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let authorization = || warp::header::optional::<String>("authorization");
    let signup = warp::path!("auth" / "v1" / "signup")
        .and(warp::post())
        .and(keyed.clone())
        .and(body())
        .then(|auth, body| async move { respond(auth::signup(auth, body).await, auth_error) });
    let token = warp::path!("auth" / "v1" / "token")
        .and(warp::post())
        .and(keyed.clone())
        .and(query_map())
        .and(body())
        .then(|auth, query: HashMap<String, String>, body| async move {
            let grant_type = query.get("grant_type").cloned();
            respond(auth::token(auth, grant_type, body).await, auth_error)
        });
    let recover = warp::path!("auth" / "v1" / "recover")
        .and(warp::post())
        .and(keyed.clone())
        .and(query_map())
        .and(body())
        .then(|auth, query: HashMap<String, String>, body| async move {
            let redirect_to = query.get("redirect_to").cloned();
            respond(
                auth_recovery::recover(auth, redirect_to, body).await,
                auth_error,
            )
        });
    signup
        .or(token)
        .unify()
        .or(recover)
        .unify()
        .or(signed_in(keyed.clone()))
        .unify()
        .or(warp::path!("auth" / "v1" / "admin" / "users" / String)
            .and(warp::delete())
            .and(keyed)
            .and(authorization())
            .then(|id, auth, authorization| async move {
                respond(
                    auth_admin::delete_user(auth, id, authorization).await,
                    auth_error,
                )
            }))
        .unify()
}

/// What a signed-in user does with their own bearer token.
fn signed_in(
    keyed: impl Filter<Extract = (Arc<Auth>,), Error = Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let authorization = || warp::header::optional::<String>("authorization");
    let user = warp::path!("auth" / "v1" / "user")
        .and(warp::get())
        .and(keyed.clone())
        .and(authorization())
        .then(|auth, authorization| async move {
            respond(auth_user::user(auth, authorization).await, auth_error)
        });
    let update_user = warp::path!("auth" / "v1" / "user")
        .and(warp::put())
        .and(keyed.clone())
        .and(authorization())
        .and(body())
        .then(|auth, authorization, body| async move {
            respond(
                auth_user::update_user(auth, authorization, body).await,
                auth_error,
            )
        });
    let logout = warp::path!("auth" / "v1" / "logout")
        .and(warp::post())
        .and(keyed)
        .and(query_map())
        .and(authorization())
        .then(
            |auth, query: HashMap<String, String>, authorization| async move {
                let scope = query.get("scope").cloned();
                respond(
                    auth_user::logout(auth, scope, authorization).await,
                    auth_error,
                )
            },
        );
    user.or(update_user).unify().or(logout).unify()
}

/// What Auth serves to anyone: its keys, settings and health, and the link
/// in its emails (Supabase's gateway serves `/auth/v1/verify` without an
/// API key, since it is opened from a mail client).
pub(super) fn open(
    auth: Arc<Auth>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
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
    let verify = warp::path!("auth" / "v1" / "verify")
        .and(warp::get())
        .and(warp::any().map(move || auth.clone()))
        .and(warp::query::<auth_recovery::VerifyQuery>())
        .then(auth_recovery::verify);
    jwks.or(settings)
        .unify()
        .or(health)
        .unify()
        .or(verify)
        .unify()
}
