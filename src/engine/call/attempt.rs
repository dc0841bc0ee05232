//! One HTTP attempt of a vision call over OpenRouter's (OpenAI's)
//! chat-completions protocol, and what it tells about money: whether the
//! provider billed it, by how much when it says, and whether another
//! attempt is worth it. Which attempts are made is `retry`'s business.

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::envelope::CallBody;
use crate::config::ExposeSecret;
use crate::config::ProviderSettings;
use crate::money;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u32,
    #[serde(default)]
    pub completion_tokens: u32,
    #[serde(default)]
    pub total_tokens: u32,
    /// The provider's own figure in US dollars (OpenRouter's `usage.cost`).
    #[serde(default, deserialize_with = "money::exact_option")]
    pub cost: Option<Decimal>,
}

/// Whether a failed attempt cost money.
#[derive(Debug, Clone, PartialEq)]
pub enum Billed {
    /// Refused before any work (an HTTP error status, a connection that
    /// never opened).
    Nothing,
    /// Billed, as its usage says.
    Usage(Usage),
    /// Perhaps billed, and by how much is unknown: a timeout (OpenRouter
    /// bills a non-streamed request in full after the client gave up), a
    /// connection dropped after sending, a 200 that cannot be read. With
    /// the generation id when the provider sent one, to look the cost up.
    Unknown { generation_id: Option<String> },
}

/// Whether another attempt may succeed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retry {
    Never,
    /// No endpoint of the model meets the request's data policy
    /// (OpenRouter answers 404 and never falls back): no attempt can pass,
    /// and the model is unavailable under the policy rather than wrong.
    Unavailable,
    /// After the usual backoff.
    Backoff,
    /// A 429: after `Retry-After` when sent, and the model slows down.
    RateLimited(Option<Duration>),
}

/// Why an attempt got no answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub why: String,
    pub billed: Billed,
    pub retry: Retry,
}

/// What a model answered: its text, scored whatever it says (an empty one
/// included: the model was asked, answered and billed), the usage it came
/// with, and what it cost as far as the provider said.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub usage: Usage,
    /// `Usage` when the answer carried its usage; `Unknown` when it did not
    /// (its cost is then looked up, or settled at the worst case).
    pub billed: Billed,
}

/// One attempt: the model's answer, or why there is none; and how long it
/// took.
#[derive(Debug)]
pub struct Attempt {
    pub result: Result<Answer, Failure>,
    pub elapsed: Duration,
}

/// The provider's own words of an error body, or its first characters.
fn error_detail(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// Whether a refusal says no endpoint meets the request's data policy
/// (OpenRouter: 404, "No endpoints found matching your data policy …";
/// docs/reference/openrouter-privacy.md).
fn refused_by_data_policy(status: u16, detail: &str) -> bool {
    status == 404 && detail.to_ascii_lowercase().contains("data policy")
}

/// A refusal no retry changes: the model unavailable under the data
/// policy, or the provider's error.
fn refusal(status: u16, body: &str) -> Failure {
    let detail = error_detail(body);
    if refused_by_data_policy(status, &detail) {
        return Failure {
            why: format!("no endpoint of this model meets the privacy policy asked for: {detail}"),
            billed: Billed::Nothing,
            retry: Retry::Unavailable,
        };
    }
    Failure {
        why: error_message(status, &detail),
        billed: Billed::Nothing,
        retry: Retry::Never,
    }
}

/// A provider's error in words, with its own `detail`.
fn error_message(status: u16, detail: &str) -> String {
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
    completions_url: reqwest::Url,
}

/// The answer to one HTTP request.
struct Reply {
    status: u16,
    retry_after: Option<Duration>,
    generation_id: Option<String>,
    text: String,
}

impl Provider {
    /// The provider at `settings.base_url`; an error says why that is not
    /// a URL.
    pub fn new(settings: ProviderSettings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(settings.call_timeout)
            .build()
            .expect("the HTTP client builds");
        let completions_url =
            reqwest::Url::parse(&format!("{}/chat/completions", settings.base_url))
                .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            settings,
            completions_url,
        })
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// One HTTP attempt.
    pub async fn attempt(&self, body: CallBody) -> Attempt {
        let started = Instant::now();
        let result = match self.exchange(body).await {
            Ok(reply) => read_reply(reply),
            Err(failure) => Err(failure),
        };
        Attempt {
            result,
            elapsed: started.elapsed(),
        }
    }

    /// Sends the request and reads the whole answer.
    async fn exchange(&self, body: CallBody) -> Result<Reply, Failure> {
        let timeout = self.settings.call_timeout.as_secs_f64();
        let length = body.len();
        let response = self
            .http
            .post(self.completions_url.clone())
            .bearer_auth(self.settings.api_key.expose_secret())
            .header("HTTP-Referer", "https://modelpick.app")
            .header("X-Title", "ModelPick")
            .header("content-type", "application/json")
            .header("content-length", length)
            .body(reqwest::Body::wrap(body))
            .send()
            .await
            .map_err(|e| transport_failure(&e, timeout, "answer"))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .map(str::to_owned)
        };
        let retry_after = header("retry-after")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let generation_id = header("x-generation-id");
        let text = read_capped(response, timeout, &generation_id).await?;
        Ok(Reply {
            status,
            retry_after,
            generation_id,
            text,
        })
    }

    /// What OpenRouter billed for a generation (`GET /generation?id=`),
    /// when it says; the record can lag the answer briefly, so a 404 is
    /// asked again a few times.
    pub async fn generation_cost(&self, id: &str) -> Option<Decimal> {
        let mut wait = Duration::from_millis(200);
        for _ in 0..3 {
            let response = self
                .http
                .get(format!("{}/generation", self.settings.base_url))
                .query(&[("id", id)])
                .bearer_auth(self.settings.api_key.expose_secret())
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .ok()?;
            match response.status().as_u16() {
                200 => {
                    let body: Value = response.json().await.ok()?;
                    return money::parse(&body["data"]["total_cost"])
                        .filter(|c| !c.is_sign_negative());
                }
                404 => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                _ => return None,
            }
        }
        None
    }
}

/// Bytes of one HTTP answer read at most: an answer of `max_tokens` is a
/// few kilobytes, so a body past this is no answer (and is not read on).
pub const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;

/// The answer's body as text, read as it arrives up to [`MAX_REPLY_BYTES`].
async fn read_capped(
    mut response: reqwest::Response,
    timeout: f64,
    generation_id: &Option<String>,
) -> Result<String, Failure> {
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(8 * 1024, |n| (n as usize).min(MAX_REPLY_BYTES)),
    );
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_failure(&e, timeout, "finish"))?
    {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(Failure {
                why: format!(
                    "the provider's answer was larger than {} MiB",
                    MAX_REPLY_BYTES / (1024 * 1024)
                ),
                billed: Billed::Unknown {
                    generation_id: generation_id.clone(),
                },
                retry: Retry::Never,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A request that got no HTTP answer: one that never connected cost
/// nothing and may be sent again; one that timed out may have been billed
/// in full and is not; one dropped after sending may have been billed.
fn transport_failure(error: &reqwest::Error, timeout: f64, what: &str) -> Failure {
    if error.is_timeout() {
        Failure {
            why: format!("the model did not {what} within {timeout} s"),
            billed: Billed::Unknown {
                generation_id: None,
            },
            retry: Retry::Never,
        }
    } else if error.is_connect() {
        Failure {
            why: format!("could not reach the provider: {}", without_url(error)),
            billed: Billed::Nothing,
            retry: Retry::Backoff,
        }
    } else {
        Failure {
            why: format!(
                "the connection to the provider broke: {}",
                without_url(error)
            ),
            billed: Billed::Unknown {
                generation_id: None,
            },
            retry: Retry::Backoff,
        }
    }
}

fn without_url(error: &reqwest::Error) -> String {
    let mut shown = error.to_string();
    if let Some(url) = error.url() {
        shown = shown.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        shown = format!("{shown}: {cause}");
        source = cause.source();
    }
    shown
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    id: Option<String>,
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

/// An HTTP answer read as an attempt's outcome.
fn read_reply(reply: Reply) -> Result<Answer, Failure> {
    match reply.status {
        200..=299 => completion(reply),
        429 => Err(Failure {
            why: error_message(429, &error_detail(&reply.text)),
            billed: Billed::Nothing,
            retry: Retry::RateLimited(reply.retry_after),
        }),
        408 | 500..=599 => Err(Failure {
            why: error_message(reply.status, &error_detail(&reply.text)),
            billed: Billed::Nothing,
            retry: Retry::Backoff,
        }),
        status => Err(refusal(status, &reply.text)),
    }
}

/// A 2xx body read as a chat completion: the model's answer, or why there
/// is none (an error the provider put inside it, no completion at all, a
/// body that is not a completion) and whether it was billed. An answer
/// whose text is empty or blank is an answer: scored (no field right, with
/// the reason), never counted as a failure of ours or the provider's.
fn completion(reply: Reply) -> Result<Answer, Failure> {
    let Ok(completion) = serde_json::from_str::<Completion>(&reply.text) else {
        return Err(Failure {
            why: format!(
                "the provider's answer could not be read: {}",
                reply.text.chars().take(120).collect::<String>()
            ),
            billed: Billed::Unknown {
                generation_id: reply.generation_id,
            },
            retry: Retry::Backoff,
        });
    };
    let generation_id = reply.generation_id.or(completion.id);
    let billed = |usage: &Option<Usage>| match usage {
        Some(usage) => Billed::Usage(usage.clone()),
        None => Billed::Unknown {
            generation_id: generation_id.clone(),
        },
    };
    let choice = completion.choices.into_iter().next();
    match (completion.error, choice) {
        (Some(error), _) => Err(Failure {
            why: format!(
                "the provider failed while answering: {}",
                error["message"].as_str().unwrap_or("unknown error")
            ),
            billed: billed(&completion.usage),
            retry: Retry::Backoff,
        }),
        (None, Some(choice)) => {
            let billed = billed(&completion.usage);
            let mut usage = completion.usage.unwrap_or_default();
            usage.total_tokens = usage
                .total_tokens
                .max(usage.prompt_tokens + usage.completion_tokens);
            Ok(Answer {
                text: choice.message.content.unwrap_or_default(),
                usage,
                billed,
            })
        }
        (None, None) => Err(Failure {
            why: "the provider's answer held no completion".into(),
            billed: billed(&completion.usage),
            retry: Retry::Backoff,
        }),
    }
}

#[cfg(test)]
#[path = "attempt_tests.rs"]
mod tests;
