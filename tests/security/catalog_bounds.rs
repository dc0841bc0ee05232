//! One odd model in the provider's listing (a price of a dollar a token or
//! more, a date no timestamp can hold, a price no decimal can hold) is kept
//! out of the catalog with its reason, by the database's own bounds, and
//! every other model syncs: the catalog never keeps stale prices because
//! of one entry.

use modelpick::config::CatalogSettings;
use modelpick::engine::catalog::CatalogSync;
use serde_json::{json, Value};

use crate::support::db::TestDb;

fn vision_model(id: &str, prompt: &str, completion: &str) -> Value {
    json!({
        "id": id, "canonical_slug": id, "name": "Acme: Odd One", "created": 1764806400,
        "context_length": 64000,
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
        "pricing": {"prompt": prompt, "completion": completion, "image": "0.0001", "request": "0"},
        "top_provider": {"context_length": 64000, "max_completion_tokens": 8192},
        "supported_parameters": ["max_tokens"],
    })
}

#[tokio::test]
async fn one_odd_model_is_kept_out_with_its_reason_and_the_rest_syncs() {
    let db = TestDb::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider =
        devstack::provider::start(devstack::provider::ProviderConfig::default(), listener).unwrap();
    let sync =
        CatalogSync::new(db.store(1), CatalogSettings::new(provider.base_url(), None)).unwrap();
    sync.sync().await.unwrap();

    let models = provider.models();
    // A dollar a token: the table's bound.
    models.upsert(vision_model("acme/dollar-a-token", "1", "0.000001"));
    // An offered model repriced past the bound is withdrawn with the reason.
    models.upsert(vision_model("openai/gpt-4o", "0.000001", "2.5"));
    // A date `to_timestamp` cannot take.
    let mut far = vision_model("acme/far-future", "0.000001", "0.000001");
    far["created"] = json!(100_000_000_000_000_i64);
    models.upsert(far);
    // A price no decimal holds once counted per million tokens.
    models.upsert(vision_model(
        "acme/overflow",
        "80000000000000000000000",
        "0.000001",
    ));
    // An image at $1,000.
    let mut image = vision_model("acme/costly-image", "0.000001", "0.000001");
    image["pricing"]["image"] = json!("1000");
    models.upsert(image);
    // And an ordinary new model beside them, which must sync.
    models.upsert(vision_model("acme/ordinary", "0.0000002", "0.0000008"));

    let summary = sync
        .sync()
        .await
        .expect("the sync goes through despite the odd models");
    assert_eq!(summary.added, 1, "{summary:?}");
    let client = db.client().await;
    let row = |id: &'static str| {
        let client = &client;
        async move {
            client
                .query_opt(
                    "select active, inactive_reason from public.model_catalog where id = $1",
                    &[&id],
                )
                .await
                .unwrap()
                .map(|r| (r.get::<_, bool>(0), r.get::<_, Option<String>>(1)))
        }
    };
    assert_eq!(row("acme/ordinary").await, Some((true, None)));
    for odd in [
        "acme/dollar-a-token",
        "acme/far-future",
        "acme/overflow",
        "acme/costly-image",
    ] {
        assert_eq!(row(odd).await, None, "{odd} is not offered");
    }
    let (active, reason) = row("openai/gpt-4o").await.unwrap();
    assert!(!active, "a model repriced past the bounds is withdrawn");
    assert_eq!(
        reason.as_deref(),
        Some("The provider's price for this model is past what we accept ($1 a token, $1,000 an image or request).")
    );

    // The same bounds guard the table itself.
    let direct = client
        .execute(
            "update public.model_catalog set completion_usd_per_mtok = 1000000 where id = 'acme/ordinary'",
            &[],
        )
        .await;
    assert!(direct.is_err(), "the table refuses what the sync refuses");

    // And the database refuses an odd entry sent to it directly, per model.
    let far = client
        .query_one(
            "select private.catalog_entry_problem($1::jsonb)",
            &[
                &json!({"id": "acme/x", "prompt_usd_per_mtok": "1", "completion_usd_per_mtok": "1",
                      "created": 1e14}),
            ],
        )
        .await
        .unwrap()
        .get::<_, Option<String>>(0);
    assert_eq!(
        far.as_deref(),
        Some("The provider's date for this model is not a date we can use.")
    );
}
