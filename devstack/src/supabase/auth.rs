//! `/auth/v1`: enough of Supabase Auth (GoTrue) for supabase-js: password
//! sign-up and sign-in, refresh-token rotation, the current user, logout
//! and the JWKS document. Users, sessions and refresh tokens live in the
//! real `auth` tables; passwords are bcrypt hashes, as GoTrue stores them.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use serde_json::json;
use tokio_postgres::Row;
use uuid::Uuid;
use warp::http::StatusCode;
use warp::reply::Response;

use super::jwt::{self, Claims};
use super::reply;

/// What Auth needs: its own database login (`supabase_auth_admin`, owner of
/// the `auth` tables) and what it signs tokens with.
pub struct Auth {
    pub db: deadpool_postgres::Pool,
    pub jwt_secret: String,
    /// `<project URL>/auth/v1`, the tokens' issuer.
    pub issuer: String,
    /// Access tokens' lifetime in seconds.
    pub jwt_expiry_secs: i64,
    /// Where email links lead unless they name an allowed page.
    pub site_url: String,
    /// Sends Auth's emails; none: recovery answers 500, as GoTrue does
    /// when its mailer fails.
    pub mailer: Option<super::mailer::Mailer>,
}

/// A GoTrue-shaped error: `{"code", "error_code", "msg"}`.
#[derive(Debug)]
pub struct AuthError {
    status: StatusCode,
    error_code: &'static str,
    msg: String,
}

impl AuthError {
    pub(super) fn new(
        status: StatusCode,
        error_code: &'static str,
        msg: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error_code,
            msg: msg.into(),
        }
    }

    fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
            "Invalid login credentials",
        )
    }

    pub(super) fn bad_json(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad_json",
            format!("Could not parse request body as JSON: {e}"),
        )
    }

    pub(super) fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "auth request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Unexpected failure",
        )
    }

    pub fn into_response(self) -> Response {
        reply::json(
            self.status,
            &json!({"code": self.status.as_u16(), "error_code": self.error_code, "msg": self.msg}),
        )
    }
}

impl From<tokio_postgres::Error> for AuthError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::internal(super::reply::describe_db_error(&e))
    }
}

impl From<deadpool_postgres::PoolError> for AuthError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::internal(e)
    }
}

pub type AuthResult = Result<Response, AuthError>;

#[derive(Deserialize)]
struct Credentials {
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: Option<String>,
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AuthError> {
    serde_json::from_slice(body).map_err(AuthError::bad_json)
}

pub(super) const USER_COLUMNS: &str =
    "id, aud, role, email, email_confirmed_at, phone, confirmed_at, last_sign_in_at, \
     raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous";

pub(super) fn user_json(row: &Row) -> serde_json::Value {
    let ts = |name: &str| row.get::<_, Option<DateTime<Utc>>>(name);
    json!({
        "id": row.get::<_, Uuid>("id"),
        "aud": row.get::<_, Option<String>>("aud").unwrap_or_else(|| "authenticated".into()),
        "role": row.get::<_, Option<String>>("role").unwrap_or_else(|| "authenticated".into()),
        "email": row.get::<_, Option<String>>("email"),
        "email_confirmed_at": ts("email_confirmed_at"),
        "phone": row.get::<_, Option<String>>("phone").unwrap_or_default(),
        "confirmed_at": ts("confirmed_at"),
        "last_sign_in_at": ts("last_sign_in_at"),
        "app_metadata": row.get::<_, Option<serde_json::Value>>("raw_app_meta_data").unwrap_or_else(|| json!({})),
        "user_metadata": row.get::<_, Option<serde_json::Value>>("raw_user_meta_data").unwrap_or_else(|| json!({})),
        "identities": [],
        "created_at": ts("created_at"),
        "updated_at": ts("updated_at"),
        "is_anonymous": row.get::<_, bool>("is_anonymous"),
    })
}

pub(super) fn new_refresh_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// A session just opened: the user as of signing in, and what the client
/// keeps (the session id inside its access token, and its refresh token).
pub(super) struct OpenedSession {
    user: Row,
    session_id: Uuid,
    refresh_token: String,
    /// How the user proved who they are: `password`, or `otp` for an
    /// email link (the access token's `amr`).
    method: &'static str,
}

/// Opens a session for the user (signed in by `method`).
pub(super) async fn open_session(
    auth: &Auth,
    user_id: Uuid,
    method: &'static str,
) -> Result<OpenedSession, AuthError> {
    let db = auth.db.get().await?;
    let session_id = Uuid::new_v4();
    let refresh_token = new_refresh_token();
    db.execute(
        "insert into auth.sessions (id, user_id, created_at, updated_at) values ($1, $2, now(), now())",
        &[&session_id, &user_id],
    )
    .await?;
    db.execute(
        "insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, session_id)
         values ($1, $2, false, now(), now(), $3)",
        &[&refresh_token, &user_id.to_string(), &session_id],
    )
    .await?;
    let user = db
        .query_one(
            &format!("update auth.users set last_sign_in_at = now() where id = $1 returning {USER_COLUMNS}"),
            &[&user_id],
        )
        .await?;
    Ok(OpenedSession {
        user,
        session_id,
        refresh_token,
        method,
    })
}

/// Opens a password session and answers with GoTrue's session shape.
async fn issue_session(auth: &Auth, user: &Row) -> AuthResult {
    let session = open_session(auth, user.get("id"), "password").await?;
    Ok(reply::json(StatusCode::OK, &session_body(auth, &session)))
}

/// GoTrue's session document: the tokens, their lifetime and the user.
pub(super) fn session_body(auth: &Auth, session: &OpenedSession) -> serde_json::Value {
    let OpenedSession {
        user,
        session_id,
        refresh_token,
        method,
    } = session;
    let now = Utc::now().timestamp();
    let expires_at = now + auth.jwt_expiry_secs;
    let user_json = user_json(user);
    let claims = Claims {
        iss: Some(auth.issuer.clone()),
        sub: Some(user.get::<_, Uuid>("id").to_string()),
        aud: Some("authenticated".into()),
        role: "authenticated".into(),
        exp: expires_at,
        iat: Some(now),
        email: user.get("email"),
        phone: Some(String::new()),
        app_metadata: Some(user_json["app_metadata"].clone()),
        user_metadata: Some(user_json["user_metadata"].clone()),
        aal: Some("aal1".into()),
        amr: Some(json!([{"method": method, "timestamp": now}])),
        session_id: Some(session_id.to_string()),
        is_anonymous: Some(false),
    };
    json!({
        "access_token": jwt::sign(&auth.jwt_secret, &claims),
        "token_type": "bearer",
        "expires_in": auth.jwt_expiry_secs,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": user_json,
    })
}

/// An address GoTrue would take: something at something, at most 255
/// characters.
pub(super) fn check_email_format(email: &str) -> Result<(), AuthError> {
    if email.is_empty() || !email.contains('@') || email.len() > 255 {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "Unable to validate email address: invalid format",
        ));
    }
    Ok(())
}

/// The claims of the request's bearer token, signed with the project's
/// secret: 401 without one, 403 when it does not verify. Who it speaks
/// for (a user, a key) is the caller's to check.
pub(super) fn bearer_claims(auth: &Auth, authorization: Option<&str>) -> Result<Claims, AuthError> {
    let token = jwt::bearer(authorization).ok_or_else(|| {
        AuthError::new(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "This endpoint requires a Bearer token",
        )
    })?;
    jwt::verify(&auth.jwt_secret, token).map_err(|e| {
        AuthError::new(
            StatusCode::FORBIDDEN,
            "bad_jwt",
            format!("invalid JWT: {e}"),
        )
    })
}

/// GoTrue's bounds: at least 6 characters, and at most the 72 bytes
/// bcrypt reads.
pub(super) fn check_password_length(password: &str) -> Result<(), AuthError> {
    if password.len() < 6 || password.len() > 72 {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            "Password should be between 6 and 72 characters.",
        ));
    }
    Ok(())
}

pub(super) async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, bcrypt::DEFAULT_COST))
        .await
        .map_err(AuthError::internal)?
        .map_err(AuthError::internal)
}

pub(super) async fn password_matches(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

pub async fn signup(auth: Arc<Auth>, body: bytes::Bytes) -> AuthResult {
    let credentials: Credentials = parse(&body)?;
    let email = credentials.email.unwrap_or_default().trim().to_lowercase();
    let password = credentials.password.unwrap_or_default();
    check_email_format(&email)?;
    check_password_length(&password)?;
    let hash = hash_password(password).await?;
    let metadata = credentials
        .data
        .filter(|d| d.is_object())
        .unwrap_or_else(|| json!({}));
    let db = auth.db.get().await?;
    let user = db
        .query_opt(
            &format!(
                "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                         raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
                 values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
                         $1, $2, now(), '{{\"provider\": \"email\", \"providers\": [\"email\"]}}', $3, now(), now())
                 on conflict do nothing
                 returning {USER_COLUMNS}"
            ),
            &[&email, &hash, &metadata],
        )
        .await?;
    let Some(user) = user else {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "user_already_exists",
            "User already registered",
        ));
    };
    let user_id: Uuid = user.get("id");
    db.execute(
        "insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
         values ($1::text, $2, jsonb_build_object('sub', $1::text, 'email', $3::text), 'email', now(), now())",
        &[&user_id.to_string(), &user_id, &email],
    )
    .await?;
    drop(db);
    issue_session(&auth, &user).await
}

pub async fn token(auth: Arc<Auth>, grant_type: Option<String>, body: bytes::Bytes) -> AuthResult {
    match grant_type.as_deref() {
        Some("password") => password_grant(&auth, parse(&body)?).await,
        Some("refresh_token") => refresh_grant(&auth, parse(&body)?).await,
        _ => Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            "unsupported_grant_type",
        )),
    }
}

/// A hash of a random password, checked when the email is unknown so that
/// an unknown email costs as much time as a wrong password.
async fn no_user_hash() -> String {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async { hash_password(new_refresh_token()).await.unwrap_or_default() })
        .await
        .clone()
}

async fn password_grant(auth: &Auth, credentials: Credentials) -> AuthResult {
    let email = credentials.email.unwrap_or_default().trim().to_lowercase();
    let password = credentials.password.unwrap_or_default();
    let user = auth
        .db
        .get()
        .await?
        .query_opt(
            &format!(
                "select {USER_COLUMNS}, encrypted_password from auth.users
                  where lower(email) = $1 and deleted_at is null"
            ),
            &[&email],
        )
        .await?;
    let hash = match user
        .as_ref()
        .and_then(|u| u.get::<_, Option<String>>("encrypted_password"))
    {
        Some(hash) => hash,
        None => no_user_hash().await,
    };
    let matches = password_matches(password, hash).await;
    match user {
        Some(user) if matches => issue_session(auth, &user).await,
        _ => Err(AuthError::invalid_credentials()),
    }
}

fn refresh_token_not_found() -> AuthError {
    AuthError::new(
        StatusCode::BAD_REQUEST,
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    )
}

async fn refresh_grant(auth: &Auth, request: RefreshRequest) -> AuthResult {
    let old = request.refresh_token.unwrap_or_default();
    if old.is_empty() {
        return Err(refresh_token_not_found());
    }
    let mut db = auth.db.get().await?;
    let tx = db.transaction().await?;
    let (session_id, user_id) = spend(&tx, &old).await?;
    let session = tx
        .query_opt(
            "update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1 returning id",
            &[&session_id],
        )
        .await?;
    if session.is_none() {
        return Err(refresh_token_not_found());
    }
    let fresh = new_refresh_token();
    tx.execute(
        "insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, parent, session_id)
         values ($1, $2, false, now(), now(), $3, $4)",
        &[&fresh, &user_id, &old, &session_id],
    )
    .await?;
    let user_uuid = Uuid::parse_str(&user_id).map_err(|_| refresh_token_not_found())?;
    let user = tx
        .query_one(
            &format!("select {USER_COLUMNS} from auth.users where id = $1"),
            &[&user_uuid],
        )
        .await?;
    tx.commit().await?;
    let session = OpenedSession {
        user,
        session_id,
        refresh_token: fresh,
        method: "password",
    };
    Ok(reply::json(StatusCode::OK, &session_body(auth, &session)))
}

/// Rotation: the token is spent in the same statement that checks it, so
/// two concurrent refreshes cannot both succeed. Its session and user.
async fn spend(
    tx: &deadpool_postgres::Transaction<'_>,
    token: &str,
) -> Result<(Uuid, String), AuthError> {
    let spent = tx
        .query_opt(
            "update auth.refresh_tokens set revoked = true, updated_at = now()
              where token = $1 and not revoked
              returning session_id, user_id",
            &[&token],
        )
        .await?;
    if let Some(spent) = spent {
        return Ok((spent.get(0), spent.get(1)));
    }
    let exists = tx
        .query_opt(
            "select 1 from auth.refresh_tokens where token = $1",
            &[&token],
        )
        .await?
        .is_some();
    Err(if exists {
        AuthError::new(
            StatusCode::BAD_REQUEST,
            "refresh_token_already_used",
            "Invalid Refresh Token: Already Used",
        )
    } else {
        refresh_token_not_found()
    })
}

/// This project signs with the shared HS256 secret only, and Supabase
/// publishes no symmetric keys, so the key set is empty.
pub fn jwks() -> Response {
    reply::json(StatusCode::OK, &json!({"keys": []}))
}

pub fn settings() -> Response {
    reply::json(
        StatusCode::OK,
        &json!({
            "external": {"email": true, "phone": false, "anonymous_users": false},
            "disable_signup": false,
            "mailer_autoconfirm": true,
            "phone_autoconfirm": false,
            "sms_provider": "",
            "saml_enabled": false
        }),
    )
}
