//! `/privacy` and `/terms`: Markdown files the operator edits (`legal/`),
//! with this site's own figures put in (how long images are kept, the
//! price, where to write), rendered once per sidecar into the product's
//! look.

use pulldown_cmark::{html, Parser};
use warp::http::{header, HeaderValue};
use warp::reply::{Reply, Response};

use crate::config::Settings;
use crate::templates::{render, PolicyPage};

const PRIVACY: &str = include_str!("../../legal/privacy.md");
const TERMS: &str = include_str!("../../legal/terms.md");

#[derive(Clone, Copy)]
pub enum Legal {
    Privacy,
    Terms,
}

/// Both pages, rendered from this sidecar's settings when its state is
/// made.
pub struct LegalPages {
    privacy: String,
    terms: String,
}

impl LegalPages {
    pub fn new(settings: &Settings) -> Self {
        Self {
            privacy: rendered("Privacy", PRIVACY, settings),
            terms: rendered("Terms", TERMS, settings),
        }
    }
}

/// The page, as this site's settings made it.
pub fn page(pages: &LegalPages, which: Legal) -> Response {
    let body = match which {
        Legal::Privacy => &pages.privacy,
        Legal::Terms => &pages.terms,
    };
    let mut response = warp::reply::html(body.clone()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn rendered(title: &str, markdown: &str, settings: &Settings) -> String {
    let contact = settings
        .contact_email
        .as_deref()
        .map(|email| {
            format!(
                "\nWrite to us at <{email}> with any question about your data or these pages.\n"
            )
        })
        .unwrap_or_default();
    let text = markdown
        .replace(
            "{retention_days}",
            &settings.image_retention_days.to_string(),
        )
        .replace("{price}", &crate::stripe::price_text())
        .replace("{contact}", &contact);
    let mut body = String::with_capacity(text.len() * 2);
    html::push_html(&mut body, Parser::new(&text));
    render(&PolicyPage {
        title,
        policy: &body,
    })
}
