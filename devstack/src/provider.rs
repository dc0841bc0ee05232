//! A model-provider stand-in speaking OpenRouter's (OpenAI's) chat
//! completions protocol. Each image is recognised by its SHA-256; the answer
//! is the JSON known for it, with per-model field mistakes (deterministic, so
//! a model is consistently good or bad), and usage with tokens and `cost`.
//! Latency and faults (429 with Retry-After, 500, timeouts, prose instead of
//! JSON, JSON after a preface, a 200 whose body is cut off, a blank answer)
//! are configurable, so tests and the local demo get realistic reports.
//! Billing is OpenRouter's: a timed-out
//! request is billed in full, a cut-off 200 too; every billed generation
//! can be looked up (`GET /v1/generation?id=`) unless that is turned off; a
//! model may take only so many requests at once and answers 429 past that.
//! `GET /v1/models` lists the models as OpenRouter's models API does
//! (`models`), and `GET /v1/endpoints/zdr` the zero-data-retention
//! endpoints; a request whose `provider` preferences no endpoint of its
//! model meets (`data_collection: "deny"` for a model that keeps data,
//! `zdr: true` for one without such an endpoint) is refused as OpenRouter
//! refuses it.

use crate::models::{Admin, ModelsApi};
use crate::server::Server;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};
use warp::Filter;

/// Where the sequence of fault draws starts.
const FAULT_SEED: u64 = 0x5EED_F4A1;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    pub rate_429: f64,
    pub rate_500: f64,
    pub rate_timeout: f64,
    /// Prose instead of JSON in an otherwise fine answer.
    pub rate_malformed: f64,
    /// The right JSON, fenced, after a sentence of preface.
    pub rate_prefaced: f64,
    /// A 200 whose body is cut off (billed; its generation id in the
    /// `X-Generation-Id` header).
    pub rate_unreadable: f64,
    /// A billed answer that says nothing (blank text).
    pub rate_empty: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ProviderConfig {
    pub latency_ms: u64,
    /// Uniform extra latency in [0, jitter_ms).
    pub jitter_ms: u64,
    pub faults: Faults,
    /// How long a "timeout" keeps the connection before answering 504.
    pub timeout_ms: u64,
    /// Seconds sent in Retry-After with a 429.
    pub retry_after_s: f64,
    /// Share of fields a model gets wrong, per model; `default` otherwise.
    pub mistake_rates: HashMap<String, f64>,
    pub default_mistake_rate: f64,
    /// By answer key (as `answers`): fields every model reads as the value
    /// given instead of what the image says, by a dotted path
    /// (`items.1.unit_price`): a label the buyer typed right that every
    /// model misreads the same way.
    pub misreadings: HashMap<String, serde_json::Map<String, Value>>,
    /// Share of a model's answers on an image, after its first, in which
    /// one field reads otherwise: a model that does not answer the same
    /// way twice. Per model; `default_variation_rate` otherwise.
    pub variation_rates: HashMap<String, f64>,
    pub default_variation_rate: f64,
    /// The right answer per image, by the hex SHA-256 of its bytes.
    pub answers: HashMap<String, Value>,
    /// Prices in US dollars per million prompt and completion tokens.
    pub prices: HashMap<String, (f64, f64)>,
    pub default_price: (f64, f64),
    pub prompt_tokens: u32,
    /// Requests a model takes at once; more are answered 429.
    pub concurrency_limits: HashMap<String, usize>,
    /// Whether `GET /v1/generation` knows billed generations.
    pub generation_lookup: bool,
    /// What `GET /v1/models` lists; none: `fixtures/models.json`.
    pub models: Option<Vec<Value>>,
    /// Models every endpoint of which keeps or trains on what it receives:
    /// a request asking `provider.data_collection: "deny"` finds none and
    /// is refused as OpenRouter refuses it (404).
    pub retaining_models: Vec<String>,
    /// Models with an endpoint that keeps nothing (`GET /v1/endpoints/zdr`);
    /// a request asking `provider.zdr: true` of any other is refused.
    /// None: `fixtures/zero_retention.json`.
    pub zero_retention_models: Option<Vec<String>>,
}

const ZERO_RETENTION_FIXTURE: &str = include_str!("../fixtures/zero_retention.json");

impl ProviderConfig {
    /// The models with a zero-data-retention endpoint.
    pub fn zero_retention(&self) -> Vec<String> {
        self.zero_retention_models.clone().unwrap_or_else(|| {
            let fixture: Value =
                serde_json::from_str(ZERO_RETENTION_FIXTURE).expect("fixtures/zero_retention.json");
            fixture["models"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect()
        })
    }
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            latency_ms: 300,
            jitter_ms: 0,
            faults: Faults::default(),
            timeout_ms: 120_000,
            retry_after_s: 1.0,
            mistake_rates: HashMap::new(),
            default_mistake_rate: 0.0,
            misreadings: HashMap::new(),
            variation_rates: HashMap::new(),
            default_variation_rate: 0.0,
            answers: HashMap::new(),
            prices: HashMap::new(),
            default_price: (1.0, 4.0),
            prompt_tokens: 1200,
            concurrency_limits: HashMap::new(),
            generation_lookup: true,
            models: None,
            retaining_models: Vec::new(),
            zero_retention_models: None,
        }
    }
}

/// One image of a request, as the stand-in received it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SentImage {
    pub sha256: String,
    /// From the image's header; 0 when it has none that can be read.
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
    /// As the data URL names it.
    pub media_type: String,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone, Serialize)]
pub struct CallLog {
    pub model: String,
    /// The pages' SHA-256s in order, joined by `+` (a page's own for a
    /// one-page document): the key its answer is found by.
    pub image_sha256: String,
    /// Every image of the message, in order.
    pub images: Vec<SentImage>,
    pub status: u16,
    pub fault: Option<&'static str>,
    pub max_tokens: Option<u64>,
    pub response_format: Option<String>,
    /// The request's OpenRouter provider preferences, as sent.
    pub provider: Value,
    pub cost: f64,
    /// When the request arrived, in Unix milliseconds.
    pub received_at_ms: f64,
}

#[derive(Clone)]
struct Provider {
    config: Arc<ProviderConfig>,
    /// [`ProviderConfig::zero_retention`], read once.
    zero_retention: Arc<Vec<String>>,
    calls: Arc<Mutex<Vec<CallLog>>>,
    /// Billed generations: id to cost.
    generations: Arc<Mutex<HashMap<String, f64>>>,
    /// Requests in progress, per model.
    busy: Arc<Mutex<HashMap<String, usize>>>,
    /// Answers generated so far, per model and answer key.
    answered: Arc<Mutex<HashMap<(String, String), u64>>>,
    /// The draws of faults and jitter, from one fixed sequence in the order
    /// calls arrive: every run of a test meets the same mix of faults.
    draws: Arc<Mutex<StdRng>>,
}

/// A model's request in progress, counted until dropped.
struct Busy {
    busy: Arc<Mutex<HashMap<String, usize>>>,
    model: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(n) = self.busy.lock().unwrap().get_mut(&self.model) {
            *n -= 1;
        }
    }
}

pub struct RunningProvider {
    pub server: Server,
    calls: Arc<Mutex<Vec<CallLog>>>,
    models: ModelsApi,
}

impl RunningProvider {
    /// The base URL clients use (`…/v1`, as OpenRouter's `…/api/v1`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.url())
    }

    pub fn calls(&self) -> Vec<CallLog> {
        self.calls.lock().unwrap().clone()
    }

    /// The models API's listing, to change while it runs.
    pub fn models(&self) -> &ModelsApi {
        &self.models
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn start(
    mut config: ProviderConfig,
    listener: TcpListener,
) -> std::io::Result<RunningProvider> {
    let models = ModelsApi::new(config.models.take());
    let provider = Provider {
        zero_retention: Arc::new(config.zero_retention()),
        config: Arc::new(config),
        calls: Arc::default(),
        generations: Arc::default(),
        busy: Arc::default(),
        answered: Arc::default(),
        draws: Arc::new(Mutex::new(StdRng::seed_from_u64(FAULT_SEED))),
    };
    let calls = provider.calls.clone();
    let with = warp::any().map(move || provider.clone());
    let completions = warp::path!("v1" / "chat" / "completions")
        .and(warp::post())
        .and(with.clone())
        .and(warp::header::optional::<String>("authorization"))
        .and(warp::body::bytes())
        .then(
            |provider: Provider, auth: Option<String>, body: Bytes| async move {
                provider.complete(auth, &body).await
            },
        );
    let generation = warp::path!("v1" / "generation")
        .and(warp::get())
        .and(with.clone())
        .and(warp::query::<HashMap<String, String>>())
        .map(|provider: Provider, query: HashMap<String, String>| {
            provider.generation(query.get("id").map(String::as_str))
        });
    let log = warp::path!("_devstack" / "calls")
        .and(warp::get())
        .and(with.clone())
        .map(|provider: Provider| {
            warp::reply::json(&*provider.calls.lock().unwrap()).into_response()
        });
    let zero_retention = warp::path!("v1" / "endpoints" / "zdr")
        .and(warp::get())
        .and(with)
        .map(|provider: Provider| provider.zero_retention_endpoints());
    let routes = completions
        .or(generation)
        .unify()
        .or(zero_retention)
        .unify()
        .or(log)
        .unify()
        .or(models_routes(models.clone()))
        .unify()
        .recover(|_| async {
            Ok::<_, std::convert::Infallible>(error(StatusCode::NOT_FOUND, "Not found"))
        })
        .unify();
    let server = Server::spawn(routes, listener)?;
    Ok(RunningProvider {
        calls,
        server,
        models,
    })
}

/// `GET /v1/models` and its knobs under `/_devstack/models`.
fn models_routes(
    models: ModelsApi,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let with = warp::any().map(move || models.clone());
    let list = warp::path!("v1" / "models")
        .and(warp::get())
        .and(with.clone())
        .and(warp::query::<HashMap<String, String>>())
        .map(|models: ModelsApi, query: HashMap<String, String>| models.list(&query));
    let upsert = warp::path!("_devstack" / "models")
        .and(warp::post())
        .and(with.clone())
        .and(warp::body::json())
        .map(|models: ModelsApi, model: Value| models.admin(Admin::Upsert(model)));
    let remove = warp::path!("_devstack" / "models")
        .and(warp::delete())
        .and(with.clone())
        .and(warp::query::<HashMap<String, String>>())
        .map(|models: ModelsApi, query: HashMap<String, String>| {
            models.admin(Admin::Remove(query.get("id").cloned().unwrap_or_default()))
        });
    let down = warp::path!("_devstack" / "models" / "down")
        .and(warp::post())
        .and(with)
        .and(warp::query::<HashMap<String, String>>())
        .map(|models: ModelsApi, query: HashMap<String, String>| {
            models.admin(Admin::Down(query.get("on").is_some_and(|on| on == "true")))
        });
    list.or(upsert).unify().or(remove).unify().or(down).unify()
}

fn error(status: StatusCode, message: &str) -> Response {
    warp::reply::with_status(
        warp::reply::json(&json!({"error": {"code": status.as_u16(), "message": message}})),
        status,
    )
    .into_response()
}

/// Every `image_url` part of the request, in order, decoded from its data
/// URL; none when one of them is not a base64 data URL.
fn images_of(request: &Value) -> Option<Vec<SentImage>> {
    let parts = request["messages"]
        .as_array()?
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten();
    let mut images = Vec::new();
    for part in parts {
        if let Some(url) = part["image_url"]["url"].as_str() {
            let (head, data) = url.split_once(";base64,")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()?;
            let size = imagesize::blob_size(&bytes).ok();
            images.push(SentImage {
                sha256: sha256_hex(&bytes),
                width: size.map_or(0, |s| s.width as u32),
                height: size.map_or(0, |s| s.height as u32),
                bytes: bytes.len(),
                media_type: head.strip_prefix("data:").unwrap_or(head).to_owned(),
            });
        }
    }
    (!images.is_empty()).then_some(images)
}

fn fraction(parts: &[&str]) -> f64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    (hasher.finish() % 1_000_000) as f64 / 1_000_000.0
}

/// The model's version of the truth: each leaf is wrong with the model's
/// mistake rate, the same leaf wrong every time.
fn perturb(value: &Value, model: &str, image: &str, path: &str, rate: f64) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        perturb(v, model, image, &format!("{path}.{k}"), rate),
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| perturb(v, model, image, &format!("{path}[{i}]"), rate))
                .collect(),
        ),
        leaf if fraction(&[model, image, path]) < rate => misread(leaf),
        leaf => leaf.clone(),
    }
}

/// A leaf read otherwise, as a mistake is made.
fn misread(leaf: &Value) -> Value {
    match leaf {
        Value::Number(n) => json!(n.as_f64().unwrap_or(0.0) + 1.0),
        Value::String(s) => json!(format!("{s}?")),
        Value::Bool(b) => json!(!b),
        _ => json!("unknown"),
    }
}

/// Puts `new` at a dotted path (`items.1.unit_price`) where the path
/// leads; nowhere when it does not.
fn set_path(value: &mut Value, path: &str, new: Value) {
    let mut at = value;
    for step in path.split('.') {
        let next = match at {
            Value::Object(map) => map.get_mut(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return,
        }
    }
    *at = new;
}

fn leaf_count(value: &Value) -> usize {
    match value {
        Value::Object(map) if !map.is_empty() => map.values().map(leaf_count).sum(),
        Value::Array(items) if !items.is_empty() => items.iter().map(leaf_count).sum(),
        _ => 1,
    }
}

/// Reads the `n`th leaf otherwise (counting down `n` as leaves pass).
fn vary_leaf(value: &mut Value, n: &mut usize) -> bool {
    match value {
        Value::Object(map) if !map.is_empty() => map.values_mut().any(|v| vary_leaf(v, n)),
        Value::Array(items) if !items.is_empty() => items.iter_mut().any(|v| vary_leaf(v, n)),
        leaf if *n == 0 => {
            *leaf = misread(leaf);
            true
        }
        _ => {
            *n -= 1;
            false
        }
    }
}

impl Provider {
    async fn complete(&self, auth: Option<String>, body: &[u8]) -> Response {
        let call = match Call::read(auth, body) {
            Ok(call) => call,
            Err((status, message)) => return error(status, message),
        };
        if let Some(refusal) = self.refused_by_policy(&call) {
            return refusal;
        }
        let Some(_busy) = self.admit(&call.model) else {
            self.log(&call, 429, Some("concurrency"), 0.0);
            return self.rate_limited();
        };
        let (fault, jitter) = self.draw();
        if let Some(failure) = self.fail(&call, fault).await {
            return failure;
        }
        tokio::time::sleep(Duration::from_millis(self.config.latency_ms + jitter)).await;
        self.answer(&call, fault)
    }

    /// OpenRouter's answer when no endpoint of the model meets the
    /// request's data policy: it fails closed, never falling back.
    fn refused_by_policy(&self, call: &Call) -> Option<Response> {
        let denies_collection = call.provider["data_collection"] == "deny";
        let asks_zero_retention = call.provider["zdr"] == true;
        let policy = if denies_collection && self.config.retaining_models.contains(&call.model) {
            "Paid model training"
        } else if asks_zero_retention && !self.zero_retention.contains(&call.model) {
            "Zero data retention"
        } else {
            return None;
        };
        self.log(call, 404, Some("data_policy"), 0.0);
        Some(error(
            StatusCode::NOT_FOUND,
            &format!("No endpoints found matching your data policy ({policy}). Configure: https://openrouter.ai/settings/privacy"),
        ))
    }

    /// `GET /v1/endpoints/zdr`: one zero-retention endpoint per model that
    /// has one, as OpenRouter lists them.
    fn zero_retention_endpoints(&self) -> Response {
        let data: Vec<Value> = self
            .zero_retention
            .iter()
            .map(|id| {
                let maker = id.split('/').next().unwrap_or_default();
                json!({
                    "name": format!("{maker}: {id}"),
                    "model_id": id,
                    "model_name": id,
                    "provider_name": maker,
                    "tag": maker,
                    "context_length": 128000,
                    "pricing": {"prompt": "0.000001", "completion": "0.000004"},
                    "quantization": "unknown",
                    "supported_parameters": ["max_tokens", "temperature", "response_format"],
                })
            })
            .collect();
        warp::reply::json(&json!({ "data": data })).into_response()
    }

    /// Counts the request in, unless its model is at its limit.
    fn admit(&self, model: &str) -> Option<Busy> {
        let mut busy = self.busy.lock().unwrap();
        let n = busy.entry(model.to_owned()).or_default();
        if self
            .config
            .concurrency_limits
            .get(model)
            .is_some_and(|limit| *n >= *limit)
        {
            return None;
        }
        *n += 1;
        Some(Busy {
            busy: self.busy.clone(),
            model: model.to_owned(),
        })
    }

    fn rate_limited(&self) -> Response {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        response.headers_mut().insert(
            "retry-after",
            self.config.retry_after_s.to_string().parse().unwrap(),
        );
        response
    }

    /// `GET /v1/generation?id=`: what a generation was billed.
    fn generation(&self, id: Option<&str>) -> Response {
        let cost = id.and_then(|id| self.generations.lock().unwrap().get(id).copied());
        match (cost, self.config.generation_lookup) {
            (Some(cost), true) => warp::reply::json(&json!({
                "data": {"id": id, "total_cost": cost, "cancelled": false}
            }))
            .into_response(),
            _ => error(StatusCode::NOT_FOUND, "Generation not found"),
        }
    }

    /// Bills a generation: kept for lookups, its id returned.
    fn bill(&self, cost: f64) -> String {
        let id = format!("gen-{}", uuid::Uuid::new_v4().simple());
        self.generations.lock().unwrap().insert(id.clone(), cost);
        id
    }

    /// Which fault (if any) this call meets, and its extra latency.
    fn draw(&self) -> (Option<&'static str>, u64) {
        let mut rng = self.draws.lock().unwrap();
        let draw = rng.random::<f64>();
        let jitter = if self.config.jitter_ms > 0 {
            rng.random_range(0..self.config.jitter_ms)
        } else {
            0
        };
        let f = &self.config.faults;
        let fault = [
            (f.rate_429, "429"),
            (f.rate_500, "500"),
            (f.rate_timeout, "timeout"),
            (f.rate_malformed, "malformed"),
            (f.rate_prefaced, "prefaced"),
            (f.rate_unreadable, "unreadable"),
            (f.rate_empty, "empty"),
        ]
        .into_iter()
        .scan(0.0, |edge, (rate, name)| {
            *edge += rate;
            Some((*edge, name))
        })
        .find(|(edge, _)| draw < *edge)
        .map(|(_, name)| name);
        (fault, jitter)
    }

    fn log(&self, call: &Call, status: u16, fault: Option<&'static str>, cost: f64) {
        self.calls.lock().unwrap().push(CallLog {
            model: call.model.clone(),
            image_sha256: call.image_sha256.clone(),
            images: call.images.clone(),
            status,
            fault,
            max_tokens: call.max_tokens,
            response_format: call.response_format.clone(),
            provider: call.provider.clone(),
            cost,
            received_at_ms: call.received_at_ms,
        });
    }

    /// The answer of a call that meets a 429, a 500 or a timeout.
    async fn fail(&self, call: &Call, fault: Option<&'static str>) -> Option<Response> {
        match fault? {
            "429" => {
                self.log(call, 429, fault, 0.0);
                Some(self.rate_limited())
            }
            "500" => {
                self.log(call, 500, fault, 0.0);
                Some(error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                ))
            }
            "timeout" => {
                // The model works on; the request is billed in full even
                // though the client stops waiting.
                let (_, _, cost) = self.generate(call, fault);
                self.log(call, 504, fault, cost);
                self.bill(cost);
                tokio::time::sleep(Duration::from_millis(self.config.timeout_ms)).await;
                Some(error(StatusCode::GATEWAY_TIMEOUT, "Timed out"))
            }
            _ => None,
        }
    }

    /// The model's text (the image's truth with the model's mistakes, after
    /// a sentence of prose when the fault is "malformed"), its completion
    /// tokens and what it costs.
    fn generate(&self, call: &Call, fault: Option<&'static str>) -> (String, u32, f64) {
        let config = &self.config;
        let truth = config
            .answers
            .get(&call.image_sha256)
            .cloned()
            .unwrap_or_else(|| json!({}));
        let rate = config
            .mistake_rates
            .get(&call.model)
            .copied()
            .unwrap_or(config.default_mistake_rate);
        let mut answer = perturb(&truth, &call.model, &call.image_sha256, "", rate);
        if let Some(fields) = config.misreadings.get(&call.image_sha256) {
            for (path, value) in fields {
                set_path(&mut answer, path, value.clone());
            }
        }
        let nth = {
            let mut answered = self.answered.lock().unwrap();
            let n = answered
                .entry((call.model.clone(), call.image_sha256.clone()))
                .or_default();
            *n += 1;
            *n - 1
        };
        let variation = config
            .variation_rates
            .get(&call.model)
            .copied()
            .unwrap_or(config.default_variation_rate);
        let round = nth.to_string();
        let draw = fraction(&[&call.model, &call.image_sha256, &round, "vary"]);
        if nth > 0 && draw < variation {
            let leaves = leaf_count(&answer);
            let pick = (fraction(&[&call.model, &call.image_sha256, &round, "leaf"])
                * leaves as f64) as usize;
            vary_leaf(&mut answer, &mut pick.min(leaves.saturating_sub(1)));
        }
        let content = match fault {
            Some("malformed") => format!(
                "Sure! Here is what I found on the document: {}",
                prose(&answer)
            ),
            Some("prefaced") => {
                format!("Sure! Here is the JSON you asked for:\n```json\n{answer}\n```")
            }
            Some("empty") => " \n".into(),
            _ => answer.to_string(),
        };
        let completion_tokens =
            ((content.len() / 4).max(1) as u64).min(call.max_tokens.unwrap_or(u64::MAX)) as u32;
        let (prompt_price, completion_price) = config
            .prices
            .get(&call.model)
            .copied()
            .unwrap_or(config.default_price);
        let cost = (config.prompt_tokens as f64 * prompt_price
            + completion_tokens as f64 * completion_price)
            / 1e6;
        (content, completion_tokens, cost)
    }

    /// The model's answer with its usage and cost; or, when the fault is
    /// "unreadable", a billed 200 whose body is cut off.
    fn answer(&self, call: &Call, fault: Option<&'static str>) -> Response {
        let (content, completion_tokens, cost) = self.generate(call, fault);
        self.log(call, 200, fault, cost);
        let id = self.bill(cost);
        let prompt_tokens = self.config.prompt_tokens;
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "model": call.model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "cost": cost,
            },
        })
        .to_string();
        let body = if fault == Some("unreadable") {
            body[..body.len() / 2].to_owned()
        } else {
            body
        };
        let mut response =
            warp::reply::with_header(body, "content-type", "application/json").into_response();
        response
            .headers_mut()
            .insert("x-generation-id", id.parse().unwrap());
        response
    }
}

/// A value's leaves in words, with no JSON in sight.
fn prose(value: &Value) -> String {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k} is {}", prose(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => items.iter().map(prose).collect::<Vec<_>>().join(" and "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What a chat-completions request asks, as far as the stand-in cares.
struct Call {
    model: String,
    image_sha256: String,
    images: Vec<SentImage>,
    max_tokens: Option<u64>,
    response_format: Option<String>,
    provider: Value,
    received_at_ms: f64,
}

impl Call {
    /// The request, or why the provider refuses it.
    fn read(auth: Option<String>, body: &[u8]) -> Result<Self, (StatusCode, &'static str)> {
        let received_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or_default();
        if !auth.is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7) {
            return Err((StatusCode::UNAUTHORIZED, "No auth credentials found"));
        }
        let request: Value = serde_json::from_slice(body)
            .map_err(|_| (StatusCode::BAD_REQUEST, "Invalid JSON body"))?;
        let images =
            images_of(&request).ok_or((StatusCode::BAD_REQUEST, "No image in the request"))?;
        Ok(Self {
            model: request["model"].as_str().unwrap_or_default().to_owned(),
            image_sha256: images
                .iter()
                .map(|i| i.sha256.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            images,
            max_tokens: request["max_tokens"].as_u64(),
            response_format: request["response_format"]["type"]
                .as_str()
                .map(str::to_owned),
            provider: request["provider"].clone(),
            received_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(config: ProviderConfig) -> Provider {
        Provider {
            zero_retention: Arc::new(Vec::new()),
            config: Arc::new(config),
            calls: Arc::default(),
            generations: Arc::default(),
            busy: Arc::default(),
            answered: Arc::default(),
            draws: Arc::new(Mutex::new(StdRng::seed_from_u64(FAULT_SEED))),
        }
    }

    fn call(model: &str) -> Call {
        Call {
            model: model.into(),
            image_sha256: "page".into(),
            images: Vec::new(),
            max_tokens: None,
            response_format: None,
            provider: Value::Null,
            received_at_ms: 0.0,
        }
    }

    fn answer(provider: &Provider, model: &str) -> Value {
        serde_json::from_str(&provider.generate(&call(model), None).0).unwrap()
    }

    fn truth() -> Value {
        json!({"total": 96.0, "vendor": "Acme", "items": [{"sku": "A", "price": 1.0}]})
    }

    #[test]
    fn a_misreading_is_read_by_every_model_the_same_way() {
        let mut config = ProviderConfig::default();
        config.answers.insert("page".into(), truth());
        let mut fields = serde_json::Map::new();
        fields.insert("total".into(), json!(97.0));
        fields.insert("items.0.price".into(), json!(1.5));
        fields.insert("items.5.price".into(), json!(9));
        config.misreadings.insert("page".into(), fields);
        let provider = provider(config);
        for model in ["a/one", "b/two", "c/three"] {
            assert_eq!(
                answer(&provider, model),
                json!({"total": 97.0, "vendor": "Acme", "items": [{"sku": "A", "price": 1.5}]}),
                "{model}: the misread fields, and no row the image does not have"
            );
        }
    }

    #[test]
    fn a_varying_model_answers_its_first_call_as_ever_and_later_ones_otherwise() {
        let mut config = ProviderConfig::default();
        config.answers.insert("page".into(), truth());
        config.variation_rates.insert("a/varies".into(), 1.0);
        let provider = provider(config);
        assert_eq!(answer(&provider, "a/varies"), truth(), "the first answer");
        for _ in 0..5 {
            let again = answer(&provider, "a/varies");
            let changed = ["total", "vendor"]
                .iter()
                .filter(|k| again[**k] != truth()[**k])
                .count()
                + usize::from(again["items"] != truth()["items"]);
            assert_eq!(changed, 1, "one field reads otherwise: {again}");
        }
        for _ in 0..3 {
            assert_eq!(
                answer(&provider, "b/steady"),
                truth(),
                "a model without the knob"
            );
        }
    }
}
