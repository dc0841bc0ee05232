//! The images a report runs on, downloaded from Storage with the
//! service-role key (which reads any user's folder; the draft's checks made
//! sure every path is in its owner's).

use std::sync::Arc;

/// An image's bytes and MIME type, or why it could not be read (recorded
/// on every call that needed it).
pub type Image = Arc<Result<(Vec<u8>, &'static str), String>>;

/// Where images come from.
pub struct ImageSource {
    pub http: reqwest::Client,
    /// `<SUPABASE_URL>/storage/v1`
    pub storage_url: String,
    pub service_role_key: String,
}

fn mime_of(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        [b'G', b'I', b'F', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "image/png",
    }
}

impl ImageSource {
    fn url(&self, path: &str) -> String {
        let encoded: Vec<String> = path
            .split('/')
            .map(|segment| {
                percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
                    .to_string()
            })
            .collect();
        format!(
            "{}/object/benchmark-images/{}",
            self.storage_url,
            encoded.join("/")
        )
    }

    /// The image at `path` in the `benchmark-images` bucket.
    pub async fn download(&self, path: &str) -> Image {
        Arc::new(self.fetch(path).await)
    }

    async fn fetch(&self, path: &str) -> Result<(Vec<u8>, &'static str), String> {
        let response = self
            .http
            .get(self.url(path))
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
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("the image {path} was cut off: {}", e.without_url()))?
            .to_vec();
        let mime = mime_of(&bytes);
        Ok((bytes, mime))
    }
}
