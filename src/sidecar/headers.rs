//! The headers every answer carries, pages and API alike: a Content
//! Security Policy that runs only our own script files (no inline script,
//! no eval) and talks only to us and the Supabase project; no Referer, since
//! share tokens travel in URLs; no sniffing; no framing; HSTS when the site
//! is served over https.

use warp::http::header::{self, HeaderName, HeaderValue};
use warp::reply::Response;

#[derive(Clone)]
pub struct SecurityHeaders(Vec<(HeaderName, HeaderValue)>);

impl SecurityHeaders {
    /// For a site at `site_url` whose pages use the Supabase project at
    /// `supabase_url` (REST, Auth, Storage's signed image URLs).
    pub fn new(site_url: &str, supabase_url: &str) -> Self {
        let supabase = origin(supabase_url);
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; \
             img-src 'self' data: blob: {supabase}; connect-src 'self' {supabase}; \
             font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'"
        );
        let mut headers = vec![
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_str(&csp).expect("a policy of URLs is a header value"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        if site_url.starts_with("https://") {
            headers.push((
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            ));
        }
        Self(headers)
    }

    pub fn apply(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        for (name, value) in &self.0 {
            headers.insert(name.clone(), value.clone());
        }
        response
    }
}

/// `scheme://host[:port]` of a URL (what a CSP source names).
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // A CSP source is a bare origin: anything else in it is dropped.
    let host: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        .collect();
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_only_us_and_the_supabase_project() {
        assert_eq!(origin("http://127.0.0.1:54321"), "http://127.0.0.1:54321");
        assert_eq!(
            origin("https://abc.supabase.co/rest/v1?x=1"),
            "https://abc.supabase.co"
        );
        assert_eq!(
            origin("https://abc.supabase.co; script-src *"),
            "https://abc.supabase.coscript-src"
        );
        let headers = SecurityHeaders::new("https://modelpick.example", "https://abc.supabase.co");
        let response = headers.apply(Response::new(Vec::<u8>::new().into()));
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(
            csp.contains("connect-src 'self' https://abc.supabase.co;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
        assert!(response
            .headers()
            .contains_key(header::STRICT_TRANSPORT_SECURITY));
    }
}
