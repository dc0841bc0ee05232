//! `GET /api/compare?a=<report>&b=<report>[&share_a=…&share_b=…]`: two
//! reports side by side (`figures::compare`), for whoever may read both:
//! their owner (the session's bearer token) or the holder of each one's
//! share link. Both are read through `read_report` as the caller, so the
//! reports' own rules decide; a report the caller may not read is the same
//! "not found" as one that does not exist. Each comparison reads two
//! reports and resamples documents: it takes a place in the sidecar's
//! `ReadBudget`, and gets 503 with Retry-After when there is none.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::shared_images::looks_like_share_token;
use super::state::AppState;
use crate::figures::compare::{self, Document, ListedPrice, Side, SideModel};
use crate::figures::RunRow;
use crate::money;
use crate::supabase::ReportRun;

/// Who asks, and for which two reports.
pub struct CompareQuery {
    a: Uuid,
    b: Uuid,
    share_a: Option<String>,
    share_b: Option<String>,
}

impl CompareQuery {
    pub fn parse(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let id = |name: &str| {
            let raw = query.get(name).map(String::as_str).unwrap_or_default();
            Uuid::parse_str(raw.trim()).map_err(|_| {
                ApiError::BadRequest(format!("{name} must be a report id (a UUID), not {raw:?}"))
            })
        };
        let token = |name: &str| match query.get(name).map(|t| t.trim()) {
            None | Some("") => Ok(None),
            Some(t) if looks_like_share_token(t) => Ok(Some(t.to_owned())),
            Some(_) => Err(ApiError::BadRequest(format!("{name} is not a share token"))),
        };
        let (a, b) = (id("a")?, id("b")?);
        if a == b {
            return Err(ApiError::BadRequest(
                "a and b must be two different reports".into(),
            ));
        }
        Ok(Self {
            a,
            b,
            share_a: token("share_a")?,
            share_b: token("share_b")?,
        })
    }
}

pub async fn compare(
    state: AppState,
    authorization: Option<String>,
    query: CompareQuery,
) -> Result<Response, ApiError> {
    let caller = match authorization {
        Some(header) => Some(state.verifier.verify(Some(&header)).await?),
        None => None,
    };
    let _place = state.reads.enter("comparisons")?;
    let token = caller.as_ref().map(|c| c.access_token.as_str());
    let (a, b) = tokio::try_join!(
        read_side(&state, token, query.a, query.share_a.as_deref()),
        read_side(&state, token, query.b, query.share_b.as_deref()),
    )?;
    let (Some(a), Some(b)) = (a, b) else {
        return Err(ApiError::NotFound(
            "a comparison needs two reports you may read: your own, or each one with its share link"
                .into(),
        ));
    };
    let mut ids: Vec<String> = a
        .models
        .iter()
        .chain(&b.models)
        .map(|m| m.id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    let now: HashMap<String, ListedPrice> = state
        .supabase
        .catalog_prices(&ids)
        .await?
        .into_iter()
        .map(|p| {
            (
                p.id,
                ListedPrice {
                    prompt_usd_per_mtok: p.prompt_usd_per_mtok,
                    completion_usd_per_mtok: p.completion_usd_per_mtok,
                    image_usd: p.image_usd,
                },
            )
        })
        .collect();
    let result = tokio::task::spawn_blocking(move || compare::compare(a, b, &now))
        .await
        .map_err(|e| ApiError::Internal(format!("comparing: {e}")))?;
    Ok(warp::reply::json(&result).into_response())
}

/// One report as `figures::compare` takes it; `None` when the caller may
/// not read it.
async fn read_side(
    state: &AppState,
    caller: Option<&str>,
    id: Uuid,
    share: Option<&str>,
) -> Result<Option<Side>, ApiError> {
    // A share token speaks for itself; a session reads only its own.
    let caller = if share.is_some() { None } else { caller };
    let (report, runs) = tokio::try_join!(
        state.supabase.read_report(caller, id, share),
        state.supabase.read_report_runs(caller, id, share),
    )?;
    Ok(report.map(|report| side(&report, &runs)))
}

fn side(report: &Value, runs: &[ReportRun]) -> Side {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
    let price = |p: &Value| {
        Some(ListedPrice {
            prompt_usd_per_mtok: money::parse(&p["prompt_usd_per_mtok"])?,
            completion_usd_per_mtok: money::parse(&p["completion_usd_per_mtok"])?,
            image_usd: money::parse(&p["image_usd"]).unwrap_or_default(),
        })
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    Side {
        id: text(&report["id"]),
        name: report["name"]
            .as_str()
            .unwrap_or("Your benchmark")
            .to_owned(),
        paid_at: time(&report["paid_at"])
            .or_else(|| time(&report["created_at"]))
            .unwrap_or_default(),
        documents: list(&report["documents"])
            .iter()
            .map(|d| Document {
                key: text(&d["key"]),
                name: text(&d["name"]),
                expected: d["expected"].clone(),
            })
            .collect(),
        models: list(&report["models"])
            .iter()
            .map(|m| SideModel {
                id: text(&m["id"]),
                display_name: text(&m["display_name"]),
                price: price(&m["prices"]),
            })
            .collect(),
        runs: runs.iter().map(run_row).collect(),
        pick: report["figures"]["models"][0]["model_id"]
            .as_str()
            .map(str::to_owned),
    }
}

fn run_row(run: &ReportRun) -> RunRow {
    let count = |n: i64| u32::try_from(n).unwrap_or(0);
    RunRow {
        // The comparison ranks each model on its first answers.
        repeat: count(run.repeat),
        model_id: run.model_id.clone(),
        image_index: usize::try_from(run.image_index).unwrap_or(usize::MAX),
        passed: run.passed,
        fields_total: count(run.fields_total),
        fields_matched: count(run.fields_matched),
        cost_usd: run.cost.unwrap_or(Decimal::ZERO),
        latency_ms: count(run.response_time_ms.unwrap_or(0)),
        error: run.error.clone(),
        unavailable: run.unavailable,
        diffs: Vec::new(),
    }
}
