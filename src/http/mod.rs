//! The sidecar's routes. Handlers return replies, error replies included;
//! rejections only mean "no route here".

mod checkout;
mod error;
mod pages;
mod web;
mod webhook;

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use uuid::Uuid;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use crate::startup::AppState;
pub use error::ApiError;

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

#[derive(Debug)]
struct TooLarge(u64);
impl warp::reject::Reject for TooLarge {}

/// The body, refused with 413 before it is read when its declared length
/// is over `limit`, and after reading when a chunked body runs over.
fn body_limited(limit: u64) -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(n) if n > limit => Err(warp::reject::custom(TooLarge(limit))),
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::bytes())
        .and_then(move |body: Bytes| async move {
            if body.len() as u64 > limit {
                Err(warp::reject::custom(TooLarge(limit)))
            } else {
                Ok(body)
            }
        })
}

pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let checkout = warp::path!("api" / "checkout")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("authorization"))
        .and(body_limited(checkout::MAX_BODY_BYTES))
        .then(|state, authorization, body| async move {
            error::respond(checkout::create(state, authorization, body).await)
        });
    let webhook = warp::path!("api" / "webhooks" / "stripe")
        .and(warp::post())
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("stripe-signature"))
        .and(body_limited(webhook::MAX_BODY_BYTES))
        .then(|state, signature, body| async move {
            error::respond(webhook::receive(state, signature, body).await)
        });
    let success = warp::path!("checkout" / "success")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .then(|state, query: HashMap<String, String>| async move {
            pages::checkout_success(state, query.get("session_id").cloned()).await
        });
    let cancel = warp::path!("checkout" / "cancel")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .map(|query: HashMap<String, String>| pages::checkout_cancel(query.get("draft").cloned()));
    let config = warp::path!("config.json")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|state: AppState| web::config(&state));
    let asset = warp::path("assets")
        .and(warp::get())
        .and(warp::path::tail())
        .map(|tail: warp::path::Tail| web::serve(tail.as_str()));
    let dashboard = warp::path::end()
        .and(warp::get())
        .map(|| web::serve("dashboard"));
    let sign_in = warp::path!("sign-in")
        .and(warp::get())
        .map(|| web::serve("sign-in"));
    let new = warp::path!("benchmark" / "new")
        .and(warp::get())
        .map(|| web::serve("new"));
    let processing = warp::path!("benchmark" / Uuid / "processing")
        .and(warp::get())
        .map(|_| web::serve("processing"));
    let report = warp::path!("report" / Uuid)
        .and(warp::get())
        .map(|_| web::serve("report"));
    let health = warp::path!("health")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"ok": true})).into_response());

    checkout
        .or(webhook)
        .unify()
        .or(success)
        .unify()
        .or(cancel)
        .unify()
        .or(health)
        .unify()
        .or(config)
        .unify()
        .or(asset)
        .unify()
        .or(dashboard)
        .unify()
        .or(sign_in)
        .unify()
        .or(new)
        .unify()
        .or(processing)
        .unify()
        .or(report)
        .unify()
        // Boxing keeps the route tree's type small enough for release builds
        // (an unboxed chain overflows the trait solver).
        .boxed()
        .recover(
            |rejection: Rejection| async move { Ok::<_, Infallible>(rejection_reply(rejection)) },
        )
        .unify()
}

fn rejection_reply(rejection: Rejection) -> Response {
    if let Some(TooLarge(limit)) = rejection.find::<TooLarge>() {
        return ApiError::PayloadTooLarge(*limit).into_response();
    }
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "no such page".to_owned())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed here".to_owned(),
        )
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        (StatusCode::BAD_REQUEST, e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        (StatusCode::BAD_REQUEST, e.to_string())
    } else {
        (StatusCode::BAD_REQUEST, format!("{rejection:?}"))
    };
    warp::reply::with_status(
        warp::reply::json(&serde_json::json!({ "error": message, "code": "bad_request" })),
        status,
    )
    .into_response()
}
