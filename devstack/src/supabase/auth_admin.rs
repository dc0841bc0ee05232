//! Auth's admin API, as GoTrue serves it: `DELETE /auth/v1/admin/users/:id`
//! deletes an account (its identities, sessions and refresh tokens with
//! it). Only a service-role key may call it.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;
use warp::http::StatusCode;

use super::auth::{self, Auth, AuthError, AuthResult};
use super::reply;

fn service_role(auth: &Auth, authorization: Option<&str>) -> Result<(), AuthError> {
    let claims = auth::bearer_claims(auth, authorization)?;
    if claims.role != "service_role" {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "not_admin",
            "User not allowed",
        ));
    }
    Ok(())
}

pub async fn delete_user(auth: Arc<Auth>, id: String, authorization: Option<String>) -> AuthResult {
    service_role(&auth, authorization.as_deref())?;
    let user_id = Uuid::parse_str(&id)
        .map_err(|_| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))?;
    let db = auth.db.get().await?;
    db.execute(
        "delete from auth.refresh_tokens where user_id = $1",
        &[&user_id.to_string()],
    )
    .await?;
    let deleted = db
        .execute("delete from auth.users where id = $1", &[&user_id])
        .await?;
    if deleted == 0 {
        return Err(AuthError::new(
            StatusCode::NOT_FOUND,
            "user_not_found",
            "User not found",
        ));
    }
    Ok(reply::json(StatusCode::OK, &json!({})))
}
