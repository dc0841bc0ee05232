//! Runs one claimed report: every selected model on every image that has no
//! result yet, at most `global` calls in flight and `per_model` per model,
//! interleaving models so that no slot idles while work remains. Each call's
//! worst case is reserved in the database before it is sent and replaced by
//! its result and actual cost after; the lease is renewed all along and
//! fences every write.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;
use uuid::Uuid;

use super::budget::{Price, SOFT_CEILING_USD};
use super::provider::{CallOutcome, CallRequest, Provider};
use super::queue::{self, ClaimedReport, Lease, Outcome, QueueError};
use super::score;

#[derive(Debug, Clone)]
pub struct Limits {
    pub global_concurrency: usize,
    pub per_model_concurrency: usize,
    pub max_duration: Duration,
    pub soft_ceiling_usd: f64,
    pub lease: Duration,
    /// A report claimed more often than this (its engines keep dying) fails.
    pub max_attempts: i32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            global_concurrency: 10,
            per_model_concurrency: 3,
            max_duration: Duration::from_secs(super::budget::MAX_BENCHMARK_DURATION_S),
            soft_ceiling_usd: SOFT_CEILING_USD,
            lease: Duration::from_secs(60),
            max_attempts: 25,
        }
    }
}

/// What every report run shares.
pub struct RunnerContext {
    pub db: deadpool_postgres::Pool,
    pub provider: Provider,
    pub storage: reqwest::Client,
    /// `<SUPABASE_URL>/storage/v1`
    pub storage_url: String,
    pub service_role_key: String,
    pub limits: Limits,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
}

#[derive(Deserialize)]
struct ImageSpec {
    path: String,
    expected: Value,
}

#[derive(Deserialize)]
struct UploadData {
    images: Vec<ImageSpec>,
}

#[derive(Deserialize)]
struct Snapshot {
    selected_models: Vec<String>,
    model_prices: HashMap<String, Price>,
    upload_data: UploadData,
}

type Image = Arc<Result<(Vec<u8>, &'static str), String>>;

fn mime_of(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        [b'G', b'I', b'F', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "image/png",
    }
}

async fn download(ctx: &RunnerContext, path: &str) -> Result<(Vec<u8>, &'static str), String> {
    let encoded: Vec<String> = path
        .split('/')
        .map(|segment| {
            percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect();
    let url = format!(
        "{}/object/benchmark-images/{}",
        ctx.storage_url,
        encoded.join("/")
    );
    let response = ctx
        .storage
        .get(url)
        .bearer_auth(&ctx.service_role_key)
        .header("apikey", &ctx.service_role_key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the image {path} could not be downloaded: {}",
                e.without_url()
            )
        })?;
    if !response.status().is_success() {
        return Err(format!(
            "the image {path} could not be read from storage (HTTP {})",
            response.status().as_u16()
        ));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| format!("the image {path} was cut off: {}", e.without_url()))?
        .to_vec();
    let mime = mime_of(&bytes);
    Ok((bytes, mime))
}

/// One (model, image) call still to make.
struct Cell {
    model: String,
    image_index: usize,
}

struct CellResult {
    model: String,
    recorded: Result<(), RunError>,
}

/// Runs the report until every cell has a result or a limit stops it, then
/// finishes it. Returns `LeaseLost` (writing nothing more) when another
/// engine took the report over; on `stop`, lets calls in flight end and
/// hands the report back.
pub async fn run_report(
    ctx: Arc<RunnerContext>,
    claim: ClaimedReport,
    stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let span = tracing::info_span!("report", report.id = %claim.lease.report_id, report.attempt = claim.attempts);
    run_claimed(ctx, claim, stop).instrument(span).await
}

async fn run_claimed(
    ctx: Arc<RunnerContext>,
    claim: ClaimedReport,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RunError> {
    let report_id = claim.lease.report_id;
    let lease = claim.lease.clone();

    // Reports that cannot run at all fail at once, with a reason.
    let snapshot = if claim.attempts > ctx.limits.max_attempts {
        Err("The benchmark was interrupted too many times and could not finish. You will be refunded.")
    } else {
        serde_json::from_value::<Snapshot>(claim.config_snapshot.clone()).map_err(|e| {
            tracing::error!(error = %e, "unreadable report snapshot");
            "The benchmark's settings could not be read, so nothing was run. You will be refunded."
        })
    };
    let snapshot = match snapshot {
        Ok(snapshot) => snapshot,
        Err(reason) => {
            return finish(
                &ctx,
                &lease,
                Outcome::Failed {
                    reason: reason.into(),
                },
            )
            .await
        }
    };

    // Heartbeat: renew the lease every third of its length; a lost lease
    // stops admission and every later write fails its fence.
    let lost = Arc::new(AtomicBool::new(false));
    let heartbeat = AbortOnDrop({
        let ctx = ctx.clone();
        let lost = lost.clone();
        let mut lease = lease.clone();
        tokio::spawn(
            async move {
                loop {
                    tokio::time::sleep(ctx.limits.lease / 3).await;
                    let Ok(client) = ctx.db.get().await else {
                        continue;
                    };
                    match queue::renew(&client, &mut lease, ctx.limits.lease).await {
                        Ok(()) => {}
                        Err(QueueError::LeaseLost(_)) => {
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "lease renewal failed; retrying"),
                    }
                }
            }
            .in_current_span(),
        )
    });
    let result = run_cells(&ctx, &claim, &snapshot, &lost, &mut stop).await;
    drop(heartbeat);
    let stopped_by = result?;

    if lost.load(Ordering::SeqCst) {
        return Err(QueueError::LeaseLost(report_id).into());
    }
    if stopped_by == Stop::HandBack {
        persistently(&ctx, |client| {
            let lease = &lease;
            async move { Ok(queue::release(&client, lease).await?) }
        })
        .await?;
        tracing::info!("report handed back for another engine");
        return Ok(());
    }
    let row = persistently(&ctx, |client| async move {
        client
            .query_one(
                "select count(*) filter (where error is null), count(*),
                        (select error from public.benchmark_runs e where e.report_id = $1 and e.error is not null
                          group by error order by count(*) desc limit 1)
                   from public.benchmark_runs where report_id = $1",
                &[&report_id],
            )
            .await
            .map_err(|e| RunError::from(QueueError::from(e)))
    })
    .await?;
    let (answered, done, common_error): (i64, i64, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    let planned = claim.runs_planned;
    let outcome = if answered == 0 {
        Outcome::Failed {
            reason: format!(
                "None of the {done} calls made returned an answer{}. You will be refunded.",
                common_error
                    .map(|e| format!("; the most common problem: {e}"))
                    .unwrap_or_default()
            ),
        }
    } else {
        match stopped_by {
            Stop::AllDone => Outcome::Complete { cut_short: None },
            Stop::Deadline => Outcome::Complete {
                cut_short: Some(format!(
                    "Stopped at the {} s time limit: {done} of {planned} runs were made.",
                    ctx.limits.max_duration.as_secs()
                )),
            },
            Stop::Budget => Outcome::Complete {
                cut_short: Some(format!(
                    "Stopped at the ${:.2} spending limit: {done} of {planned} runs were made.",
                    ctx.limits.soft_ceiling_usd
                )),
            },
            Stop::HandBack => unreachable!("handled above"),
        }
    };
    finish(&ctx, &lease, outcome).await
}

/// A task that ends with its owner: if the report run is dropped (the
/// engine was killed), its heartbeat stops too and the lease can expire.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn finish(ctx: &RunnerContext, lease: &Lease, outcome: Outcome) -> Result<(), RunError> {
    persistently(ctx, |client| {
        let outcome = &outcome;
        async move { Ok(queue::finish(&client, lease, outcome).await?) }
    })
    .await?;
    tracing::info!(?outcome, "report finished");
    Ok(())
}

/// A last step of a report (its tally, finishing it, handing it back), on a
/// fresh connection, and again on another when one breaks under it (a
/// pooled connection the server has just closed looks alive until its
/// driver runs): a report whose last step failed would otherwise sit until
/// its lease expired. A lost lease is final and never retried.
async fn persistently<T, F, Fut>(ctx: &RunnerContext, step: F) -> Result<T, RunError>
where
    F: Fn(deadpool_postgres::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, RunError>>,
{
    const ATTEMPTS: u32 = 5;
    let mut wait = Duration::from_millis(100);
    let mut attempt = 1;
    loop {
        let result = match ctx.db.get().await {
            Ok(client) => step(client).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Err(RunError::Queue(QueueError::LeaseLost(id))) => {
                return Err(QueueError::LeaseLost(id).into())
            }
            Err(e) if attempt < ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "a report's last step failed; retrying on another connection");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    AllDone,
    Deadline,
    Budget,
    /// Shutting down, or a result could not be recorded: give the report
    /// back so that it continues under a new lease.
    HandBack,
}

async fn run_cells(
    ctx: &Arc<RunnerContext>,
    claim: &ClaimedReport,
    snapshot: &Snapshot,
    lost: &AtomicBool,
    stop: &mut watch::Receiver<bool>,
) -> Result<Stop, RunError> {
    let report_id = claim.lease.report_id;
    let done: HashSet<(String, i32)> = ctx
        .db
        .get()
        .await?
        .query(
            "select model_id, image_index from public.benchmark_runs where report_id = $1",
            &[&report_id],
        )
        .await
        .map_err(QueueError::from)?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();

    // Pending cells per model, images in order.
    let mut pending: HashMap<String, VecDeque<Cell>> = HashMap::new();
    let mut images_needed = HashSet::new();
    for model in &snapshot.selected_models {
        for image_index in 0..snapshot.upload_data.images.len() {
            if !done.contains(&(model.clone(), image_index as i32)) {
                pending.entry(model.clone()).or_default().push_back(Cell {
                    model: model.clone(),
                    image_index,
                });
                images_needed.insert(image_index);
            }
        }
    }
    // Each image is downloaded once, before the calls that need it.
    let mut images: HashMap<usize, Image> = HashMap::new();
    for index in images_needed {
        let path = &snapshot.upload_data.images[index].path;
        images.insert(index, Arc::new(download(ctx, path).await));
    }

    let deadline =
        claim.started_at + chrono::Duration::from_std(ctx.limits.max_duration).unwrap_or_default();
    let mut in_flight: HashMap<String, usize> = HashMap::new();
    let mut tasks: JoinSet<CellResult> = JoinSet::new();
    let mut stopped_by = Stop::AllDone;
    let mut admitting = true;
    let mut unrecorded = false;
    loop {
        while admitting && tasks.len() < ctx.limits.global_concurrency {
            if *stop.borrow() {
                stopped_by = Stop::HandBack;
                admitting = false;
                break;
            }
            if lost.load(Ordering::SeqCst) {
                admitting = false;
                break;
            }
            if chrono::Utc::now() >= deadline {
                stopped_by = Stop::Deadline;
                admitting = false;
                break;
            }
            // The model with the most work left among those with a free slot.
            let next = pending
                .iter()
                .filter(|(model, cells)| {
                    !cells.is_empty()
                        && in_flight.get(*model).copied().unwrap_or(0)
                            < ctx.limits.per_model_concurrency
                })
                .max_by_key(|(model, cells)| {
                    (
                        cells.len(),
                        std::cmp::Reverse(in_flight.get(*model).copied().unwrap_or(0)),
                    )
                })
                .map(|(model, _)| model.clone());
            let Some(model) = next else { break };
            let cell = pending
                .get_mut(&model)
                .and_then(VecDeque::pop_front)
                .expect("chosen for having work");
            let price = snapshot
                .model_prices
                .get(&cell.model)
                .cloned()
                .unwrap_or(Price {
                    prompt_usd_per_mtok: 0.0,
                    completion_usd_per_mtok: 0.0,
                    image_usd: 0.0,
                    request_usd: 0.0,
                    supports_json_schema: false,
                });
            let worst = price.worst_case(
                claim.extraction_prompt.len(),
                ctx.provider.settings().max_tokens,
            );
            let reserved = ctx
                .db
                .get()
                .await?
                .query_one(
                    "select public.reserve_run($1, $2, $3, $4, $5::float8::numeric, $6::float8::numeric)",
                    &[
                        &report_id,
                        &claim.lease.token,
                        &cell.model,
                        &(cell.image_index as i32),
                        &worst,
                        &ctx.limits.soft_ceiling_usd,
                    ],
                )
                .await
                .map_err(QueueError::from)?
                .get::<_, bool>(0);
            if !reserved {
                tracing::info!(model = %cell.model, "spending limit reached; no new calls");
                stopped_by = Stop::Budget;
                admitting = false;
                break;
            }
            *in_flight.entry(cell.model.clone()).or_default() += 1;
            let job = CellJob {
                ctx: ctx.clone(),
                lease: claim.lease.clone(),
                image: images[&cell.image_index].clone(),
                expected: snapshot.upload_data.images[cell.image_index]
                    .expected
                    .clone(),
                prompt: claim.extraction_prompt.clone(),
                schema: claim.json_schema.clone(),
                price,
                cell,
            };
            tasks.spawn(job.run().in_current_span());
        }
        if admitting && pending.values().all(VecDeque::is_empty) {
            admitting = false;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(result) => {
                if let Some(n) = in_flight.get_mut(&result.model) {
                    *n -= 1;
                }
                match result.recorded {
                    Ok(()) => {}
                    Err(RunError::Queue(QueueError::LeaseLost(_))) => {
                        lost.store(true, Ordering::SeqCst);
                        admitting = false;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "a result could not be recorded; the report will be handed back");
                        unrecorded = true;
                        admitting = false;
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "a call task failed"),
        }
        if !admitting && tasks.is_empty() {
            break;
        }
        if *stop.borrow() && admitting {
            stopped_by = Stop::HandBack;
            admitting = false;
        }
    }
    if unrecorded && !lost.load(Ordering::SeqCst) {
        // Never finish a report with a cell missing: under a new lease the
        // cell is run again (its reservation stays counted as unsettled).
        stopped_by = Stop::HandBack;
    }
    Ok(stopped_by)
}

struct CellJob {
    ctx: Arc<RunnerContext>,
    lease: Lease,
    cell: Cell,
    image: Image,
    expected: Value,
    prompt: String,
    schema: Option<Value>,
    price: Price,
}

impl CellJob {
    async fn run(self) -> CellResult {
        let outcome = match &*self.image {
            Ok((bytes, mime)) => {
                self.ctx
                    .provider
                    .call(&CallRequest {
                        model: &self.cell.model,
                        prompt: &self.prompt,
                        image: bytes,
                        image_mime: mime,
                        json_schema: self.schema.as_ref(),
                        supports_json_schema: self.price.supports_json_schema,
                    })
                    .await
            }
            Err(why) => CallOutcome::failure(why.clone(), 0, 0),
        };
        let cost = self.price.actual(&outcome);
        let (scored, error, output) = match &outcome.text {
            Ok(text) => match score::parse_output(text) {
                Ok(answer) => (
                    score::score(&self.expected, &answer, self.schema.as_ref()),
                    None,
                    Some(text.clone()),
                ),
                Err(e) => (
                    score::failed(&self.expected),
                    Some(e.to_string()),
                    Some(text.clone()),
                ),
            },
            Err(why) => (score::failed(&self.expected), Some(why.clone()), None),
        };
        let run = json!({
            "model_id": self.cell.model,
            "image_index": self.cell.image_index,
            "output_json": output,
            "response_time_ms": outcome.response_time_ms,
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens,
            "total_tokens": outcome.total_tokens,
            "cost": cost,
            "passed": scored.passed,
            "field_diffs": scored.diffs,
            "fields_total": scored.fields_total,
            "fields_matched": scored.fields_matched,
            "error": error,
        });
        let recorded = record(&self.ctx, &self.lease, &run).await;
        CellResult {
            model: self.cell.model,
            recorded,
        }
    }
}

async fn record(ctx: &RunnerContext, lease: &Lease, run: &Value) -> Result<(), RunError> {
    let client = ctx.db.get().await?;
    match client
        .query_one(
            "select public.record_run($1, $2, $3)",
            &[&lease.report_id, &lease.token, run],
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.code().map(|c| c.code()) == Some("PT410") => {
            Err(QueueError::LeaseLost(lease.report_id).into())
        }
        Err(e) => Err(QueueError::from(e).into()),
    }
}

/// A fresh id for one engine process.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "engine".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &Uuid::new_v4().simple().to_string()[..8]
    )
}
