//! `/auth/v1/user` and `/auth/v1/logout`: the signed-in user reads and
//! changes their account (password, metadata) and ends sessions.

use std::sync::Arc;

use serde::Deserialize;
use uuid::Uuid;
use warp::http::StatusCode;

use super::auth::{self, Auth, AuthError, AuthResult, USER_COLUMNS};
use super::jwt::Claims;
use super::reply;

/// The caller's verified claims, and that their session still exists.
async fn authenticated(auth: &Auth, authorization: Option<String>) -> Result<Claims, AuthError> {
    let claims = auth::bearer_claims(auth, authorization.as_deref())?;
    let session = claims
        .session_id
        .as_deref()
        .and_then(|s| Uuid::parse_str(s).ok());
    let (Some(_), Some(session)) = (claims.sub.as_deref(), session) else {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "bad_jwt",
            "invalid JWT: not a user token",
        ));
    };
    let exists = auth
        .db
        .get()
        .await?
        .query_opt("select 1 from auth.sessions where id = $1", &[&session])
        .await?
        .is_some();
    if !exists {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "session_not_found",
            "Session from session_id claim in JWT does not exist",
        ));
    }
    Ok(claims)
}

pub async fn user(auth: Arc<Auth>, authorization: Option<String>) -> AuthResult {
    let claims = authenticated(&auth, authorization).await?;
    let user_id = claims.sub.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let user = auth
        .db
        .get()
        .await?
        .query_opt(
            &format!("select {USER_COLUMNS} from auth.users where id = $1"),
            &[&user_id],
        )
        .await?
        .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
    Ok(reply::json(StatusCode::OK, &auth::user_json(&user)))
}

/// Ends the caller's session (`scope=local`), every session of theirs
/// (`global`, the default) or all but this one (`others`).
pub async fn logout(
    auth: Arc<Auth>,
    scope: Option<String>,
    authorization: Option<String>,
) -> AuthResult {
    let claims = authenticated(&auth, authorization).await?;
    let user_id = claims.sub.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let session = claims
        .session_id
        .as_deref()
        .and_then(|s| Uuid::parse_str(s).ok());
    let sql = match scope.as_deref().unwrap_or("global") {
        "global" => "delete from auth.sessions where user_id = $1 and ($2::uuid is not null)",
        "local" => "delete from auth.sessions where user_id = $1 and id = $2",
        "others" => "delete from auth.sessions where user_id = $1 and id <> $2",
        other => {
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                format!("Unsupported logout scope {other:?}"),
            ))
        }
    };
    auth.db
        .get()
        .await?
        .execute(sql, &[&user_id, &session])
        .await?;
    Ok(warp::reply::Reply::into_response(StatusCode::NO_CONTENT))
}

#[derive(Deserialize)]
struct UserUpdate {
    password: Option<String>,
    data: Option<serde_json::Value>,
    email: Option<String>,
    phone: Option<String>,
}

/// `PUT /auth/v1/user`: a new password (the user's other sessions end, as
/// GoTrue ends them) and metadata merged key by key (a null removes a
/// key). Changing the email or phone needs a confirmation flow this
/// stand-in does not run, so it is refused rather than done unconfirmed.
pub async fn update_user(
    auth: Arc<Auth>,
    authorization: Option<String>,
    body: bytes::Bytes,
) -> AuthResult {
    let claims = authenticated(&auth, authorization).await?;
    let update: UserUpdate = auth::parse(&body)?;
    if update.email.is_some() || update.phone.is_some() {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "This Auth server does not change email addresses or phone numbers",
        ));
    }
    let user_id = claims.sub.as_deref().and_then(|s| Uuid::parse_str(s).ok());
    let session = claims
        .session_id
        .as_deref()
        .and_then(|s| Uuid::parse_str(s).ok());
    let mut db = auth.db.get().await?;
    let tx = db.transaction().await?;
    if let Some(password) = update.password {
        set_password(&tx, user_id, session, password).await?;
    }
    if let Some(data) = update.data.filter(|d| d.is_object()) {
        tx.execute(
            "update auth.users
                set raw_user_meta_data = (coalesce(raw_user_meta_data, '{}') || $2::jsonb)
                      - coalesce(array(select key from jsonb_each($2::jsonb) where value = 'null'), '{}'),
                    updated_at = now()
              where id = $1",
            &[&user_id, &data],
        )
        .await?;
    }
    let user = tx
        .query_opt(
            &format!("select {USER_COLUMNS} from auth.users where id = $1"),
            &[&user_id],
        )
        .await?
        .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
    tx.commit().await?;
    Ok(reply::json(StatusCode::OK, &auth::user_json(&user)))
}

async fn set_password(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: Option<Uuid>,
    session: Option<Uuid>,
    password: String,
) -> Result<(), AuthError> {
    auth::check_password_length(&password)?;
    let current: Option<String> = tx
        .query_opt(
            "select encrypted_password from auth.users where id = $1 for update",
            &[&user_id],
        )
        .await?
        .and_then(|row| row.get(0));
    if let Some(current) = current {
        if auth::password_matches(password.clone(), current).await {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "same_password",
                "New password should be different from the old password.",
            ));
        }
    }
    let hash = auth::hash_password(password).await?;
    tx.execute(
        "update auth.users
            set encrypted_password = $2, recovery_token = '', updated_at = now()
          where id = $1",
        &[&user_id, &hash],
    )
    .await?;
    tx.execute(
        "delete from auth.sessions where user_id = $1 and id is distinct from $2",
        &[&user_id, &session],
    )
    .await?;
    Ok(())
}
