//! Password recovery through the local Auth, driven by Supabase Auth's Rust
//! client and plain HTTP: the emailed link, its one use and its hour, the
//! one-a-minute limit, where links may lead, and setting the new password.

use devstack::resend::RunningResend;
use devstack::supabase::MailerConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use supabase_auth::models::{ResetPasswordOptions, UpdatedUser};

use crate::support::http::json_body as body;
use crate::support::supabase::{TestSupabase, ANON_KEY, SERVICE_KEY, SITE_URL};

async fn stack_with_mail() -> (TestSupabase, RunningResend) {
    let resend =
        devstack::resend::start(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
            .unwrap();
    let stack = TestSupabase::start_with_mailer(Some(MailerConfig {
        base_url: resend.url(),
        api_key: "re_test".into(),
        from: "ModelPick <auth@modelpick.test>".into(),
    }))
    .await;
    (stack, resend)
}

/// Auth's own login, which owns the `auth` tables.
async fn auth_db(stack: &TestSupabase) -> tokio_postgres::Client {
    crate::support::db::connect(&devstack::supabase::role_url(
        &stack.db.url,
        "supabase_auth_admin",
    ))
    .await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn ask_for_link(
    stack: &TestSupabase,
    email: &str,
    redirect_to: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/auth/v1/recover", stack.url))
        .header("apikey", ANON_KEY)
        .json(&json!({ "email": email }));
    if let Some(redirect_to) = redirect_to {
        request = request.query(&[("redirect_to", redirect_to)]);
    }
    body(request.send().await.unwrap()).await
}

/// The link in the last email sent to `to`.
fn link_sent_to(resend: &RunningResend, to: &str) -> String {
    let mail = resend
        .sent()
        .into_iter()
        .rev()
        .find(|m| m["to"][0] == to)
        .unwrap_or_else(|| panic!("no email to {to}"));
    let html = mail["html"].as_str().unwrap();
    let start = html.find("href=\"").unwrap() + 6;
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

/// Opens an emailed link as a mail client does (no API key) and returns
/// where Auth sends the browser, split at the fragment.
async fn open_link(link: &str) -> (String, Value) {
    let response = no_redirects().get(link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{link}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let (page, fragment) = location.split_once('#').expect("a fragment");
    let fields: serde_json::Map<String, Value> =
        reqwest::Url::parse(&format!("http://x/?{fragment}"))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    (page.to_owned(), Value::Object(fields))
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_a_link_that_works_once() {
    let (stack, resend) = stack_with_mail().await;
    let email = "forgetful@example.test";
    let old_session_token = stack.access_token(email, "old-password-1").await;
    let auth = stack.auth();

    let options = ResetPasswordOptions {
        email_redirect_to: Some(format!("{SITE_URL}/reset-password")),
        captcha_token: None,
    };
    auth.reset_password_for_email(email, Some(options.clone()))
        .await
        .expect("recovery asked through the Rust client");
    let sent = resend.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["subject"], "Reset Your Password");
    assert_eq!(sent[0]["from"], "ModelPick <auth@modelpick.test>");

    // A second request within the minute mails nothing (GoTrue's 429).
    let (status, refused) = ask_for_link(&stack, email, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused["error_code"], "over_email_send_rate_limit");
    assert_eq!(resend.sent().len(), 1);

    // The database keeps a hash of the link's secret, never the secret.
    let link = link_sent_to(&resend, email);
    let secret = reqwest::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let stored: String = auth_db(&stack)
        .await
        .query_one(
            "select recovery_token from auth.users where email = $1",
            &[&email],
        )
        .await
        .unwrap()
        .get(0);
    assert_ne!(stored, secret);
    assert_eq!(stored.len(), 64);

    let (page, session) = open_link(&link).await;
    assert_eq!(page, format!("{SITE_URL}/reset-password"));
    assert_eq!(session["type"], "recovery");
    assert_eq!(session["token_type"], "bearer");
    let access = session["access_token"].as_str().unwrap();

    // The link works once.
    let (_, again) = open_link(&link).await;
    assert_eq!(again["error_code"], "otp_expired");
    assert!(again.get("access_token").is_none());

    let same = UpdatedUser {
        email: None,
        password: Some("old-password-1".into()),
        data: None,
    };
    let error = auth
        .update_user(same, access)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("different from the old password"), "{error}");
    let new = UpdatedUser {
        email: None,
        password: Some("new-password-2".into()),
        data: None,
    };
    let user = auth
        .update_user(new, access)
        .await
        .expect("new password set");
    assert_eq!(user.email, email);

    assert!(auth
        .login_with_email(email, "old-password-1")
        .await
        .is_err());
    auth.login_with_email(email, "new-password-2")
        .await
        .expect("the new password signs in");
    // Every other session ended with the old password; the recovery one stays.
    assert!(auth.get_user(&old_session_token).await.is_err());
    auth.get_user(access)
        .await
        .expect("the recovery session stays");
}

#[tokio::test]
async fn recovery_tells_nobody_who_has_an_account_and_leads_only_to_the_site() {
    let (stack, resend) = stack_with_mail().await;
    stack
        .access_token("known@example.test", "a-password-1")
        .await;

    let (status, answer) = ask_for_link(&stack, "nobody@example.test", None).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({})));
    let (status, answer) = ask_for_link(
        &stack,
        "Known@Example.test",
        Some("https://evil.example/steal"),
    )
    .await;
    assert_eq!((status, answer), (StatusCode::OK, json!({})));
    assert_eq!(
        resend.sent().len(),
        1,
        "only the account's address is mailed"
    );
    let link = link_sent_to(&resend, "known@example.test");
    let (page, session) = open_link(&link).await;
    assert_eq!(
        page, SITE_URL,
        "a foreign redirect falls back to the Site URL"
    );
    assert!(session["access_token"].is_string());

    for (email, reason) in [
        ("", "requires an email"),
        ("not-an-address", "invalid format"),
    ] {
        let (status, refused) = ask_for_link(&stack, email, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            refused["msg"].as_str().unwrap().contains(reason),
            "{refused}"
        );
    }
    let response = reqwest::Client::new()
        .post(format!("{}/auth/v1/recover", stack.url))
        .json(&json!({"email": "known@example.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no API key, no recovery"
    );
    assert_eq!(resend.sent().len(), 1);
}

#[tokio::test]
async fn a_link_older_than_an_hour_or_made_up_opens_nothing() {
    let (stack, resend) = stack_with_mail().await;
    stack
        .access_token("late@example.test", "a-password-1")
        .await;
    ask_for_link(
        &stack,
        "late@example.test",
        Some(&format!("{SITE_URL}/reset-password")),
    )
    .await;
    let link = link_sent_to(&resend, "late@example.test");
    auth_db(&stack)
        .await
        .execute(
            "update auth.users set recovery_sent_at = now() - interval '61 minutes' where email = 'late@example.test'",
            &[],
        )
        .await
        .unwrap();
    let (page, expired) = open_link(&link).await;
    assert_eq!(page, format!("{SITE_URL}/reset-password"));
    assert_eq!(expired["error"], "access_denied");
    assert_eq!(
        expired["error_description"],
        "Email link is invalid or has expired"
    );

    let base = format!("{}/auth/v1/verify", stack.url);
    for query in [
        "token=made-up&type=recovery",
        "type=recovery",
        "token=&type=recovery",
        "token=made-up&type=signup",
    ] {
        let (_, refused) = open_link(&format!("{base}?{query}")).await;
        assert_eq!(refused["error_code"], "otp_expired", "{query}");
    }
}

#[tokio::test]
async fn only_a_signed_in_user_changes_their_own_password() {
    let (stack, _resend) = stack_with_mail().await;
    let token = stack
        .access_token("owner@example.test", "a-password-1")
        .await;
    let put = |bearer: Option<&str>, payload: Value| {
        let mut request = reqwest::Client::new()
            .put(format!("{}/auth/v1/user", stack.url))
            .header("apikey", ANON_KEY)
            .json(&payload);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let change = json!({"password": "taken-over-1"});
    let (status, _) = body(put(None, change.clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for key in [ANON_KEY, SERVICE_KEY] {
        let (status, refused) = body(put(Some(key), change.clone()).await.unwrap()).await;
        assert_eq!(
            (status, refused["error_code"].as_str()),
            (StatusCode::FORBIDDEN, Some("bad_jwt"))
        );
    }
    let (status, refused) = body(
        put(Some(&token), json!({"password": "short"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, refused["error_code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );
    let (status, refused) = body(
        put(Some(&token), json!({"email": "other@example.test"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");

    let (status, user) = body(
        put(Some(&token), json!({"data": {"team": "ops", "gone": null}}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["user_metadata"]["team"], "ops");
    assert!(user["user_metadata"].get("gone").is_none());
    stack
        .auth()
        .login_with_email("owner@example.test", "a-password-1")
        .await
        .expect("password unchanged");
}

#[tokio::test]
async fn without_a_mailer_recovery_fails_loudly_and_sends_nothing_later() {
    let stack = TestSupabase::start().await;
    stack
        .access_token("unmailed@example.test", "a-password-1")
        .await;
    let (status, refused) = ask_for_link(&stack, "unmailed@example.test", None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{refused}");
    let row = auth_db(&stack)
        .await
        .query_one(
            "select recovery_token, recovery_sent_at from auth.users where email = 'unmailed@example.test'",
            &[],
        )
        .await
        .unwrap();
    let token: Option<String> = row.get(0);
    let sent_at: Option<chrono::DateTime<chrono::Utc>> = row.get(1);
    assert_eq!(
        (token, sent_at),
        (None, None),
        "nothing kept of a link never sent"
    );
}
