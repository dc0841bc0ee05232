//! A storm at the running sidecar on loopback: 1,000 distinct paid Checkout
//! Sessions, each delivered 3 times concurrently over 64 connections, the
//! way Stripe redelivers. Prints throughput, latency percentiles, reports
//! created (must be 1,000) and non-2xx answers (must be 0).
//!
//!   cargo bench --bench webhook_storm
//!
//! With `MODELPICK_BENCH_QUICK=1` (what CI runs) it sends 200 sessions; the
//! invariants are asserted either way: one report per session, no non-2xx.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use modelpick::stripe::signature::sign;
use serde_json::json;
use support::app::{TestApp, WEBHOOK_SECRET};
use uuid::Uuid;

fn sessions() -> usize {
    if std::env::var("MODELPICK_BENCH_QUICK").is_ok_and(|v| v == "1") {
        200
    } else {
        1_000
    }
}
const DELIVERIES_PER_SESSION: usize = 3;
const CONNECTIONS: usize = 64;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let sessions = sessions();
    let app = TestApp::spawn().await;
    let db = app.supabase.db.client().await;
    let user = support::fixtures::create_user(&db, "storm@example.test").await;
    let drafts: Vec<Uuid> = db
        .query(
            "insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
             select $1::uuid, 'ready',
                    jsonb_build_object('images', jsonb_build_array(jsonb_build_object(
                      'path', $1::uuid::text || '/doc-' || n || '.png', 'expected', '{\"total\": 1}'::jsonb))),
                    '{\"prompt\": \"Extract.\"}', array['openai/gpt-4o']
               from generate_series(1, $2::int) n
             returning id",
            &[&user, &(sessions as i32)],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();

    let now = chrono::Utc::now().timestamp();
    let mut deliveries = Vec::with_capacity(sessions * DELIVERIES_PER_SESSION);
    for (i, draft) in drafts.iter().enumerate() {
        let payload = json!({
            "id": format!("evt_storm_{i}"),
            "object": "event",
            "type": "checkout.session.completed",
            "created": now,
            "livemode": false,
            "data": {"object": {
                "id": format!("cs_test_storm_{i}"),
                "object": "checkout.session",
                "status": "complete",
                "payment_status": "paid",
                "amount_total": 1499,
                "currency": "usd",
                "client_reference_id": draft,
                "metadata": {"draft_id": draft, "user_id": user},
            }},
        })
        .to_string();
        let header = sign(payload.as_bytes(), WEBHOOK_SECRET, now);
        for _ in 0..DELIVERIES_PER_SESSION {
            deliveries.push((payload.clone(), header.clone()));
        }
    }
    // Interleave so the copies of one event are in flight together.
    deliveries.sort_by_key(|(payload, _)| payload.len() % 7);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let url = format!("{}/api/webhooks/stripe", app.url);
    let started = Instant::now();
    let results: Vec<(Duration, u16)> = stream::iter(deliveries)
        .map(|(payload, header)| {
            let client = client.clone();
            let url = url.clone();
            async move {
                let sent = Instant::now();
                let status = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("stripe-signature", header)
                    .body(payload)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                (sent.elapsed(), status)
            }
        })
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut latencies: Vec<Duration> = results.iter().map(|(d, _)| *d).collect();
    latencies.sort();
    let non_2xx = results
        .iter()
        .filter(|(_, s)| !(200..300).contains(s))
        .count();
    let reports = app.report_count().await;
    println!("webhook storm: {sessions} sessions x {DELIVERIES_PER_SESSION} deliveries over {CONNECTIONS} connections");
    println!("  requests      {}", results.len());
    println!("  wall time     {:.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput    {:.0} requests/s",
        results.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50   {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "  latency p99   {:.1} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  latency max   {:.1} ms",
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!("  reports       {reports} (must be {sessions})");
    println!("  non-2xx       {non_2xx} (must be 0)");
    assert_eq!(
        reports as usize, sessions,
        "every paid session became exactly one report"
    );
    assert_eq!(non_2xx, 0, "every delivery was acknowledged");
}
