//! A form-encoded Stripe request's parameters, read as Stripe reads them.

use serde_json::{json, Value};
use warp::http::StatusCode;

use super::Refusal;

pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The parameter, or Stripe's refusal naming it.
    pub fn require(&self, name: &'static str) -> Result<String, Refusal> {
        self.get(name).ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("Missing required param: {name}."),
                Some(name),
            )
        })
    }

    /// A required whole number.
    pub fn integer(&self, name: &'static str) -> Result<i64, Refusal> {
        self.require(name)?.parse::<i64>().map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "Invalid integer.".into(),
                Some(name),
            )
        })
    }

    /// `prefix[name]=value` parameters as an object (metadata).
    pub fn object(&self, prefix: &str) -> Value {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(']'))
                    .map(|name| (name.to_owned(), json!(v)))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}
