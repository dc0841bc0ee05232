//! The images a report runs on, downloaded from Storage with the
//! service-role key (which reads any user's folder; the draft's checks made
//! sure every path is in its owner's).
//!
//! Each image is downloaded once per report, at most the size Storage
//! takes (`max_image_bytes` of the database's limits; read as it arrives,
//! so a larger one is refused without being held),
//! checked to be a PNG, JPEG, WebP or GIF by its own bytes, measured in
//! pixels (the worst case of a call counts them), and encoded once into the
//! JSON string every call sends. The raw bytes are dropped at once; the
//! encoding is shared by all the report's calls and dropped with the report.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;

use crate::storage;

/// An image ready to send: its data URL as a JSON string literal (quotes
/// included; base64 needs no escaping), and its size in pixels.
#[derive(Debug)]
pub struct EncodedImage {
    pub url_json: Bytes,
    pub pixels: u64,
}

/// An image, or why it could not be used (recorded on every call that
/// needed it; such a call is never sent).
pub type Image = Arc<Result<EncodedImage, String>>;

/// Where images come from.
pub struct ImageSource {
    pub http: reqwest::Client,
    /// `<SUPABASE_URL>/storage/v1`
    pub storage_url: String,
    pub service_role_key: String,
}

/// The MIME type an image's first bytes say it has, if it is one we send.
fn mime_of(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// The image encoded for sending, or why it is not an image we can send.
pub fn encode(path: &str, bytes: &[u8]) -> Result<EncodedImage, String> {
    let mime = mime_of(bytes)
        .ok_or_else(|| format!("the file {path} is not a PNG, JPEG, WebP or GIF image"))?;
    let size = imagesize::blob_size(bytes)
        .map_err(|_| format!("the image {path} is damaged: its size cannot be read"))?;
    let encoded_len = bytes.len().div_ceil(3) * 4;
    let mut url = String::with_capacity(encoded_len + mime.len() + 16);
    url.push_str("\"data:");
    url.push_str(mime);
    url.push_str(";base64,");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut url);
    url.push('"');
    Ok(EncodedImage {
        url_json: Bytes::from(url),
        pixels: size.width as u64 * size.height as u64,
    })
}

impl ImageSource {
    /// The image at `path` in the `benchmark-images` bucket, encoded; one
    /// of more than `max_bytes` is refused.
    pub async fn download(&self, path: &str, max_bytes: usize) -> Image {
        Arc::new(
            self.fetch(path, max_bytes)
                .await
                .and_then(|bytes| encode(path, &bytes)),
        )
    }

    async fn fetch(&self, path: &str, max_bytes: usize) -> Result<Vec<u8>, String> {
        let url = storage::object_url(&self.storage_url, storage::BENCHMARK_IMAGES, path)
            .ok_or_else(|| format!("the image path {path:?} is not a storage name we can read"))?;
        let mut response = self
            .http
            .get(url)
            .bearer_auth(&self.service_role_key)
            .header("apikey", &self.service_role_key)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "the image {path} could not be downloaded: {}",
                    e.without_url()
                )
            })?;
        if !response.status().is_success() {
            return Err(format!(
                "the image {path} could not be read from storage (HTTP {})",
                response.status().as_u16()
            ));
        }
        let too_large = || {
            format!(
                "the image {path} is larger than {} MiB",
                max_bytes as f64 / (1024.0 * 1024.0)
            )
        };
        if response
            .content_length()
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut bytes =
            Vec::with_capacity(response.content_length().map_or(64 * 1024, |n| n as usize));
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("the image {path} was cut off: {}", e.without_url()))?
        {
            if bytes.len() + chunk.len() > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG's signature and header chunk: enough to be recognised and
    /// measured.
    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn an_image_is_known_by_its_bytes_and_measured() {
        let image = encode("a/scan.png", &png(1000, 1414)).unwrap();
        assert_eq!(image.pixels, 1_414_000);
        assert!(image
            .url_json
            .starts_with(b"\"data:image/png;base64,iVBORw0KGgo"));
        assert!(image.url_json.ends_with(b"\""));
        assert_eq!(
            encode("a/notes.png", b"%PDF-1.7 not an image").unwrap_err(),
            "the file a/notes.png is not a PNG, JPEG, WebP or GIF image"
        );
        assert_eq!(
            encode("a/cut.png", &png(10, 10)[..12]).unwrap_err(),
            "the image a/cut.png is damaged: its size cannot be read"
        );
    }
}
