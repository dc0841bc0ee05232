//! Run again and compare, through the real sidecar and the local Supabase
//! API: the owner makes a re-run with `draft_from_report`, and
//! `/api/compare` serves the two reports to their owner or to whoever holds
//! both share links, and to no one else; a share link's holder gets the
//! documents' images only while the owner shares them.

use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::app::TestApp;
use crate::support::fixtures::fulfill;
use crate::support::http::json_body;
use crate::support::supabase::ANON_KEY;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nthe bytes of one scanned invoice";

/// Two reports of one owner on the same three documents: March's with
/// GPT-4o (2 fields of 3 right everywhere), then its re-run in April with
/// Gemini (every field right, a tenth of the cost).
struct TwoReports {
    app: TestApp,
    owner: String,
    march: Uuid,
    april: Uuid,
}

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    app.supabase
        .db
        .client()
        .await
        .query_one("select id from auth.users where email = $1", &[&email])
        .await
        .unwrap()
        .get(0)
}

async fn rpc(app: &TestApp, token: &str, function: &str, args: Value) -> (StatusCode, Value) {
    json_body(
        TestApp::http()
            .post(format!("{}/rest/v1/rpc/{function}", app.supabase.url))
            .header("apikey", ANON_KEY)
            .bearer_auth(token)
            .json(&args)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn record_runs(
    app: &TestApp,
    report: Uuid,
    model: &str,
    matched: i32,
    cost: &str,
    paid: &str,
) {
    let db = app.supabase.db.client().await;
    db.execute(
        "insert into public.benchmark_runs
           (report_id, model_id, image_index, passed, fields_total, fields_matched, cost, response_time_ms)
         select $1, $2, i, $3 = 3, 3, $3, $4::text::numeric, 900 from generate_series(0, 2) i",
        &[&report, &model, &matched, &cost.to_string()],
    )
    .await
    .unwrap();
    db.execute(
        "update public.reports set status = 'complete', runs_done = 3, paid_at = $2::text::timestamptz
          where id = $1",
        &[&report, &paid.to_string()],
    )
    .await
    .unwrap();
}

async fn two_reports() -> TwoReports {
    let app = TestApp::spawn().await;
    let email = format!("{}@example.test", Uuid::new_v4().simple());
    let owner = app.supabase.access_token(&email, "compare-password").await;
    let user = user_id(&app, &email).await;
    let db = app.supabase.db.client().await;
    let mut images = Vec::new();
    for i in 0..3 {
        let path = format!("{user}/march/invoice-{i}.png");
        let upload = TestApp::http()
            .post(format!(
                "{}/storage/v1/object/benchmark-images/{path}",
                app.supabase.url
            ))
            .bearer_auth(&owner)
            .header("content-type", "image/png")
            .body(PNG.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(upload.status(), StatusCode::OK);
        images.push(json!({"path": path, "name": format!("invoice-{i}.png"), "width": 1240, "height": 1754,
                           "expected": {"number": format!("INV-{i}"), "total": i, "vendor": "Acme"}}));
    }
    let draft: Uuid = db
        .query_one(
            "insert into public.benchmark_drafts (user_id, status, config_data, upload_data, schema_data, selected_models)
             values ($1, 'ready', '{\"name\": \"Supplier invoices\"}', $2, '{\"prompt\": \"Extract.\"}', array['openai/gpt-4o'])
             returning id",
            &[&user, &json!({ "images": images })],
        )
        .await
        .unwrap()
        .get(0);
    let march = fulfill(&db, "cs_test_march", draft, user).await.unwrap().0;
    record_runs(
        &app,
        march,
        "openai/gpt-4o",
        2,
        "0.01",
        "2026-03-03T10:00:00Z",
    )
    .await;

    let (status, rerun) = rpc(
        &app,
        &owner,
        "draft_from_report",
        json!({"p_report_id": march}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rerun}");
    let rerun = Uuid::parse_str(rerun.as_str().unwrap()).unwrap();
    let patched = TestApp::http()
        .patch(format!(
            "{}/rest/v1/benchmark_drafts?id=eq.{rerun}",
            app.supabase.url
        ))
        .header("apikey", ANON_KEY)
        .bearer_auth(&owner)
        .json(&json!({"selected_models": ["google/gemini-2.0-flash-001"], "status": "ready"}))
        .send()
        .await
        .unwrap();
    assert!(
        patched.status().is_success(),
        "{}",
        patched.text().await.unwrap()
    );
    let april = fulfill(&db, "cs_test_april", rerun, user).await.unwrap().0;
    record_runs(
        &app,
        april,
        "google/gemini-2.0-flash-001",
        3,
        "0.001",
        "2026-04-02T10:00:00Z",
    )
    .await;
    TwoReports {
        app,
        owner,
        march,
        april,
    }
}

async fn compare(app: &TestApp, query: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = TestApp::http().get(format!("{}/api/compare?{query}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    json_body(request.send().await.unwrap()).await
}

async fn share_token(app: &TestApp, report: Uuid) -> String {
    app.supabase
        .db
        .client()
        .await
        .query_one(
            "select share_token from public.reports where id = $1",
            &[&report],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_owner_compares_a_report_with_its_rerun() {
    let t = two_reports().await;
    // In either order: March is the earlier report.
    let (status, body) = compare(
        &t.app,
        &format!("a={}&b={}", t.april, t.march),
        Some(&t.owner),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["earlier"]["id"], t.march.to_string());
    assert_eq!(body["documents"], 3);
    assert_eq!(body["only_earlier"], json!([]));
    assert_eq!(
        body["verdict"],
        "Gemini 2.0 Flash (new) beats your earlier pick GPT-4o by 33.3 points of field accuracy on the same 3 documents, at a tenth of the cost."
    );
    let models: Vec<(&str, &str)> = body["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["label"].as_str().unwrap(), m["report"].as_str().unwrap()))
        .collect();
    assert_eq!(
        models,
        [("Gemini 2.0 Flash (new)", "later"), ("GPT-4o", "earlier")]
    );
    let gpt = &body["models"][1];
    assert_eq!(gpt["price_then"]["prompt_usd_per_mtok"], "2.5");
    assert_eq!(gpt["price_now"]["prompt_usd_per_mtok"], "2.5");
    assert_eq!(
        gpt["figures"]["field_accuracy"].as_f64().unwrap(),
        2.0 / 3.0
    );
}

#[tokio::test]
async fn a_report_that_asked_each_call_again_is_compared_on_its_first_answers() {
    let t = two_reports().await;
    // April asked each call twice; Gemini's second answers missed a field.
    t.app
        .supabase
        .db
        .client()
        .await
        .execute(
            "insert into public.benchmark_runs
               (report_id, model_id, image_index, repeat, passed, fields_total, fields_matched, cost, response_time_ms)
             select $1, 'google/gemini-2.0-flash-001', i, 1, false, 3, 2, 0.001, 900 from generate_series(0, 2) i",
            &[&t.april],
        )
        .await
        .unwrap();
    let (status, body) = compare(
        &t.app,
        &format!("a={}&b={}", t.march, t.april),
        Some(&t.owner),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["verdict"],
        "Gemini 2.0 Flash (new) beats your earlier pick GPT-4o by 33.3 points of field accuracy on the same 3 documents, at a tenth of the cost.",
        "ranked on first answers, costs as well"
    );
    let gemini = &body["models"][0]["figures"];
    assert_eq!(gemini["field_accuracy"].as_f64().unwrap(), 1.0);
    assert_eq!(gemini["cost_usd"], "0.003", "{gemini}");
}

#[tokio::test]
async fn strangers_get_nothing_and_share_links_open_both_only_together() {
    let t = two_reports().await;
    let query = format!("a={}&b={}", t.march, t.april);
    let stranger = t
        .app
        .supabase
        .access_token("stranger@example.test", "stranger-pass")
        .await;
    let (status, body) = compare(&t.app, &query, Some(&stranger)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("two reports you may read"));
    assert_eq!(compare(&t.app, &query, None).await.0, StatusCode::NOT_FOUND);

    let (march_token, april_token) = (
        share_token(&t.app, t.march).await,
        share_token(&t.app, t.april).await,
    );
    let both = format!("{query}&share_a={march_token}&share_b={april_token}");
    let (status, body) = compare(&t.app, &both, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.to_string().contains(&t.owner), "no session leaks");
    let one = format!("{query}&share_a={march_token}");
    assert_eq!(compare(&t.app, &one, None).await.0, StatusCode::NOT_FOUND);
    let swapped = format!("{query}&share_a={april_token}&share_b={march_token}");
    assert_eq!(
        compare(&t.app, &swapped, None).await.0,
        StatusCode::NOT_FOUND
    );
    // A stranger with both links reads what the links show.
    assert_eq!(
        compare(&t.app, &both, Some(&stranger)).await.0,
        StatusCode::OK
    );

    // Bad input: a clear 400, nothing read.
    for (query, says) in [
        ("a=1&b=2".to_owned(), "a must be a report id"),
        (format!("a={0}&b={0}", t.march), "two different reports"),
        (
            format!("{query}&share_a=<script>"),
            "share_a is not a share token",
        ),
    ] {
        let (status, body) = compare(&t.app, &query, Some(&t.owner)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert!(body["error"].as_str().unwrap().contains(says), "{body}");
    }
}

#[tokio::test]
async fn a_link_holder_sees_the_images_only_while_the_owner_shares_them() {
    let t = two_reports().await;
    let images = |token: String| {
        let url = format!("{}/api/reports/{}/images?share={token}", t.app.url, t.march);
        async move { json_body(TestApp::http().get(url).send().await.unwrap()).await }
    };
    let token = share_token(&t.app, t.march).await;
    let (status, body) = images(token.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "off by default: {body}");

    let stranger = t
        .app
        .supabase
        .access_token("nosy@example.test", "nosy-pass")
        .await;
    let (status, _) = rpc(
        &t.app,
        &stranger,
        "set_report_image_sharing",
        json!({"p_report_id": t.march, "p_on": true}),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "only the owner decides");
    let (status, on) = rpc(
        &t.app,
        &t.owner,
        "set_report_image_sharing",
        json!({"p_report_id": t.march, "p_on": true}),
    )
    .await;
    assert_eq!((status, on), (StatusCode::OK, json!(true)));

    let (status, body) = images(token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body["images"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    // Nothing a link holder receives names the owner or the draft (a
    // storage path would: `<user id>/<draft id>/…`).
    let owned = t
        .app
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select user_id::text, draft_id::text from public.reports where id = $1",
            &[&t.march],
        )
        .await
        .unwrap();
    let (user_id, draft_id): (String, String) = (owned.get(0), owned.get(1));
    let listed = body.to_string();
    assert!(
        !listed.contains(&user_id) && !listed.contains(&draft_id),
        "{listed}"
    );
    for entry in list {
        let url = entry["url"].as_str().unwrap();
        assert!(url.starts_with("/api/reports/"), "a link of ours: {url}");
        let image = TestApp::http()
            .get(format!("{}{url}", t.app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(image.status(), StatusCode::OK);
        let headers = format!("{:?}", image.headers());
        assert!(
            !headers.contains(&user_id) && !headers.contains(&draft_id),
            "{headers}"
        );
        assert_eq!(image.headers()["cache-control"], "private, no-store");
        assert_eq!(image.headers()["content-type"], "image/png");
        assert_eq!(image.bytes().await.unwrap().as_ref(), PNG);
    }
    let past_the_end = format!(
        "{}/api/reports/{}/images/3?share={token}",
        t.app.url, t.march
    );
    assert_eq!(
        TestApp::http()
            .get(past_the_end)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let first_image = format!("{}{}", t.app.url, list[0]["url"].as_str().unwrap());
    assert_eq!(images("wrong-token".into()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        images(share_token(&t.app, t.april).await).await.0,
        StatusCode::NOT_FOUND,
        "another report's link opens only that report"
    );

    // Rotating the link keeps the setting; the old link is over.
    let (status, rotated) = rpc(
        &t.app,
        &t.owner,
        "rotate_report_share_token",
        json!({"p_report_id": t.march}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(images(token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        images(rotated.as_str().unwrap().to_owned()).await.0,
        StatusCode::OK
    );

    let (status, _) = rpc(
        &t.app,
        &t.owner,
        "set_report_image_sharing",
        json!({"p_report_id": t.march, "p_on": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        images(rotated.as_str().unwrap().to_owned()).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        TestApp::http()
            .get(first_image)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND,
        "an image link ends with the sharing"
    );
}
