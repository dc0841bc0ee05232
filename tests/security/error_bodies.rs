//! Every error answer the sidecar gives to bad input, and to input that
//! meets a dependency that is down, is a sentence of ours: no URL, no file
//! path, no library's error text. What went wrong inside is in the log.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::Method;

use crate::support::app::{TestApp, WEBHOOK_SECRET};

/// Words that only a library, a stack trace or our own setup would write.
const INTERNALS: &[&str] = &[
    "http://",
    "https://",
    "127.0.0.1",
    "localhost",
    ".rs:",
    "/src/",
    "/work/",
    "/home/",
    "/root/",
    "/tmp/",
    ".well-known",
    "reqwest",
    "hyper",
    "tokio",
    "serde",
    "postgres",
    "error sending request",
    "connection refused",
    "tcp connect",
    "at line",
    "column",
    "expected value",
    "missing field",
    "unknown field",
    "invalid type",
    "InvalidSignature",
    "InvalidToken",
    "ExpiredSignature",
    "InvalidAudience",
    "Base64",
    "Utf8",
    "Json(",
    "Error {",
    "kind:",
    "Invalid query string",
    "Invalid request header",
];

fn token_with(header: &str, claims: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims),
        URL_SAFE_NO_PAD.encode("not a signature")
    )
}

struct Probe {
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn probe(method: Method, path: &str) -> Probe {
    Probe {
        method,
        path: path.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Probe {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// The bad requests an outsider can send without any secret.
fn probes() -> Vec<Probe> {
    let report = "00000000-0000-4000-8000-000000000001";
    let es256 = token_with(
        r#"{"alg":"ES256","typ":"JWT","kid":"no-such-key"}"#,
        r#"{"sub":"x","role":"authenticated","aud":"authenticated","exp":9999999999}"#,
    );
    let hs256 = token_with(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"sub":"x","role":"authenticated","aud":"authenticated","exp":9999999999}"#,
    );
    let none = token_with(r#"{"alg":"none"}"#, r#"{"sub":"x"}"#);
    let checkout = || probe(Method::POST, "/api/checkout");
    let mut all = vec![
        checkout().body(r#"{"draftId":"x"}"#),
        checkout()
            .header("authorization", "Bearer not.a.token")
            .body("{}"),
        checkout()
            .header("authorization", format!("Bearer {es256}"))
            .body(r#"{"draftId":"00000000-0000-4000-8000-000000000001"}"#),
        checkout()
            .header("authorization", format!("Bearer {hs256}"))
            .body(r#"{"draftId":"00000000-0000-4000-8000-000000000001"}"#),
        checkout()
            .header("authorization", format!("Bearer {none}"))
            .body("{}"),
        checkout().header("authorization", "Bearer %%%").body("{}"),
        checkout().header("content-length", "abc").body(""),
        checkout().body(vec![b'{'; 20_000]),
        probe(Method::POST, "/api/webhooks/stripe").body("{}"),
        probe(Method::POST, "/api/webhooks/stripe")
            .header("stripe-signature", "t=1,v1=00")
            .body("{}"),
        probe(Method::POST, "/api/webhooks/stripe")
            .header("stripe-signature", "garbage")
            .body("not json"),
        probe(Method::GET, "/api/compare"),
        probe(Method::GET, "/api/compare?a=x&b=y"),
        probe(Method::GET, &format!("/api/compare?a={report}&b={report}")),
        probe(
            Method::GET,
            &format!("/api/compare?a={report}&b={report}&share_a=%00&share_b=x"),
        ),
        probe(Method::GET, "/api/compare?a=%ZZ"),
        probe(Method::GET, &format!("/api/reports/{report}/images")),
        probe(
            Method::GET,
            &format!("/api/reports/{report}/images?share=abc"),
        ),
        probe(
            Method::GET,
            &format!("/api/reports/{report}/images?share=../../etc"),
        ),
        probe(Method::GET, "/api/reports/not-a-uuid/images?share=abc"),
        probe(Method::GET, "/checkout/success"),
        probe(Method::GET, "/checkout/success?session_id=cs_test_nothing"),
        probe(Method::GET, "/checkout/success?session_id=%ff%fe"),
        probe(Method::GET, "/no/such/page"),
        probe(Method::DELETE, "/api/checkout"),
        probe(Method::GET, "/assets/../../Cargo.toml"),
    ];
    // The same with a signed body that is not an event.
    let payload = "[1,2,3]";
    let now = chrono::Utc::now().timestamp();
    all.push(
        probe(Method::POST, "/api/webhooks/stripe")
            .header(
                "stripe-signature",
                devstack::stripe::sign(payload.as_bytes(), WEBHOOK_SECRET, now),
            )
            .body(payload),
    );
    all
}

async fn walk(app: &TestApp, label: &str) -> usize {
    let http = TestApp::http();
    let mut errors = 0;
    for p in probes() {
        let mut request = http.request(p.method.clone(), format!("{}{}", app.url, p.path));
        for (name, value) in &p.headers {
            request = request.header(*name, value);
        }
        let response = request.body(p.body.clone()).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        if status.is_success() || status.is_redirection() {
            continue;
        }
        errors += 1;
        let lower = body.to_lowercase();
        for word in INTERNALS {
            assert!(
                !lower.contains(&word.to_lowercase()),
                "{label}: {} {} answered {status} with internal text {word:?}: {body}",
                p.method,
                p.path
            );
        }
    }
    errors
}

#[tokio::test]
async fn no_error_answer_carries_internal_text() {
    let app = TestApp::spawn().await;
    let errors = walk(&app, "healthy").await;
    assert!(errors >= 20, "the walk met {errors} error answers");
}

#[tokio::test]
async fn with_auth_keys_and_the_database_unreachable_answers_still_say_nothing_inside() {
    // Asymmetric tokens verified against a JWKS URL nothing answers, and
    // the Supabase API down: the failures are ours, said as such.
    let app = TestApp::spawn_with(&[
        ("SUPABASE_URL", "http://127.0.0.1:9".into()),
        ("SUPABASE_USE_JWKS", "true".into()),
    ])
    .await;
    let errors = walk(&app, "dependencies down").await;
    assert!(errors >= 20, "the walk met {errors} error answers");
    let es256 = token_with(
        r#"{"alg":"ES256","typ":"JWT","kid":"no-such-key"}"#,
        r#"{"sub":"x","role":"authenticated","aud":"authenticated","exp":9999999999}"#,
    );
    let answer = app
        .post_checkout(
            Some(&es256),
            r#"{"draftId":"00000000-0000-4000-8000-000000000001"}"#,
        )
        .await;
    assert_eq!(
        answer.status(),
        503,
        "keys we cannot fetch are our failure, not the caller's"
    );
}
