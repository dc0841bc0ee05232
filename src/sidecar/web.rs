//! The static pages in `web/`, compiled into the binary so the sidecar
//! serves them from wherever it runs, and the public settings they need.

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
        "dashboard" => asset!("dashboard.html", "text/html; charset=utf-8"),
        "new" => asset!("new.html", "text/html; charset=utf-8"),
        "processing" => asset!("processing.html", "text/html; charset=utf-8"),
        "report" => asset!("report.html", "text/html; charset=utf-8"),
        "app.css" => asset!("app.css", "text/css; charset=utf-8"),
        "app.js" => asset!("app.js", "text/javascript; charset=utf-8"),
        "vendor/supabase.js" => asset!("vendor/supabase.js", "text/javascript; charset=utf-8"),
        _ => return None,
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
