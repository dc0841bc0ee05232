//! Password recovery, as Supabase Auth runs it with the implicit flow:
//! `POST /auth/v1/recover` mails a one-time link, `GET /auth/v1/verify`
//! spends it and redirects to the page the link names, with a session in
//! the URL fragment (`type=recovery`), where the page sets a new password
//! with `PUT /auth/v1/user`.
//!
//! Stricter than GoTrue where it costs nothing: the link carries a random
//! secret and the database keeps only its SHA-256, and a link may lead
//! only to a page of the Site URL's origin (GoTrue accepts its hostname
//! and an allow list).

use std::sync::Arc;

use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use warp::http::{header, StatusCode};
use warp::reply::{Reply, Response};

use super::auth::{self, Auth, AuthError, AuthResult};
use super::reply;

/// How long a recovery link works (hosted Supabase's default OTP expiry).
const LINK_LIFETIME_SECS: f64 = 3600.0;
/// At most one recovery email per user in this many seconds (GoTrue's
/// `SMTP_MAX_FREQUENCY` default).
const MIN_SECS_BETWEEN_EMAILS: f64 = 60.0;

#[derive(Deserialize)]
struct RecoverRequest {
    email: Option<String>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Where a link may lead: `requested` when it is a page of the Site URL's
/// origin, else the Site URL itself.
fn allowed_redirect(site_url: &str, requested: Option<&str>) -> String {
    let origin = |url: &str| {
        reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(|u| u.origin())
    };
    match requested {
        Some(url) if origin(url).is_some() && origin(url) == origin(site_url) => url.to_owned(),
        _ => site_url.to_owned(),
    }
}

/// `POST /auth/v1/recover?redirect_to=…`: `{}` whether or not the address
/// has an account, so the answer tells nobody who is a customer; 429 when
/// this account was mailed less than a minute ago (GoTrue's answer).
pub async fn recover(
    auth: Arc<Auth>,
    redirect_to: Option<String>,
    body: bytes::Bytes,
) -> AuthResult {
    let request: RecoverRequest = auth::parse(&body)?;
    let email = request.email.unwrap_or_default().trim().to_lowercase();
    if email.is_empty() {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Password recovery requires an email",
        ));
    }
    auth::check_email_format(&email)?;
    let token = Alphanumeric.sample_string(&mut rand::rng(), 40);
    let mut db = auth.db.get().await?;
    let tx = db.transaction().await?;
    let user = tx
        .query_opt(
            "update auth.users set recovery_token = $2, recovery_sent_at = now(), updated_at = now()
              where lower(email) = $1 and deleted_at is null
                and (recovery_sent_at is null
                     or recovery_sent_at < now() - make_interval(secs => $3))
              returning email",
            &[&email, &token_hash(&token), &MIN_SECS_BETWEEN_EMAILS],
        )
        .await?;
    let Some(user) = user else {
        let exists = tx
            .query_opt(
                "select 1 from auth.users where lower(email) = $1 and deleted_at is null",
                &[&email],
            )
            .await?
            .is_some();
        return if exists {
            Err(AuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over_email_send_rate_limit",
                "For security purposes, you can only request this once every 60 seconds",
            ))
        } else {
            Ok(reply::json(StatusCode::OK, &json!({})))
        };
    };
    let to: String = user.get("email");
    send_recovery_email(&auth, &to, &token, redirect_to.as_deref()).await?;
    tx.commit().await?;
    Ok(reply::json(StatusCode::OK, &json!({})))
}

async fn send_recovery_email(
    auth: &Auth,
    to: &str,
    token: &str,
    redirect_to: Option<&str>,
) -> Result<(), AuthError> {
    let link = reqwest::Url::parse_with_params(
        &format!("{}/verify", auth.issuer),
        &[
            ("token", token),
            ("type", "recovery"),
            (
                "redirect_to",
                &allowed_redirect(&auth.site_url, redirect_to),
            ),
        ],
    )
    .map_err(AuthError::internal)?;
    let html = format!(
        "<h2>Reset Password</h2>\n<p>Follow this link to reset the password for your user:</p>\n\
         <p><a href=\"{}\">Reset Password</a></p>\n",
        link.as_str().replace('&', "&amp;")
    );
    let mailer = auth.mailer.as_ref().ok_or_else(|| {
        AuthError::internal("no mailer is configured (RESEND_BASE_URL, RESEND_API_KEY)")
    })?;
    mailer
        .send(to, "Reset Your Password", html)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "recovery email not sent");
            AuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected_failure",
                "Error sending recovery email",
            )
        })
}

#[derive(Deserialize)]
pub struct VerifyQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

fn see_other(location: &str) -> Response {
    warp::reply::with_header(StatusCode::SEE_OTHER, header::LOCATION, location).into_response()
}

fn with_fragment(url: &str, pairs: &[(&str, &str)]) -> String {
    let fragment = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let base = url.split('#').next().unwrap_or(url);
    format!("{base}#{fragment}")
}

/// `GET /auth/v1/verify?token=…&type=recovery&redirect_to=…`, the link in
/// the email: opened by anyone holding it, without an API key. Spends the
/// token (once, within its hour) and redirects with a session in the
/// fragment; a bad or spent link redirects with GoTrue's error instead.
pub async fn verify(auth: Arc<Auth>, query: VerifyQuery) -> Response {
    let target = allowed_redirect(&auth.site_url, query.redirect_to.as_deref());
    match spend_recovery_link(&auth, &query).await {
        Ok(Some(user_id)) => match auth::open_session(&auth, user_id, "otp").await {
            Ok(session) => {
                let body = auth::session_body(&auth, &session);
                let text = |key: &str| match &body[key] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let pairs = [
                    ("access_token", text("access_token")),
                    ("expires_at", text("expires_at")),
                    ("expires_in", text("expires_in")),
                    ("refresh_token", text("refresh_token")),
                    ("token_type", text("token_type")),
                    ("type", "recovery".to_owned()),
                ];
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                see_other(&with_fragment(&target, &pairs))
            }
            Err(e) => e.into_response(),
        },
        Ok(None) => see_other(&with_fragment(
            &target,
            &[
                ("error", "access_denied"),
                ("error_code", "otp_expired"),
                ("error_description", "Email link is invalid or has expired"),
            ],
        )),
        Err(e) => e.into_response(),
    }
}

/// The user whose unexpired recovery link this is, the link spent; none
/// for an unknown, spent, expired or other kind of link.
async fn spend_recovery_link(auth: &Auth, query: &VerifyQuery) -> Result<Option<Uuid>, AuthError> {
    let token = query.token.as_deref().unwrap_or_default();
    if query.kind.as_deref() != Some("recovery") || token.is_empty() {
        return Ok(None);
    }
    let row = auth
        .db
        .get()
        .await?
        .query_opt(
            "update auth.users
                set recovery_token = '', email_confirmed_at = coalesce(email_confirmed_at, now()),
                    updated_at = now()
              where recovery_token = $1
                and recovery_sent_at > now() - make_interval(secs => $2)
                and deleted_at is null
                and (banned_until is null or banned_until < now())
              returning id",
            &[&token_hash(token), &LINK_LIFETIME_SECS],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::{allowed_redirect, with_fragment};

    #[test]
    fn links_lead_only_to_the_site_origin() {
        let site = "http://127.0.0.1:8787";
        for (requested, expected) in [
            (
                Some("http://127.0.0.1:8787/reset-password"),
                "http://127.0.0.1:8787/reset-password",
            ),
            (Some("http://127.0.0.1:9999/reset-password"), site),
            (Some("https://127.0.0.1:8787/reset-password"), site),
            (Some("http://evil.example/reset-password"), site),
            (Some("javascript:alert(1)"), site),
            (Some("//evil.example/x"), site),
            (None, site),
        ] {
            assert_eq!(allowed_redirect(site, requested), expected, "{requested:?}");
        }
    }

    #[test]
    fn a_fragment_replaces_the_one_the_page_had() {
        assert_eq!(
            with_fragment("http://a/x?y=1#old", &[("type", "recovery"), ("e", "a b")]),
            "http://a/x?y=1#type=recovery&e=a+b"
        );
    }
}
