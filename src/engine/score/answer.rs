//! The JSON object in a model's answer. The answer itself; or exactly one
//! object in a fenced code block; or one object after a short preface
//! ("Here is the JSON:") with nothing but a few words after it. The last
//! two are noted ("answer had extra text"). Anything else is not an
//! answer that can be scored.

use serde_json::Value;

use super::super::limits::{JsonLimits, TooLarge};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutputError {
    #[error("the model's answer was empty")]
    Empty,
    #[error("the model's answer is not JSON: {0}")]
    NotJson(String),
    #[error("the model's answer is JSON but not an object")]
    NotAnObject,
    #[error("the model's answer holds more than one JSON object")]
    SeveralObjects,
    #[error("the model's answer is too large to score: {0}")]
    TooLarge(#[from] TooLarge),
}

/// Text before the object that still counts as a short preface.
const MAX_PREFACE_CHARS: usize = 300;
/// Text after it that still counts as a few words.
const MAX_AFTERWORD_CHARS: usize = 100;

pub const EXTRA_TEXT: &str = "answer had extra text";

/// The answer's JSON object, and whether it came with extra text.
pub fn extract(text: &str, limits: &JsonLimits) -> Result<(Value, bool), OutputError> {
    limits.check_bytes(text)?;
    let body = text.trim();
    if body.is_empty() {
        return Err(OutputError::Empty);
    }
    let whole = match serde_json::from_str::<Value>(body) {
        Ok(value) => return object(value, limits).map(|v| (v, false)),
        Err(e) => e,
    };
    if let Some(found) = fenced(body, limits)? {
        return Ok(found);
    }
    if let Some(found) = prefaced(body, limits)? {
        return Ok((found, true));
    }
    Err(OutputError::NotJson(whole.to_string()))
}

fn object(value: Value, limits: &JsonLimits) -> Result<Value, OutputError> {
    if !value.is_object() {
        return Err(OutputError::NotAnObject);
    }
    limits.check_shape(&value)?;
    Ok(value)
}

/// The object of the one fenced code block, if there is exactly one and
/// it holds an object; whether there was text outside it.
fn fenced(body: &str, limits: &JsonLimits) -> Result<Option<(Value, bool)>, OutputError> {
    let pieces: Vec<&str> = body.split("```").collect();
    // Text, block, text, block, text...: an odd count of pieces.
    if pieces.len() < 3 || pieces.len() % 2 == 0 {
        return Ok(None);
    }
    let blocks: Vec<&str> = pieces.iter().skip(1).step_by(2).copied().collect();
    if blocks.len() != 1 {
        return Ok(None);
    }
    let block = blocks[0];
    let content = block
        .strip_prefix("json")
        .or_else(|| block.strip_prefix("JSON"))
        .unwrap_or(block);
    match serde_json::from_str::<Value>(content.trim()) {
        Ok(value) => {
            let outside = pieces[0].trim().len() + pieces[2].trim().len();
            Ok(Some((object(value, limits)?, outside > 0)))
        }
        Err(_) => Ok(None),
    }
}

/// The object after a short preface, if the rest is a few words with no
/// other object.
fn prefaced(body: &str, limits: &JsonLimits) -> Result<Option<Value>, OutputError> {
    let Some(start) = body.find('{') else {
        return Ok(None);
    };
    if body[..start].chars().count() > MAX_PREFACE_CHARS {
        return Ok(None);
    }
    let mut values = serde_json::Deserializer::from_str(&body[start..]).into_iter::<Value>();
    let Some(Ok(value)) = values.next() else {
        return Ok(None);
    };
    let after = body[start + values.byte_offset()..].trim();
    if after.contains('{') {
        return Err(OutputError::SeveralObjects);
    }
    if after.trim_matches('`').chars().count() > MAX_AFTERWORD_CHARS {
        return Ok(None);
    }
    object(value, limits).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const L: JsonLimits = JsonLimits {
        max_bytes: 65536,
        max_depth: 16,
        max_array_items: 200,
        max_fields: 2000,
    };

    #[test]
    fn an_answer_with_a_wrapper_is_read_and_noted() {
        let ok = json!({"a": 1});
        assert_eq!(extract("{\"a\": 1}", &L), Ok((ok.clone(), false)));
        assert_eq!(
            extract("  ```json\n{\"a\": 1}\n```  ", &L),
            Ok((ok.clone(), false))
        );
        assert_eq!(extract("```\n{\"a\": 1}\n```", &L), Ok((ok.clone(), false)));
        assert_eq!(
            extract(
                "Here is the data you asked for.\n```json\n{\"a\": 1}\n```\nHope it helps!",
                &L
            ),
            Ok((ok.clone(), true))
        );
        assert_eq!(
            extract("Here is the JSON: {\"a\": 1}", &L),
            Ok((ok.clone(), true))
        );
        assert_eq!(extract("```json\n{\"a\": 1}", &L), Ok((ok, true)));
    }

    #[test]
    fn anything_else_is_not_an_answer() {
        assert_eq!(extract("", &L), Err(OutputError::Empty));
        assert!(matches!(
            extract("The total is 5.", &L),
            Err(OutputError::NotJson(_))
        ));
        assert!(matches!(
            extract("{\"a\": 1", &L),
            Err(OutputError::NotJson(_))
        ));
        assert_eq!(extract("[1, 2]", &L), Err(OutputError::NotAnObject));
        assert_eq!(
            extract("First {\"a\": 1} and then {\"a\": 2}", &L),
            Err(OutputError::SeveralObjects)
        );
        assert!(matches!(
            extract(&format!("{} {{\"a\": 1}}", "word ".repeat(100)), &L),
            Err(OutputError::NotJson(_))
        ));
        assert_eq!(
            extract("```json\n{\"a\": 1}\n```\n```json\n{\"a\": 2}\n```", &L),
            Err(OutputError::SeveralObjects)
        );
    }
}
