//! The static pages in `web/`, compiled into the binary so the sidecar
//! serves them from wherever it runs, and the public settings they need.
//! The scoring policy (`docs/scoring.md`) is written once and shown twice:
//! as its own page (`/scoring`) and inside every report ("How we score").

use std::sync::OnceLock;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use warp::http::{header, StatusCode};
use warp::reply::{Reply, Response};

use super::state::AppState;

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

macro_rules! asset {
    ($path:literal, $type:literal) => {
        Asset {
            body: include_bytes!(concat!("../../web/", $path)),
            content_type: $type,
        }
    };
}

fn page(name: &str) -> Option<Asset> {
    Some(match name {
        "sign-in" => asset!("sign-in.html", "text/html; charset=utf-8"),
        "sign-up" => asset!("sign-up.html", "text/html; charset=utf-8"),
        "dashboard" => asset!("dashboard.html", "text/html; charset=utf-8"),
        "new" => asset!("new.html", "text/html; charset=utf-8"),
        "processing" => asset!("processing.html", "text/html; charset=utf-8"),
        "report" => Asset {
            body: report_page().as_bytes(),
            content_type: "text/html; charset=utf-8",
        },
        "scoring" => Asset {
            body: scoring_page().as_bytes(),
            content_type: "text/html; charset=utf-8",
        },
        "app.css" => asset!("app.css", "text/css; charset=utf-8"),
        "app.js" => asset!("app.js", "text/javascript; charset=utf-8"),
        "wizard.js" => asset!("wizard.js", "text/javascript; charset=utf-8"),
        "vendor/supabase.js" => asset!("vendor/supabase.js", "text/javascript; charset=utf-8"),
        _ => return None,
    })
}

const SCORING_POLICY: &str = include_str!("../../docs/scoring.md");
const REPORT_PAGE: &str = include_str!("../../web/report.html");
/// Where the report page takes the policy.
const POLICY_SLOT: &str = "<!-- how-we-score -->";

/// The policy as HTML, its headings moved `shift` levels down (inside a
/// report its title is the section's summary, so it is left out there).
fn policy_html(shift: usize, with_title: bool) -> String {
    let lower = |level: HeadingLevel| {
        let levels = [
            HeadingLevel::H1,
            HeadingLevel::H2,
            HeadingLevel::H3,
            HeadingLevel::H4,
            HeadingLevel::H5,
            HeadingLevel::H6,
        ];
        levels[(level as usize - 1 + shift).min(5)]
    };
    let mut in_title = false;
    let events = Parser::new(SCORING_POLICY).filter_map(|event| match event {
        Event::Start(Tag::Heading {
            level: HeadingLevel::H1,
            ..
        }) if !with_title => {
            in_title = true;
            None
        }
        Event::End(TagEnd::Heading(HeadingLevel::H1)) if !with_title => {
            in_title = false;
            None
        }
        _ if in_title => None,
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Some(Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        })),
        Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(lower(level)))),
        other => Some(other),
    });
    let mut html = String::with_capacity(SCORING_POLICY.len() * 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn report_page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| REPORT_PAGE.replacen(POLICY_SLOT, &policy_html(1, false), 1))
}

fn scoring_page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>How we score · ModelPick</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><header><a class="brand" href="/">ModelPick</a></header>
<main class="policy">
{}</main></body></html>
"#,
            policy_html(0, true)
        )
    })
}

/// A page or asset by name; 404 for anything else.
pub fn serve(name: &str) -> Response {
    match page(name) {
        Some(asset) => {
            let mut response = Response::new(asset.body.into());
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, asset.content_type.parse().unwrap());
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, "no-cache".parse().unwrap());
            response
        }
        None => warp::reply::with_status(
            warp::reply::json(&serde_json::json!({"error": "no such page", "code": "not_found"})),
            StatusCode::NOT_FOUND,
        )
        .into_response(),
    }
}

/// What the browser needs to talk to Supabase: the URL and the public key.
pub fn config(state: &AppState) -> Response {
    warp::reply::json(&serde_json::json!({
        "supabaseUrl": state.settings.supabase.url,
        "supabaseAnonKey": state.settings.supabase.anon_key,
    }))
    .into_response()
}
