//! The engine's figures, measured on the real `modelpick worker` process
//! against the local Supabase API and the provider stand-in:
//!
//! * scheduling efficiency = ideal makespan under the concurrency limits ÷
//!   measured makespan, for 8 models × 25 images at a fixed 200 ms latency;
//! * pickup latency, from the report row committing as `paid` to the first
//!   provider request for it (p50, p99 over 100 reports);
//! * engine CPU time per call (the report's own, from the threads'
//!   scheduler statistics) and peak memory (from /proc);
//! * peak memory of a 50-document x 10-model report of photographed pages
//!   of about 4 MiB (sent as uploaded), against the bytes the engine sends
//!   (each page is encoded once, held while its calls need it);
//! * the CPU time of preparing 50 photographed pages of about 5 MiB each
//!   (decoded, scaled to 2,000 px and re-encoded within 4 MiB), once per
//!   report, and the time to the first call of a report of such pages
//!   (preparation runs ahead: the first call waits for its own page only);
//! * the scorer's time on a 250-row, 1,000-field table (rows in another
//!   order, one price in ten wrong; and under `x-ordered`, one row
//!   dropped), and on the costliest answer the draft limits allow.
//!
//!   cargo bench --bench engine
//!   cargo bench --bench engine -- scorer    (the scorer's figures only)
//!
//! With `MODELPICK_BENCH_QUICK=1` (what CI runs) the runs are smaller; the
//! invariants are asserted either way: the report completes, every call is
//! made exactly once and recorded, every paid report is picked up.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use devstack::provider::sha256_hex;
use modelpick::engine::score;
use serde_json::{json, Value};
use support::engine::TestWorld;
use support::supabase::SERVICE_KEY;

const MODELS: i64 = 8;
const LATENCY_MS: u64 = 200;

fn quick() -> bool {
    std::env::var("MODELPICK_BENCH_QUICK").is_ok_and(|v| v == "1")
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

fn worker(world: &TestWorld) -> Child {
    Command::new(env!("CARGO_BIN_EXE_modelpick"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &world.supabase.db.url)
        .env("SUPABASE_URL", &world.supabase.url)
        .env("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY)
        .env("OPENROUTER_BASE_URL", world.provider.base_url())
        .env("OPENROUTER_API_KEY", "sk-or-bench")
        .env("ENGINE_SWEEP_INTERVAL_S", "5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start modelpick worker")
}

/// (CPU seconds, peak resident MiB) of a process, from /proc.
fn cpu_and_peak_memory(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (ticks / 100.0, peak_kib / 1024.0)
}

/// CPU seconds a process's threads have run so far, to the nanosecond
/// (`/proc/<pid>/task/*/schedstat`; /proc/<pid>/stat counts 10 ms ticks).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// What one scheduling run measured.
struct Scheduling {
    calls: usize,
    ideal: f64,
    measured: f64,
    cpu_per_call_ms: f64,
}

/// 8 models x `images` images at a fixed latency, twice on one engine: the
/// first report on a cold process (its connections to the database and
/// the provider opened as it runs), the second as a long-running engine
/// runs every report. Each: makespan against the ideal one under the
/// limits, and the engine's CPU per call. Also the engine's peak memory.
async fn scheduling(images: usize) -> (Scheduling, Scheduling, f64) {
    let world = TestWorld::new(images, |config| config.latency_ms = LATENCY_MS).await;
    let mut engine = worker(&world);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cold = scheduled_report(&world, engine.id(), images).await;
    let warm = scheduled_report(&world, engine.id(), images).await;
    let (_, peak_mib) = cpu_and_peak_memory(engine.id());
    let _ = engine.kill();
    let _ = engine.wait();
    (cold, warm, peak_mib)
}

async fn scheduled_report(world: &TestWorld, engine: u32, images: usize) -> Scheduling {
    // The report's own CPU: from just before it is paid to its end, so the
    // process's start-up is not charged to its calls.
    let cpu_before = cpu_seconds(engine);
    let started_ms = now_ms();
    let report = world.paid_report(MODELS).await;
    let states = world
        .wait_finished(&[report], Duration::from_secs(120))
        .await;
    let cpu_s = cpu_seconds(engine) - cpu_before;
    let calls: Vec<_> = world
        .provider
        .calls()
        .into_iter()
        .filter(|c| c.received_at_ms >= started_ms)
        .collect();
    let first = calls
        .iter()
        .map(|c| c.received_at_ms)
        .fold(f64::INFINITY, f64::min);
    let last = calls.iter().map(|c| c.received_at_ms).fold(0.0, f64::max) + LATENCY_MS as f64;
    let measured = (last - first) / 1e3;
    let total_calls = calls.len();
    let per_call = LATENCY_MS as f64 / 1e3;
    let ideal = (total_calls as f64 * per_call / 10.0)
        .max((images as f64) * per_call / 3.0)
        .max(per_call);
    assert_eq!(states[0].status, "complete");
    assert_eq!(total_calls, MODELS as usize * images, "one call per cell");
    let cells: std::collections::HashSet<(String, String)> = calls
        .iter()
        .map(|c| (c.model.clone(), c.image_sha256.clone()))
        .collect();
    assert_eq!(cells.len(), total_calls, "no cell was called twice");
    assert_eq!(
        states[0].runs_done as usize, total_calls,
        "every call was recorded"
    );
    Scheduling {
        calls: total_calls,
        ideal,
        measured,
        cpu_per_call_ms: cpu_s * 1e3 / total_calls as f64,
    }
}

/// A photographed page: noise JPEG cannot squeeze, `width` x `height` px
/// at `quality`, different for every `seed`.
fn photo_page(seed: u64, width: u32, height: u32, quality: u8) -> Vec<u8> {
    use image::ImageEncoder as _;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let pixels: Vec<u8> = (0..width as usize * height as usize * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .expect("a JPEG in memory");
    jpeg
}

/// `count` photographed pages of about `target` bytes at `width` x `height`.
fn photo_pages(count: usize, width: u32, height: u32, target: usize) -> Vec<Vec<u8>> {
    let quality = (30..=95u8)
        .rev()
        .find(|&q| photo_page(0, width, height, q).len() <= target)
        .unwrap_or(30);
    (0..count as u64)
        .map(|seed| photo_page(seed, width, height, quality))
        .collect()
}

/// What preparing `count` photographed pages of about 5 MiB costs, as the
/// engine does it (one at a time, off the async threads): (CPU seconds,
/// wall seconds, MiB uploaded, MiB sent).
async fn preparation(count: usize) -> (f64, f64, f64, f64) {
    use modelpick::engine::images::{prepare_page, SendPolicy};
    let policy = SendPolicy {
        max_side_px: 2000,
        max_bytes: 4 << 20,
    };
    let pages = photo_pages(count, 2600, 1950, 5 << 20);
    let uploaded = pages.iter().map(Vec::len).sum::<usize>() as f64 / 1048576.0;
    let (cpu_before, started) = (cpu_seconds(std::process::id()), Instant::now());
    let mut sent = 0;
    for (i, page) in pages.into_iter().enumerate() {
        let prepared = prepare_page(&format!("bench/{i}.jpg"), page, policy)
            .await
            .expect("a photographed page is prepared");
        assert!(prepared.width.max(prepared.height) <= 2000 && prepared.bytes <= 4 << 20);
        sent += prepared.bytes;
    }
    (
        cpu_seconds(std::process::id()) - cpu_before,
        started.elapsed().as_secs_f64(),
        uploaded,
        sent as f64 / 1048576.0,
    )
}

/// A `modelpick worker` runs `reports` reports at once of `models` models
/// on these pages, one document each, to the end: the world, the reports
/// and the engine's peak MiB.
async fn run_pages(
    pages: Vec<Vec<u8>>,
    models: i64,
    reports: usize,
) -> (TestWorld, Vec<uuid::Uuid>, f64) {
    let supabase = support::supabase::TestSupabase::start().await;
    let world =
        TestWorld::with_files(supabase, pages, |config| config.latency_ms = LATENCY_MS).await;
    let mut ids = Vec::with_capacity(reports);
    for _ in 0..reports {
        ids.push(world.paid_report(models).await);
    }
    // Paid before the engine starts, so every report runs from the start.
    let mut engine = worker(&world);
    let states = world.wait_finished(&ids, Duration::from_secs(600)).await;
    let (_, peak_mib) = cpu_and_peak_memory(engine.id());
    let _ = engine.kill();
    let _ = engine.wait();
    for state in &states {
        assert_eq!(state.status, "complete", "{state:?}");
    }
    (world, ids, peak_mib)
}

/// Peak memory of the engine running `reports` reports at once, each of
/// `models` models on `images` photographed pages of about 4 MiB (sent as
/// uploaded), and the MiB one report sends (each page once).
async fn memory(images: usize, models: i64, reports: usize) -> (f64, f64) {
    let (world, ids, peak_mib) =
        run_pages(photo_pages(images, 2000, 1500, 4 << 20), models, reports).await;
    let states = support::engine::report_states(&world.supabase.db.client().await, &ids).await;
    for state in states {
        assert_eq!(state.runs_done as usize, images * models as usize);
    }
    let mut sent: HashMap<String, usize> = HashMap::new();
    for call in world.provider.calls() {
        for page in call.images {
            sent.insert(page.sha256, page.bytes);
        }
    }
    assert_eq!(
        sent.len(),
        images,
        "each page sent as uploaded, the same to every model"
    );
    (peak_mib, sent.values().sum::<usize>() as f64 / 1048576.0)
}

/// Seconds from a report's claim to its first call, for a report of
/// `images` photographed pages of about 5 MiB (each must be prepared).
async fn first_call(images: usize) -> f64 {
    let (world, reports, _) = run_pages(photo_pages(images, 2600, 1950, 5 << 20), 2, 1).await;
    let report = reports[0];
    let db = world.supabase.db.client().await;
    let started: f64 = db
        .query_one(
            "select extract(epoch from started_at)::float8 * 1000 from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0);
    let first = world
        .provider
        .calls()
        .iter()
        .map(|c| c.received_at_ms)
        .fold(f64::INFINITY, f64::min);
    (first - started) / 1000.0
}

/// Paid commit to first provider request, over `pickups_wanted` reports.
async fn pickups(pickups_wanted: usize) -> Vec<f64> {
    let pickup_world = TestWorld::new(pickups_wanted, |config| config.latency_ms = 5).await;
    let mut engine = worker(&pickup_world);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let db = pickup_world.supabase.db.client().await;
    // Each report is one model on one image, so its first call names it.
    let mut paid_at: HashMap<String, f64> = HashMap::new();
    for (i, image) in pickup_world.images.iter().enumerate() {
        let user = support::fixtures::create_user(&db, &format!("pickup{i}@example.test")).await;
        let path = format!("{user}/doc.png");
        reqwest::Client::new()
            .post(format!(
                "{}/storage/v1/object/benchmark-images/{path}",
                pickup_world.supabase.url
            ))
            .bearer_auth(SERVICE_KEY)
            .header("content-type", "image/png")
            .body(image.clone())
            .send()
            .await
            .unwrap();
        let draft: uuid::Uuid = db
            .query_one(
                "insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
                 values ($1, 'ready', jsonb_build_object('images', jsonb_build_array(jsonb_build_object('path', $2::text, 'expected', $3::jsonb))),
                         '{\"prompt\": \"Extract.\"}', array['openai/gpt-4o-mini'])
                 returning id",
                &[&user, &path, &pickup_world.truths[i]],
            )
            .await
            .unwrap()
            .get(0);
        support::fixtures::fulfill(&db, &format!("cs_pickup_{i}"), draft, user)
            .await
            .unwrap();
        paid_at.insert(sha256_hex(image), now_ms());
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while pickup_world.provider.calls().len() < pickups_wanted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = engine.kill();
    let _ = engine.wait();
    let mut first_call: HashMap<String, f64> = HashMap::new();
    for call in pickup_world.provider.calls() {
        let entry = first_call.entry(call.image_sha256).or_insert(f64::INFINITY);
        *entry = entry.min(call.received_at_ms);
    }
    let mut pickups: Vec<f64> = paid_at
        .iter()
        .filter_map(|(image, paid)| first_call.get(image).map(|first| first - paid))
        .collect();
    pickups.sort_by(f64::total_cmp);
    assert_eq!(
        pickups.len(),
        pickups_wanted,
        "every paid report was picked up"
    );
    pickups
}

/// A 250-row invoice table of 4 fields a row, as expected and as a model
/// answered it: the rows reversed (or, ordered, the first dropped) and one
/// price in ten wrong.
fn invoice_table(ordered: bool) -> (Value, Value) {
    let rows: Vec<Value> = (0..250)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "quantity": i % 9 + 1, "unit_price": format!("{},{:02} €", i * 7, i % 100), "description": format!("line {i}")}))
        .collect();
    let mut answered: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            if i % 10 == 3 {
                row["unit_price"] = json!("0,99 €");
            }
            row
        })
        .collect();
    if ordered {
        answered.remove(0);
    } else {
        answered.reverse();
    }
    (json!({ "lines": rows }), json!({ "lines": answered }))
}

/// Ten rows of 200 cells each, answered with rows and cells reversed: the
/// most matching work the draft limits let one document ask for.
fn costliest_within_limits() -> (Value, Value) {
    let rows: Vec<Vec<u32>> = (0..10)
        .map(|r| (0..200).map(|c| r * 1000 + c).collect())
        .collect();
    let reversed: Vec<Vec<u32>> = rows
        .iter()
        .rev()
        .map(|row| row.iter().rev().copied().collect())
        .collect();
    let wrap = |rows: Vec<Vec<u32>>| json!({"rows": rows.into_iter().map(|cells| json!({"cells": cells, "x": 0})).collect::<Vec<_>>()});
    (wrap(rows), wrap(reversed))
}

/// The median and the slowest of `runs` scorings, in ms, and the score.
fn time_scoring(
    expected: &Value,
    answer: &Value,
    schema: Option<&Value>,
    runs: usize,
) -> (f64, f64, score::Score) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        let scored = score::score(expected, answer, schema);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        last = Some(scored);
    }
    times.sort_by(f64::total_cmp);
    (
        percentile(&times, 0.5),
        times[times.len() - 1],
        last.unwrap(),
    )
}

/// The time to compute a finished report's figures: `documents` invoices
/// of 10 fields, each model wrong somewhere on one document in three.
fn time_figures(documents: usize, models: usize) -> (f64, f64) {
    use modelpick::figures::{compute, ModelName, RunRow};
    let (expected, _) = invoice_table(false);
    let rows = expected["lines"].as_array().unwrap();
    let expected: Vec<Value> = (0..documents)
        .map(|d| json!({"number": format!("INV-{d}"), "total": d * 10, "lines": [rows[d % 200], rows[(d + 1) % 200]]}))
        .collect();
    let names: Vec<ModelName> = (0..models)
        .map(|m| ModelName {
            id: format!("vendor/model-{m}"),
            display_name: format!("Model {m}"),
        })
        .collect();
    let runs: Vec<RunRow> = (0..documents * models)
        .map(|i| {
            let (document, model) = (i / models, i % models);
            let wrong = (document + model) % 3 == 0;
            RunRow {
                repeat: 0,
                model_id: names[model].id.clone(),
                image_index: document,
                passed: !wrong,
                fields_total: 10,
                fields_matched: if wrong { 9 } else { 10 },
                cost_usd: rust_decimal::Decimal::new(4 * (model as i64 + 1), 4),
                latency_ms: 800 + (i as u32 * 37) % 900,
                error: None,
                unavailable: false,
                diffs: if wrong {
                    vec![serde_json::from_value(
                        json!({"kind": "mismatch", "path": ["lines", 1, "unit_price"]}),
                    )
                    .unwrap()]
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    let keys: Vec<String> = (0..expected.len())
        .map(|i| format!("document-{i}"))
        .collect();
    let mut times: Vec<f64> = (0..9)
        .map(|_| {
            let started = Instant::now();
            let figures = compute(&expected.iter().collect::<Vec<_>>(), &keys, &names, &runs);
            assert_eq!(figures.models.len(), models);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (percentile(&times, 0.5), times[times.len() - 1])
}

fn print_scoring() {
    let schema =
        json!({"type": "object", "properties": {"lines": {"type": "array", "x-ordered": true}}});
    for (label, ordered) in [
        ("rows in another order", false),
        ("x-ordered, first row dropped", true),
    ] {
        let (expected, answer) = invoice_table(ordered);
        let (median, slowest, scored) =
            time_scoring(&expected, &answer, ordered.then_some(&schema), 9);
        assert_eq!(scored.fields_total, 1000);
        println!(
            "scorer on 250 rows x 4 fields ({label}): median {median:.1} ms, slowest {slowest:.1} ms; {} of 1000 fields right",
            scored.fields_matched
        );
    }
    let (median, slowest) = time_figures(50, 10);
    println!("report figures for 50 documents x 10 models (computed once as a report finishes): median {median:.1} ms, slowest {slowest:.1} ms");
    let (expected, answer) = costliest_within_limits();
    let (median, slowest, _) = time_scoring(&expected, &answer, None, 3);
    println!("scorer on the costliest answer within the limits (budget {} steps): median {median:.0} ms, slowest {slowest:.0} ms", score::WORK_BUDGET);
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|arg| arg == "scorer") {
        return print_scoring();
    }
    let (images, pickups_wanted, memory_images) =
        if quick() { (10, 20, 10) } else { (25, 100, 50) };
    let (cold, run, scheduling_peak_mib) = scheduling(images).await;
    let (peak_mib, sent_mib) = memory(memory_images, 10, 1).await;
    let (peak4_mib, _) = memory(memory_images, 10, 4).await;
    let (prep_cpu, prep_wall, prep_uploaded, prep_sent) = preparation(memory_images).await;
    let first_call_s = first_call(memory_images).await;
    let pickups = pickups(pickups_wanted).await;

    println!("engine benchmark (modelpick worker, release build, provider stand-in on loopback)");
    println!(
        "scheduling: {MODELS} models x {images} images = {} calls at {LATENCY_MS} ms, limits 10 global / 3 per model, a running engine's second report",
        run.calls
    );
    println!("ideal makespan {:.2} s", run.ideal);
    println!(
        "measured makespan {:.2} s (first request to last answer)",
        run.measured
    );
    println!("efficiency {:.3}", run.ideal / run.measured);
    println!("CPU per call {:.3} ms", run.cpu_per_call_ms);
    println!(
        "first report of a cold engine: efficiency {:.3}, CPU per call {:.3} ms",
        cold.ideal / cold.measured,
        cold.cpu_per_call_ms
    );
    println!("peak memory of the scheduling runs {scheduling_peak_mib:.1} MiB");
    println!(
        "peak memory {peak_mib:.1} MiB for {memory_images} documents x 10 models, pages sent {sent_mib:.1} MiB: {:.2}x what it sends",
        peak_mib / sent_mib
    );
    println!(
        "peak memory {peak4_mib:.1} MiB for 4 such reports at once (ENGINE_MAX_REPORTS=4, the default): {:.1} MiB a report above one",
        (peak4_mib - peak_mib) / 3.0
    );
    println!(
        "preparation of {memory_images} photographed pages ({prep_uploaded:.1} MiB uploaded, {prep_sent:.1} MiB sent): {prep_cpu:.2} CPU s, {prep_wall:.2} s, once per report"
    );
    println!(
        "first call of a report of {memory_images} such pages: {first_call_s:.2} s after its claim"
    );
    println!(
        "pickup latency (paid commit to first provider request, {pickups_wanted} reports) p50 {:.1} ms, p99 {:.1} ms",
        percentile(&pickups, 0.50),
        percentile(&pickups, 0.99)
    );
    print_scoring();
}
