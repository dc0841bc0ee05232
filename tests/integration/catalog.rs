//! The catalog follows the provider's models API (the stand-in's, served
//! from devstack/fixtures/models.json): `modelpick catalog sync` offers
//! exactly the vision models with prices, at those prices; new models,
//! price changes, withdrawals, unpriced and text-only models are followed;
//! a models API that is down or broken changes nothing; the engine syncs on
//! its own and no report waits on it.

use std::collections::BTreeSet;
use std::time::Duration;

use modelpick::config::{CatalogSettings, RunLimits};
use modelpick::engine::catalog::{CatalogSync, SyncError, SyncSummary};
use modelpick::startup;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::support::db::TestDb;
use crate::support::engine::{RunningEngine, TestWorld};

/// The fixture's models that read images and have every price known.
const OFFERABLE: [&str; 21] = [
    "anthropic/claude-3-haiku",
    "anthropic/claude-3.5-sonnet",
    "anthropic/claude-sonnet-4",
    "google/gemini-2.0-flash-001",
    "google/gemini-2.5-flash",
    "google/gemini-2.5-pro",
    "google/gemini-3-flash-preview",
    "google/gemini-flash-1.5",
    "meta-llama/llama-3.2-11b-vision-instruct",
    "meta-llama/llama-4-maverick",
    "mistralai/mistral-medium-3",
    "mistralai/pixtral-12b",
    "mistralai/pixtral-large-2411",
    "openai/gpt-4.1",
    "openai/gpt-4.1-mini",
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "openai/gpt-5-mini",
    "qwen/qwen-2.5-vl-72b-instruct",
    "qwen/qwen2.5-vl-32b-instruct",
    "x-ai/grok-2-vision-1212",
];

async fn provider() -> devstack::provider::RunningProvider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    devstack::provider::start(devstack::provider::ProviderConfig::default(), listener).unwrap()
}

fn syncer(db: &TestDb, provider: &devstack::provider::RunningProvider) -> CatalogSync {
    CatalogSync::new(db.store(1), CatalogSettings::new(provider.base_url(), None)).unwrap()
}

async fn active(db: &TestDb) -> BTreeSet<String> {
    db.client()
        .await
        .query("select id from public.model_catalog where active", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn catalog_row(db: &TestDb, id: &str) -> tokio_postgres::Row {
    db.client()
        .await
        .query_one(
            "select prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, request_usd, active,
                    inactive_reason, display_name, provider, supports_json_schema,
                    provider_created_at > now() - interval '30 days' as new
               from public.model_catalog where id = $1",
            &[&id],
        )
        .await
        .unwrap()
}

fn decimal(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn vision_model(id: &str, prompt: &str, completion: &str) -> Value {
    json!({
        "id": id, "canonical_slug": id, "name": "Acme: Vision Two", "created": 1764806400,
        "context_length": 64000,
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
        "pricing": {"prompt": prompt, "completion": completion, "image": "0.0001", "request": "0"},
        "top_provider": {"context_length": 64000, "max_completion_tokens": 8192},
        "supported_parameters": ["max_tokens", "response_format", "structured_outputs"],
    })
}

#[tokio::test]
async fn the_command_offers_exactly_the_vision_models_with_prices_at_those_prices() {
    let db = TestDb::new().await;
    let provider = provider().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelpick"))
        .args(["catalog", "sync"])
        .env("DATABASE_URL", &db.url)
        .env("OPENROUTER_BASE_URL", provider.base_url())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(
            "catalog synced: 21 models offered (11 added, 9 repriced, 0 offered again), 0 withdrawn, 6 listed but not offerable"
        ),
        "{stdout}"
    );

    assert_eq!(active(&db).await, OFFERABLE.map(String::from).into());
    let flash = catalog_row(&db, "google/gemini-2.5-flash").await;
    assert_eq!(flash.get::<_, Decimal>(0), decimal("0.3"));
    assert_eq!(flash.get::<_, Decimal>(1), decimal("2.5"));
    assert_eq!(flash.get::<_, Decimal>(2), decimal("0.001238"));
    assert_eq!(flash.get::<_, String>(6), "Gemini 2.5 Flash");
    assert_eq!(flash.get::<_, String>(7), "Google");
    assert!(flash.get::<_, bool>(8), "it answers to a JSON Schema");
    assert!(!flash.get::<_, bool>(9), "added in June 2025");
    let launch = catalog_row(&db, "google/gemini-2.0-flash-001").await;
    assert_eq!(
        launch.get::<_, Decimal>(2),
        decimal("0.0000258"),
        "an image price to the last digit"
    );
    assert!(catalog_row(&db, "google/gemini-3-flash-preview")
        .await
        .get::<_, bool>(9));

    // Listed but never offered: text only, a "-1" router, prices missing.
    let db_client = db.client().await;
    let listed_not_offered = db_client
        .query_one(
            "select count(*) from public.model_catalog
              where id in ('meta-llama/llama-3.3-70b-instruct', 'deepseek/deepseek-chat-v3-0324',
                           'mistralai/mistral-small-24b-instruct-2501', 'openrouter/auto',
                           'acme/vision-preview', 'acme/vision-lite')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(listed_not_offered.get::<_, i64>(0), 0);

    // Which of them can keep nothing: the stand-in's GET /endpoints/zdr.
    let zero_retention: BTreeSet<String> = db_client
        .query(
            "select id from public.model_catalog where active and zero_retention",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let listed: Value =
        serde_json::from_str(include_str!("../../devstack/fixtures/zero_retention.json")).unwrap();
    let listed: BTreeSet<String> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(zero_retention, listed);
}

#[tokio::test]
async fn the_catalog_follows_new_models_price_changes_and_withdrawals() {
    let db = TestDb::new().await;
    let provider = provider().await;
    let sync = syncer(&db, &provider);
    sync.sync().await.unwrap();

    let models = provider.models();
    models.upsert(vision_model("acme/vision-2", "0.0000002", "0.0000008"));
    models.upsert(vision_model("openai/gpt-4o", "0.00000125", "0.000005"));
    assert!(models.remove("anthropic/claude-3-haiku"));
    let mut text_only = vision_model("mistralai/pixtral-12b", "0.0000001", "0.0000001");
    text_only["architecture"]["input_modalities"] = json!(["text"]);
    models.upsert(text_only);
    models.upsert(vision_model("qwen/qwen-2.5-vl-72b-instruct", "-1", "-1"));

    let summary = sync.sync().await.unwrap();
    assert_eq!(
        summary,
        SyncSummary {
            offered: 19,
            added: 1,
            repriced: 1,
            reactivated: 0,
            deactivated: 3,
            refused: 8,
        }
    );
    let gpt4o = catalog_row(&db, "openai/gpt-4o").await;
    assert_eq!(
        (gpt4o.get::<_, Decimal>(0), gpt4o.get::<_, Decimal>(1)),
        (decimal("1.25"), decimal("5"))
    );
    let reasons = db
        .client()
        .await
        .query(
            "select id, inactive_reason from public.model_catalog where not active order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
        .collect::<Vec<_>>();
    assert_eq!(
        reasons,
        [
            (
                "anthropic/claude-3-haiku".to_owned(),
                "The provider no longer lists this model.".to_owned()
            ),
            (
                "mistralai/pixtral-12b".to_owned(),
                "The provider lists this model as not reading images.".to_owned()
            ),
            (
                "qwen/qwen-2.5-vl-72b-instruct".to_owned(),
                "The provider gives no fixed price for this model.".to_owned()
            ),
        ]
    );
    assert!(catalog_row(&db, "acme/vision-2").await.get::<_, bool>(4));

    // What gpt-4o cost: the seed's price, the fixture's image price, the cut.
    let history: Vec<(Decimal, Decimal)> = db
        .client()
        .await
        .query(
            "select prompt_usd_per_mtok, image_usd from public.model_price_history
              where model_id = 'openai/gpt-4o' order by valid_from, id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        history,
        [
            (decimal("2.5"), decimal("0")),
            (decimal("2.5"), decimal("0.003613")),
            (decimal("1.25"), decimal("0.0001")),
        ]
    );

    // Nothing is deleted; a withdrawn model that comes back is offered again.
    models.upsert(vision_model(
        "anthropic/claude-3-haiku",
        "0.00000025",
        "0.00000125",
    ));
    let again = sync.sync().await.unwrap();
    assert_eq!(
        (again.reactivated, again.added, again.deactivated),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn a_models_api_that_is_down_or_broken_changes_nothing() {
    let db = TestDb::new().await;
    let provider = provider().await;
    let sync = syncer(&db, &provider);
    let before = active(&db).await;

    provider.models().set_down(true);
    let down = sync.sync().await.unwrap_err();
    assert!(matches!(down, SyncError::Status(503)), "{down}");
    provider.models().set_down(false);

    // A listing too long to read (one description of 17 MiB).
    let mut huge = vision_model("acme/huge", "0.000001", "0.000001");
    huge["description"] = json!("x".repeat(17 << 20));
    provider.models().upsert(huge);
    assert!(matches!(
        sync.sync().await.unwrap_err(),
        SyncError::TooLarge
    ));
    assert!(provider.models().remove("acme/huge"));

    // A listing with no vision model at a known price is broken, not news.
    for id in OFFERABLE {
        provider.models().remove(id);
    }
    let empty = sync.sync().await.unwrap_err();
    assert!(
        empty.to_string().contains("the catalog is left as it was"),
        "{empty}"
    );

    assert_eq!(active(&db).await, before, "the catalog is as it was");
    let failures: Vec<String> = db
        .client()
        .await
        .query(
            "select error from private.catalog_syncs where not ok order by id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert_eq!(failures[0], "the models API answered HTTP 503");
}

#[tokio::test]
async fn the_engine_syncs_on_its_own_retries_a_failed_sync_and_no_report_waits_on_it() {
    let world = TestWorld::new(2, |_| {}).await;
    world.provider.models().set_down(true);
    let mut settings = world.settings(RunLimits::default(), Duration::from_secs(10));
    settings.catalog = CatalogSettings {
        first_retry: Duration::from_millis(300),
        ..CatalogSettings::new(world.provider.base_url(), Some(Duration::from_secs(3600)))
    };
    let engine = startup::engine(&settings).unwrap();
    let (stop, stopped) = watch::channel(false);
    let engine = RunningEngine {
        stop,
        task: tokio::spawn(engine.run(stopped)),
    };

    // A report paid while the models API is down runs as always.
    let report = world.paid_report(2).await;
    let states = world
        .wait_finished(&[report], Duration::from_secs(30))
        .await;
    assert_eq!(states[0].status, "complete");

    let db = world.supabase.db.client().await;
    let synced = || async {
        db.query_one(
            "select count(*) filter (where ok), count(*) filter (where not ok) from private.catalog_syncs",
            &[],
        )
        .await
        .map(|row| (row.get::<_, i64>(0), row.get::<_, i64>(1)))
        .unwrap()
    };
    assert_eq!(synced().await.0, 0, "nothing synced while the API is down");
    assert!(synced().await.1 >= 1, "the failure is kept for an operator");

    world.provider.models().set_down(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while synced().await.0 == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine never synced again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let flash: bool = db
        .query_one(
            "select active from public.model_catalog where id = 'google/gemini-2.5-flash'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(flash, "the engine's sync offered the provider's new models");
    engine.shutdown().await;
}
