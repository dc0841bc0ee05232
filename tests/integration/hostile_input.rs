//! Crafted table names, columns, filters, bodies and storage paths through
//! the local Supabase API: never a 500, never anything but the intended rows.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::fixtures::{create_ready_draft, create_user, DEMO_USER};
use crate::support::supabase::{TestSupabase, ANON_KEY, DEMO_EMAIL, DEMO_PASSWORD};

/// Everything that must not change, as one string.
async fn fingerprint(db: &tokio_postgres::Client) -> String {
    db.query_one(
        "select md5(concat_ws('|',
            (select string_agg(to_jsonb(d)::text, ',' order by id) from public.benchmark_drafts d
              where user_id <> 'd3e0a000-0000-4000-8000-000000000001'),
            (select string_agg(to_jsonb(r)::text, ',' order by id) from public.reports r),
            (select string_agg(id::text || email, ',' order by id) from auth.users),
            (select string_agg(bucket_id || name, ',' order by name) from storage.objects),
            (select string_agg(relname, ',' order by relname) from pg_class
              where relnamespace in ('public'::regnamespace, 'auth'::regnamespace, 'storage'::regnamespace))))",
        &[],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn hostile_requests_never_fail_the_server_or_reach_other_rows() {
    let stack = TestSupabase::start().await;
    let db = stack.db.client().await;
    let victim = create_user(&db, "victim@example.test").await;
    let victim_draft = create_ready_draft(&db, victim, 1, 1).await;
    let token = stack.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let before = fingerprint(&db).await;

    // A megabyte where a body can carry it; URLs stop at 64 KiB in every
    // HTTP stack, so those get the longest a client can send.
    let huge = "x".repeat(1024 * 1024);
    let long = "x".repeat(60_000);
    let quote_soup = "'\";)--/*\\x00 ☃ 𝕏 ../..";
    let rest: Vec<(Method, String, Option<String>)> = vec![
        (Method::GET, "benchmark_drafts;drop table reports".into(), None),
        (Method::GET, "\"reports\"".into(), None),
        (Method::GET, "reports)".into(), None),
        (Method::GET, "..%2Freports".into(), None),
        (Method::GET, "auth.users".into(), None),
        (Method::GET, "pg_catalog.pg_authid".into(), None),
        (Method::GET, "r%C3%A9p%C3%B8rts".into(), None),
        (Method::GET, format!("{long}?select=id"), None),
        (Method::GET, "benchmark_drafts?select=id,status);drop table reports;--".into(), None),
        (Method::GET, "benchmark_drafts?select=*,users(*)".into(), None),
        (Method::GET, "benchmark_drafts?select=\"id\"\"".into(), None),
        (Method::GET, format!("benchmark_drafts?select={long}"), None),
        (Method::GET, "benchmark_drafts?id=eq.' or 1=1 --".into(), None),
        (Method::GET, format!("benchmark_drafts?id=eq.{victim_draft})"), None),
        (Method::GET, format!("benchmark_drafts?id=eq.{victim_draft}"), None),
        (Method::GET, format!("benchmark_drafts?user_id=eq.{victim}"), None),
        (Method::GET, format!("benchmark_drafts?or=(user_id.neq.{DEMO_USER})"), None),
        (Method::GET, "benchmark_drafts?status=in.(ready,\"paid\",')".into(), None),
        (Method::GET, format!("benchmark_drafts?status=eq.{long}"), None),
        (Method::GET, format!("benchmark_drafts?status=eq.{}", urlencode(quote_soup)), None),
        (Method::GET, "benchmark_drafts?order=id;drop table reports".into(), None),
        (Method::GET, "benchmark_drafts?limit=-1&offset=-5".into(), None),
        (Method::GET, "reports?share_token=not.is.null".into(), None),
        (Method::POST, "benchmark_drafts".into(), Some(json!({"user_id": victim}).to_string())),
        (Method::POST, "benchmark_drafts".into(), Some(json!({"status": "paid"}).to_string())),
        (Method::POST, "benchmark_drafts".into(), Some(json!({"\"; drop table reports; --": 1}).to_string())),
        (Method::POST, "benchmark_drafts".into(), Some("{".into())),
        (Method::POST, "benchmark_drafts".into(), Some(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)))),
        (Method::POST, "benchmark_drafts".into(), Some(json!({"config_data": {"note": huge}}).to_string())),
        (Method::POST, "benchmark_drafts".into(), Some(json!({"config_data": quote_soup}).to_string())),
        (Method::PATCH, format!("benchmark_drafts?id=eq.{victim_draft}"), Some(json!({"config_data": {}}).to_string())),
        (Method::PATCH, "benchmark_drafts".into(), Some(json!({"user_id": victim}).to_string())),
        (Method::DELETE, format!("benchmark_drafts?user_id=eq.{victim}"), None),
        (Method::DELETE, "reports".into(), None),
        (Method::POST, "rpc/fulfill_checkout;--".into(), Some("{}".into())),
        (Method::POST, "rpc/pg_sleep".into(), Some(json!({"seconds": 30}).to_string())),
        (Method::POST, "rpc/claim_next_report".into(), Some(json!({"p_worker": quote_soup}).to_string())),
        (Method::POST, "rpc/fulfill_checkout".into(), Some(json!({"p_stripe_session_id": huge, "p_draft_id": victim_draft, "p_user_id": victim}).to_string())),
    ];

    let http = reqwest::Client::new();
    for (who, bearer) in [("anon", ANON_KEY), ("user", token.as_str())] {
        for (method, path, body) in &rest {
            let mut request = http
                .request(method.clone(), format!("{}/rest/v1/{path}", stack.url))
                .header("apikey", ANON_KEY)
                .bearer_auth(bearer)
                .header("content-type", "application/json");
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let shown: String = path.chars().take(80).collect();
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{who} {method} /rest/v1/{shown}: {}", e.without_url()));
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            assert!(
                status.as_u16() < 500,
                "{who} {method} /rest/v1/{shown}: {status} {text:.200}"
            );
            // Ids may be echoed back in error messages; the victim's data
            // (its image path, its email) never may.
            assert!(
                !text.contains("doc-0.png") && !text.contains("victim@example.test"),
                "{who} {method} /rest/v1/{shown} leaked another user's row: {text:.300}"
            );
        }
    }

    let storage_paths = [
        "../../etc/passwd".to_owned(),
        "%2e%2e/%2e%2e/etc/passwd".into(),
        format!("{DEMO_USER}/../{victim}/x.png"),
        format!("{DEMO_USER}/%2e%2e/{victim}/x.png"),
        format!("{DEMO_USER}//x.png"),
        format!("{DEMO_USER}/x.png%00.txt"),
        format!("{DEMO_USER}/{}", urlencode(quote_soup)),
        format!("{DEMO_USER}/{long}"),
        format!("{victim}/x.png"),
        "/etc/passwd".into(),
        "%2Fetc%2Fpasswd".into(),
    ];
    for path in &storage_paths {
        for method in [Method::POST, Method::GET] {
            let shown: String = path.chars().take(80).collect();
            let response = http
                .request(
                    method.clone(),
                    format!("{}/storage/v1/object/benchmark-images/{path}", stack.url),
                )
                .bearer_auth(&token)
                .header("content-type", "image/png")
                .body(b"\x89PNG".to_vec())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} storage {shown}: {}", e.without_url()));
            let status = response.status();
            assert!(
                status == StatusCode::BAD_REQUEST
                    || status == StatusCode::FORBIDDEN
                    || status == StatusCode::NOT_FOUND
                    || status == StatusCode::URI_TOO_LONG,
                "{method} storage {shown}: {status}"
            );
        }
    }
    let written: Vec<String> = std::fs::read_dir(&stack.storage_dir)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        written.is_empty(),
        "no hostile upload wrote bytes: {written:?}"
    );

    assert_eq!(
        fingerprint(&db).await,
        before,
        "nothing outside the caller's own rows changed"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
