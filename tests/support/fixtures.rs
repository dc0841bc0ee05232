//! Rows the tests build on: users, drafts, paid reports.

use tokio_postgres::Client;
use uuid::Uuid;

pub const DEMO_USER: &str = "d3e0a000-0000-4000-8000-000000000001";
pub const DEMO_DRAFT: &str = "d3e0a000-0000-4000-8000-0000000000d1";

pub async fn create_user(client: &Client, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    client
        .execute(
            "insert into auth.users (id, aud, role, email, created_at, updated_at)
             values ($1, 'authenticated', 'authenticated', $2, now(), now())",
            &[&id, &email],
        )
        .await
        .unwrap();
    id
}

/// A draft that is ready to pay for: `images` images, the first `models`
/// catalog models.
pub async fn create_ready_draft(client: &Client, user: Uuid, images: usize, models: i64) -> Uuid {
    let images: Vec<serde_json::Value> = (0..images)
        .map(|i| {
            serde_json::json!({
                "path": format!("{user}/doc-{i}.png"),
                "expected": {"invoice_number": format!("INV-{i}"), "total": i * 10}
            })
        })
        .collect();
    client
        .query_one(
            "insert into public.benchmark_drafts (user_id, status, upload_data, schema_data, selected_models)
             values ($1, 'ready', $2, '{\"prompt\": \"Extract the invoice.\"}',
                     array(select id from public.model_catalog order by id limit $3))
             returning id",
            &[&user, &serde_json::json!({ "images": images }), &models],
        )
        .await
        .unwrap()
        .get(0)
}

/// Calls `fulfill_checkout` and returns (report id, created).
pub async fn fulfill(
    client: &Client,
    session: &str,
    draft: Uuid,
    user: Uuid,
) -> Result<(Uuid, bool), tokio_postgres::Error> {
    let row = client
        .query_one(
            "select report_id, created from public.fulfill_checkout($1, $2, $3)",
            &[&session, &draft, &user],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// A user with a paid report; returns the report id.
pub async fn paid_report(client: &Client) -> Uuid {
    let user = create_user(client, &format!("{}@example.test", Uuid::new_v4().simple())).await;
    let draft = create_ready_draft(client, user, 2, 2).await;
    fulfill(
        client,
        &format!("cs_test_{}", Uuid::new_v4().simple()),
        draft,
        user,
    )
    .await
    .unwrap()
    .0
}
