//! A Resend stand-in: `POST /emails` with Resend's JSON shapes, honouring
//! `Idempotency-Key` (a repeated key sends nothing new), and a list of what
//! was "sent" for tests and the local product.

use crate::server::Server;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::net::TcpListener;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

#[derive(Default)]
struct Outbox {
    sent: Vec<Value>,
    by_key: HashMap<String, Value>,
    /// Valid requests, repeats of a key included.
    requests: usize,
}

pub struct RunningResend {
    pub server: Server,
    outbox: Arc<Mutex<Outbox>>,
}

impl RunningResend {
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn sent(&self) -> Vec<Value> {
        self.outbox.lock().unwrap().sent.clone()
    }

    /// How many times an email was asked to be sent, repeats of an
    /// idempotency key included.
    pub fn requests(&self) -> usize {
        self.outbox.lock().unwrap().requests
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

fn refuse(status: StatusCode, name: &str, message: &str) -> Response {
    warp::reply::with_status(
        warp::reply::json(
            &json!({"statusCode": status.as_u16(), "name": name, "message": message}),
        ),
        status,
    )
    .into_response()
}

fn send(
    outbox: &Mutex<Outbox>,
    auth: Option<String>,
    key: Option<String>,
    email: Value,
) -> Response {
    if !auth.is_some_and(|a| a.starts_with("Bearer re_")) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "Missing or invalid API key",
        );
    }
    let to_ok = email["to"].as_array().is_some_and(|to| {
        !to.is_empty()
            && to
                .iter()
                .all(|t| t.as_str().is_some_and(|t| t.contains('@')))
    });
    let headers_ok = match &email["headers"] {
        Value::Null => true,
        Value::Object(headers) => headers.values().all(Value::is_string),
        _ => false,
    };
    if !headers_ok {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "headers must be an object of strings",
        );
    }
    if email["from"].as_str().is_none() || email["subject"].as_str().is_none() || !to_ok {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "from, to and subject are required",
        );
    }
    let mut outbox = outbox.lock().unwrap();
    outbox.requests += 1;
    if let Some(answer) = key.as_ref().and_then(|k| outbox.by_key.get(k)) {
        return warp::reply::json(answer).into_response();
    }
    let answer = json!({"id": uuid::Uuid::new_v4()});
    let mut stored = email;
    stored["id"] = answer["id"].clone();
    outbox.sent.push(stored);
    if let Some(key) = key {
        outbox.by_key.insert(key, answer.clone());
    }
    warp::reply::json(&answer).into_response()
}

pub fn start(listener: TcpListener) -> std::io::Result<RunningResend> {
    let outbox: Arc<Mutex<Outbox>> = Arc::default();
    let for_send = outbox.clone();
    let emails = warp::path!("emails")
        .and(warp::post())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::header::optional::<String>("idempotency-key"))
        .and(warp::body::json())
        .map(move |auth, key, email: Value| send(&for_send, auth, key, email));
    let for_list = outbox.clone();
    let list = warp::path!("_devstack" / "emails")
        .and(warp::get())
        .map(move || warp::reply::json(&for_list.lock().unwrap().sent).into_response());
    let routes = emails
        .or(list)
        .unify()
        .recover(|_| async {
            Ok::<_, std::convert::Infallible>(refuse(
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
            ))
        })
        .unify();
    let server = Server::spawn(routes, listener)?;
    Ok(RunningResend { outbox, server })
}
