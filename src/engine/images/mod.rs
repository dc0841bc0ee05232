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
//! shared by the calls that send the page and dropped after the last.
//!
//! Pages are prepared a few documents ahead of the calls, in the order the
//! calls need them ([`PagesAhead`]): the first call waits for its own page
//! only, and a report holds the documents its calls are sending, not all.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{watch, Semaphore};

use crate::config::SecretString;
use crate::storage;

mod prepare;

use prepare::{inspect, re_encode, Prepared, Upload};
pub use prepare::{media_type_of, SendPolicy, MAX_REQUEST_IMAGE_BYTES};

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
    pub service_role_key: SecretString,
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

/// Where a page stands.
enum PageState {
    /// Not prepared yet.
    Waiting,
    Ready(Page),
    /// Every call that needed it was made: its encoding is let go.
    Released,
}

/// One document's pages, and the calls that still need them.
struct DocumentPages {
    /// Its last page's place in the order of preparation.
    last_page: usize,
    pages: Vec<watch::Sender<PageState>>,
    calls_left: AtomicUsize,
}

/// A report's pages, prepared in the background in the order its calls
/// need them, some pages ahead of the furthest document asked for; asking
/// for a document waits for its pages only. A document's pages are let go
/// once every call that needs them was made, so the engine holds the
/// documents in use, not the report. Dropping it stops the work.
pub struct PagesAhead {
    documents: Arc<HashMap<usize, DocumentPages>>,
    /// The last page of the furthest document asked for (its place).
    asked: Arc<watch::Sender<usize>>,
    work: tokio::task::JoinHandle<()>,
}

impl Drop for PagesAhead {
    fn drop(&mut self) {
        self.work.abort();
    }
}

/// Pages prepared ahead of the furthest document asked for: more than
/// the documents a report's calls send at once (10, and 2 reserved ahead),
/// so a call rarely waits, and few enough that a report of photographs
/// holds tens of megabytes, not its every page.
const PAGES_AHEAD: usize = 16;

impl PagesAhead {
    /// Starts preparing `wanted`: each document's index, its pages'
    /// storage paths and how many calls need it, in the order the calls
    /// take them.
    pub fn start(
        source: Arc<ImageSource>,
        wanted: Vec<(usize, Vec<String>, usize)>,
        max_bytes: usize,
        policy: SendPolicy,
    ) -> Self {
        let mut documents = HashMap::new();
        let mut queue = Vec::new();
        for (index, paths, calls) in wanted {
            let mut pages = Vec::with_capacity(paths.len());
            let policy = policy.for_pages(paths.len());
            for (page, path) in paths.into_iter().enumerate() {
                pages.push(watch::Sender::new(PageState::Waiting));
                queue.push(QueuedPage {
                    document: index,
                    page,
                    place: queue.len(),
                    path,
                    policy,
                });
            }
            let document = DocumentPages {
                last_page: queue.len().saturating_sub(1),
                pages,
                calls_left: AtomicUsize::new(calls),
            };
            documents.insert(index, document);
        }
        let documents = Arc::new(documents);
        let asked = Arc::new(watch::Sender::new(0));
        let work = tokio::spawn(prepare_in_order(
            source,
            queue,
            documents.clone(),
            asked.clone(),
            max_bytes,
        ));
        Self {
            documents,
            asked,
            work,
        }
    }

    /// The document at `index` if all its pages are prepared already.
    pub fn ready(&self, index: usize) -> Option<Image> {
        let pages = &self.documents.get(&index)?.pages;
        let mut ready = Vec::with_capacity(pages.len());
        for page in pages {
            match &*page.borrow() {
                PageState::Ready(page) => match &**page {
                    Ok(page) => ready.push(page.clone()),
                    Err(why) => return Some(Arc::new(Err(why.clone()))),
                },
                PageState::Waiting | PageState::Released => return None,
            }
        }
        Some(Arc::new(Ok(ready)))
    }

    /// The document at `index`, once all its pages are prepared.
    pub async fn get(&self, index: usize) -> Image {
        let Some(document) = self.documents.get(&index) else {
            return Arc::new(Err(format!("document {index} was not asked for")));
        };
        self.asked.send_if_modified(|asked| {
            let further = document.last_page > *asked;
            *asked = (*asked).max(document.last_page);
            further
        });
        let mut ready = Vec::with_capacity(document.pages.len());
        for page in &document.pages {
            let mut page = page.subscribe();
            let state = page
                .wait_for(|state| !matches!(state, PageState::Waiting))
                .await;
            let why = match state.as_deref() {
                Ok(PageState::Ready(page)) => match &**page {
                    Ok(page) => {
                        ready.push(page.clone());
                        continue;
                    }
                    Err(why) => why.clone(),
                },
                Ok(PageState::Released) => {
                    format!("document {index} was asked for after its last call")
                }
                _ => "the page was not prepared: the engine is stopping".into(),
            };
            return Arc::new(Err(why));
        }
        Arc::new(Ok(ready))
    }

    /// A call that needed the document at `index` was made: after the last
    /// one, its pages are let go.
    pub fn call_made(&self, index: usize) {
        let Some(document) = self.documents.get(&index) else {
            return;
        };
        if document.calls_left.fetch_sub(1, Ordering::AcqRel) == 1 {
            for page in &document.pages {
                page.send_replace(PageState::Released);
            }
        }
    }
}

/// A page to prepare.
struct QueuedPage {
    document: usize,
    /// Its place in its document,
    page: usize,
    /// and in the order of preparation.
    place: usize,
    path: String,
    /// Its document's share of what one call may carry.
    policy: SendPolicy,
}

/// Prepares `queue` in order: downloads (of at most `max_bytes`) run a few
/// ahead, pages are prepared one by one, and none more than `PAGES_AHEAD`
/// past the furthest document asked for, so the first call waits for its
/// own page only and a long report is not held whole.
async fn prepare_in_order(
    source: Arc<ImageSource>,
    queue: Vec<QueuedPage>,
    documents: Arc<HashMap<usize, DocumentPages>>,
    asked: Arc<watch::Sender<usize>>,
    max_bytes: usize,
) {
    let source = &source;
    let documents = &documents;
    let asked = asked.subscribe();
    futures_util::stream::iter(queue)
        .then(move |page| {
            let mut asked = asked.clone();
            async move {
                let place = page.place;
                let _ = asked.wait_for(|asked| place <= asked + PAGES_AHEAD).await;
                page
            }
        })
        .map(|page| async move {
            let fetched = source.fetch(&page.path, max_bytes).await;
            (page, fetched)
        })
        .buffered(DOWNLOADS_AT_ONCE)
        .for_each(|(page, fetched)| async move {
            let prepared = match fetched {
                Ok(bytes) => prepared(&page.path, bytes, page.policy).await,
                Err(why) => Arc::new(Err(why)),
            };
            documents[&page.document].pages[page.page].send_if_modified(|state| {
                let waiting = matches!(state, PageState::Waiting);
                if waiting {
                    *state = PageState::Ready(prepared);
                }
                waiting
            });
        })
        .await;
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
        let download = storage::service_download(
            &self.http,
            &self.storage_url,
            &self.service_role_key,
            storage::BENCHMARK_IMAGES,
            path,
        )
        .ok_or_else(|| format!("the image path {path:?} is not a storage name we can read"))?;
        let mut response = download.send().await.map_err(|e| {
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
mod tests;
