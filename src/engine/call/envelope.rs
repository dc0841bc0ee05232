//! The request body of a vision call, built without copying the image: the
//! JSON around it is serialised once per model (`Envelope`), and each
//! attempt sends that, the image's shared encoding and the rest as one body
//! of known length (`CallBody`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use serde_json::{json, Value};

use crate::engine::images::EncodedImage;

const JSON_ONLY: &str = "Answer with one JSON object and nothing else: no prose, no code fence.";
/// What a call asks of the endpoints that may serve it (OpenRouter's
/// provider preferences; docs/reference/openrouter-privacy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Every call: only endpoints that neither store nor train on what
    /// they receive (`data_collection: "deny"`).
    NoDataCollection,
    /// The owner asked for more: only endpoints that keep nothing at all
    /// (`zdr: true`, as well).
    ZeroRetention,
}

impl Privacy {
    fn provider_preferences(self) -> Value {
        match self {
            Self::NoDataCollection => json!({"data_collection": "deny"}),
            Self::ZeroRetention => json!({"data_collection": "deny", "zdr": true}),
        }
    }
}
/// Stand for the first two images in the serialised envelope; never in
/// real input (JSON escapes control characters).
const IMAGE_MARK: &str = "\u{1}image\u{1}";
const NEXT_IMAGE_MARK: &str = "\u{1}next image\u{1}";

/// A model's request without its images, serialised: the bytes before the
/// first page's data URL, between two pages' and after the last.
#[derive(Debug, Clone)]
pub struct Envelope {
    before: Bytes,
    between: Bytes,
    after: Bytes,
}

impl Envelope {
    /// The request for `model`: `prompt` and the image, an answer of at
    /// most `max_tokens`, held to `json_schema` when the model takes one,
    /// served only by endpoints that meet `privacy`.
    pub fn new(
        model: &str,
        prompt: &str,
        json_schema: Option<&Value>,
        supports_json_schema: bool,
        max_tokens: u32,
        privacy: Privacy,
    ) -> Self {
        let mut body = json!({
            "model": model,
            "max_tokens": max_tokens,
            "temperature": 0,
            "provider": privacy.provider_preferences(),
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": format!("{prompt}\n\n{JSON_ONLY}")},
                    {"type": "image_url", "image_url": {"url": IMAGE_MARK}},
                    {"type": "image_url", "image_url": {"url": NEXT_IMAGE_MARK}},
                ],
            }],
        });
        body["response_format"] = match (json_schema, supports_json_schema) {
            (Some(schema), true) => json!({
                "type": "json_schema",
                "json_schema": {"name": "extraction", "strict": true, "schema": schema},
            }),
            _ => json!({"type": "json_object"}),
        };
        let text = body.to_string();
        let mark = |m: &str| serde_json::to_string(m).expect("a string serialises");
        let (before, rest) = text
            .split_once(&mark(IMAGE_MARK))
            .expect("the mark appears once in the envelope");
        let (between, after) = rest
            .split_once(&mark(NEXT_IMAGE_MARK))
            .expect("the second mark appears once in the envelope");
        Self {
            before: Bytes::copy_from_slice(before.as_bytes()),
            between: Bytes::copy_from_slice(between.as_bytes()),
            after: Bytes::copy_from_slice(after.as_bytes()),
        }
    }

    /// The whole request body with a document's `pages` in their places,
    /// in order, in one message, sharing the pages' bytes (a small body
    /// is copied into one piece instead: one write, and the copy costs
    /// less than the parts).
    pub fn body(&self, pages: &[Arc<EncodedImage>]) -> CallBody {
        let mut parts = Vec::with_capacity(2 * pages.len() + 1);
        parts.push(self.before.clone());
        for (i, page) in pages.iter().enumerate() {
            if i > 0 {
                parts.push(self.between.clone());
            }
            parts.push(page.url_json.clone());
        }
        parts.push(self.after.clone());
        let images: usize = pages.iter().map(|p| p.url_json.len()).sum();
        if images > SMALL_BODY {
            return CallBody {
                parts: VecDeque::from(parts),
            };
        }
        let mut whole = Vec::with_capacity(parts.iter().map(Bytes::len).sum());
        for part in &parts {
            whole.extend_from_slice(part);
        }
        CallBody {
            parts: VecDeque::from([Bytes::from(whole)]),
        }
    }
}

/// Images up to this size travel in a body of one piece.
const SMALL_BODY: usize = 64 * 1024;

/// A request body sent in parts, of known length.
pub struct CallBody {
    parts: VecDeque<Bytes>,
}

impl CallBody {
    pub fn len(&self) -> u64 {
        self.parts.iter().map(|p| p.len() as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body in one piece.
    #[cfg(test)]
    pub fn to_vec(&self) -> Vec<u8> {
        self.parts.iter().flat_map(|p| p.iter().copied()).collect()
    }
}

impl http_body::Body for CallBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.parts.pop_front().map(|p| Ok(Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(data: &'static str) -> Arc<EncodedImage> {
        let url_json = format!("\"data:image/png;base64,{data}\"");
        Arc::new(EncodedImage {
            url_json: Bytes::from(url_json),
            pixels: 1,
            width: 1,
            height: 1,
            bytes: 3,
            media_type: "image/png",
        })
    }

    #[test]
    fn the_body_is_the_envelope_around_the_shared_image() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let envelope = Envelope::new(
            "m/1",
            "Read it.",
            Some(&schema),
            true,
            1024,
            Privacy::NoDataCollection,
        );
        let image = [page("AAAA")];
        let body = envelope.body(&image);
        let sent: Value = serde_json::from_slice(&body.to_vec()).unwrap();
        assert_eq!(body.len() as usize, body.to_vec().len());
        assert_eq!(sent["model"], "m/1");
        assert_eq!(sent["max_tokens"], 1024);
        assert_eq!(
            sent["messages"][0]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(sent["messages"][0]["content"].as_array().unwrap().len(), 2);
        assert_eq!(sent["response_format"]["json_schema"]["schema"], schema);
        assert_eq!(sent["provider"], json!({"data_collection": "deny"}));
        let without = Envelope::new(
            "m/2",
            "Read it.",
            Some(&schema),
            false,
            1024,
            Privacy::ZeroRetention,
        );
        let sent: Value = serde_json::from_slice(&without.body(&image).to_vec()).unwrap();
        assert_eq!(sent["response_format"], json!({"type": "json_object"}));
        assert_eq!(
            sent["provider"],
            json!({"data_collection": "deny", "zdr": true})
        );
    }

    #[test]
    fn a_document_of_several_pages_is_one_message_with_its_pages_in_order() {
        let envelope = Envelope::new(
            "m/1",
            "Read it.",
            None,
            false,
            64,
            Privacy::NoDataCollection,
        );
        let pages = [page("AAAA"), page("BBBB"), page("CCCC")];
        let body = envelope.body(&pages);
        let sent: Value = serde_json::from_slice(&body.to_vec()).unwrap();
        assert_eq!(body.len() as usize, body.to_vec().len());
        let content = sent["messages"][0]["content"].as_array().unwrap();
        assert_eq!(sent["messages"].as_array().unwrap().len(), 1);
        assert_eq!(content[0]["type"], "text");
        let urls: Vec<&str> = content[1..]
            .iter()
            .map(|part| part["image_url"]["url"].as_str().unwrap())
            .collect();
        assert_eq!(
            urls,
            [
                "data:image/png;base64,AAAA",
                "data:image/png;base64,BBBB",
                "data:image/png;base64,CCCC"
            ]
        );
    }
}
