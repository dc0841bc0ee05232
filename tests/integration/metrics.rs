//! `GET /metrics`: Prometheus text for whoever holds `METRICS_TOKEN`, and
//! for nobody else; no page at all without a token; the text passes
//! `promtool check metrics`; the shop's figures come from the database and
//! the webhook's outcomes from the process.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::app::TestApp;

const TOKEN: &str = "metrics-token-for-the-integration-tests";

async fn scrape(app: &TestApp, authorization: Option<&str>) -> (u16, String, String) {
    let mut request = TestApp::http().get(format!("{}/metrics", app.url));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian's prometheus package; scripts/test installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success() && said.trim().is_empty(), said)
}

#[tokio::test]
async fn without_a_token_there_is_no_metrics_page() {
    let app = TestApp::spawn_with(&[("METRICS_TOKEN", String::new())]).await;
    let (status, _, body) = scrape(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn metrics_answer_only_the_bearer_of_the_token() {
    let app = TestApp::spawn_with(&[("METRICS_TOKEN", TOKEN.to_owned())]).await;
    for refused in [
        None,
        Some("Bearer metrics-token-for-the-integration-test".to_owned()),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_owned()),
    ] {
        let (status, _, body) = scrape(&app, refused.as_deref()).await;
        assert_eq!(status, 401, "{refused:?}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            error["error"].as_str().unwrap().contains("METRICS_TOKEN"),
            "{body}"
        );
        assert!(!body.contains("modelpick_"), "{body}");
    }
}

#[tokio::test]
async fn metrics_show_the_shop_and_the_webhooks_and_pass_promtool() {
    let app = TestApp::spawn_with(&[("METRICS_TOKEN", TOKEN.to_owned())]).await;
    let db = app.supabase.db.client().await;
    db.execute("select public.record_engine_sweep('engine-a')", &[])
        .await
        .unwrap();
    // An unsigned event is refused, and counted as such.
    let refused = TestApp::http()
        .post(format!("{}/api/webhooks/stripe", app.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let (status, content_type, text) = scrape(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    for line in [
        "modelpick_database_up 1",
        "modelpick_reports{status=\"paid\"} 0",
        "modelpick_oldest_waiting_report_seconds 0",
        "modelpick_stuck_followups 0",
        "modelpick_stripe_webhooks_total{outcome=\"refused\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("modelpick_engine_last_sweep_age_seconds ")),
        "{text}"
    );
    let (clean, said) = promtool_check(&text);
    assert!(clean, "promtool check metrics: {said}\n{text}");
}

#[tokio::test]
async fn metrics_say_when_the_database_does_not_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(&[
        ("SUPABASE_URL", nowhere),
        ("METRICS_TOKEN", TOKEN.to_owned()),
    ])
    .await;
    let (status, _, text) = scrape(&app, Some(&format!("Bearer {TOKEN}"))).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.lines().any(|l| l == "modelpick_database_up 0"),
        "{text}"
    );
    assert!(!text.contains("modelpick_reports{"), "{text}");
    let (clean, said) = promtool_check(&text);
    assert!(clean, "promtool check metrics: {said}\n{text}");
}
