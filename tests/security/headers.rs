//! What every answer tells the browser: run only our own script files, send
//! no Referer (share tokens travel in URLs), sniff nothing, frame nothing.
//! And no page carries a script the policy would have to allow inline.

use reqwest::StatusCode;

use crate::support::app::TestApp;

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_no_page_has_inline_script() {
    let app = TestApp::spawn().await;
    let report = "/report/00000000-0000-4000-8000-000000000000?share=abc";
    let processing = "/benchmark/00000000-0000-4000-8000-000000000000/processing";
    let pages = [
        "/",
        "/sign-in",
        "/sign-up",
        "/forgot-password",
        "/reset-password",
        "/unsubscribe?token=x",
        "/benchmark/new",
        processing,
        report,
        "/scoring",
        "/compare?a=00000000-0000-4000-8000-000000000000&b=00000000-0000-4000-8000-000000000001",
        "/checkout/cancel",
        "/checkout/success",
        "/checkout/success?session_id=cs_test_nobody",
    ];
    let others = [
        "/assets/app.js",
        "/assets/report.js",
        "/config.json",
        "/health",
        "/no-such-page",
    ];
    let http = TestApp::http();
    let mut answers = Vec::new();
    for path in pages.iter().chain(others.iter()) {
        answers.push((
            *path,
            http.get(format!("{}{path}", app.url)).send().await.unwrap(),
        ));
    }
    answers.push((
        "POST /api/checkout",
        http.post(format!("{}/api/checkout", app.url))
            .body("{}")
            .send()
            .await
            .unwrap(),
    ));
    answers.push((
        "POST /api/webhooks/stripe",
        http.post(format!("{}/api/webhooks/stripe", app.url))
            .body("{}")
            .send()
            .await
            .unwrap(),
    ));
    for (path, response) in answers {
        let headers = response.headers().clone();
        let csp = headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"))
            .to_str()
            .unwrap()
            .to_owned();
        for directive in [
            "default-src 'self'",
            "script-src 'self';",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        if pages.contains(&path) && response.status() != StatusCode::SEE_OTHER {
            let html = response.text().await.unwrap();
            for script in html.split("<script").skip(1) {
                let tag = &script[..script.find('>').unwrap()];
                assert!(
                    tag.contains(" src=\"/assets/"),
                    "{path}: an inline script: <script{tag}>"
                );
            }
            let lower = html.to_lowercase();
            for handler in [
                " onload=",
                " onclick=",
                " onsubmit=",
                " onerror=",
                "javascript:",
            ] {
                assert!(
                    !lower.contains(handler),
                    "{path}: an inline handler {handler}"
                );
            }
        }
    }
}
