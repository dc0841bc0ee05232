//! The sidecar's route tree. Handlers return replies, error replies
//! included; rejections only mean "no route here".

use std::collections::HashMap;
use std::convert::Infallible;

use uuid::Uuid;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::body::{self, Body};
use super::compare::{self, CompareQuery};
use super::error::{json_reply, ApiError};
use super::request::{request, Request};
use super::state::AppState;
use super::{checkout, pages, shared_images, unsubscribe, web, webhook};

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Every route, and the one answer for a request none of them takes.
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let headers = state.headers.clone();
    api(state.clone())
        .or(pages(state))
        .unify()
        // Boxing keeps the route tree's type small enough for release builds
        // (an unboxed chain overflows the trait solver).
        .boxed()
        .recover(
            |rejection: Rejection| async move { Ok::<_, Infallible>(rejection_reply(rejection)) },
        )
        .unify()
        .map(move |response| headers.apply(response))
}

/// Everything under `/api/`.
fn api(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    payments(state.clone())
        .or(report_api(state.clone()))
        .unify()
        .or(account_api(state))
        .unify()
}

/// `POST /api/checkout` and Stripe's webhook.
fn payments(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let checkout = warp::path!("api" / "checkout")
        .and(warp::post())
        .and(request("checkout"))
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("authorization"))
        .and(body::limited(
            checkout::MAX_BODY_BYTES,
            state.bodies.clone(),
        ))
        .then(
            |request: Request, state, authorization, body: Body| async move {
                request
                    .run(checkout::create(state, authorization, body.bytes.clone()))
                    .await
            },
        );
    let webhook = warp::path!("api" / "webhooks" / "stripe")
        .and(warp::post())
        .and(request("stripe_webhook"))
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("stripe-signature"))
        .and(body::limited(webhook::MAX_BODY_BYTES, state.bodies.clone()))
        .then(
            |request: Request, state, signature, body: Body| async move {
                request
                    .run(webhook::receive(state, signature, body.bytes.clone()))
                    .await
            },
        );
    checkout.or(webhook).unify()
}

/// A customer's own account: export it, delete it.
fn account_api(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let export = warp::path!("api" / "account" / "export")
        .and(warp::get())
        .and(request("account_export"))
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("authorization"))
        .then(|request: Request, state, authorization| {
            request.run(super::account::export(state, authorization))
        });
    let delete = warp::path!("api" / "account")
        .and(warp::delete())
        .and(request("account_delete"))
        .and(with_state(state))
        .and(warp::header::optional::<String>("authorization"))
        .then(|request: Request, state, authorization| {
            request.run(super::account::delete(state, authorization))
        });
    export.or(delete).unify()
}

/// Comparing two reports, a shared report's images, and the one-click
/// unsubscribe of the emails about new models.
fn report_api(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let compare = warp::path!("api" / "compare")
        .and(warp::get())
        .and(request("compare"))
        .and(with_state(state.clone()))
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::query::<HashMap<String, String>>())
        .then(
            |request: Request, state, authorization, query: HashMap<String, String>| async move {
                request
                    .run(async move {
                        compare::compare(state, authorization, CompareQuery::parse(&query)?).await
                    })
                    .await
            },
        );
    let image = warp::path!("api" / "reports" / Uuid / "images" / usize)
        .and(warp::get())
        .and(request("shared_image"))
        .and(with_state(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .then(
            |report: Uuid,
             index: usize,
             request: Request,
             state,
             query: HashMap<String, String>| async move {
                request
                    .run(shared_images::image(
                        state,
                        report,
                        index,
                        query.get("share").cloned(),
                    ))
                    .await
            },
        );
    let images = warp::path!("api" / "reports" / Uuid / "images")
        .and(warp::get())
        .and(request("shared_images"))
        .and(with_state(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .then(
            |report: Uuid, request: Request, state, query: HashMap<String, String>| async move {
                request
                    .run(shared_images::images(
                        state,
                        report,
                        query.get("share").cloned(),
                    ))
                    .await
            },
        );
    let unsubscribe = warp::path!("api" / "unsubscribe")
        .and(warp::post())
        .and(request("unsubscribe"))
        .and(with_state(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(body::limited(
            unsubscribe::MAX_BODY_BYTES,
            state.bodies.clone(),
        ))
        .then(
            |request: Request, state, query: HashMap<String, String>, _body: Body| async move {
                request
                    .run(unsubscribe::one_click(state, query.get("token").cloned()))
                    .await
            },
        );
    compare
        .or(images)
        .unify()
        .or(image)
        .unify()
        .or(unsubscribe)
        .unify()
}

/// Where Stripe sends the browser back, the static pages and their assets,
/// the browser's settings and the health check.
fn pages(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let success = warp::path!("checkout" / "success")
        .and(warp::get())
        .and(request("checkout_success"))
        .and(with_state(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .then(|request: Request, state, query: HashMap<String, String>| {
            let id = request.id.clone();
            request.run(async move {
                Ok(pages::checkout_success(state, query.get("session_id").cloned(), &id).await)
            })
        });
    let cancel = warp::path!("checkout" / "cancel")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .map(|query: HashMap<String, String>| pages::checkout_cancel(query.get("draft").cloned()));
    let config = warp::path!("config.json")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|state: AppState| web::config(&state));
    let health = warp::path!("health")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"ok": true})).into_response());
    let ready = warp::path!("ready")
        .and(warp::get())
        .and(with_state(state.clone()))
        .then(super::ready::ready);
    let privacy = warp::path!("privacy")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|state: AppState| super::legal::page(&state.legal, super::legal::Legal::Privacy));
    let terms = warp::path!("terms")
        .and(warp::get())
        .and(with_state(state.clone()))
        .map(|state: AppState| super::legal::page(&state.legal, super::legal::Legal::Terms));
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(request("metrics"))
        .and(with_state(state))
        .and(warp::header::optional::<String>("authorization"))
        .then(|request: Request, state, authorization| {
            request.run(super::metrics::metrics(state, authorization))
        });
    success
        .or(cancel)
        .unify()
        .or(config)
        .unify()
        .or(health)
        .unify()
        .or(ready)
        .unify()
        .or(metrics)
        .unify()
        .or(privacy)
        .unify()
        .or(terms)
        .unify()
        .or(static_pages())
        .unify()
}

/// What the browser says about a static file it asks for (see `web::Fetch`).
fn fetch() -> impl Filter<Extract = (web::Fetch,), Error = Infallible> + Clone {
    warp::header::optional::<String>("accept-encoding")
        .and(warp::header::optional::<String>("if-none-match"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .map(|encoding, none_match, query: String| web::Fetch::new(encoding, none_match, &query))
        .or(warp::any().map(web::Fetch::default))
        .unify()
}

/// The pages in `web/` and their assets.
fn static_pages() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let asset = warp::path("assets")
        .and(warp::get())
        .and(warp::path::tail())
        .and(fetch())
        .map(|tail: warp::path::Tail, fetch: web::Fetch| web::serve(tail.as_str(), &fetch));
    let any_id = |_: Uuid| ();
    asset
        .or(page(warp::path!("favicon.ico"), "icon.svg"))
        .unify()
        .or(page(warp::path::end(), "dashboard"))
        .unify()
        .or(named_pages())
        .unify()
        .or(page(warp::path!("benchmark" / "new"), "new"))
        .unify()
        .or(page(
            warp::path!("benchmark" / Uuid / "processing")
                .map(any_id)
                .untuple_one(),
            "processing",
        ))
        .unify()
        .or(page(
            warp::path!("report" / Uuid).map(any_id).untuple_one(),
            "report",
        ))
        .unify()
}

/// The pages served at `/<name>`.
fn named_pages() -> warp::filters::BoxedFilter<(Response,)> {
    const NAMES: [&str; 7] = [
        "sign-in",
        "sign-up",
        "forgot-password",
        "reset-password",
        "unsubscribe",
        "scoring",
        "compare",
    ];
    NAMES
        .into_iter()
        .map(|name| page(warp::path(name).and(warp::path::end()), name).boxed())
        .reduce(|all, next| all.or(next).unify().boxed())
        .expect("at least one page")
}

fn page<P>(
    path: P,
    name: &'static str,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone
where
    P: Filter<Extract = (), Error = Rejection> + Clone,
{
    path.and(warp::get())
        .and(fetch())
        .map(move |fetch: web::Fetch| web::serve(name, &fetch))
}

fn rejection_reply(rejection: Rejection) -> Response {
    let id = super::request::RequestId::new();
    let error = if let Some(body::TooLarge(limit)) = rejection.find::<body::TooLarge>() {
        ApiError::PayloadTooLarge(*limit)
    } else if let Some(body::TooSlow(deadline)) = rejection.find::<body::TooSlow>() {
        ApiError::TooSlow(format!(
            "the request body did not arrive within {} seconds",
            deadline.as_secs()
        ))
    } else if rejection.find::<body::OverBudget>().is_some() {
        ApiError::Unavailable("the request body budget is spent".into())
    } else if rejection.find::<body::Unreadable>().is_some() {
        ApiError::BadRequest("the request body could not be read".into())
    } else if rejection.is_not_found() {
        return json_reply(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "no such page", "code": "not_found", "request_id": id.as_str()}),
        );
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        return json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method not allowed here", "code": "method_not_allowed", "request_id": id.as_str()}),
        );
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        ApiError::BadRequest("the query string could not be read".into())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidHeader>() {
        ApiError::BadRequest(format!("the {} header could not be read", e.name()))
    } else {
        tracing::warn!(request.id = id.as_str(), rejection = ?rejection, "request refused before any handler");
        ApiError::BadRequest("the request could not be read".into())
    };
    error.into_response_for(id.as_str())
}
