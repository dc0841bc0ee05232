//! The local Supabase API (devstack's gateway with postrust behind it) on a
//! random port, over a test database of its own.

use devstack::supabase::{self, MailerConfig, RunningSupabase, SupabaseConfig};

use super::db::TestDb;

pub const ANON_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
pub const SERVICE_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";
pub const JWT_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
/// The Site URL Auth's email links lead to.
pub const SITE_URL: &str = "http://127.0.0.1:8787";
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
        Self::start_with_mailer(None).await
    }

    /// The stack with Auth mailing through a Resend-compatible API (for
    /// password recovery); its Site URL is `SITE_URL`.
    pub async fn start_with_mailer(mailer: Option<MailerConfig>) -> Self {
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
            site_url: SITE_URL.into(),
            mailer,
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

    /// Supabase Auth's Rust client (supabase-auth-rs) for this stack.
    pub fn auth(&self) -> supabase_auth::models::AuthClient {
        supabase_auth::models::AuthClient::new(&self.url, ANON_KEY, JWT_SECRET)
    }

    /// Signs in with a password and returns the whole HTTP answer, for tests
    /// of the wire format itself.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/auth/v1/token?grant_type=password", self.url))
            .header("apikey", ANON_KEY)
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// An access token for the user, signing up first if needed, through
    /// the Auth client.
    pub async fn access_token(&self, email: &str, password: &str) -> String {
        use supabase_auth::models::EmailSignUpResult;
        let auth = self.auth();
        let session = match auth.login_with_email(email, password).await {
            Ok(session) => session,
            Err(_) => match auth
                .sign_up_with_email_and_password(email, password, None)
                .await
                .unwrap_or_else(|e| panic!("sign-up of {email} failed: {e}"))
            {
                EmailSignUpResult::SessionResult(session) => session,
                EmailSignUpResult::ConfirmationResult(_) => {
                    panic!("sign-up of {email} asked for an email confirmation")
                }
            },
        };
        session.access_token
    }
}

impl Drop for TestSupabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.storage_dir);
    }
}
