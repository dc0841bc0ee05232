//! The draft as it was paid for, read once from the claimed report into the
//! types its run and its figures use: the documents (where each image is,
//! what it should give), the models in the buyer's order with the prices of
//! that day, the prompt, and the schema answers are held to.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::engine::call::envelope::Privacy;
use crate::engine::call::price::SnapshotPrice;
use crate::engine::images::SendPolicy;
use crate::engine::limits::JsonLimits;

/// One document: its pages in Storage, in order, and the JSON it should
/// give.
#[derive(Debug, Clone)]
pub struct Document {
    pub pages: Vec<String>,
    pub expected: Arc<Value>,
}

impl Document {
    /// The document's key, as the report gives it (`read_report`'s
    /// documents[].key): its first image's path, hashed.
    pub fn key(&self) -> String {
        hex::encode(Sha256::digest(
            self.pages.first().map_or("", String::as_str),
        ))
    }
}

/// One model the buyer picked.
#[derive(Debug, Clone)]
pub struct Model {
    pub id: String,
    /// The name people know it by.
    pub display_name: String,
    /// The prices it was paid at; none when the report has none for it
    /// (such a model is never called).
    pub price: Option<SnapshotPrice>,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// By index: a run's `image_index` is its document's place here.
    pub documents: Vec<Document>,
    /// In the order the buyer chose them.
    pub models: Vec<Model>,
    pub prompt: String,
    /// The user's schema, else the inferred one, as decided when the report
    /// was paid for (`reports.json_schema`).
    pub schema: Option<Arc<Value>>,
    /// What the owner asked of the endpoints that read the documents.
    pub privacy: Privacy,
    /// The size every page is sent at, as the report promised when it was
    /// paid for; none in reports paid before it was recorded (they are
    /// sent at today's).
    pub send_policy: Option<SendPolicy>,
    /// How many times each call is made (`config_data.repeats`, 1 to 3).
    pub repeats: usize,
}

#[derive(Deserialize)]
struct Stored {
    selected_models: Vec<String>,
    #[serde(default)]
    model_prices: HashMap<String, Value>,
    upload_data: Upload,
    /// Absent in reports paid before it was recorded.
    #[serde(default)]
    how_sent: HowSent,
    #[serde(default)]
    config_data: ConfigData,
}

/// What the buyer set on the draft that the engine reads.
#[derive(Deserialize, Default)]
struct ConfigData {
    /// Absent means once; the database held it to 1 to 3 when it was paid.
    #[serde(default)]
    repeats: Option<u32>,
}

#[derive(Deserialize, Default)]
struct HowSent {
    #[serde(default)]
    zero_retention: bool,
    max_side_px: Option<u32>,
    max_image_bytes: Option<usize>,
}

impl HowSent {
    fn privacy(&self) -> Privacy {
        if self.zero_retention {
            Privacy::ZeroRetention
        } else {
            Privacy::NoDataCollection
        }
    }

    fn send_policy(&self) -> Option<SendPolicy> {
        Some(SendPolicy {
            max_side_px: self.max_side_px?,
            max_bytes: self.max_image_bytes?,
        })
    }
}

#[derive(Deserialize)]
struct Upload {
    images: Vec<StoredImage>,
}

/// A document as the draft stored it: its own image, or its `pages` (the
/// first of which is its own image) when it has several.
#[derive(Deserialize)]
struct StoredImage {
    path: String,
    expected: Value,
    #[serde(default)]
    pages: Option<Vec<StoredPage>>,
}

#[derive(Deserialize)]
struct StoredPage {
    path: String,
}

impl Snapshot {
    /// The report's snapshot (`reports.config_snapshot`), prompt and schema,
    /// or why it cannot be run at all, in words for the person who paid
    /// (it then fails at once, before any call, and is refunded).
    pub fn parse(
        stored: Value,
        prompt: String,
        schema: Option<Value>,
        limits: &JsonLimits,
    ) -> Result<Self, String> {
        let unreadable =
            "The benchmark's settings could not be read, so nothing was run. You will be refunded.";
        let stored: Stored = serde_json::from_value(stored).map_err(|e| {
            tracing::error!(error = %e, "unreadable report snapshot");
            unreadable.to_owned()
        })?;
        // The database held it to 1 to draft_limits().max_repeats when the
        // draft was paid for, and reserves no repeat beyond it.
        let repeats = match stored.config_data.repeats {
            None => 1,
            Some(0) => {
                tracing::error!("a report snapshot asks each call 0 times");
                return Err(unreadable.to_owned());
            }
            Some(n) => n as usize,
        };
        let documents = stored
            .upload_data
            .images
            .into_iter()
            .enumerate()
            .map(|(i, image)| match limits.check_shape(&image.expected) {
                Ok(()) => Ok(Document {
                    pages: match image.pages {
                        Some(pages) if !pages.is_empty() => {
                            pages.into_iter().map(|p| p.path).collect()
                        }
                        _ => vec![image.path],
                    },
                    expected: Arc::new(image.expected),
                }),
                Err(why) => Err(format!(
                    "The expected JSON of image {} is too large to score ({why}), so nothing was run. You will be refunded.",
                    i + 1
                )),
            })
            .collect::<Result<_, _>>()?;
        let models = stored
            .selected_models
            .into_iter()
            .map(|id| {
                let stored = stored.model_prices.get(&id);
                Model {
                    display_name: stored
                        .and_then(|p| p.get("display_name"))
                        .and_then(Value::as_str)
                        .unwrap_or(&id)
                        .to_owned(),
                    price: stored.and_then(|p| serde_json::from_value(p.clone()).ok()),
                    id,
                }
            })
            .collect();
        Ok(Self {
            documents,
            models,
            prompt,
            schema: schema.map(Arc::new),
            privacy: stored.how_sent.privacy(),
            send_policy: stored.how_sent.send_policy(),
            repeats,
        })
    }

    /// The expected JSON its owner corrected since (document key to JSON,
    /// as `rescore_report` kept it), in place of what was paid for; a
    /// correction beyond the scorer's bounds is refused with why.
    pub fn correct(
        &mut self,
        corrections: &Map<String, Value>,
        limits: &JsonLimits,
    ) -> Result<(), String> {
        for document in &mut self.documents {
            if let Some(corrected) = corrections.get(&document.key()) {
                limits
                    .check_shape(corrected)
                    .map_err(|why| why.to_string())?;
                document.expected = Arc::new(corrected.clone());
            }
        }
        Ok(())
    }

    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::limits::tests::limits;
    use serde_json::json;

    #[test]
    fn a_snapshot_is_read_once_into_documents_and_priced_models() {
        let snapshot = Snapshot::parse(
            json!({
                "selected_models": ["a/one", "b/two"],
                "model_prices": {"a/one": {"display_name": "One", "prompt_usd_per_mtok": 0.15,
                                           "completion_usd_per_mtok": 0.6}},
                "upload_data": {"images": [{"path": "u/d/1.png", "name": "1.png", "expected": {"total": 1}}]},
                "config_data": {"name": "Invoices"}
            }),
            "Read it.".into(),
            Some(json!({"type": "object"})),
            &limits().json,
        )
        .unwrap();
        assert_eq!(snapshot.documents[0].pages, ["u/d/1.png"]);
        assert_eq!(snapshot.send_policy, None, "paid before it was recorded");
        assert_eq!(*snapshot.documents[0].expected, json!({"total": 1}));
        let one = snapshot.model("a/one").unwrap();
        assert_eq!(one.display_name, "One");
        assert_eq!(
            one.price.as_ref().unwrap().prompt_usd_per_mtok,
            "0.15".parse().unwrap()
        );
        let two = snapshot.model("b/two").unwrap();
        assert_eq!(
            (two.display_name.as_str(), two.price.is_none()),
            ("b/two", true)
        );

        let promised = Snapshot::parse(
            json!({"selected_models": [], "upload_data": {"images": []},
                   "how_sent": {"max_side_px": 1600, "max_image_bytes": 3145728,
                                "data_collection": "deny", "zero_retention": true}}),
            String::new(),
            None,
            &limits().json,
        )
        .unwrap();
        assert_eq!(
            promised.send_policy,
            Some(SendPolicy {
                max_side_px: 1600,
                max_bytes: 3 << 20
            }),
            "pages are sent at the size the report promised, whatever today's limits"
        );
        assert_eq!(promised.privacy, Privacy::ZeroRetention);

        let too_deep = (0..20).fold(json!(1), |v, _| json!({ "a": v }));
        let refused = Snapshot::parse(
            json!({"selected_models": [], "upload_data": {"images": [{"path": "p", "expected": too_deep}]}}),
            String::new(),
            None,
            &limits().json,
        )
        .unwrap_err();
        assert_eq!(refused, "The expected JSON of image 1 is too large to score (it nests more than 16 levels deep), so nothing was run. You will be refunded.");
    }

    #[test]
    fn a_report_asks_each_call_as_many_times_as_its_draft_said() {
        let parse = |config: Value| {
            Snapshot::parse(
                json!({"selected_models": [], "upload_data": {"images": []}, "config_data": config}),
                String::new(),
                None,
                &limits().json,
            )
            .map(|s| s.repeats)
        };
        assert_eq!(parse(json!({})), Ok(1), "once when it said nothing");
        assert_eq!(parse(json!({"repeats": null})), Ok(1));
        assert_eq!(parse(json!({"repeats": 3})), Ok(3));
        assert!(parse(json!({"repeats": 0})).is_err(), "never zero times");
    }
}
