//! The pages a report runs on, downloaded from Storage with the
//! service-role key (which reads any user's folder; the draft's checks made
//! sure every path is in its owner's), prepared and encoded once per
//! report.
//!
//! Each page is downloaded at most the size Storage takes
//! (`max_image_bytes` of the database's limits; read as it arrives, so a
//! larger one is refused without being held), prepared for every provider
//! (`prepare`: upright, at most `send_max_side_px` on its long edge and
//! `send_max_image_bytes` encoded), and encoded once into the JSON string
//! every call sends. The raw bytes are dropped at once; the encoding is
//! shared by all the report's calls and dropped with the report.
//!
//! Pages are prepared ahead of the calls, in the order the calls need
//! them ([`PagesAhead`]): the first call waits for its own page only.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{watch, Semaphore};

use crate::storage;

mod prepare;

use prepare::{inspect, re_encode, Prepared, Upload};
pub use prepare::{media_type_of, SendPolicy};

/// A page ready to send: its data URL as a JSON string literal (quotes
/// included; base64 needs no escaping), and what it is.
#[derive(Debug)]
pub struct EncodedImage {
    pub url_json: Bytes,
    pub pixels: u64,
    pub width: u32,
    pub height: u32,
    /// Bytes of the image itself (before base64).
    pub bytes: usize,
    pub media_type: &'static str,
}

/// A page, or why it could not be used.
type Page = Arc<Result<Arc<EncodedImage>, String>>;

/// A document's pages ready to send, in order, or why one of them could
/// not be used (recorded on every call that needed it; such a call is
/// never sent).
pub type Image = Arc<Result<Vec<Arc<EncodedImage>>, String>>;

/// The pixels of a document as sent, all its pages together (0 for one
/// that cannot be sent).
pub fn pixels(document: &Image) -> u64 {
    document
        .as_ref()
        .as_ref()
        .map_or(0, |pages| pages.iter().map(|p| p.pixels).sum())
}

/// Where pages come from.
pub struct ImageSource {
    pub http: reqwest::Client,
    /// `<SUPABASE_URL>/storage/v1`
    pub storage_url: String,
    pub service_role_key: String,
}

/// Pages decoded at once across the engine: a decoded page can take
/// hundreds of megabytes, and the calls need the other core.
static DECODING: Semaphore = Semaphore::const_new(1);
/// Pages downloaded at once while a report starts.
const DOWNLOADS_AT_ONCE: usize = 4;

/// A prepared page encoded for sending.
fn encode(prepared: Prepared) -> EncodedImage {
    let Prepared {
        bytes,
        media_type,
        width,
        height,
        ..
    } = prepared;
    let mut url = String::with_capacity(bytes.len().div_ceil(3) * 4 + media_type.len() + 16);
    url.push_str("\"data:");
    url.push_str(media_type);
    url.push_str(";base64,");
    base64::engine::general_purpose::STANDARD.encode_string(&bytes, &mut url);
    url.push('"');
    EncodedImage {
        url_json: Bytes::from(url),
        pixels: u64::from(width) * u64::from(height),
        width,
        height,
        bytes: bytes.len(),
        media_type,
    }
}

/// The page at `path` as it will be sent: as uploaded when it meets the
/// policy, otherwise decoded and re-encoded off the async threads, one
/// page at a time across the engine.
pub async fn prepare_page(
    path: &str,
    bytes: Vec<u8>,
    policy: SendPolicy,
) -> Result<EncodedImage, String> {
    let (bytes, media_type) = match inspect(path, bytes, policy)? {
        Upload::Ready(prepared) => return Ok(encode(prepared)),
        Upload::NeedsWork(bytes, media_type) => (bytes, media_type),
    };
    let _decoding = DECODING
        .acquire()
        .await
        .map_err(|_| "the engine is stopping".to_owned())?;
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || re_encode(&owned, bytes, media_type, policy))
        .await
        .map_err(|_| format!("preparing the image {path} stopped"))?
        .map(encode)
}

/// A report's pages, prepared in the background in the order its calls
/// need them; asking for a document waits for its pages only. Dropping it
/// stops the work.
pub struct PagesAhead {
    /// Each document's pages, in order.
    documents: HashMap<usize, Vec<watch::Receiver<Option<Page>>>>,
    work: tokio::task::JoinHandle<()>,
}

impl Drop for PagesAhead {
    fn drop(&mut self) {
        self.work.abort();
    }
}

impl PagesAhead {
    /// Starts preparing `wanted` (each document's index and its pages'
    /// storage paths, in the order they are needed).
    pub fn start(
        source: Arc<ImageSource>,
        wanted: Vec<(usize, Vec<String>)>,
        max_bytes: usize,
        policy: SendPolicy,
    ) -> Self {
        let mut documents = HashMap::new();
        let mut senders = Vec::new();
        for (index, paths) in wanted {
            let mut pages = Vec::with_capacity(paths.len());
            for path in paths {
                let (tx, rx) = watch::channel(None);
                pages.push(rx);
                senders.push((path, tx));
            }
            documents.insert(index, pages);
        }
        // Downloads run a few ahead; pages are prepared one by one in the
        // order the calls need them, so the first call waits for its own
        // page only, never behind pages downloaded sooner.
        let work = tokio::spawn(async move {
            let source = &source;
            futures_util::stream::iter(senders)
                .map(|(path, tx)| async move {
                    let fetched = source.fetch(&path, max_bytes).await;
                    (path, fetched, tx)
                })
                .buffered(DOWNLOADS_AT_ONCE)
                .for_each(|(path, fetched, tx)| async move {
                    let page = match fetched {
                        Ok(bytes) => prepared(&path, bytes, policy).await,
                        Err(why) => Arc::new(Err(why)),
                    };
                    let _ = tx.send(Some(page));
                })
                .await;
        });
        Self { documents, work }
    }

    /// The document at `index` if all its pages are prepared already.
    pub fn ready(&self, index: usize) -> Option<Image> {
        let pages = self.documents.get(&index)?;
        let mut ready = Vec::with_capacity(pages.len());
        for page in pages {
            match page.borrow().as_deref()? {
                Ok(page) => ready.push(page.clone()),
                Err(why) => return Some(Arc::new(Err(why.clone()))),
            }
        }
        Some(Arc::new(Ok(ready)))
    }

    /// The document at `index`, once all its pages are prepared.
    pub async fn get(&self, index: usize) -> Image {
        let Some(pages) = self.documents.get(&index) else {
            return Arc::new(Err(format!("document {index} was not asked for")));
        };
        let mut ready = Vec::with_capacity(pages.len());
        for page in pages {
            let mut page = page.clone();
            let prepared = match page.wait_for(Option::is_some).await {
                Ok(prepared) => prepared.clone(),
                Err(_) => None,
            };
            match prepared.as_deref() {
                Some(Ok(page)) => ready.push(page.clone()),
                Some(Err(why)) => return Arc::new(Err(why.clone())),
                None => {
                    return Arc::new(Err(
                        "the page was not prepared: the engine is stopping".into()
                    ))
                }
            }
        }
        Arc::new(Ok(ready))
    }
}

/// A downloaded page, prepared and encoded (its size as sent logged).
async fn prepared(path: &str, bytes: Vec<u8>, policy: SendPolicy) -> Page {
    let page = prepare_page(path, bytes, policy).await;
    if let Ok(sent) = &page {
        tracing::debug!(
            image.path = path,
            image.width = sent.width,
            image.height = sent.height,
            image.bytes = sent.bytes,
            image.media_type = sent.media_type,
            "page prepared"
        );
    }
    Arc::new(page.map(Arc::new))
}

impl ImageSource {
    /// The bytes of the page at `path` in the `benchmark-images` bucket;
    /// one of more than `max_bytes` is refused.
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

    #[tokio::test]
    async fn a_page_is_encoded_once_as_a_data_url_and_measured() {
        let page = image::DynamicImage::new_rgb8(100, 141);
        let mut png = std::io::Cursor::new(Vec::new());
        page.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let png = png.into_inner();
        let policy = SendPolicy {
            max_side_px: 2000,
            max_bytes: 4 << 20,
        };
        let sent = prepare_page("a/scan.png", png.clone(), policy)
            .await
            .unwrap();
        assert_eq!((sent.width, sent.height, sent.pixels), (100, 141, 14_100));
        assert_eq!((sent.bytes, sent.media_type), (png.len(), "image/png"));
        assert!(sent
            .url_json
            .starts_with(b"\"data:image/png;base64,iVBORw0KGgo"));
        assert!(sent.url_json.ends_with(b"\""));
        assert_eq!(
            prepare_page("a/notes.png", b"%PDF-1.7 not an image".to_vec(), policy)
                .await
                .unwrap_err(),
            "the file a/notes.png is not a PNG, JPEG, WebP or GIF image"
        );
    }

    #[tokio::test]
    async fn the_stand_ins_test_pages_are_real_pngs_sent_as_uploaded() {
        let policy = SendPolicy {
            max_side_px: 2000,
            max_bytes: 4 << 20,
        };
        let png = devstack::png::png(1240, 1754, "test page", 200_000);
        let sent = prepare_page("a/test.png", png.clone(), policy)
            .await
            .unwrap();
        assert_eq!(
            (sent.width, sent.height, sent.bytes),
            (1240, 1754, png.len())
        );
        let a4 = devstack::png::png(2480, 3508, "A4 at 300 dpi", 0);
        let sent = prepare_page("a/a4.png", a4, policy).await.unwrap();
        assert_eq!((sent.width, sent.height), (1414, 2000));
    }
}
