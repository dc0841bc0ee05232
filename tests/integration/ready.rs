//! `GET /ready` says whether orders can be taken and run now: 503 with its
//! reasons while no engine sweeps the queue, when the last sweep is old,
//! and when the database does not answer; 200 once all is well. `/health`
//! stays "alive" throughout.

use std::time::Duration;

use serde_json::Value;

use crate::support::app::TestApp;

async fn ready(app: &TestApp) -> (u16, Value) {
    // One answer serves every caller for a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = TestApp::http()
        .get(format!("{}/ready", app.url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn ready_answers_503_with_its_reasons_until_an_engine_sweeps() {
    let app = TestApp::spawn().await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("no engine has swept the queue"),
        "{body}"
    );

    let db = app.supabase.db.client().await;
    db.execute("select public.record_engine_sweep('engine-a')", &[])
        .await
        .unwrap();
    let (status, body) = ready(&app).await;
    assert_eq!(
        (status, &body["ready"]),
        (200, &Value::Bool(true)),
        "{body}"
    );
    assert_eq!(body["problems"], serde_json::json!([]));

    db.execute(
        "update private.engine_sweeps set swept_at = now() - interval '2 minutes'",
        &[],
    )
    .await
    .unwrap();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503);
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("the engine last swept the queue 12"),
        "{body}"
    );

    let health = TestApp::http()
        .get(format!("{}/health", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "alive, if not ready");
}

#[tokio::test]
async fn ready_answers_503_when_the_database_does_not_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(&[("SUPABASE_URL", nowhere)]).await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503);
    assert_eq!(
        body,
        serde_json::json!({"ready": false, "problems": ["the database does not answer"]})
    );
}
