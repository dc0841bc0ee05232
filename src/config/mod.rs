//! Typed settings, read once from the environment (and `.env`). Every
//! variable is listed with its source in `.env.example`.

mod engine;
mod env;

use std::net::SocketAddr;

pub use engine::*;
use env::Env;
pub use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0} (see .env.example)")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "{0} still has the value from .env.example, which is public; SITE_URL is not a \
         loopback address, so set {0} to this deployment's own secret"
    )]
    ExampleSecret(&'static str),
}

#[derive(Debug, Clone)]
pub struct SupabaseSettings {
    /// The project URL; `/rest/v1`, `/auth/v1`, `/storage/v1` live under it.
    pub url: String,
    pub anon_key: String,
    /// Keys and secrets are `SecretString`s: their `Debug` says
    /// `[REDACTED]`, so no log or panic message ever prints one.
    pub service_role_key: SecretString,
    /// The legacy HS256 secret that signs access tokens, when the project
    /// still uses one.
    pub jwt_secret: Option<SecretString>,
    /// Also accept tokens signed by the project's asymmetric keys, fetched
    /// from `<url>/auth/v1/.well-known/jwks.json`.
    pub use_jwks: bool,
}

impl SupabaseSettings {
    pub fn rest_url(&self) -> String {
        format!("{}/rest/v1", self.url)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/auth/v1/.well-known/jwks.json", self.url)
    }
}

/// Stripe's API, as the checkout (sidecar) and the refunds (engine) call it.
#[derive(Debug, Clone)]
pub struct StripeApi {
    /// `https://api.stripe.com`, or the local stand-in.
    pub api_base: String,
    pub secret_key: SecretString,
}

/// What the sidecar needs of Stripe: its API, the secret its webhooks are
/// signed with, and what Checkout asks of the buyer.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api: StripeApi,
    pub webhook_secret: SecretString,
    pub checkout: CheckoutOptions,
}

/// What Checkout does beyond taking the payment, as the operator turns it
/// on: an invoice (`STRIPE_INVOICES`), the buyer's tax ID
/// (`STRIPE_TAX_ID_COLLECTION`), tax computed by Stripe Tax
/// (`STRIPE_AUTOMATIC_TAX`, added on top of the price where it is owed). A
/// receipt is always emailed.
#[derive(Debug, Clone, Default)]
pub struct CheckoutOptions {
    pub invoices: bool,
    pub tax_id_collection: bool,
    pub automatic_tax: bool,
}

/// Email through Resend.
#[derive(Debug, Clone)]
pub struct ResendSettings {
    /// `https://api.resend.com`, or the local stand-in.
    pub base_url: String,
    pub api_key: SecretString,
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub sidecar_addr: SocketAddr,
    /// Where the browser reaches the sidecar's pages; Stripe redirects here.
    pub site_url: String,
    pub supabase: SupabaseSettings,
    pub stripe: StripeSettings,
    /// The bearer token `/metrics` answers to; none: no metrics page.
    pub metrics_token: Option<SecretString>,
    /// Days a report's document images are kept after it finishes (the
    /// privacy page says so; the engine deletes them).
    pub image_retention_days: u32,
    /// Where customers may write, shown on the privacy and terms pages.
    pub contact_email: Option<String>,
}

impl Settings {
    /// From the process environment, after loading `.env` if there is one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let sidecar_addr = env
            .optional("SIDECAR_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8787".into())
            .parse()
            .map_err(|e| ConfigError::Invalid {
                name: "SIDECAR_ADDR",
                reason: format!("{e}"),
            })?;
        let supabase = SupabaseSettings {
            url: env.url("SUPABASE_URL", None)?,
            anon_key: env.required("SUPABASE_ANON_KEY")?,
            service_role_key: env.required("SUPABASE_SERVICE_ROLE_KEY")?.into(),
            jwt_secret: env.optional("SUPABASE_JWT_SECRET").map(SecretString::from),
            use_jwks: env.flag("SUPABASE_USE_JWKS")?,
        };
        if supabase.jwt_secret.is_none() && !supabase.use_jwks {
            return Err(ConfigError::Missing("SUPABASE_JWT_SECRET"));
        }
        let stripe = StripeSettings {
            api: StripeApi {
                api_base: env.url("STRIPE_API_BASE", Some("https://api.stripe.com"))?,
                secret_key: env.required("STRIPE_SECRET_KEY")?.into(),
            },
            webhook_secret: env.required("STRIPE_WEBHOOK_SECRET")?.into(),
            checkout: CheckoutOptions {
                invoices: env.flag("STRIPE_INVOICES")?,
                tax_id_collection: env.flag("STRIPE_TAX_ID_COLLECTION")?,
                automatic_tax: env.flag("STRIPE_AUTOMATIC_TAX")?,
            },
        };
        if !stripe.webhook_secret.expose_secret().starts_with("whsec_") {
            return Err(ConfigError::Invalid {
                name: "STRIPE_WEBHOOK_SECRET",
                reason: "a webhook signing secret starts with whsec_".into(),
            });
        }
        let site_url = env.url("SITE_URL", Some(&format!("http://{sidecar_addr}")))?;
        env.no_example_secrets(&site_url)?;
        let metrics_token = env.optional("METRICS_TOKEN");
        if metrics_token.as_ref().is_some_and(|t| t.len() < 24) {
            return Err(ConfigError::Invalid {
                name: "METRICS_TOKEN",
                reason: "use at least 24 random characters (openssl rand -hex 16)".into(),
            });
        }
        Ok(Settings {
            sidecar_addr,
            site_url,
            supabase,
            stripe,
            metrics_token: metrics_token.map(SecretString::from),
            image_retention_days: image_retention_days(&env)?,
            contact_email: env.optional("CONTACT_EMAIL"),
        })
    }
}

/// `IMAGE_RETENTION_DAYS`: 30 unless set, from 1 day to 10 years.
fn image_retention_days<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<u32, ConfigError> {
    let days = env.number("IMAGE_RETENTION_DAYS", 30)?;
    if !(1..=3650).contains(&days) {
        return Err(ConfigError::Invalid {
            name: "IMAGE_RETENTION_DAYS",
            reason: "keep images from 1 to 3650 days".into(),
        });
    }
    Ok(days as u32)
}

#[cfg(test)]
mod tests {
    use super::env::{example_value, is_loopback, SECRETS};
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const COMPLETE: &[(&str, &str)] = &[
        ("SUPABASE_URL", "http://127.0.0.1:54321/"),
        ("SUPABASE_ANON_KEY", "anon"),
        ("SUPABASE_SERVICE_ROLE_KEY", "service"),
        ("SUPABASE_JWT_SECRET", "secret"),
        ("STRIPE_SECRET_KEY", "sk_test_x"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x"),
    ];

    #[test]
    fn a_complete_environment_parses_with_defaults() {
        let s = settings(COMPLETE).unwrap();
        assert_eq!(s.sidecar_addr.to_string(), "127.0.0.1:8787");
        assert_eq!(s.supabase.url, "http://127.0.0.1:54321");
        assert_eq!(s.supabase.rest_url(), "http://127.0.0.1:54321/rest/v1");
        assert_eq!(s.stripe.api.api_base, "https://api.stripe.com");
        assert_eq!(s.site_url, "http://127.0.0.1:8787");
    }

    #[test]
    fn no_key_or_secret_is_ever_printed() {
        let secrets = [
            (
                "SUPABASE_SERVICE_ROLE_KEY",
                "eyJ-service-private".to_owned(),
            ),
            ("SUPABASE_JWT_SECRET", "jwt-private".to_owned()),
            ("STRIPE_SECRET_KEY", "sk_test_private".to_owned()),
            ("STRIPE_WEBHOOK_SECRET", "whsec_private".to_owned()),
        ];
        let vars = with(COMPLETE, &secrets);
        let s = Settings::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap();
        let printed = format!("{s:?}");
        for (name, secret) in &secrets {
            assert!(
                !printed.contains(secret.as_str()),
                "{name} printed in {printed}"
            );
        }
        assert!(printed.contains("REDACTED"));
        let provider = ProviderSettings::new("https://openrouter.ai/api/v1", "sk-or-v1-private");
        assert!(!format!("{provider:?}").contains("sk-or-v1-private"));
    }

    #[test]
    fn each_missing_variable_is_named() {
        for (missing, _) in COMPLETE {
            let vars: Vec<_> = COMPLETE
                .iter()
                .copied()
                .filter(|(k, _)| k != missing)
                .collect();
            assert_eq!(settings(&vars).unwrap_err(), ConfigError::Missing(missing));
        }
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let mut vars = COMPLETE.to_vec();
        vars.push(("SIDECAR_ADDR", "not an address"));
        assert!(matches!(
            settings(&vars),
            Err(ConfigError::Invalid {
                name: "SIDECAR_ADDR",
                ..
            })
        ));
        let mut vars = COMPLETE.to_vec();
        vars.retain(|(k, _)| *k != "STRIPE_WEBHOOK_SECRET");
        vars.push(("STRIPE_WEBHOOK_SECRET", "sk_live_oops"));
        assert!(matches!(
            settings(&vars),
            Err(ConfigError::Invalid {
                name: "STRIPE_WEBHOOK_SECRET",
                ..
            })
        ));
    }

    fn with(
        vars: &[(&'static str, &'static str)],
        extra: &[(&'static str, String)],
    ) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in extra {
            all.retain(|(key, _)| key != k);
            all.push((k.to_string(), v.clone()));
        }
        all
    }

    #[test]
    fn example_secrets_are_refused_on_a_public_site_and_named() {
        for secret in [
            "SUPABASE_JWT_SECRET",
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET",
        ] {
            let vars = with(
                COMPLETE,
                &[
                    ("SITE_URL", "https://modelpick.app".into()),
                    (secret, example_value(secret).unwrap().to_owned()),
                ],
            );
            let result = Settings::from_lookup(|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            });
            assert_eq!(result.unwrap_err(), ConfigError::ExampleSecret(secret));
        }
    }

    #[test]
    fn example_secrets_are_fine_on_loopback() {
        for site in [
            "http://127.0.0.1:8787",
            "http://localhost:3000",
            "http://[::1]:8787",
        ] {
            let vars = with(
                COMPLETE,
                &[
                    ("SITE_URL", site.into()),
                    (
                        "STRIPE_SECRET_KEY",
                        example_value("STRIPE_SECRET_KEY").unwrap().into(),
                    ),
                ],
            );
            assert!(Settings::from_lookup(|name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
            .is_ok());
        }
        assert!(!is_loopback("http://127.0.0.1.evil.com"));
        assert!(!is_loopback("https://modelpick.app"));
    }

    #[test]
    fn the_engine_refuses_example_keys_too() {
        let vars = [
            ("DATABASE_URL", "postgres://u:p@db/x".to_owned()),
            ("SUPABASE_URL", "https://x.supabase.co".into()),
            ("SUPABASE_SERVICE_ROLE_KEY", "real".into()),
            ("SITE_URL", "https://modelpick.app".into()),
            (
                "OPENROUTER_API_KEY",
                example_value("OPENROUTER_API_KEY").unwrap().into(),
            ),
        ];
        let result = EngineSettings::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(
            result.unwrap_err(),
            ConfigError::ExampleSecret("OPENROUTER_API_KEY")
        );
    }

    #[test]
    fn every_secret_has_an_example_value() {
        for name in SECRETS {
            assert!(example_value(name).is_some(), "{name} is in .env.example");
        }
    }

    #[test]
    fn jwks_alone_is_enough_to_verify_callers() {
        let mut vars: Vec<_> = COMPLETE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "SUPABASE_JWT_SECRET")
            .collect();
        vars.push(("SUPABASE_USE_JWKS", "true"));
        let s = settings(&vars).unwrap();
        assert!(s.supabase.use_jwks);
        assert_eq!(
            s.supabase.jwks_url(),
            "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json"
        );
    }
}
