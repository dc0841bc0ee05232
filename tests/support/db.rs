//! A fresh database per test, cloned from a template that `scripts/db-reset`
//! built (bootstrap, migrations, seed). Cloning takes tens of milliseconds,
//! so every test gets its own committed world and tests run in parallel.
//!
//! The template is rebuilt, once per test process and under an exclusive
//! advisory lock, whenever what `scripts/db-reset` would apply has changed;
//! clones take the same lock shared, so no clone sees a half-built template.

use std::path::PathBuf;
use std::process::Command;

use tokio::sync::OnceCell;
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

const TEMPLATE_LOCK: i64 = 0x6d6f_6465_6c70; // "modelp"

fn admin_url() -> String {
    std::env::var("MODELPICK_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

fn template_name() -> String {
    std::env::var("MODELPICK_TEST_TEMPLATE").unwrap_or_else(|_| "modelpick_template".into())
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{database}")
}

/// `database` as the project role, which migrations, seed and the engine
/// use (hosted Supabase's `postgres`: no superuser, bypasses RLS).
fn project_url_for(database: &str) -> String {
    devstack::supabase::role_url(&url_for(database), "project_owner")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// How the database the tests clone was built: as Supabase makes projects
/// today, or with its "default privileges for new entities" on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grants {
    Today,
    DefaultPrivileges,
}

impl Grants {
    fn template(self) -> String {
        match self {
            Grants::Today => template_name(),
            Grants::DefaultPrivileges => format!("{}_defaults", template_name()),
        }
    }

    fn reset_args(self) -> &'static [&'static str] {
        match self {
            Grants::Today => &[],
            Grants::DefaultPrivileges => &["--default-privileges"],
        }
    }
}

async fn ensure_template(grants: Grants) {
    static TODAY: OnceCell<()> = OnceCell::const_new();
    static DEFAULTS: OnceCell<()> = OnceCell::const_new();
    let ready = match grants {
        Grants::Today => &TODAY,
        Grants::DefaultPrivileges => &DEFAULTS,
    };
    ready
        .get_or_init(|| async {
            let admin = connect(&admin_url()).await;
            admin
                .execute("select pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
                .await
                .unwrap();
            let wanted = Command::new(repo_root().join("scripts/db-reset"))
                .arg("--fingerprint")
                .args(grants.reset_args())
                .output()
                .expect("run scripts/db-reset --fingerprint");
            let wanted = format!("modelpick:{}", String::from_utf8_lossy(&wanted.stdout).trim());
            let current: Option<String> = admin
                .query_opt(
                    "select shobj_description(oid, 'pg_database') from pg_database where datname = $1",
                    &[&grants.template()],
                )
                .await
                .unwrap()
                .and_then(|row| row.get(0));
            if current.as_deref() != Some(wanted.as_str()) {
                let status = Command::new(repo_root().join("scripts/db-reset"))
                    .args(grants.reset_args())
                    .env("DATABASE_URL", url_for(&grants.template()))
                    .status()
                    .expect("run scripts/db-reset");
                assert!(status.success(), "scripts/db-reset failed for the test template");
            }
            admin
                .execute("select pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
                .await
                .unwrap();
        })
        .await;
}

/// A database of the test's own, dropped when the value is.
pub struct TestDb {
    pub name: String,
    /// As the project role (`project_owner`), not a superuser.
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        Self::with(Grants::Today).await
    }

    /// A database cloned from one built with `grants`.
    pub async fn with(grants: Grants) -> Self {
        ensure_template(grants).await;
        let name = format!("mp_test_{}", Uuid::new_v4().simple());
        let admin = connect(&admin_url()).await;
        admin
            .execute("select pg_advisory_lock_shared($1)", &[&TEMPLATE_LOCK])
            .await
            .unwrap();
        admin
            .batch_execute(&format!(
                "create database \"{name}\" template \"{}\" owner project_owner",
                grants.template()
            ))
            .await
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        admin
            .execute("select pg_advisory_unlock_shared($1)", &[&TEMPLATE_LOCK])
            .await
            .unwrap();
        let url = project_url_for(&name);
        TestDb { name, url }
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// The engine's door to this database, over `connections` connections.
    pub fn store(&self, connections: usize) -> modelpick::engine::store::Store {
        let database = modelpick::database::Database::from_url(&self.url).unwrap();
        modelpick::engine::store::Store::new(database.pool(connections).unwrap())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; the cleanup needs one of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&admin_url(), NoTls).await {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("drop database if exists \"{name}\" with (force)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A connection that has run `LISTEN channel`, and the notifications it
/// receives. tokio-postgres hands notifications only to whoever polls the
/// connection, so the driver task forwards them.
pub async fn listen(
    url: &str,
    channel: &str,
) -> (
    Client,
    tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) {
    use futures_util::StreamExt;
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = message {
                let _ = tx.send(n);
            }
        }
    });
    client
        .batch_execute(&format!("listen {channel}"))
        .await
        .unwrap();
    (client, rx)
}
