//! Building replies with a status and a JSON body.

use warp::http::StatusCode;
use warp::reply::{Reply, Response};

pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    warp::reply::with_status(warp::reply::json(body), status).into_response()
}

/// A database error with the server's own message, which tokio-postgres's
/// `Display` leaves out.
pub fn describe_db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
