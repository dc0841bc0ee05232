//! The whole pay path on random ports: a fresh database, the local Supabase
//! API, the Stripe stand-in delivering webhooks to the sidecar, and the
//! sidecar itself, built by the same `startup` as `modelpick serve`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use devstack::stripe::{RunningStripe, StripeConfig};
use modelpick::config::Settings;
use modelpick::sidecar::Clock;
use modelpick::startup;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::supabase::{TestSupabase, ANON_KEY, JWT_SECRET, SERVICE_KEY};

pub const WEBHOOK_SECRET: &str = "whsec_test_modelpick_secret";

pub struct TestApp {
    pub supabase: TestSupabase,
    pub stripe: RunningStripe,
    pub url: String,
    /// What the sidecar believes the time is (Unix seconds); 0 = real time.
    pub clock_offset: Arc<AtomicI64>,
    settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// The app with some settings of its own (`STRIPE_API_BASE` pointing
    /// at nothing, say).
    pub async fn spawn_with(overrides: &[(&str, String)]) -> Self {
        let supabase = TestSupabase::start().await;
        let sidecar_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sidecar_addr = sidecar_listener.local_addr().unwrap();
        let url = format!("http://{sidecar_addr}");

        let stripe_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stripe_url = format!("http://{}", stripe_listener.local_addr().unwrap());
        let stripe = devstack::stripe::start(
            StripeConfig {
                public_url: stripe_url.clone(),
                webhook_url: Some(format!("{url}/api/webhooks/stripe")),
                webhook_secret: WEBHOOK_SECRET.into(),
                retry_base: Duration::from_millis(100),
                max_attempts: 6,
            },
            stripe_listener,
        )
        .unwrap();

        let vars = [
            ("SIDECAR_ADDR", sidecar_addr.to_string()),
            ("SITE_URL", url.clone()),
            ("SUPABASE_URL", supabase.url.clone()),
            ("SUPABASE_ANON_KEY", ANON_KEY.into()),
            ("SUPABASE_SERVICE_ROLE_KEY", SERVICE_KEY.into()),
            ("SUPABASE_JWT_SECRET", JWT_SECRET.into()),
            ("STRIPE_API_BASE", stripe_url),
            ("STRIPE_SECRET_KEY", "sk_test_modelpick".into()),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ];
        let settings = Settings::from_lookup(|name| {
            overrides
                .iter()
                .chain(vars.iter())
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        let clock_offset = Arc::new(AtomicI64::new(0));
        let mut app = TestApp {
            supabase,
            stripe,
            url,
            clock_offset,
            settings,
            shutdown: None,
            server: None,
        };
        app.serve(sidecar_listener);
        app
    }

    /// A sidecar with fresh state (nothing remembered) on `listener`.
    fn serve(&mut self, listener: TcpListener) {
        let offset = self.clock_offset.clone();
        let clock: Clock =
            Arc::new(move || chrono::Utc::now().timestamp() + offset.load(Ordering::SeqCst));
        let (tx, rx) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(startup::serve(
            startup::sidecar(self.settings.clone(), clock),
            listener,
            async {
                let _ = rx.await;
            },
        )));
        self.shutdown = Some(tx);
    }

    /// Stops the sidecar and starts a new one at the same address, as a
    /// restart of the process would: the database and the stand-ins stay,
    /// everything the sidecar held in memory is gone.
    pub async fn restart(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let addr = self.settings.sidecar_addr;
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("{addr} did not come free for the restarted sidecar");
    }

    pub fn http() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub async fn post_checkout(
        &self,
        token: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = Self::http()
            .post(format!("{}/api/checkout", self.url))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_webhook(&self, payload: &str, signature: Option<&str>) -> reqwest::Response {
        let mut request = Self::http()
            .post(format!("{}/api/webhooks/stripe", self.url))
            .header("content-type", "application/json")
            .body(payload.to_owned());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send().await.unwrap()
    }

    pub async fn report_count(&self) -> i64 {
        self.supabase
            .db
            .client()
            .await
            .query_one("select count(*) from public.reports", &[])
            .await
            .unwrap()
            .get(0)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
