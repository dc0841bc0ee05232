//! A customer's own account, through the sidecar: the export is theirs
//! alone and whole; deleting it removes their drafts, reports, images and
//! the account itself (sign-in fails afterwards), keeps the payments
//! bookkeeping needs naming no one, ends their share links, and touches no
//! one else; nothing goes while a report of theirs runs.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::app::TestApp;
use crate::support::fixtures::fulfill;
use crate::support::http::json_body;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nthe bytes of one private contract";

struct Customer {
    email: String,
    token: String,
    id: Uuid,
    report: Uuid,
    images: Vec<String>,
}

/// A customer with two uploaded images, a paid report (finished) and a
/// share link, as a stranger could never make them.
async fn customer(app: &TestApp, session: &str) -> Customer {
    let email = format!("{}@example.test", Uuid::new_v4().simple());
    let token = app.supabase.access_token(&email, "account-password").await;
    let db = app.supabase.db.client().await;
    let id: Uuid = db
        .query_one("select id from auth.users where email = $1", &[&email])
        .await
        .unwrap()
        .get(0);
    let mut images = Vec::new();
    for i in 0..2 {
        let path = format!("{id}/contracts/page-{i}.png");
        let upload = TestApp::http()
            .post(format!(
                "{}/storage/v1/object/benchmark-images/{path}",
                app.supabase.url
            ))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(PNG.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(upload.status(), StatusCode::OK);
        images.push(path);
    }
    let upload_data = json!({"images": [{"path": images[0], "name": "page-0.png", "width": 1240, "height": 1754,
                                          "expected": {"party": "Acme"}}]});
    let draft: Uuid = db
        .query_one(
            "insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
             values ($1, 'ready', $2, '{\"prompt\": \"Read the contract.\"}', array['openai/gpt-4o']) returning id",
            &[&id, &upload_data],
        )
        .await
        .unwrap()
        .get(0);
    let (report, _) = fulfill(&db, session, draft, id).await.unwrap();
    Customer {
        email,
        token,
        id,
        report,
        images,
    }
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = TestApp::http().request(method, format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    json_body(request.send().await.unwrap()).await
}

async fn finish(app: &TestApp) {
    app.supabase
        .db
        .client()
        .await
        .batch_execute(
            "select public.finish_report(r.id, r.lease_token, 'complete')
               from public.claim_next_report('test', 60) r",
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_export_is_the_callers_whole_account_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let alice = customer(&app, "cs_test_alice").await;
    let bob = customer(&app, "cs_test_bob").await;
    let response = TestApp::http()
        .get(format!("{}/api/account/export", app.url))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"modelpick-export-"),
        "{disposition}"
    );
    let export: Value = response.json().await.unwrap();
    assert_eq!(export["account"]["email"], alice.email.as_str());
    assert_eq!(export["drafts"].as_array().unwrap().len(), 1);
    assert_eq!(export["reports"][0]["id"], alice.report.to_string());
    assert_eq!(export["payments"][0]["checkout_session"], "cs_test_alice");
    let images: Vec<&str> = export["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        images,
        alice.images.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let text = export.to_string();
    assert!(
        !text.contains(&bob.email) && !text.contains(&bob.id.to_string()),
        "nothing of another account"
    );

    let (status, _) = call(&app, reqwest::Method::GET, "/api/account/export", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token, no export");
}

#[tokio::test]
async fn deleting_an_account_removes_it_and_keeps_only_what_bookkeeping_needs() {
    let app = TestApp::spawn().await;
    let alice = customer(&app, "cs_test_alice").await;
    let bob = customer(&app, "cs_test_bob").await;
    let db = app.supabase.db.client().await;
    let share: String = db
        .query_one(
            "select share_token from public.reports where id = $1",
            &[&alice.report],
        )
        .await
        .unwrap()
        .get(0);

    let (status, answer) = call(
        &app,
        reqwest::Method::DELETE,
        "/api/account",
        Some(&alice.token),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(
        answer["error"],
        "A benchmark of yours is still running. Delete your account once it has finished."
    );
    assert_eq!(
        db.query_one("select count(*) from public.reports", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        2,
        "a refusal deletes nothing"
    );

    finish(&app).await;
    finish(&app).await;
    let (status, answer) = call(
        &app,
        reqwest::Method::DELETE,
        "/api/account",
        Some(&alice.token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"deleted": true, "images_deleted": 2, "payments_kept": 1})
    );

    let sign_in = app.supabase.sign_in(&alice.email, "account-password").await;
    assert_eq!(
        sign_in.status(),
        StatusCode::BAD_REQUEST,
        "the account is gone"
    );
    for path in &alice.images {
        let image = TestApp::http()
            .get(format!(
                "{}/storage/v1/object/benchmark-images/{path}",
                app.supabase.url
            ))
            .bearer_auth(crate::support::supabase::SERVICE_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), StatusCode::NOT_FOUND, "{path} is deleted");
    }
    let shared = TestApp::http()
        .post(format!("{}/rest/v1/rpc/read_report", app.supabase.url))
        .header("apikey", crate::support::supabase::ANON_KEY)
        .json(&json!({"p_report_id": alice.report, "p_share_token": share}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shared == "null" || shared.contains("PT404"),
        "the share link opens nothing: {shared}"
    );
    let kept: (Option<Uuid>, Option<Uuid>, String, Option<i32>) = db
        .query_one(
            "select user_id, draft_id, status, amount_total from public.checkout_sessions
              where stripe_session_id = 'cs_test_alice'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .unwrap();
    assert_eq!(
        kept,
        (None, None, "paid".to_owned(), None),
        "the payment stays, naming no one"
    );

    let (status, bobs) = call(
        &app,
        reqwest::Method::GET,
        "/api/account/export",
        Some(&bob.token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        bobs["reports"].as_array().unwrap().len(),
        1,
        "another account keeps everything"
    );
    for path in &bob.images {
        let image = TestApp::http()
            .get(format!(
                "{}/storage/v1/object/benchmark-images/{path}",
                app.supabase.url
            ))
            .bearer_auth(&bob.token)
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), StatusCode::OK);
    }
    // Its access token lives until it expires, as Supabase's do: it finds
    // nothing more to delete and nothing to export.
    let (status, again) = call(
        &app,
        reqwest::Method::DELETE,
        "/api/account",
        Some(&alice.token),
    )
    .await;
    assert_eq!(
        (status, again),
        (
            StatusCode::OK,
            json!({"deleted": true, "images_deleted": 0, "payments_kept": 0})
        )
    );
    let (status, _) = call(
        &app,
        reqwest::Method::GET,
        "/api/account/export",
        Some(&alice.token),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn images_are_deleted_from_storage_when_their_retention_ends_and_the_report_stays() {
    let app = TestApp::spawn().await;
    let alice = customer(&app, "cs_test_alice").await;
    finish(&app).await;
    let db = app.supabase.db.client().await;
    let followups = modelpick::engine::followup::Followups {
        store: app.supabase.db.store(2),
        worker: "retention-test".into(),
        resend: None,
        stripe: None,
        storage: Some(std::sync::Arc::new(
            modelpick::engine::images::ImageSource {
                http: reqwest::Client::new(),
                storage_url: format!("{}/storage/v1", app.supabase.url),
                service_role_key: crate::support::supabase::SERVICE_KEY.into(),
            },
        )),
        site_url: app.url.clone(),
        retry: modelpick::config::FollowupSettings {
            image_retention_days: 30,
            ..Default::default()
        },
    };
    let stored = |path: String| {
        let url = app.supabase.url.clone();
        async move {
            TestApp::http()
                .get(format!("{url}/storage/v1/object/benchmark-images/{path}"))
                .bearer_auth(crate::support::supabase::SERVICE_KEY)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    db.execute(
        "update public.reports set finished_at = now() - interval '29 days' where id = $1",
        &[&alice.report],
    )
    .await
    .unwrap();
    modelpick::engine::retention::run(&followups).await;
    assert_eq!(
        stored(alice.images[0].clone()).await,
        StatusCode::OK,
        "kept for 30 days"
    );

    db.execute(
        "update public.reports set finished_at = now() - interval '31 days' where id = $1",
        &[&alice.report],
    )
    .await
    .unwrap();
    modelpick::engine::retention::run(&followups).await;
    assert_eq!(
        stored(alice.images[0].clone()).await,
        StatusCode::NOT_FOUND,
        "deleted after"
    );
    assert_eq!(
        stored(alice.images[1].clone()).await,
        StatusCode::OK,
        "a file no report used is not the report's to delete"
    );
    let (deleted, waiting): (bool, i64) = db
        .query_one(
            "select (select images_deleted_at is not null from public.reports where id = $1),
                    (select count(*) from private.image_deletions)",
            &[&alice.report],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert!(
        deleted && waiting == 0,
        "the report knows, and nothing waits"
    );
    let (status, report) = json_body(
        TestApp::http()
            .post(format!("{}/rest/v1/rpc/read_report", app.supabase.url))
            .header("apikey", crate::support::supabase::ANON_KEY)
            .bearer_auth(&alice.token)
            .json(&json!({"p_report_id": alice.report}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["status"], "complete", "the report stays readable");
}

#[tokio::test]
async fn only_the_service_role_may_delete_an_account_through_auth() {
    let app = TestApp::spawn().await;
    let alice = customer(&app, "cs_test_alice").await;
    let bob = customer(&app, "cs_test_bob").await;
    let url = format!("{}/auth/v1/admin/users/{}", app.supabase.url, alice.id);
    for bearer in [
        crate::support::supabase::ANON_KEY,
        bob.token.as_str(),
        alice.token.as_str(),
    ] {
        let refused = TestApp::http()
            .delete(&url)
            .header("apikey", crate::support::supabase::ANON_KEY)
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let sign_in = app.supabase.sign_in(&alice.email, "account-password").await;
    assert_eq!(
        sign_in.status(),
        StatusCode::OK,
        "the account is still there"
    );
}
