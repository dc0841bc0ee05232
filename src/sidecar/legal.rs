//! `/privacy` and `/terms`: Markdown files the operator edits (`legal/`),
//! with this site's own figures put in (how long images are kept, the
//! price, where to write), rendered once per process into the product's
//! look.

use std::sync::OnceLock;

use pulldown_cmark::{html, Parser};
use warp::http::{header, HeaderValue};
use warp::reply::{Reply, Response};

use super::state::AppState;
use crate::templates::{render, PolicyPage};

const PRIVACY: &str = include_str!("../../legal/privacy.md");
const TERMS: &str = include_str!("../../legal/terms.md");

#[derive(Clone, Copy)]
pub enum Legal {
    Privacy,
    Terms,
}

/// The page, as this site's settings make it.
pub fn page(state: &AppState, which: Legal) -> Response {
    static PAGES: OnceLock<(String, String)> = OnceLock::new();
    let (privacy, terms) = PAGES.get_or_init(|| {
        (
            rendered("Privacy", PRIVACY, state),
            rendered("Terms", TERMS, state),
        )
    });
    let body = match which {
        Legal::Privacy => privacy,
        Legal::Terms => terms,
    };
    let mut response = warp::reply::html(body.clone()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn rendered(title: &str, markdown: &str, state: &AppState) -> String {
    let settings = &state.settings;
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
