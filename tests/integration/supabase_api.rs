//! The local Supabase API through its gateway, driven by the real Rust
//! PostgREST client (postgrest-rs) and plain HTTP for Auth and Storage.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::fixtures::{create_ready_draft, create_user, fulfill, DEMO_DRAFT, DEMO_USER};
use crate::support::http::json_body as body;
use crate::support::supabase::{TestSupabase, ANON_KEY, DEMO_EMAIL, DEMO_PASSWORD, SERVICE_KEY};

async fn rest_call(request: postgrest::Builder) -> (StatusCode, Value) {
    let response = request.execute().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn the_demo_user_reads_its_own_draft_and_nobody_elses() {
    let stack = TestSupabase::start().await;
    let token = stack.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let rest = stack.rest_as(&token);

    let (status, draft) = rest_call(
        rest.from("benchmark_drafts")
            .select("id,status,selected_models")
            .eq("id", DEMO_DRAFT)
            .single(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(draft["id"], DEMO_DRAFT);
    assert_eq!(draft["status"], "ready");
    assert_eq!(draft["selected_models"].as_array().unwrap().len(), 3);

    // Someone else's draft: RLS hides it, so `.single()` finds no row.
    let db = stack.db.client().await;
    let stranger = create_user(&db, "stranger@example.test").await;
    let theirs = create_ready_draft(&db, stranger, 1, 1).await;
    let (status, error) = rest_call(
        rest.from("benchmark_drafts")
            .eq("id", theirs.to_string())
            .single(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(error["code"], "PGRST116");
    let (_, all) = rest_call(rest.from("benchmark_drafts").select("id")).await;
    assert_eq!(
        all,
        json!([{"id": DEMO_DRAFT}]),
        "a user lists only their own drafts"
    );

    // Anonymous callers see no drafts at all.
    let (status, _) = rest_call(stack.rest(ANON_KEY).from("benchmark_drafts")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_share_link_opens_exactly_one_report_and_never_who_paid() {
    let stack = TestSupabase::start().await;
    let db = stack.db.client().await;
    let owner = create_user(&db, "owner@example.test").await;
    let shared = fulfill(
        &db,
        "cs_shared",
        create_ready_draft(&db, owner, 1, 1).await,
        owner,
    )
    .await
    .unwrap()
    .0;
    let other = fulfill(
        &db,
        "cs_other",
        create_ready_draft(&db, owner, 1, 1).await,
        owner,
    )
    .await
    .unwrap()
    .0;
    let token: String = db
        .query_one(
            "select share_token from public.reports where id = $1",
            &[&shared],
        )
        .await
        .unwrap()
        .get(0);
    let read = |report: uuid::Uuid, token: &str| {
        stack.rest(ANON_KEY).rpc(
            "read_report",
            json!({"p_report_id": report, "p_share_token": token}).to_string(),
        )
    };

    let (status, report) = rest_call(read(shared, &token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["id"], shared.to_string());
    assert_eq!(report["status"], "paid");
    assert_eq!(report["owner"], false);
    for hidden in [
        "user_id",
        "stripe_session_id",
        "draft_id",
        "refund_id",
        "lease_token",
    ] {
        assert!(report.get(hidden).is_none(), "{hidden} is not shared");
    }
    assert_eq!(
        report["share_token"],
        Value::Null,
        "the link is the owner's to give"
    );

    let (_, wrong) = rest_call(read(shared, &format!("{token}0"))).await;
    assert_eq!(wrong, Value::Null, "a wrong token opens nothing");
    let (_, elsewhere) = rest_call(read(other, &token)).await;
    assert_eq!(elsewhere, Value::Null, "a token opens only its own report");

    // The table itself stays closed to anyone without an account.
    let (status, _) = rest_call(stack.rest(ANON_KEY).from("reports").select("id")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn service_role_calls_rpc_and_users_cannot() {
    let stack = TestSupabase::start().await;
    let args = json!({
        "p_stripe_session_id": "cs_rpc",
        "p_draft_id": DEMO_DRAFT,
        "p_user_id": DEMO_USER,
    })
    .to_string();

    let token = stack.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (status, error) =
        rest_call(stack.rest_as(&token).rpc("fulfill_checkout", args.clone())).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an authenticated refusal is 403, as in PostgREST"
    );
    assert_eq!(error["code"], "42501");

    let service = stack.rest(SERVICE_KEY);
    let (status, first) = rest_call(service.rpc("fulfill_checkout", args.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first[0]["created"], true);
    let (_, again) = rest_call(service.rpc("fulfill_checkout", args)).await;
    assert_eq!(again[0]["created"], false);
    assert_eq!(again[0]["report_id"], first[0]["report_id"]);

    // The function's own refusals come back with their HTTP status.
    let (status, error) = rest_call(
        service
            .rpc(
                "fulfill_checkout",
                json!({"p_stripe_session_id": "cs_x", "p_draft_id": DEMO_DRAFT, "p_user_id": uuid::Uuid::new_v4()})
                    .to_string(),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "PT403");
}

#[tokio::test]
async fn users_insert_and_patch_where_policies_allow() {
    let stack = TestSupabase::start().await;
    let token = stack
        .access_token("writer@example.test", "correct horse")
        .await;
    let rest = stack.rest_as(&token);

    let (status, created) = rest_call(
        rest.from("benchmark_drafts")
            .insert(json!({"config_data": {"name": "Receipts"}}).to_string())
            .single(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["status"], "draft");
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, patched) = rest_call(
        rest.from("benchmark_drafts")
            .eq("id", &id)
            .update(json!({"selected_models": ["openai/gpt-4o"]}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched[0]["selected_models"], json!(["openai/gpt-4o"]));

    // Paying by writing the status is refused, and changes nothing.
    let (status, error) = rest_call(
        rest.from("benchmark_drafts")
            .eq("id", &id)
            .update(json!({"status": "paid"}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "42501");
    // A draft that cannot run cannot be marked ready: the database says why.
    let (status, error) = rest_call(
        rest.from("benchmark_drafts")
            .eq("id", &id)
            .update(json!({"status": "ready"}).to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["message"], "A ready draft needs at least one image.");
    let (_, now) = rest_call(rest.from("benchmark_drafts").eq("id", &id).single()).await;
    assert_eq!(now["status"], "draft");

    // Reports are never written by users.
    let (status, _) = rest_call(rest.from("reports").insert(
        json!({"config_snapshot": {}, "image_paths": [], "extraction_prompt": "x"}).to_string(),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn auth_signs_up_signs_in_rotates_refresh_tokens_and_logs_out() {
    let stack = TestSupabase::start().await;
    let http = reqwest::Client::new();
    let auth = |path: &str| format!("{}/auth/v1/{path}", stack.url);

    let (status, session) = body(
        http.post(auth("signup"))
            .header("apikey", ANON_KEY)
            .json(&json!({"email": "New@Example.test", "password": "s3cret-pass"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["user"]["email"], "new@example.test");
    let (status, dup) = body(
        http.post(auth("signup"))
            .header("apikey", ANON_KEY)
            .json(&json!({"email": "new@example.test", "password": "another-pass"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, dup["error_code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("user_already_exists")
        )
    );

    // Wrong password and unknown email are indistinguishable.
    let (wrong_status, wrong) = body(stack.sign_in("new@example.test", "not-it").await).await;
    let (unknown_status, unknown) =
        body(stack.sign_in("nobody@example.test", "not-it").await).await;
    assert_eq!(wrong_status, StatusCode::BAD_REQUEST);
    assert_eq!((wrong_status, &wrong), (unknown_status, &unknown));
    assert_eq!(wrong["error_code"], "invalid_credentials");

    let (_, session) = body(stack.sign_in("new@example.test", "s3cret-pass").await).await;
    let access = session["access_token"].as_str().unwrap().to_owned();
    let claims = devstack_claims(&access);
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["sub"], session["user"]["id"]);
    for claim in ["email", "exp", "iat", "session_id", "aal", "is_anonymous"] {
        assert!(!claims[claim].is_null(), "claim {claim} present");
    }

    let (status, user) = body(
        http.get(auth("user"))
            .header("apikey", ANON_KEY)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "new@example.test");

    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |token: String| {
        http.post(auth("token?grant_type=refresh_token"))
            .header("apikey", ANON_KEY)
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    let (status, rotated) = body(refresh_with(refresh.clone()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(rotated["refresh_token"], refresh);
    let (status, reused) = body(refresh_with(refresh).await.unwrap()).await;
    assert_eq!(
        (status, reused["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("refresh_token_already_used"))
    );

    let status = http
        .post(auth("logout"))
        .header("apikey", ANON_KEY)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = body(
        http.get(auth("user"))
            .header("apikey", ANON_KEY)
            .bearer_auth(&access)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the session is gone after logout"
    );
    let (status, _) = body(
        refresh_with(rotated["refresh_token"].as_str().unwrap().to_owned())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "logout ends refresh too");

    let (status, jwks) = body(
        http.get(auth(".well-known/jwks.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, jwks), (StatusCode::OK, json!({"keys": []})));
}

#[tokio::test]
async fn supabase_auths_rust_client_signs_up_signs_in_refreshes_and_logs_out() {
    use supabase_auth::models::EmailSignUpResult;
    let stack = TestSupabase::start().await;
    let auth = stack.auth();

    let signed_up = match auth
        .sign_up_with_email_and_password("rust-client@example.test", "rust-client-pass", None)
        .await
        .expect("sign-up")
    {
        EmailSignUpResult::SessionResult(session) => session,
        EmailSignUpResult::ConfirmationResult(_) => panic!("no confirmation is required locally"),
    };
    assert_eq!(signed_up.user.email, "rust-client@example.test");
    assert_eq!(signed_up.token_type, "bearer");

    let again = auth
        .sign_up_with_email_and_password("rust-client@example.test", "other-pass", None)
        .await;
    assert!(
        matches!(&again, Err(supabase_auth::error::Error::AuthError { status, message })
            if status.as_u16() == 422 && message == "User already registered"),
        "{again:?}"
    );
    let wrong = auth
        .login_with_email("rust-client@example.test", "not-it")
        .await;
    assert!(
        matches!(&wrong, Err(supabase_auth::error::Error::AuthError { status, message })
            if status.as_u16() == 400 && message == "Invalid login credentials"),
        "{wrong:?}"
    );

    let session = auth
        .login_with_email("rust-client@example.test", "rust-client-pass")
        .await
        .expect("sign-in");
    assert_eq!(session.user.id, signed_up.user.id);
    let user = auth
        .get_user(&session.access_token)
        .await
        .expect("the user");
    assert_eq!(user.email, "rust-client@example.test");

    // The token the client holds is what PostgREST and the sidecar accept.
    let (status, drafts) = rest_call(
        stack
            .rest_as(&session.access_token)
            .from("benchmark_drafts")
            .select("id"),
    )
    .await;
    assert_eq!((status, drafts), (StatusCode::OK, json!([])));

    let refreshed = auth
        .refresh_session(&session.refresh_token)
        .await
        .expect("refresh");
    assert_ne!(refreshed.refresh_token, session.refresh_token);
    assert!(
        auth.refresh_session(&session.refresh_token).await.is_err(),
        "a refresh token works once"
    );

    auth.logout(None, &refreshed.access_token)
        .await
        .expect("logout");
    assert!(
        auth.get_user(&refreshed.access_token).await.is_err(),
        "the session is gone after logout"
    );
}

fn devstack_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn storage_keeps_each_user_in_their_own_folder() {
    let stack = TestSupabase::start().await;
    let http = reqwest::Client::new();
    let object = |path: &str| format!("{}/storage/v1/object/benchmark-images/{path}", stack.url);
    let demo = stack.access_token(DEMO_EMAIL, DEMO_PASSWORD).await;
    let other = stack.access_token("other@example.test", "other-pass").await;
    let png = b"\x89PNG\r\n\x1a\nfake image bytes".to_vec();
    let mine = format!("{DEMO_USER}/demo/invoice-1.png");

    let upload = |path: String, token: String, bytes: Vec<u8>| {
        http.post(object(&path))
            .bearer_auth(token)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
    };
    let (status, uploaded) = body(
        upload(mine.clone(), demo.clone(), png.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(uploaded["Key"], format!("benchmark-images/{mine}"));
    let (status, dup) = body(
        upload(mine.clone(), demo.clone(), png.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, dup["error"].as_str()),
        (StatusCode::CONFLICT, Some("Duplicate"))
    );

    let downloaded = http
        .get(object(&mine))
        .bearer_auth(&demo)
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(downloaded.headers()["content-type"], "image/png");
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), png);

    // Another user can neither read it nor write into the owner's folder.
    let (status, _) = body(
        http.get(object(&mine))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = body(
        upload(
            format!("{DEMO_USER}/planted.png"),
            other.clone(),
            png.clone(),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = body(
        http.get(object(&mine))
            .bearer_auth(ANON_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The engine's service-role key reads any image.
    let status = http
        .get(object(&mine))
        .bearer_auth(SERVICE_KEY)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);

    // A signed URL works without auth, for that object only, until it expires.
    let (status, signed) = body(
        http.post(format!(
            "{}/storage/v1/object/sign/benchmark-images/{mine}",
            stack.url
        ))
        .bearer_auth(&demo)
        .json(&json!({"expiresIn": 60}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let signed_url = format!(
        "{}/storage/v1{}",
        stack.url,
        signed["signedURL"].as_str().unwrap()
    );
    let fetched = http.get(&signed_url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), png);
    let forged = signed_url.replace("invoice-1.png", "invoice-2.png");
    assert_eq!(
        http.get(&forged).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let (status, _) = body(
        http.post(format!(
            "{}/storage/v1/object/sign/benchmark-images/{mine}",
            stack.url
        ))
        .bearer_auth(&other)
        .json(&json!({"expiresIn": 60}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only a reader can sign");

    // Upsert replaces the bytes; a wrong type is refused.
    let replaced = b"\x89PNG second version".to_vec();
    let status = http
        .post(object(&mine))
        .bearer_auth(&demo)
        .header("content-type", "image/png")
        .header("x-upsert", "true")
        .body(replaced.clone())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        http.get(object(&mine))
            .bearer_auth(&demo)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec(),
        replaced
    );
    let (status, _) = body(
        http.post(object(&format!("{DEMO_USER}/notes.txt")))
            .bearer_auth(&demo)
            .header("content-type", "text/plain")
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, removed) = body(
        http.delete(format!("{}/storage/v1/object/benchmark-images", stack.url))
            .bearer_auth(&demo)
            .json(&json!({"prefixes": [mine]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed.as_array().unwrap().len(), 1);
    assert_eq!(
        http.get(object(&mine))
            .bearer_auth(&demo)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}
