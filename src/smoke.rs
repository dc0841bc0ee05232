//! `modelpick smoke <SITE_URL>`: what a customer's first minute needs,
//! checked from outside after a deploy, with nothing but the site's URL.
//! Every check is a request anyone may make; none creates anything, asks
//! Stripe anything or costs a model call.

use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// One check: its name and what it found, or why it failed in words that
/// say what to fix.
pub struct Outcome {
    pub name: &'static str,
    pub result: Result<String, String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }
}

/// Every check against `site` (its scheme, host and port; a trailing slash
/// is ignored), in the order a visitor meets them.
pub async fn run(site: &str) -> Vec<Outcome> {
    let site = site.trim_end_matches('/').to_owned();
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client with a timeout builds");
    let probe = Probe { client, site };
    let mut outcomes = vec![
        outcome("alive", probe.alive().await),
        outcome("ready", probe.ready().await),
        outcome("pages", probe.pages().await),
    ];
    match probe.supabase().await {
        Ok(project) => outcomes.extend([
            outcome("config", Ok(format!("the pages talk to {}", project.url))),
            outcome("auth", probe.auth(&project).await),
            outcome("catalog", probe.catalog(&project).await),
            outcome("drafts closed", probe.drafts_closed(&project).await),
        ]),
        Err(why) => outcomes.push(outcome("config", Err(why))),
    }
    outcomes.extend([
        outcome("webhook", probe.webhook().await),
        outcome("checkout", probe.checkout().await),
        outcome("success page", probe.success_page().await),
    ]);
    outcomes
}

fn outcome(name: &'static str, result: Found) -> Outcome {
    Outcome { name, result }
}

/// The Supabase project the pages are configured with.
struct Project {
    url: String,
    anon_key: String,
}

struct Probe {
    client: Client,
    site: String,
}

type Found = Result<String, String>;

impl Probe {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<Response, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("{what} did not answer: {}", describe(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{what} answered {status} but its body was cut off: {e}"))?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    async fn get(&self, path: &str) -> Result<Response, String> {
        let url = format!("{}{path}", self.site);
        self.send(self.client.get(&url), &url).await
    }

    async fn alive(&self) -> Found {
        let response = self.get("/health").await?;
        expect_status(&response, StatusCode::OK, "/health")?;
        Ok("/health answers 200".into())
    }

    async fn ready(&self) -> Found {
        let response = self.get("/ready").await?;
        let body: Value = serde_json::from_str(&response.body)
            .map_err(|_| format!("/ready answered {} without JSON", response.status))?;
        if response.status == StatusCode::OK && body["ready"] == Value::Bool(true) {
            return Ok("/ready: orders can be taken and run".into());
        }
        let problems = body["problems"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        Err(format!("/ready answered {}: {problems}", response.status))
    }

    async fn pages(&self) -> Found {
        let response = self.get("/sign-in").await?;
        expect_status(&response, StatusCode::OK, "/sign-in")?;
        let header = |name: &str| {
            response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        if !header("content-type").starts_with("text/html") {
            return Err("/sign-in is not served as HTML".into());
        }
        if !header("content-security-policy").contains("default-src") {
            return Err("/sign-in has no Content-Security-Policy".into());
        }
        if header("x-content-type-options") != "nosniff" {
            return Err("/sign-in lacks X-Content-Type-Options: nosniff".into());
        }
        if self.site.starts_with("https://") && header("strict-transport-security").is_empty() {
            return Err("/sign-in over https sends no Strict-Transport-Security: is SITE_URL the https URL?".into());
        }
        if !self.site.starts_with("https://") && !is_loopback(&self.site) {
            return Err(format!(
                "{} is not https: customers' sessions and share links would travel in clear",
                self.site
            ));
        }
        Ok("/sign-in loads with its security headers".into())
    }

    async fn supabase(&self) -> Result<Project, String> {
        let response = self.get("/config.json").await?;
        expect_status(&response, StatusCode::OK, "/config.json")?;
        let config: Value = serde_json::from_str(&response.body)
            .map_err(|_| "/config.json is not JSON".to_owned())?;
        let field = |name: &str| {
            config[name]
                .as_str()
                .map(|s| s.trim_end_matches('/').to_owned())
                .ok_or_else(|| format!("/config.json has no {name}"))
        };
        Ok(Project {
            url: field("supabaseUrl")?,
            anon_key: field("supabaseAnonKey")?,
        })
    }

    fn as_anon(&self, project: &Project, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", project.url))
            .header("apikey", &project.anon_key)
            .header("authorization", format!("Bearer {}", project.anon_key))
    }

    async fn auth(&self, project: &Project) -> Found {
        let response = self
            .send(self.as_anon(project, "/auth/v1/settings"), "Supabase Auth")
            .await?;
        expect_status(
            &response,
            StatusCode::OK,
            "Supabase Auth's settings with the anon key",
        )?;
        Ok("Supabase Auth answers with the anon key the pages carry".into())
    }

    async fn catalog(&self, project: &Project) -> Found {
        let path = "/rest/v1/model_catalog?select=id&active=is.true";
        let response = self
            .send(self.as_anon(project, path), "the Data API")
            .await?;
        expect_status(
            &response,
            StatusCode::OK,
            "the model catalog through the Data API",
        )?;
        let models: Vec<Value> = serde_json::from_str(&response.body)
            .map_err(|_| "the model catalog is not a JSON list".to_owned())?;
        if models.is_empty() {
            return Err("the catalog offers no model: run `modelpick catalog sync` (OPENROUTER_BASE_URL must answer)".into());
        }
        Ok(format!("the catalog offers {} models", models.len()))
    }

    async fn drafts_closed(&self, project: &Project) -> Found {
        let path = "/rest/v1/benchmark_drafts?select=id&limit=1";
        let response = self
            .send(self.as_anon(project, path), "the Data API")
            .await?;
        let rows: Option<Vec<Value>> = serde_json::from_str(&response.body).ok();
        match (response.status, rows) {
            (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN, _) => {
                Ok(format!("the anon key reads no draft ({})", response.status))
            }
            (StatusCode::OK, Some(rows)) if rows.is_empty() => {
                Ok("the anon key reads no draft".into())
            }
            (status, _) => Err(format!(
                "the anon key read drafts ({status}): apply the migrations with `supabase db push`"
            )),
        }
    }

    async fn webhook(&self) -> Found {
        let url = format!("{}/api/webhooks/stripe", self.site);
        let request = self
            .client
            .request(Method::POST, &url)
            .header("content-type", "application/json")
            .body(r#"{"id":"evt_smoke","type":"checkout.session.completed"}"#);
        let response = self.send(request, &url).await?;
        expect_status(
            &response,
            StatusCode::BAD_REQUEST,
            "an unsigned Stripe event",
        )?;
        Ok("the Stripe webhook refuses an unsigned event".into())
    }

    async fn checkout(&self) -> Found {
        let url = format!("{}/api/checkout", self.site);
        let request = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(r#"{"draftId":"00000000-0000-4000-8000-000000000000"}"#);
        let response = self.send(request, &url).await?;
        expect_status(
            &response,
            StatusCode::UNAUTHORIZED,
            "a checkout without a session",
        )?;
        Ok("checkout asks for a signed-in customer".into())
    }

    async fn success_page(&self) -> Found {
        let response = self
            .get("/checkout/success?session_id=cs_test_modelpick_smoke_unknown")
            .await?;
        expect_status(
            &response,
            StatusCode::NOT_FOUND,
            "the success page for an unknown session",
        )?;
        Ok("the success page knows no made-up session".into())
    }
}

struct Response {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

fn expect_status(response: &Response, expected: StatusCode, what: &str) -> Result<(), String> {
    if response.status == expected {
        return Ok(());
    }
    let excerpt: String = response.body.chars().take(200).collect();
    Err(format!(
        "{what} answered {} instead of {expected}: {excerpt}",
        response.status
    ))
}

fn is_loopback(site: &str) -> bool {
    let authority = site
        .split("://")
        .nth(1)
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    authority.starts_with("[::1]")
        || matches!(authority.split(':').next(), Some("127.0.0.1" | "localhost"))
}

/// What went wrong underneath a request that got no answer, in one line
/// (the request's own message only repeats its URL).
fn describe(error: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_sites_may_go_without_https() {
        assert!(super::is_loopback("http://127.0.0.1:8787"));
        assert!(super::is_loopback("http://localhost:8787/"));
        assert!(!super::is_loopback("http://modelpick.example.com"));
        assert!(super::is_loopback("http://[::1]:8787"));
        assert!(!super::is_loopback("http://127.0.0.1.example.com"));
    }
}
