//! The product's limits, as the database states them (`public.draft_limits()`,
//! which refuses any draft past them): read by the engine when it starts,
//! never written down here. The engine holds model answers to the same JSON
//! limits a draft's expected JSON is held to before it scores them, caps
//! image downloads at the size Storage takes, asks for answers of at most
//! `max_answer_tokens` (which every call's worst case counts), and stops
//! starting calls at the soft ceiling.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::images::SendPolicy;
use crate::money;

/// How large a JSON value may be, to be scored field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct JsonLimits {
    /// Bytes of expected JSON per image, and of a model's answer.
    #[serde(rename = "max_expected_bytes")]
    pub max_bytes: usize,
    /// How deep containers nest: a scalar is 0, `{"a": 1}` is 1.
    pub max_depth: usize,
    /// Items of any one array.
    pub max_array_items: usize,
    /// Fields: scalars and empty containers.
    pub max_fields: usize,
}

/// Everything `draft_limits()` says that the engine needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductLimits {
    #[serde(flatten)]
    pub json: JsonLimits,
    pub max_image_bytes: usize,
    /// The largest page a provider is sent: its long edge in pixels.
    pub send_max_side_px: u32,
    /// ... and its bytes, encoded.
    pub send_max_image_bytes: usize,
    /// The longest answer a call asks for (`max_tokens`).
    pub max_answer_tokens: u32,
    /// No call starts that could take a report past this.
    #[serde(deserialize_with = "money::exact")]
    pub soft_ceiling_usd: Decimal,
    /// What a report may never cost (the database refuses any reservation
    /// past it, whatever the engine asks).
    #[serde(deserialize_with = "money::exact")]
    pub hard_ceiling_usd: Decimal,
}

impl ProductLimits {
    /// What every page sent to a provider must be.
    pub fn send_policy(&self) -> SendPolicy {
        SendPolicy {
            max_side_px: self.send_max_side_px,
            max_bytes: self.send_max_image_bytes,
        }
    }

    /// From `draft_limits()`'s answer.
    pub fn from_json(value: Value) -> Result<Self, String> {
        serde_json::from_value(value).map_err(|e| format!("draft_limits() is not as expected: {e}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    #[error("it is {0} bytes; the limit is {1}")]
    Bytes(usize, usize),
    #[error("it nests more than {0} levels deep")]
    Depth(usize),
    #[error("a list in it has {0} items; the limit is {1}")]
    ArrayItems(usize, usize),
    #[error("it has more than {0} fields")]
    Fields(usize),
}

impl JsonLimits {
    /// Whether `text` is short enough to parse at all.
    pub fn check_bytes(&self, text: &str) -> Result<(), TooLarge> {
        if text.len() > self.max_bytes {
            Err(TooLarge::Bytes(text.len(), self.max_bytes))
        } else {
            Ok(())
        }
    }

    /// Whether a parsed value is within the shape limits. Stops at the
    /// first excess, so its cost is bounded by the limits, not by the value.
    pub fn check_shape(&self, value: &Value) -> Result<(), TooLarge> {
        let mut fields = 0;
        self.walk(value, 0, &mut fields)
    }

    fn walk(&self, value: &Value, depth: usize, fields: &mut usize) -> Result<(), TooLarge> {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) if !items.is_empty() => {
                if items.len() > self.max_array_items {
                    return Err(TooLarge::ArrayItems(items.len(), self.max_array_items));
                }
                Box::new(items.iter())
            }
            Value::Object(map) if !map.is_empty() => Box::new(map.values()),
            _ => {
                *fields += 1;
                return if *fields > self.max_fields {
                    Err(TooLarge::Fields(self.max_fields))
                } else {
                    Ok(())
                };
            }
        };
        if depth + 1 > self.max_depth {
            return Err(TooLarge::Depth(self.max_depth));
        }
        for child in children {
            self.walk(child, depth + 1, fields)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Limits for unit tests, in `draft_limits()`'s words (the integration
    /// tests read the database's own).
    pub(crate) fn limits() -> ProductLimits {
        ProductLimits::from_json(json!({
            "max_images": 50, "max_image_bytes": 10485760, "send_max_side_px": 2000, "send_max_image_bytes": 4194304, "max_models": 10,
            "max_expected_bytes": 65536, "max_depth": 16, "max_array_items": 200,
            "max_fields": 2000, "max_prompt_bytes": 8192, "max_schema_bytes": 32768,
            "max_answer_tokens": 1024, "soft_ceiling_usd": 6.50, "hard_ceiling_usd": 7.00
        }))
        .unwrap()
    }

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn the_limits_hold_at_their_edges() {
        let json = limits().json;
        assert_eq!(json.check_shape(&nested(16)), Ok(()));
        assert_eq!(json.check_shape(&nested(17)), Err(TooLarge::Depth(16)));
        assert_eq!(json.check_shape(&json!({"items": vec![1; 200]})), Ok(()));
        assert_eq!(
            json.check_shape(&json!({"items": vec![1; 5000]})),
            Err(TooLarge::ArrayItems(5000, 200))
        );
        let rows: Vec<Value> = (0..20).map(|_| json!(vec![0; 100])).collect();
        assert_eq!(json.check_shape(&json!({ "rows": rows })), Ok(()));
        let rows: Vec<Value> = (0..20).map(|_| json!(vec![0; 101])).collect();
        assert_eq!(
            json.check_shape(&json!({ "rows": rows })),
            Err(TooLarge::Fields(2000))
        );
        assert_eq!(json.check_shape(&json!({"a": {}, "b": []})), Ok(()));
        assert_eq!(json.check_bytes(&"x".repeat(65536)), Ok(()));
        assert_eq!(
            json.check_bytes(&"x".repeat(65537)),
            Err(TooLarge::Bytes(65537, 65536))
        );
        assert_eq!(limits().soft_ceiling_usd, "6.5".parse().unwrap());
    }
}
