//! `GET /ready`: whether this ModelPick can take and run orders now, for a
//! load balancer or a monitor. `/health` only says the process is alive;
//! `/ready` answers 503, with its reasons, when the database does not
//! answer, no engine has swept the queue lately (paid reports would wait),
//! or the model catalog has failed to sync for a day (prices may be stale).
//! One cheap read (`readiness()`), shared by every caller for a second, so
//! polling it costs the database nothing worth counting.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::state::AppState;

/// An engine sweeps every few seconds (`ENGINE_SWEEP_INTERVAL_S`, 5); one
/// silent this long has stopped, or cannot reach the database.
pub const ENGINE_SILENCE: Duration = Duration::from_secs(60);
/// A catalog whose syncs have failed this long has prices nobody checked.
pub const CATALOG_STALE: Duration = Duration::from_secs(24 * 3600);
/// How long one answer serves every caller.
const ANSWER_FOR: Duration = Duration::from_secs(1);

/// What `public.readiness()` says.
#[derive(Debug, Clone, Deserialize)]
pub struct Readiness {
    pub now: DateTime<Utc>,
    pub engine_swept_at: Option<DateTime<Utc>>,
    pub catalog_synced_at: Option<DateTime<Utc>>,
    pub catalog_failed_at: Option<DateTime<Utc>>,
    pub catalog_offers_models: bool,
}

impl Readiness {
    /// Why the service is not ready, in sentences an operator acts on;
    /// empty when it is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let ago = |at: DateTime<Utc>| (self.now - at).to_std().unwrap_or_default();
        match self.engine_swept_at {
            None => problems.push(
                "no engine has swept the queue: paid reports are not being run (start `modelpick serve` or `modelpick worker`)".to_owned(),
            ),
            Some(at) if ago(at) > ENGINE_SILENCE => problems.push(format!(
                "the engine last swept the queue {} s ago: paid reports are waiting",
                ago(at).as_secs()
            )),
            Some(_) => {}
        }
        let failing = match (self.catalog_failed_at, self.catalog_synced_at) {
            (Some(failed), Some(worked)) => failed > worked && ago(worked) > CATALOG_STALE,
            (Some(_), None) => !self.catalog_offers_models,
            (None, _) => false,
        };
        if failing {
            problems.push(match self.catalog_synced_at {
                Some(worked) => format!(
                    "the model catalog has failed to sync since {worked}: its prices are more than a day old"
                ),
                None => "the model catalog has never synced and offers no model".to_owned(),
            });
        }
        problems
    }
}

/// `GET /ready`.
pub async fn ready(state: AppState) -> Response {
    if let Some((status, body)) = state.ready.within(ANSWER_FOR) {
        return answer(status, &body);
    }
    let (status, body) = match state.supabase.readiness().await {
        Ok(readiness) => {
            let problems = readiness.problems();
            let status = if problems.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = json!({
                "ready": problems.is_empty(),
                "problems": problems,
                "engine_swept_at": readiness.engine_swept_at,
                "catalog_synced_at": readiness.catalog_synced_at,
            });
            (status, body)
        }
        Err(error) => {
            tracing::warn!(%error, "readiness: the database does not answer");
            let body = json!({
                "ready": false,
                "problems": ["the database does not answer"],
            });
            (StatusCode::SERVICE_UNAVAILABLE, body)
        }
    };
    state.ready.keep((status, body.clone()));
    answer(status, &body)
}

fn answer(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = warp::reply::with_status(warp::reply::json(body), status).into_response();
    response.headers_mut().insert(
        warp::http::header::CACHE_CONTROL,
        warp::http::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: DateTime<Utc>, seconds_ago: i64) -> Option<DateTime<Utc>> {
        Some(now - chrono::Duration::seconds(seconds_ago))
    }

    #[test]
    fn ready_when_an_engine_sweeps_and_the_catalog_is_current() {
        let now = Utc::now();
        let healthy = Readiness {
            now,
            engine_swept_at: at(now, 4),
            catalog_synced_at: at(now, 3600),
            catalog_failed_at: at(now, 60),
            catalog_offers_models: true,
        };
        assert_eq!(
            healthy.problems(),
            Vec::<String>::new(),
            "a failed sync an hour after one that worked is not yet a problem"
        );

        let stopped = Readiness {
            engine_swept_at: at(now, 61),
            ..healthy.clone()
        };
        assert_eq!(
            stopped.problems(),
            ["the engine last swept the queue 61 s ago: paid reports are waiting"]
        );
        let never = Readiness {
            engine_swept_at: None,
            ..healthy.clone()
        };
        assert!(never.problems()[0].starts_with("no engine has swept the queue"));

        let stale = Readiness {
            catalog_synced_at: at(now, 25 * 3600),
            ..healthy.clone()
        };
        assert_eq!(stale.problems().len(), 1);
        assert!(stale.problems()[0].starts_with("the model catalog has failed to sync since"));
        let recovered = Readiness {
            catalog_failed_at: at(now, 26 * 3600),
            ..stale.clone()
        };
        assert!(
            recovered.problems().is_empty(),
            "an old catalog whose last sync worked is only old"
        );
        let empty = Readiness {
            catalog_synced_at: None,
            catalog_offers_models: false,
            ..healthy
        };
        assert_eq!(
            empty.problems(),
            ["the model catalog has never synced and offers no model"]
        );
    }
}
