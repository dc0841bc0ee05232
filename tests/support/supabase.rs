//! The local Supabase API (devstack's gateway with postrust behind it) on a
//! random port, over a test database of its own.

use devstack::supabase::{self, RunningSupabase, SupabaseConfig};
use serde_json::Value;

use super::db::TestDb;

pub const ANON_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
pub const SERVICE_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";
pub const JWT_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
pub const DEMO_EMAIL: &str = "demo@modelpick.local";
pub const DEMO_PASSWORD: &str = "modelpick-demo";

pub struct TestSupabase {
    pub db: TestDb,
    pub api: RunningSupabase,
    pub url: String,
    pub storage_dir: std::path::PathBuf,
}

impl TestSupabase {
    pub async fn start() -> Self {
        let db = TestDb::new().await;
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let storage_dir = root.join("target/test-storage").join(&db.name);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = SupabaseConfig {
            addr,
            public_url: format!("http://{addr}"),
            authenticator_url: supabase::role_url(&db.url, "authenticator"),
            auth_database_url: supabase::role_url(&db.url, "supabase_auth_admin"),
            storage_database_url: supabase::role_url(&db.url, "supabase_storage_admin"),
            jwt_secret: JWT_SECRET.into(),
            anon_key: ANON_KEY.into(),
            service_role_key: SERVICE_KEY.into(),
            storage_dir: storage_dir.clone(),
            postrust_bin: std::env::var("POSTRUST_BIN")
                .map(Into::into)
                .unwrap_or_else(|_| root.join(".tools/bin/postrust")),
            jwt_expiry_secs: 3600,
        };
        let api = supabase::start(config, listener)
            .await
            .expect("start the local Supabase API");
        let url = api.url();
        TestSupabase {
            db,
            api,
            url,
            storage_dir,
        }
    }

    pub fn rest(&self, key: &str) -> postgrest::Postgrest {
        postgrest::Postgrest::new(format!("{}/rest/v1", self.url)).insert_header("apikey", key)
    }

    /// A PostgREST client acting as the user whose access token this is.
    pub fn rest_as(&self, access_token: &str) -> postgrest::Postgrest {
        self.rest(ANON_KEY)
            .insert_header("Authorization", format!("Bearer {access_token}"))
    }

    /// Signs in with a password and returns the whole session response.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/auth/v1/token?grant_type=password", self.url))
            .header("apikey", ANON_KEY)
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// An access token for the user, signing up first if needed.
    pub async fn access_token(&self, email: &str, password: &str) -> String {
        let response = self.sign_in(email, password).await;
        let session: Value = if response.status().is_success() {
            response.json().await.unwrap()
        } else {
            let response = reqwest::Client::new()
                .post(format!("{}/auth/v1/signup", self.url))
                .header("apikey", ANON_KEY)
                .json(&serde_json::json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "sign-up of {email} failed");
            response.json().await.unwrap()
        };
        session["access_token"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestSupabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.storage_dir);
    }
}
