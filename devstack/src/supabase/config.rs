use std::net::SocketAddr;
use std::path::PathBuf;

/// Supabase's public local-development secret and keys (the Supabase CLI's
/// defaults), so the same values work against `supabase start`.
pub const DEMO_JWT_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
pub const DEMO_ANON_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0";
pub const DEMO_SERVICE_ROLE_KEY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU";

#[derive(Debug, Clone)]
pub struct SupabaseConfig {
    /// Where the gateway listens (Supabase's local port is 54321).
    pub addr: SocketAddr,
    /// The public URL clients use, e.g. `http://127.0.0.1:54321`.
    pub public_url: String,
    /// The `authenticator` login postrust connects as; RLS is enforced by
    /// switching from it to the caller's role per request.
    pub authenticator_url: String,
    /// Auth's own login, `supabase_auth_admin`, which owns the `auth` tables.
    pub auth_database_url: String,
    /// Storage's own login, `supabase_storage_admin`: it owns the `storage`
    /// tables and switches to the caller's role for every object operation.
    pub storage_database_url: String,
    pub jwt_secret: String,
    pub anon_key: String,
    pub service_role_key: String,
    /// Storage object bytes live here, one file per object id.
    pub storage_dir: PathBuf,
    pub postrust_bin: PathBuf,
    /// Access tokens' lifetime in seconds (Supabase's default: 3600).
    pub jwt_expiry_secs: i64,
    /// Auth's Site URL: where its email links lead when the link asks for
    /// no allowed page of its own.
    pub site_url: String,
    /// Where Auth sends its emails (password recovery); none: it refuses
    /// to send, as Supabase Auth does without a working mailer.
    pub mailer: Option<MailerConfig>,
}

/// A Resend-compatible API Auth mails through (in production, Supabase
/// Auth's custom SMTP points at the same provider).
#[derive(Debug, Clone)]
pub struct MailerConfig {
    pub base_url: String,
    pub api_key: String,
    pub from: String,
}

impl SupabaseConfig {
    /// Reads the variables the product reads, defaulting to the local stack.
    pub fn from_env(root: &std::path::Path) -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let public_url = var("SUPABASE_URL").unwrap_or_else(|| "http://127.0.0.1:54321".into());
        let addr = public_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| {
                format!("SUPABASE_URL must be http://<ip>:<port> for the local gateway: {e}")
            })?;
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres:postgres@127.0.0.1:5432/modelpick".into());
        Ok(Self {
            addr,
            authenticator_url: role_url(&database_url, "authenticator"),
            auth_database_url: role_url(&database_url, "supabase_auth_admin"),
            storage_database_url: role_url(&database_url, "supabase_storage_admin"),
            public_url,
            jwt_secret: var("SUPABASE_JWT_SECRET").unwrap_or_else(|| DEMO_JWT_SECRET.into()),
            anon_key: var("SUPABASE_ANON_KEY").unwrap_or_else(|| DEMO_ANON_KEY.into()),
            service_role_key: var("SUPABASE_SERVICE_ROLE_KEY")
                .unwrap_or_else(|| DEMO_SERVICE_ROLE_KEY.into()),
            storage_dir: var("DEVSTACK_STORAGE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("target/devstack/storage")),
            postrust_bin: var("POSTRUST_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join(".tools/bin/postrust")),
            jwt_expiry_secs: 3600,
            site_url: var("SITE_URL").unwrap_or_else(|| "http://127.0.0.1:8787".into()),
            mailer: match (var("RESEND_BASE_URL"), var("RESEND_API_KEY")) {
                (Some(base_url), Some(api_key)) => Some(MailerConfig {
                    base_url,
                    api_key,
                    from: var("EMAIL_FROM").unwrap_or_else(|| "Auth <auth@localhost>".into()),
                }),
                _ => None,
            },
        })
    }
}

/// The password `devstack/bootstrap/supabase.sql` gives every local role.
pub const LOCAL_ROLE_PASSWORD: &str = "postgres";

/// The same server and database as `database_url`, logged in as `role` (one
/// of the roles the bootstrap creates), whatever user `database_url` names.
pub fn role_url(database_url: &str, role: &str) -> String {
    match database_url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
            let host = match rest[..authority_end].rfind('@') {
                Some(at) => &rest[at + 1..],
                None => rest,
            };
            format!("{scheme}://{role}:{LOCAL_ROLE_PASSWORD}@{host}")
        }
        None => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::role_url;

    #[test]
    fn role_urls_keep_the_server_database_and_options() {
        assert_eq!(
            role_url(
                "postgres://postgres:secret@127.0.0.1:5432/modelpick?sslmode=disable",
                "authenticator"
            ),
            "postgres://authenticator:postgres@127.0.0.1:5432/modelpick?sslmode=disable"
        );
        assert_eq!(
            role_url("postgres://127.0.0.1:5432/modelpick", "supabase_auth_admin"),
            "postgres://supabase_auth_admin:postgres@127.0.0.1:5432/modelpick"
        );
    }
}
