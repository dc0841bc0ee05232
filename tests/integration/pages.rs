//! The pages the sidecar serves as they are: the scoring policy, written
//! once in `docs/scoring.md`, on its own page and inside every report.

use reqwest::StatusCode;

use crate::support::app::TestApp;

async fn page(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let response = TestApp::http()
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// A heading's markdown as HTML: `code` spans are the only markup headings use.
fn html(markdown: &str) -> String {
    markdown
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

#[tokio::test]
async fn the_scoring_policy_is_its_own_page_and_part_of_every_report() {
    let app = TestApp::spawn().await;
    let policy = include_str!("../../docs/scoring.md");
    let rules: Vec<&str> = policy
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .collect();
    assert!(rules.len() >= 6, "the policy has its sections: {rules:?}");

    let (status, content_type, scoring) = page(&app, "/scoring").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(scoring.contains("<h1>How we score</h1>"));
    for rule in &rules {
        assert!(
            scoring.contains(&format!("<h2>{}</h2>", html(rule))),
            "{rule}"
        );
    }
    assert!(scoring.contains("<strong>Identifiers stay text.</strong>"));

    let (status, _, report) = page(&app, &format!("/report/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !report.contains("<!-- how-we-score -->"),
        "the policy fills its place"
    );
    assert!(report.contains("<h2>How we score</h2>"));
    assert!(
        report.contains("<h3>Amounts</h3>"),
        "the policy's sections sit under the report's"
    );
    assert!(
        !report.contains("<h1>How we score</h1>"),
        "the report keeps one title"
    );
    assert!(report.contains("<strong>Identifiers stay text.</strong>"));
    assert!(report.contains(r#"href="/scoring""#));
}

#[tokio::test]
async fn assets_are_versioned_compressed_and_revalidated() {
    let app = TestApp::spawn().await;
    let client = TestApp::http();
    let (_, _, dashboard) = page(&app, "/").await;
    let link = dashboard
        .split('"')
        .find(|part| part.starts_with("/assets/vendor/supabase.js?v="))
        .expect("pages link their assets with a version")
        .to_owned();

    let plain = client
        .get(format!("{}{link}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        plain.headers().get("content-encoding").is_none(),
        "no gzip unless asked"
    );
    let etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let size = plain.bytes().await.unwrap().len();

    let zipped = client
        .get(format!("{}{link}", app.url))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "Accept-Encoding");
    let zipped_size = zipped.bytes().await.unwrap().len();
    assert!(zipped_size * 3 < size, "{zipped_size} of {size} bytes");

    let again = client
        .get(format!("{}/assets/vendor/supabase.js", app.url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        again.headers()["cache-control"],
        "no-cache",
        "an unversioned URL is revalidated"
    );
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = client
        .get(format!("{}/assets/vendor/supabase.js?v=0000", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        stale.headers()["cache-control"],
        "no-cache",
        "an old version is not cached for a year"
    );

    let (status, content_type, icon) = page(&app, "/favicon.ico").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "image/svg+xml")
    );
    assert!(icon.starts_with("<svg"));
}

/// The pages format amounts with `web/money.js`; the report's sentences
/// with `money::dollars`. One rule: the two agree on every amount.
#[tokio::test]
async fn the_pages_format_money_as_the_report_does() {
    use modelpick::money::dollars;
    let amounts = [
        "0",
        "0.000418",
        "0.0004185",
        "0.00041849",
        "0.0239",
        "0.1",
        "0.100",
        "0.218",
        "0.5",
        "0.999",
        "0.9996",
        "0.09995",
        "1",
        "2.149",
        "2.145",
        "2.155",
        "14.99",
        "1234.5",
        "0.0000001",
        "0.3",
        "6.50",
        "7.00",
        "0.00001234567",
        "-0.25",
        "-3.456",
    ];
    let script = r#"
        const fs = require('fs'), vm = require('vm');
        const context = vm.createContext({});
        vm.runInContext(fs.readFileSync(process.argv[1], 'utf8') + '\nthis.money = money;', context);
        const amounts = JSON.parse(fs.readFileSync(0, 'utf8'));
        console.log(JSON.stringify(amounts.map((a) => context.money(a))));
    "#;
    let mut node = tokio::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/web/money.js"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    use tokio::io::AsyncWriteExt;
    let mut stdin = node.stdin.take().unwrap();
    stdin
        .write_all(serde_json::to_string(&amounts).unwrap().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = node.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let pages: Vec<String> = serde_json::from_slice(&output.stdout).unwrap();
    let report: Vec<String> = amounts
        .iter()
        .map(|a| dollars(a.parse().unwrap()))
        .collect();
    assert_eq!(pages, report);
    assert_eq!(report[1], "$0.000418");
    assert_eq!(report[13], "$2.15");
    assert_eq!(report[5], "$0.1");
}

#[tokio::test]
async fn every_script_style_and_icon_a_page_links_is_served() {
    let app = TestApp::spawn().await;
    let pages = [
        "/",
        "/sign-in",
        "/sign-up",
        "/forgot-password",
        "/reset-password",
        "/unsubscribe?token=x",
        "/benchmark/new",
        "/benchmark/00000000-0000-4000-8000-000000000000/processing",
        "/report/00000000-0000-4000-8000-000000000000",
        "/scoring",
        "/compare",
    ];
    let mut checked = 0;
    for path in pages {
        let (status, _, html) = page(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for link in html.split('"').filter(|part| part.starts_with("/assets/")) {
            let response = TestApp::http()
                .get(format!("{}{link}", app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path} links {link}");
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}

#[tokio::test]
async fn privacy_and_terms_say_this_sites_figures_and_every_page_links_them() {
    let app = TestApp::spawn_with(&[
        ("IMAGE_RETENTION_DAYS", "14".into()),
        ("CONTACT_EMAIL", "privacy@modelpick.example".into()),
    ])
    .await;
    let (status, content_type, privacy) = page(&app, "/privacy").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"));
    assert!(privacy.contains("<h1>Privacy</h1>"), "{privacy}");
    assert!(
        privacy.contains("<strong>Document images</strong> are deleted <strong>14 days after the report\nthat used them finishes</strong>"),
        "{privacy}"
    );
    assert!(privacy.contains("privacy@modelpick.example"), "{privacy}");
    assert!(!privacy.contains("{retention_days}") && !privacy.contains("{contact}"));
    let (_, _, terms) = page(&app, "/terms").await;
    assert!(
        terms.contains("<h1>Terms</h1>") && terms.contains("$14.99"),
        "{terms}"
    );
    assert!(
        terms.contains("14 days after each report finishes"),
        "{terms}"
    );
    // Each sidecar says its own settings, whatever another in the same
    // process says.
    let default = TestApp::spawn().await;
    let (_, _, privacy) = page(&default, "/privacy").await;
    assert!(
        privacy.contains("<strong>30 days after the report"),
        "{privacy}"
    );
    assert!(!privacy.contains("privacy@modelpick.example"), "{privacy}");

    for path in [
        "/".to_owned(),
        "/sign-in".into(),
        "/sign-up".into(),
        "/forgot-password".into(),
        "/reset-password".into(),
        "/unsubscribe".into(),
        "/benchmark/new".into(),
        format!("/report/{}", uuid::Uuid::new_v4()),
        "/compare".into(),
        "/scoring".into(),
        "/privacy".into(),
        "/checkout/cancel".into(),
    ] {
        let (_, _, body) = page(&app, &path).await;
        assert!(
            body.contains(r#"<a href="/privacy">Privacy</a>"#)
                && body.contains(r#"<a href="/terms">Terms</a>"#),
            "{path} links the privacy and terms pages"
        );
    }
}
