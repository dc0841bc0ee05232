//! The release binary, with its real log subscriber and its engine, under a
//! short storm of signed webhooks at a fixed offered rate, each event
//! delivered three times at once: it answers every delivery with a 2xx,
//! makes exactly one report per paid session, never panics, and writes a
//! bounded amount of log per request. (The figures of a long storm are the
//! bench's: `cargo bench --bench webhook_storm`.)

use modelpick::telemetry::MAX_LINE_BYTES;

use crate::support::engine::TestWorld;
use crate::support::storm::{open_loop, paid_sessions, report_count, Sidecar};

/// Log written per request, at most, on average: a few lines per paid
/// report (fulfilled, claimed, run, finished, emailed), shared by its three
/// deliveries.
const LOG_BYTES_PER_REQUEST: usize = 2048;

async fn storm(format: &str) {
    let world = TestWorld::new(1, |config| config.latency_ms = 20).await;
    let mut sidecar = Sidecar::start(&world, format, true).await;
    let sessions = 200;
    let events = paid_sessions(&world, sessions).await;
    let event_of_session: std::collections::HashMap<String, String> = events
        .iter()
        .map(|e| (e.session_id.clone(), e.event_id.clone()))
        .collect();
    let samples = open_loop(&sidecar.url, events, 300.0, 3).await;

    assert_eq!(samples.len(), sessions * 3);
    let not_2xx: Vec<u16> = samples
        .iter()
        .map(|s| s.status)
        .filter(|s| !(200..300).contains(s))
        .collect();
    assert!(
        not_2xx.is_empty(),
        "every delivery answered 2xx: {not_2xx:?}"
    );
    assert_eq!(
        report_count(&world).await,
        sessions as i64,
        "one report per paid session"
    );
    assert!(sidecar.alive(), "the sidecar is still running");

    // Let the engine work through some reports, then read the log.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let log = sidecar.log_text();
    assert!(
        !log.contains("panicked"),
        "no panic: {}",
        &log[..log.len().min(2000)]
    );
    assert!(!log.contains("overflow"), "no stack overflow");
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(longest <= MAX_LINE_BYTES, "a line of {longest} bytes");
    let per_request = log.len() / samples.len();
    assert!(
        per_request <= LOG_BYTES_PER_REQUEST,
        "{per_request} bytes of log per request ({} in all)",
        log.len()
    );
    assert!(
        log.lines().count() > sessions,
        "the subscriber really logged"
    );
    if format == "json" {
        // A line names the event it was logged for: a span that strays to
        // another request's work would pair a session with another event.
        let mut paired = 0;
        for line in log.lines() {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(
                value["level"].is_string() && value["message"].is_string(),
                "{line}"
            );
            if let (Some(session), Some(event)) = (
                value["stripe.session_id"].as_str(),
                value["stripe.event_id"].as_str(),
            ) {
                assert_eq!(
                    event_of_session.get(session).map(String::as_str),
                    Some(event),
                    "{line}"
                );
                paired += 1;
            }
        }
        assert!(
            paired >= sessions,
            "each report's creation was logged with its event ({paired})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_at_a_fixed_rate_with_text_logs_gives_one_report_each() {
    storm("text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_at_a_fixed_rate_with_json_logs_gives_one_report_each() {
    storm("json").await;
}
