//! The request pieces every gateway route reads the same way: a bounded
//! body, the query as a map, and a result answered either way.

use std::collections::HashMap;
use std::convert::Infallible;

use bytes::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// Largest REST or Storage request body the gateway accepts.
pub(super) const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
pub(super) struct BodyTooLarge;
impl warp::reject::Reject for BodyTooLarge {}

pub(super) fn body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
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

pub(super) fn query_map(
) -> impl Filter<Extract = (HashMap<String, String>,), Error = Infallible> + Clone {
    warp::query::<HashMap<String, String>>()
        .or(warp::any().map(HashMap::new))
        .unify()
}

pub(super) fn respond<E>(
    result: Result<Response, E>,
    into: impl FnOnce(E) -> Response,
) -> Response {
    result.unwrap_or_else(into)
}
