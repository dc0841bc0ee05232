//! OpenRouter's models API, as the provider stand-in serves it:
//! `GET /v1/models` answers `{"data": [Model, ...]}` from
//! `fixtures/models.json` (vision models with prices, text-only models, a
//! router priced "-1", models with a price missing), filtered by
//! `output_modalities` and `supported_parameters` as OpenRouter filters.
//! While it runs, a model can be added or repriced (`POST
//! /_devstack/models` with a Model), withdrawn (`DELETE
//! /_devstack/models?id=`), and the API taken down (`POST
//! /_devstack/models/down?on=true`), so tests and the demo can show the
//! catalog changing. A fixture entry may give `created_days_ago` instead of
//! `created`: the stand-in states it as a Unix time when it starts, so a
//! model stays "added lately" whenever the demo runs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

const FIXTURE: &str = include_str!("../fixtures/models.json");

/// The models the stand-in lists, shared by its routes and its owner.
#[derive(Clone)]
pub struct ModelsApi {
    models: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
}

impl ModelsApi {
    /// The fixture's models, or `models` when given.
    pub fn new(models: Option<Vec<Value>>) -> Self {
        let models = models.unwrap_or_else(|| {
            let fixture: Value = serde_json::from_str(FIXTURE).expect("fixtures/models.json");
            fixture["data"].as_array().cloned().unwrap_or_default()
        });
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let models = models
            .into_iter()
            .map(|mut model| {
                if let Some(days) = model
                    .as_object_mut()
                    .and_then(|m| m.remove("created_days_ago"))
                    .and_then(|d| d.as_u64())
                {
                    model["created"] = json!(now.saturating_sub(days * 86_400));
                }
                model
            })
            .collect();
        Self {
            models: Arc::new(Mutex::new(models)),
            down: Arc::default(),
        }
    }

    /// Adds `model`, or replaces the one with its id.
    pub fn upsert(&self, model: Value) {
        let mut models = self.models.lock().unwrap();
        match models.iter_mut().find(|m| m["id"] == model["id"]) {
            Some(existing) => *existing = model,
            None => models.push(model),
        }
    }

    /// Stops listing the model `id`; whether it was listed.
    pub fn remove(&self, id: &str) -> bool {
        let mut models = self.models.lock().unwrap();
        let before = models.len();
        models.retain(|m| m["id"] != id);
        models.len() < before
    }

    /// Makes the API answer 503 (`true`) or list again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The listing, as `GET /v1/models?…` answers it.
    pub fn list(&self, query: &HashMap<String, String>) -> Response {
        if self.down.load(Ordering::SeqCst) {
            return warp::reply::with_status(
                warp::reply::json(
                    &json!({"error": {"code": 503, "message": "Service unavailable"}}),
                ),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .into_response();
        }
        let output = query
            .get("output_modalities")
            .map(String::as_str)
            .unwrap_or("text");
        let parameter = query.get("supported_parameters");
        let has = |list: &Value, wanted: &str| {
            list.as_array()
                .is_some_and(|items| items.iter().any(|i| i == wanted))
        };
        let data: Vec<Value> = self
            .models
            .lock()
            .unwrap()
            .iter()
            .filter(|m| output == "all" || has(&m["architecture"]["output_modalities"], output))
            .filter(|m| parameter.is_none_or(|p| has(&m["supported_parameters"], p)))
            .cloned()
            .collect();
        warp::reply::json(&json!({ "data": data })).into_response()
    }

    /// The knobs' answer to an admin request.
    pub fn admin(&self, action: Admin) -> Response {
        let status = match action {
            Admin::Upsert(model) if model["id"].is_string() => {
                self.upsert(model);
                StatusCode::OK
            }
            Admin::Upsert(_) => StatusCode::BAD_REQUEST,
            Admin::Remove(id) if self.remove(&id) => StatusCode::OK,
            Admin::Remove(_) => StatusCode::NOT_FOUND,
            Admin::Down(on) => {
                self.set_down(on);
                StatusCode::OK
            }
        };
        warp::reply::with_status(
            warp::reply::json(&json!({"ok": status.is_success()})),
            status,
        )
        .into_response()
    }
}

/// What the `_devstack/models` knobs ask for.
pub enum Admin {
    Upsert(Value),
    Remove(String),
    Down(bool),
}
