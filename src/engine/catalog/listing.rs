//! What the provider's models API says, as the catalog takes it: which
//! models can be offered (they read images and have a known prompt and
//! completion price) with what we store of each, and why the others
//! cannot. Pure: the wire format of `GET /models` in, our rows out.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use crate::money;

/// Models one listing may hold; a longer one is refused whole.
pub const MAX_MODELS: usize = 5_000;

/// A model the catalog offers, as `sync_model_catalog` takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offered {
    pub id: String,
    pub canonical_slug: Option<String>,
    pub display_name: String,
    pub provider: String,
    /// When the provider added it, in Unix seconds.
    pub created: Option<i64>,
    pub context_length: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    #[serde(with = "rust_decimal::serde::str")]
    pub prompt_usd_per_mtok: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub completion_usd_per_mtok: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub image_usd: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub request_usd: Decimal,
    pub takes_response_format: bool,
    pub takes_structured_outputs: bool,
}

/// A model the provider lists that cannot be offered, and why, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    pub id: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub offered: Vec<Offered>,
    pub refused: Vec<Refused>,
}

/// Zero-retention endpoints one listing may hold.
pub const MAX_ENDPOINTS: usize = 50_000;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ListingError {
    #[error("the models API did not answer with {{\"data\": [...]}}")]
    NotAListing,
    #[error(
        "the provider listed {0} zero-retention endpoints, more than the {MAX_ENDPOINTS} we take"
    )]
    TooManyEndpoints(usize),
    #[error("the models API listed {0} models, more than the {MAX_MODELS} we take")]
    TooMany(usize),
}

const TEXT_ONLY: &str = "The provider lists this model as not reading images.";
const NO_PRICE: &str = "The provider gives no fixed price for this model.";
const BAD_ID: &str = "The provider's id for this model is not one we can use.";

/// The model ids of `GET /endpoints/zdr` (`{"data": [{"model_id": ...},
/// ...]}`): each model that has an endpoint keeping nothing, once. An
/// entry without a usable id is left out.
pub fn zero_retention(body: &Value) -> Result<Vec<String>, ListingError> {
    let endpoints = body["data"].as_array().ok_or(ListingError::NotAListing)?;
    if endpoints.len() > MAX_ENDPOINTS {
        return Err(ListingError::TooManyEndpoints(endpoints.len()));
    }
    let ids: HashSet<&str> = endpoints
        .iter()
        .filter_map(|e| e["model_id"].as_str())
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .collect();
    let mut ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The listing of `GET /models` (`{"data": [Model, ...]}`).
pub fn read(body: &Value) -> Result<Listing, ListingError> {
    let models = body["data"].as_array().ok_or(ListingError::NotAListing)?;
    if models.len() > MAX_MODELS {
        return Err(ListingError::TooMany(models.len()));
    }
    let mut listing = Listing::default();
    let mut seen = HashSet::new();
    for model in models {
        let Some(id) = model["id"].as_str() else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        match offer(id, model) {
            Ok(offered) => listing.offered.push(offered),
            Err(reason) => listing.refused.push(Refused {
                id: id.to_owned(),
                reason,
            }),
        }
    }
    Ok(listing)
}

fn offer(id: &str, model: &Value) -> Result<Offered, &'static str> {
    if !usable_id(id) {
        return Err(BAD_ID);
    }
    let reads_images = model["architecture"]["input_modalities"]
        .as_array()
        .is_some_and(|modalities| modalities.iter().any(|m| m == "image"));
    if !reads_images {
        return Err(TEXT_ONLY);
    }
    let pricing = &model["pricing"];
    let price = |name: &str| price(&pricing[name]).ok_or(NO_PRICE);
    let per_million = |usd_per_token: Decimal| {
        usd_per_token
            .checked_mul(Decimal::from(1_000_000))
            .map(|usd| usd.normalize())
            .ok_or(NO_PRICE)
    };
    let parameters = |name: &str| {
        model["supported_parameters"]
            .as_array()
            .is_some_and(|all| all.iter().any(|p| p == name))
    };
    let (provider, display_name) = names(id, model["name"].as_str());
    Ok(Offered {
        id: id.to_owned(),
        canonical_slug: text(&model["canonical_slug"], 200),
        display_name,
        provider,
        created: model["created"].as_i64().filter(|t| *t > 0),
        context_length: tokens(&model["context_length"])
            .or_else(|| tokens(&model["top_provider"]["context_length"])),
        max_completion_tokens: tokens(&model["top_provider"]["max_completion_tokens"]),
        prompt_usd_per_mtok: per_million(price("prompt")?)?,
        completion_usd_per_mtok: per_million(price("completion")?)?,
        image_usd: price("image")?.normalize(),
        request_usd: price("request")?.normalize(),
        takes_response_format: parameters("response_format"),
        takes_structured_outputs: parameters("structured_outputs"),
    })
}

/// A price as the provider states it, if it is known: a missing field,
/// `null`, a negative price (`"-1"`: it varies) or text that is not a
/// number is not. How large a price may be is the database's to say, per
/// model (`private.catalog_price_problem`): one it refuses is kept out
/// with its reason and the rest of the listing syncs.
fn price(value: &Value) -> Option<Decimal> {
    money::parse(value).filter(|amount| *amount >= Decimal::ZERO)
}

/// Ids as OpenRouter spells them (`vendor/model:variant`), the same rule as
/// the database's (`private.catalog_entry_problem`).
fn usable_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 200
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/~@+-".contains(b))
}

/// "Google: Gemini 2.5 Flash" is Gemini 2.5 Flash by Google; without a
/// prefix, the maker is the id's first part.
fn names(id: &str, name: Option<&str>) -> (String, String) {
    let name = name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(id);
    let (provider, display) = match name.split_once(": ") {
        Some((provider, display)) if !provider.is_empty() && !display.trim().is_empty() => {
            (provider.to_owned(), display.trim().to_owned())
        }
        _ => (
            id.split('/').next().unwrap_or(id).to_owned(),
            name.to_owned(),
        ),
    };
    (clip(&provider, 100), clip(&display, 200))
}

fn clip(text: &str, chars: usize) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(chars)
        .collect()
}

fn text(value: &Value, chars: usize) -> Option<String> {
    value
        .as_str()
        .map(|s| clip(s, chars))
        .filter(|s| !s.is_empty())
}

fn tokens(value: &Value) -> Option<u32> {
    value
        .as_u64()
        .filter(|n| *n > 0)
        .map(|n| n.min(i32::MAX as u64) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(id: &str, inputs: &[&str], pricing: Value) -> Value {
        json!({
            "id": id, "name": "Acme: Vision One", "created": 1764806400,
            "canonical_slug": format!("{id}-2025"), "context_length": 128000,
            "architecture": {"input_modalities": inputs, "output_modalities": ["text"]},
            "pricing": pricing,
            "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
            "supported_parameters": ["max_tokens", "response_format", "structured_outputs"],
        })
    }

    fn one(model: Value) -> Listing {
        read(&json!({ "data": [model] })).unwrap()
    }

    #[test]
    fn a_vision_model_with_prices_is_offered_at_exactly_those_prices() {
        let listing = one(model(
            "acme/vision-1",
            &["text", "image"],
            json!({"prompt": "0.000000000375", "completion": "0.0000025", "image": "0.0000258", "request": "0"}),
        ));
        let offered = &listing.offered[0];
        assert_eq!(offered.prompt_usd_per_mtok.to_string(), "0.000375");
        assert_eq!(offered.completion_usd_per_mtok.to_string(), "2.5");
        assert_eq!(offered.image_usd.to_string(), "0.0000258");
        assert_eq!(offered.request_usd, Decimal::ZERO);
        assert_eq!(
            (offered.provider.as_str(), offered.display_name.as_str()),
            ("Acme", "Vision One")
        );
        assert_eq!(offered.created, Some(1764806400));
        assert_eq!(offered.max_completion_tokens, Some(16384));
        assert!(offered.takes_response_format && offered.takes_structured_outputs);
        assert!(listing.refused.is_empty());
    }

    #[test]
    fn text_only_unpriced_and_variable_models_are_refused_with_their_reason() {
        let priced =
            json!({"prompt": "0.000001", "completion": "0.000002", "image": "0", "request": "0"});
        let mut unpriced = model("acme/none", &["text", "image"], Value::Null);
        unpriced.as_object_mut().unwrap().remove("pricing");
        let listing = read(&json!({"data": [
            model("acme/text", &["text"], priced.clone()),
            model("acme/auto", &["text", "image"], json!({"prompt": "-1", "completion": "-1"})),
            model("acme/half", &["text", "image"], json!({"prompt": "0.000001"})),
            model("acme/null", &["text", "image"], json!({"prompt": "0.000001", "completion": null})),
            model("acme/words", &["text", "image"], json!({"prompt": "free", "completion": "0"})),
            model("acme/image-variable", &["image"], json!({"prompt": "0", "completion": "0", "image": "-1", "request": "0"})),
            model("acme/no-image-price", &["image"], json!({"prompt": "0", "completion": "0", "request": "0"})),
            unpriced,
            model("bad id", &["image"], priced.clone()),
            model("acme/free", &["image"], json!({"prompt": "0", "completion": "0", "image": "0", "request": "0"})),
        ]}))
        .unwrap();
        let reasons: Vec<(&str, &str)> = listing
            .refused
            .iter()
            .map(|r| (r.id.as_str(), r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("acme/text", TEXT_ONLY),
                ("acme/auto", NO_PRICE),
                ("acme/half", NO_PRICE),
                ("acme/null", NO_PRICE),
                ("acme/words", NO_PRICE),
                ("acme/image-variable", NO_PRICE),
                ("acme/no-image-price", NO_PRICE),
                ("acme/none", NO_PRICE),
                ("bad id", BAD_ID),
            ]
        );
        assert_eq!(listing.offered.len(), 1, "a free model has a known price");
        assert_eq!(listing.offered[0].id, "acme/free");
    }

    #[test]
    fn a_model_listed_twice_counts_once_and_a_name_without_maker_keeps_the_id_prefix() {
        let priced =
            json!({"prompt": "0.000001", "completion": "0.000002", "image": "0", "request": "0"});
        let mut plain = model("meta/llama", &["image"], priced);
        plain["name"] = json!("Llama Vision");
        let listing = read(&json!({"data": [plain.clone(), plain]})).unwrap();
        assert_eq!(listing.offered.len(), 1);
        assert_eq!(listing.offered[0].provider, "meta");
        assert_eq!(listing.offered[0].display_name, "Llama Vision");
    }

    #[test]
    fn what_is_not_a_listing_is_refused_whole() {
        assert_eq!(
            read(&json!({"error": "down"})),
            Err(ListingError::NotAListing)
        );
        let many: Vec<Value> = (0..=MAX_MODELS)
            .map(|i| json!({"id": format!("m/{i}")}))
            .collect();
        assert_eq!(
            read(&json!({ "data": many })),
            Err(ListingError::TooMany(MAX_MODELS + 1))
        );
    }

    #[test]
    fn the_zero_retention_listing_gives_each_model_once() {
        let body = json!({"data": [
            {"name": "OpenAI: GPT-4o", "model_id": "openai/gpt-4o", "provider_name": "OpenAI"},
            {"name": "Azure: GPT-4o", "model_id": "openai/gpt-4o", "provider_name": "Azure"},
            {"name": "no id", "provider_name": "Nobody"},
            {"name": "long", "model_id": "x".repeat(201)},
            {"name": "Google: Gemini", "model_id": "google/gemini-2.5-flash"},
        ]});
        assert_eq!(
            zero_retention(&body).unwrap(),
            vec![
                "google/gemini-2.5-flash".to_owned(),
                "openai/gpt-4o".to_owned()
            ]
        );
        assert_eq!(
            zero_retention(&json!({"error": "x"})),
            Err(ListingError::NotAListing)
        );
        let many = json!({"data": vec![json!({"model_id": "a/b"}); MAX_ENDPOINTS + 1]});
        assert_eq!(
            zero_retention(&many),
            Err(ListingError::TooManyEndpoints(MAX_ENDPOINTS + 1))
        );
    }
}
