//! One vision call over OpenRouter's (OpenAI's) chat-completions protocol.
//!
//! Retried with jittered exponential backoff, a bounded number of times, only
//! where the failed attempt cannot have been billed: 429 (honouring
//! `Retry-After`), 408, 5xx and connection failures. A call that timed out is
//! not sent again: a non-streamed request is billed in full even after the
//! client gave up, and the budget reserved for one call only. 400/401/402/403
//! and an error inside a 200 body end the call at once.

use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::ProviderSettings;

/// What one call asks.
pub struct CallRequest<'a> {
    pub model: &'a str,
    pub prompt: &'a str,
    pub image: &'a [u8],
    pub image_mime: &'a str,
    pub json_schema: Option<&'a Value>,
    pub supports_json_schema: bool,
}

/// What one call gave: the model's text, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    pub text: Result<String, String>,
    pub response_time_ms: u64,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// The provider's own figure (`usage.cost`), when it sends one.
    pub reported_cost: Option<f64>,
    pub attempts: u32,
}

impl CallOutcome {
    /// A call that produced no answer (and no usage to bill).
    pub fn failure(why: String, response_time_ms: u64, attempts: u32) -> Self {
        Self {
            text: Err(why),
            response_time_ms,
            prompt_tokens: 0,
            completion_tokens: 0,
            total_tokens: 0,
            reported_cost: None,
            attempts,
        }
    }
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    total_tokens: u32,
    #[serde(default)]
    cost: Option<f64>,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

const JSON_ONLY: &str = "Answer with one JSON object and nothing else: no prose, no code fence.";

pub fn request_body(settings: &ProviderSettings, call: &CallRequest<'_>) -> Value {
    let data_url = format!(
        "data:{};base64,{}",
        call.image_mime,
        base64::engine::general_purpose::STANDARD.encode(call.image)
    );
    let mut body = json!({
        "model": call.model,
        "max_tokens": settings.max_tokens,
        "temperature": 0,
        "messages": [{
            "role": "user",
            "content": [
                {"type": "text", "text": format!("{}\n\n{JSON_ONLY}", call.prompt)},
                {"type": "image_url", "image_url": {"url": data_url}},
            ],
        }],
    });
    match (call.json_schema, call.supports_json_schema) {
        (Some(schema), true) => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "extraction", "strict": true, "schema": schema},
            });
        }
        _ => body["response_format"] = json!({"type": "json_object"}),
    }
    body
}

enum Attempt {
    Done(CallOutcome),
    Retry {
        why: String,
        after: Option<Duration>,
    },
}

fn error_message(status: u16, body: &str) -> String {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let what = match status {
        400 => "the provider refused the request",
        401 | 403 => "the provider refused our credentials",
        402 => "the provider account is out of credit",
        404 => "the provider does not know this model",
        408 => "the provider timed out",
        429 => "the provider kept rate-limiting us",
        500..=599 => "the provider failed",
        _ => "the provider answered with an error",
    };
    format!("{what} (HTTP {status}): {detail}")
}

#[derive(Clone)]
pub struct Provider {
    http: reqwest::Client,
    settings: ProviderSettings,
}

impl Provider {
    pub fn new(settings: ProviderSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.call_timeout)
            .build()
            .expect("the HTTP client builds");
        Self { http, settings }
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    pub async fn call(&self, call: &CallRequest<'_>) -> CallOutcome {
        let body = request_body(&self.settings, call);
        let mut last = String::new();
        for attempt in 1..=self.settings.max_attempts {
            match self.attempt(&body, attempt).await {
                Attempt::Done(outcome) => return outcome,
                Attempt::Retry { why, after } => {
                    last = why;
                    if attempt < self.settings.max_attempts {
                        let backoff = self.settings.backoff_base * 2u32.pow(attempt - 1);
                        let jitter = rand::rng().random_range(0.5..1.5);
                        let wait = after
                            .unwrap_or(backoff.mul_f64(jitter))
                            .min(Duration::from_secs(30));
                        tracing::debug!(model = call.model, attempt, wait_ms = wait.as_millis() as u64, %last, "retrying");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        CallOutcome::failure(
            format!(
                "{last} (gave up after {} attempts)",
                self.settings.max_attempts
            ),
            0,
            self.settings.max_attempts,
        )
    }

    /// One HTTP attempt: its outcome, or why another may succeed.
    async fn attempt(&self, body: &Value, attempt: u32) -> Attempt {
        let started = Instant::now();
        let elapsed = || started.elapsed().as_millis() as u64;
        let reply = match self.exchange(body).await {
            Ok(reply) => reply,
            Err(Failure::TimedOut(what)) => {
                return Attempt::Done(CallOutcome::failure(what, elapsed(), attempt))
            }
            Err(Failure::Transport(why)) => return Attempt::Retry { why, after: None },
        };
        match reply.status {
            200..=299 => completion(&reply.text, elapsed(), attempt),
            408 | 429 | 500..=599 => Attempt::Retry {
                why: error_message(reply.status, &reply.text),
                after: reply.retry_after,
            },
            status => Attempt::Done(CallOutcome::failure(
                error_message(status, &reply.text),
                elapsed(),
                attempt,
            )),
        }
    }

    /// Sends the request and reads the whole answer.
    async fn exchange(&self, body: &Value) -> Result<Reply, Failure> {
        let timeout = self.settings.call_timeout.as_secs_f64();
        let response = self
            .http
            .post(format!("{}/chat/completions", self.settings.base_url))
            .bearer_auth(&self.settings.api_key)
            .header("HTTP-Referer", "https://modelpick.app")
            .header("X-Title", "ModelPick")
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    Failure::TimedOut(format!("the model did not answer within {timeout} s"))
                } else {
                    Failure::Transport(format!("could not reach the provider: {}", e.without_url()))
                }
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(Duration::from_secs_f64);
        let text = response.text().await.map_err(|e| {
            if e.is_timeout() {
                Failure::TimedOut(format!("the model did not finish within {timeout} s"))
            } else {
                Failure::Transport(format!("the answer was cut off: {}", e.without_url()))
            }
        })?;
        Ok(Reply {
            status,
            retry_after,
            text,
        })
    }
}

/// The answer to one HTTP attempt.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    text: String,
}

/// Why an attempt got no answer: it ran out of time (not sent again: it
/// may have been billed), or the connection failed (worth retrying).
enum Failure {
    TimedOut(String),
    Transport(String),
}

/// A 2xx body read as a chat completion: the model's text and usage, an
/// error the provider put inside it, or (not JSON) worth retrying.
fn completion(text: &str, elapsed: u64, attempt: u32) -> Attempt {
    let completion: Completion = match serde_json::from_str(text) {
        Ok(c) => c,
        Err(_) => {
            return Attempt::Retry {
                why: format!(
                    "the provider's answer was not valid JSON: {}",
                    text.chars().take(120).collect::<String>()
                ),
                after: None,
            }
        }
    };
    let usage = completion.usage.unwrap_or_default();
    let text = match (completion.error, completion.choices.into_iter().next()) {
        (Some(error), _) => Err(format!(
            "the provider failed while answering: {}",
            error["message"].as_str().unwrap_or("unknown error")
        )),
        (
            None,
            Some(Choice {
                message: Message {
                    content: Some(content),
                },
            }),
        ) => Ok(content),
        (None, _) => Err("the model returned an empty answer".into()),
    };
    Attempt::Done(CallOutcome {
        text,
        response_time_ms: elapsed,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage
            .total_tokens
            .max(usage.prompt_tokens + usage.completion_tokens),
        reported_cost: usage.cost,
        attempts: attempt,
    })
}
