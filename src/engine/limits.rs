//! The size of JSON the scorer takes: the limits a draft's expected JSON
//! is held to when it is saved (`public.draft_limits()`, migration 015; a
//! test checks that both say the same), applied again to every model answer
//! before it is scored. A value past them is not scored field by field: it
//! scores zero, with the reason, and never costs more than reading it.

use serde_json::Value;

/// Bytes of expected JSON per image, and of a model's answer.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// How deep containers nest: a scalar is 0, `{"a": 1}` is 1.
pub const MAX_DEPTH: usize = 16;
/// Items of any one array.
pub const MAX_ARRAY_ITEMS: usize = 200;
/// Fields: scalars and empty containers.
pub const MAX_FIELDS: usize = 2000;
/// The answer every call allows (`max_tokens`), which its worst case counts.
pub const MAX_ANSWER_TOKENS: u32 = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    #[error("it is {0} bytes; the limit is {MAX_JSON_BYTES}")]
    Bytes(usize),
    #[error("it nests more than {MAX_DEPTH} levels deep")]
    Depth,
    #[error("a list in it has {0} items; the limit is {MAX_ARRAY_ITEMS}")]
    ArrayItems(usize),
    #[error("it has more than {MAX_FIELDS} fields")]
    Fields,
}

/// Whether `text` is short enough to parse at all.
pub fn check_bytes(text: &str) -> Result<(), TooLarge> {
    if text.len() > MAX_JSON_BYTES {
        Err(TooLarge::Bytes(text.len()))
    } else {
        Ok(())
    }
}

/// Whether a parsed value is within the shape limits. Stops at the first
/// excess, so its cost is bounded by the limits, not by the value.
pub fn check_shape(value: &Value) -> Result<(), TooLarge> {
    let mut fields = 0;
    walk(value, 0, &mut fields)
}

fn walk(value: &Value, depth: usize, fields: &mut usize) -> Result<(), TooLarge> {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(items) if !items.is_empty() => {
            if items.len() > MAX_ARRAY_ITEMS {
                return Err(TooLarge::ArrayItems(items.len()));
            }
            Box::new(items.iter())
        }
        Value::Object(map) if !map.is_empty() => Box::new(map.values()),
        _ => {
            *fields += 1;
            return if *fields > MAX_FIELDS {
                Err(TooLarge::Fields)
            } else {
                Ok(())
            };
        }
    };
    if depth + 1 > MAX_DEPTH {
        return Err(TooLarge::Depth);
    }
    for child in children {
        walk(child, depth + 1, fields)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..levels {
            v = json!({ "a": v });
        }
        v
    }

    #[test]
    fn the_limits_hold_at_their_edges() {
        assert_eq!(check_shape(&nested(16)), Ok(()));
        assert_eq!(check_shape(&nested(17)), Err(TooLarge::Depth));
        assert_eq!(check_shape(&json!({"items": vec![1; 200]})), Ok(()));
        assert_eq!(
            check_shape(&json!({"items": vec![1; 5000]})),
            Err(TooLarge::ArrayItems(5000))
        );
        let rows: Vec<Value> = (0..20).map(|_| json!(vec![0; 100])).collect();
        assert_eq!(check_shape(&json!({ "rows": rows })), Ok(()));
        let rows: Vec<Value> = (0..20).map(|_| json!(vec![0; 101])).collect();
        assert_eq!(check_shape(&json!({ "rows": rows })), Err(TooLarge::Fields));
        assert_eq!(check_shape(&json!({"a": {}, "b": []})), Ok(()));
        assert_eq!(check_bytes(&"x".repeat(MAX_JSON_BYTES)), Ok(()));
        assert_eq!(
            check_bytes(&"x".repeat(MAX_JSON_BYTES + 1)),
            Err(TooLarge::Bytes(MAX_JSON_BYTES + 1))
        );
    }
}
