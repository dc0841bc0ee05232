//! The engine's settings, in one place: the seed plan's limits written once
//! with their meaning, what the environment may change, and the engine's
//! own timings. Each part has its defaults, so a test changes only what it
//! is about.

use std::time::Duration;

use super::env::Env;
use super::{ConfigError, ResendSettings, SecretString, StripeApi};

/// Provider calls of one report in flight at once, over all its models.
pub const GLOBAL_CONCURRENCY: usize = 10;
/// Provider calls of one report in flight at once, for one model.
pub const PER_MODEL_CONCURRENCY: usize = 3;
/// Claims of one report before it is given up.
pub const MAX_REPORT_ATTEMPTS: i32 = 3;
/// No call starts this long after a report started (wall clock); the report
/// completes with what it has and says it was cut short.
pub const MAX_BENCHMARK_DURATION: Duration = Duration::from_secs(750);

/// Everything the engine runs with.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// A direct or session-mode connection (`sslmode` and `sslrootcert` as
    /// libpq reads them): LISTEN does not work through a transaction pooler.
    pub database_url: String,
    /// Storage, for the images, read with the service-role key.
    pub supabase_url: String,
    pub service_role_key: SecretString,
    /// Where report links in emails point.
    pub site_url: String,
    pub provider: ProviderSettings,
    pub limits: RunLimits,
    pub queue: QueueSettings,
    pub followups: FollowupSettings,
    /// Completion emails; none when RESEND_API_KEY is not set.
    pub resend: Option<ResendSettings>,
    /// Refunds of failed reports; none when STRIPE_SECRET_KEY is not set.
    pub stripe: Option<StripeApi>,
    pub catalog: CatalogSettings,
}

/// Keeping the model catalog as the provider's models API lists it.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// The models API is `GET {provider_base_url}/models`.
    pub provider_base_url: String,
    /// How often the engine syncs (and at start when that long has passed
    /// since the last sync that worked, or the catalog offers nothing);
    /// none: only `modelpick catalog sync` does.
    pub every: Option<Duration>,
    /// The wait after a failed sync; it doubles, up to an hour (and never
    /// past `every`).
    pub first_retry: Duration,
    /// How long fetching the listing may take.
    pub timeout: Duration,
}

impl CatalogSettings {
    pub fn new(provider_base_url: impl Into<String>, every: Option<Duration>) -> Self {
        Self {
            provider_base_url: provider_base_url.into(),
            every,
            first_retry: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }

    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let every = match env.optional("CATALOG_SYNC_HOURS").as_deref() {
            Some("off") => None,
            _ => Some(Duration::from_secs(
                env.number("CATALOG_SYNC_HOURS", 24)? * 3600,
            )),
        };
        Ok(Self::new(
            env.url("OPENROUTER_BASE_URL", Some("https://openrouter.ai/api/v1"))?,
            every,
        ))
    }
}

/// What `modelpick catalog sync` needs: the database and the models API.
#[derive(Debug, Clone)]
pub struct CatalogCommandSettings {
    pub database_url: String,
    pub catalog: CatalogSettings,
}

/// `DATABASE_URL` alone, for the commands that only read the database.
pub fn database_url_from_env() -> Result<String, ConfigError> {
    let _ = dotenvy::dotenv();
    Env(|name: &str| std::env::var(name).ok()).required("DATABASE_URL")
}

impl CatalogCommandSettings {
    /// From the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let env = Env(|name: &str| std::env::var(name).ok());
        Ok(Self {
            database_url: env.required("DATABASE_URL")?,
            catalog: CatalogSettings::from_env(&env)?,
        })
    }
}

/// The model provider: OpenRouter, or any OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub base_url: String,
    pub api_key: SecretString,
    /// How long one attempt may take.
    pub call_timeout: Duration,
    /// HTTP attempts of one call at most (each one that may be billed is
    /// reserved first).
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles, with jitter.
    pub backoff_base: Duration,
}

impl ProviderSettings {
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: SecretString::from(api_key.into()),
            call_timeout: Duration::from_secs(120),
            max_attempts: 4,
            backoff_base: Duration::from_millis(500),
        }
    }
}

/// The limits of one report's run.
#[derive(Debug, Clone)]
pub struct RunLimits {
    pub global_concurrency: usize,
    pub per_model_concurrency: usize,
    pub max_duration: Duration,
    /// How long a claim holds a report without a heartbeat.
    pub lease: Duration,
    /// Claims of one report at most: the claim that would pass it ends the
    /// report instead (its engines keep dying on it), refunded if nothing
    /// was delivered.
    pub max_attempts: i32,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            global_concurrency: GLOBAL_CONCURRENCY,
            per_model_concurrency: PER_MODEL_CONCURRENCY,
            max_duration: MAX_BENCHMARK_DURATION,
            lease: Duration::from_secs(60),
            max_attempts: MAX_REPORT_ATTEMPTS,
        }
    }
}

/// How the engine finds work and stops.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// How often it looks for paid reports besides being notified (a lost
    /// notification, an expired lease) and does the follow-ups due.
    pub sweep_interval: Duration,
    /// How often the LISTEN connection is checked with a round trip.
    pub health_interval: Duration,
    /// Reports one engine runs at once.
    pub max_reports: usize,
    /// How long calls in flight may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            sweep_interval: Duration::from_secs(5),
            health_interval: Duration::from_secs(10),
            max_reports: 4,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// How failed follow-ups (emails, refunds) are retried, and when an
/// operator hears of it.
#[derive(Debug, Clone)]
pub struct FollowupSettings {
    /// The wait after the first failure; it doubles with every failure.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// After this many failed attempts an operator is alerted (once).
    pub alert_after: u32,
    /// How long a claim holds a follow-up: an engine that dies doing it
    /// leaves it to another after this.
    pub lease: Duration,
    /// Who is mailed what needs a person (OPERATOR_EMAIL); none: alerts
    /// wait in the database (`modelpick ops stuck` lists them).
    pub operator_email: Option<String>,
    /// Days a finished report's images are kept (IMAGE_RETENTION_DAYS).
    pub image_retention_days: u32,
}

impl Default for FollowupSettings {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
            alert_after: 5,
            lease: Duration::from_secs(120),
            operator_email: None,
            image_retention_days: 30,
        }
    }
}

impl EngineSettings {
    /// From the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let site_url = env.url("SITE_URL", Some("http://127.0.0.1:8787"))?;
        env.no_example_secrets(&site_url)?;
        let mut provider = ProviderSettings::new(
            env.url("OPENROUTER_BASE_URL", Some("https://openrouter.ai/api/v1"))?,
            env.required("OPENROUTER_API_KEY")?,
        );
        provider.call_timeout = Duration::from_secs(env.number("PROVIDER_CALL_TIMEOUT_S", 120)?);
        let limits = RunLimits {
            max_duration: Duration::from_secs(
                env.number("MAX_BENCHMARK_DURATION_S", MAX_BENCHMARK_DURATION.as_secs())?,
            ),
            ..RunLimits::default()
        };
        let queue = QueueSettings {
            sweep_interval: Duration::from_secs(env.number("ENGINE_SWEEP_INTERVAL_S", 5)?),
            max_reports: env.number("ENGINE_MAX_REPORTS", 4)? as usize,
            ..QueueSettings::default()
        };
        Ok(Self {
            database_url: env.required("DATABASE_URL")?,
            supabase_url: env.url("SUPABASE_URL", None)?,
            service_role_key: env.required("SUPABASE_SERVICE_ROLE_KEY")?.into(),
            site_url,
            provider,
            limits,
            queue,
            followups: FollowupSettings {
                operator_email: env.optional("OPERATOR_EMAIL"),
                image_retention_days: super::image_retention_days(&env)?,
                ..FollowupSettings::default()
            },
            resend: resend(&env)?,
            stripe: stripe(&env)?,
            catalog: CatalogSettings::from_env(&env)?,
        })
    }
}

fn resend<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<Option<ResendSettings>, ConfigError> {
    let Some(api_key) = env.optional("RESEND_API_KEY") else {
        return Ok(None);
    };
    Ok(Some(ResendSettings {
        base_url: env.url("RESEND_BASE_URL", Some("https://api.resend.com"))?,
        api_key: api_key.into(),
        from: env
            .optional("EMAIL_FROM")
            .unwrap_or_else(|| "ModelPick <reports@modelpick.app>".into()),
    }))
}

fn stripe<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Option<StripeApi>, ConfigError> {
    let Some(secret_key) = env.optional("STRIPE_SECRET_KEY") else {
        return Ok(None);
    };
    Ok(Some(StripeApi {
        api_base: env.url("STRIPE_API_BASE", Some("https://api.stripe.com"))?,
        secret_key: secret_key.into(),
    }))
}
