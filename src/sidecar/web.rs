//! The static pages in `web/`, compiled into the binary so the sidecar
//! serves them from wherever it runs, and the public settings they need.
//!
//! Each file is prepared once: its ETag (a hash of its bytes), a gzip copy
//! of text worth compressing, and, in pages, every `/assets/...` link
//! versioned with the asset's ETag (`?v=...`). A versioned asset never
//! changes, so it is cached for a year; pages and unversioned URLs are
//! revalidated (`no-cache`, answered 304 when the ETag still matches).

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::{Reply, Response};

use super::policy;
use super::state::AppState;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

macro_rules! file {
    ($path:literal) => {
        include_bytes!(concat!("../../web/", $path)).to_vec()
    };
}

/// The assets under `/assets/`, by the name pages link them with.
fn assets() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    vec![
        ("app.css", file!("app.css"), "text/css; charset=utf-8"),
        ("money.js", file!("money.js"), JS),
        ("app.js", file!("app.js"), JS),
        ("wizard.js", file!("wizard.js"), JS),
        ("model-step.js", file!("model-step.js"), JS),
        ("pdf-pages.mjs", file!("pdf-pages.mjs"), JS),
        ("vendor/pdf.min.mjs", file!("vendor/pdf.min.mjs"), JS),
        (
            "vendor/pdf.worker.min.mjs",
            file!("vendor/pdf.worker.min.mjs"),
            JS,
        ),
        ("new.js", file!("new.js"), JS),
        ("dashboard.js", file!("dashboard.js"), JS),
        ("processing.js", file!("processing.js"), JS),
        ("rescore.js", file!("rescore.js"), JS),
        ("report.js", file!("report.js"), JS),
        ("csv.js", file!("csv.js"), JS),
        ("compare.js", file!("compare.js"), JS),
        ("sign-in.js", file!("sign-in.js"), JS),
        ("sign-up.js", file!("sign-up.js"), JS),
        ("forgot-password.js", file!("forgot-password.js"), JS),
        ("reset-password.js", file!("reset-password.js"), JS),
        ("unsubscribe.js", file!("unsubscribe.js"), JS),
        ("watch.js", file!("watch.js"), JS),
        ("vendor/supabase.js", file!("vendor/supabase.js"), JS),
        (
            "vendor/jsonc-parser.js",
            file!("vendor/jsonc-parser.js"),
            JS,
        ),
        ("icon.svg", file!("icon.svg"), "image/svg+xml"),
    ]
    .into_iter()
    .chain(pdfjs_data())
    .collect()
}

/// What PDF.js fetches as it draws a page (`web/pdf-pages.mjs`): the
/// standard fonts and the JavaScript JBIG2 and JPEG 2000 decoders.
fn pdfjs_data() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    macro_rules! fonts {
        ($($name:literal: $type:expr),* $(,)?) => {
            vec![$((
                concat!("vendor/pdfjs/standard_fonts/", $name),
                include_bytes!(concat!("../../web/vendor/pdfjs/standard_fonts/", $name)).to_vec(),
                $type,
            )),*]
        };
    }
    const TYPE1: &str = "application/octet-stream";
    const TTF: &str = "font/ttf";
    let mut data = fonts![
        "FoxitDingbats.pfb": TYPE1,
        "FoxitFixed.pfb": TYPE1,
        "FoxitFixedBold.pfb": TYPE1,
        "FoxitFixedBoldItalic.pfb": TYPE1,
        "FoxitFixedItalic.pfb": TYPE1,
        "FoxitSerif.pfb": TYPE1,
        "FoxitSerifBold.pfb": TYPE1,
        "FoxitSerifBoldItalic.pfb": TYPE1,
        "FoxitSerifItalic.pfb": TYPE1,
        "FoxitSymbol.pfb": TYPE1,
        "LiberationSans-Bold.ttf": TTF,
        "LiberationSans-BoldItalic.ttf": TTF,
        "LiberationSans-Italic.ttf": TTF,
        "LiberationSans-Regular.ttf": TTF,
    ];
    data.push((
        "vendor/pdfjs/wasm/jbig2_nowasm_fallback.js",
        file!("vendor/pdfjs/wasm/jbig2_nowasm_fallback.js"),
        JS,
    ));
    data.push((
        "vendor/pdfjs/wasm/openjpeg_nowasm_fallback.js",
        file!("vendor/pdfjs/wasm/openjpeg_nowasm_fallback.js"),
        JS,
    ));
    data
}

/// The pages, by route name.
fn pages() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("sign-in", file!("sign-in.html")),
        ("sign-up", file!("sign-up.html")),
        ("forgot-password", file!("forgot-password.html")),
        ("reset-password", file!("reset-password.html")),
        ("unsubscribe", file!("unsubscribe.html")),
        ("dashboard", file!("dashboard.html")),
        ("new", file!("new.html")),
        ("processing", file!("processing.html")),
        ("report", policy::report_page().into_bytes()),
        ("compare", file!("compare.html")),
        ("scoring", policy::scoring_page().into_bytes()),
    ]
}

struct Prepared {
    body: Vec<u8>,
    gzip: Option<Vec<u8>>,
    etag: HeaderValue,
    content_type: &'static str,
    is_asset: bool,
}

fn etag_of(body: &[u8]) -> String {
    hex::encode(&Sha256::digest(body)[..12])
}

fn prepare(body: Vec<u8>, content_type: &'static str, is_asset: bool) -> Prepared {
    // Text (SVG included) and fonts compress; small files gain nothing.
    let gzip = (body.len() > 1024).then(|| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&body).expect("writing to memory");
        encoder.finish().expect("writing to memory")
    });
    Prepared {
        etag: HeaderValue::from_str(&format!("\"{}\"", etag_of(&body)))
            .expect("hex is a header value"),
        body,
        gzip,
        content_type,
        is_asset,
    }
}

fn prepared() -> &'static HashMap<&'static str, Prepared> {
    static FILES: OnceLock<HashMap<&'static str, Prepared>> = OnceLock::new();
    FILES.get_or_init(|| {
        let assets = assets();
        let versions: Vec<(String, String)> = assets
            .iter()
            .map(|(name, body, _)| {
                (
                    format!("/assets/{name}\""),
                    format!("/assets/{name}?v={}\"", etag_of(body)),
                )
            })
            .collect();
        let mut files: HashMap<&'static str, Prepared> = assets
            .into_iter()
            .map(|(name, body, content_type)| (name, prepare(body, content_type, true)))
            .collect();
        for (name, body) in pages() {
            let mut html = String::from_utf8(body).expect("pages are UTF-8");
            for (plain, versioned) in &versions {
                html = html.replace(plain.as_str(), versioned);
            }
            files.insert(name, prepare(html.into_bytes(), HTML, false));
        }
        files
    })
}

/// What the browser said about a request for a static file.
#[derive(Debug, Default, Clone)]
pub struct Fetch {
    pub accepts_gzip: bool,
    pub if_none_match: Option<String>,
    /// The `v` of `?v=...`, when the URL has one.
    pub version: Option<String>,
}

impl Fetch {
    pub fn new(
        accept_encoding: Option<String>,
        if_none_match: Option<String>,
        query: &str,
    ) -> Self {
        Fetch {
            accepts_gzip: accept_encoding
                .is_some_and(|a| a.split(',').any(|e| e.trim().starts_with("gzip"))),
            if_none_match,
            version: query
                .split('&')
                .find_map(|pair| pair.strip_prefix("v="))
                .map(str::to_owned),
        }
    }
}

/// A page or asset by name; 404 for anything else.
pub fn serve(name: &str, fetch: &Fetch) -> Response {
    let Some(file) = prepared().get(name) else {
        return warp::reply::with_status(
            warp::reply::json(&serde_json::json!({"error": "no such page", "code": "not_found"})),
            StatusCode::NOT_FOUND,
        )
        .into_response();
    };
    let etag = file.etag.to_str().unwrap_or_default();
    let immutable = file.is_asset && fetch.version.as_deref() == Some(etag.trim_matches('"'));
    let unchanged = fetch.if_none_match.as_deref().is_some_and(|tags| {
        tags.split(',')
            .any(|t| t.trim().trim_start_matches("W/") == etag)
    });
    let gzip = file.gzip.as_ref().filter(|_| fetch.accepts_gzip);
    let mut response = if unchanged {
        let mut response = Response::new(Vec::new().into());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(gzip.unwrap_or(&file.body).clone().into())
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    headers.insert(header::ETAG, file.etag.clone());
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if gzip.is_some() && !unchanged {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// What the browser needs to talk to Supabase: the URL and the public key.
pub fn config(state: &AppState) -> Response {
    use crate::stripe::{CURRENCY, PRICE_CENTS};
    warp::reply::json(&serde_json::json!({
        "supabaseUrl": state.settings.supabase.url,
        "supabaseAnonKey": state.settings.supabase.anon_key,
        // What a report costs, said once: the pages show it from here.
        "price": {
            "cents": PRICE_CENTS,
            "currency": CURRENCY,
            "text": crate::stripe::price_text(),
        },
        // Days a finished report keeps its document images (the report
        // page says when they go).
        "imageRetentionDays": state.settings.image_retention_days,
    }))
    .into_response()
}
