//! Reading settings from a lookup (the process environment, or a map in
//! tests): trimmed values, named errors, URLs checked, and `.env.example`'s
//! public secrets refused where the site is reachable by others.

use super::ConfigError;

/// The settings the project ships with: right for the local stack, known to
/// everyone, so never accepted by a deployment others can reach.
const EXAMPLE_ENV: &str = include_str!("../../.env.example");

/// The secrets (and keys signed with a secret) a deployment must set itself.
pub(super) const SECRETS: [&str; 8] = [
    "SUPABASE_JWT_SECRET",
    "SUPABASE_ANON_KEY",
    "SUPABASE_SERVICE_ROLE_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "OPENROUTER_API_KEY",
    "RESEND_API_KEY",
    "METRICS_TOKEN",
];

pub(super) fn example_value(name: &str) -> Option<&'static str> {
    EXAMPLE_ENV.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key == name).then(|| value.trim().trim_matches('"'))
    })
}

/// Whether the site is only reachable from this machine.
pub(super) fn is_loopback(site_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(site_url) else {
        return false;
    };
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Reads variables from a lookup function, so tests need no process-wide
/// environment.
pub struct Env<F: Fn(&str) -> Option<String>>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub(super) fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub(super) fn url(
        &self,
        name: &'static str,
        default: Option<&str>,
    ) -> Result<String, ConfigError> {
        let value = match (self.optional(name), default) {
            (Some(v), _) => v,
            (None, Some(d)) => d.to_owned(),
            (None, None) => return Err(ConfigError::Missing(name)),
        };
        if !(value.starts_with("http://") || value.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name,
                reason: format!("{value:?} is not an http(s) URL"),
            });
        }
        Ok(value.trim_end_matches('/').to_owned())
    }

    /// Refuses `.env.example`'s secrets unless the site is on loopback.
    pub(super) fn no_example_secrets(&self, site_url: &str) -> Result<(), ConfigError> {
        if is_loopback(site_url) {
            return Ok(());
        }
        match SECRETS.into_iter().find(|name| {
            self.optional(name)
                .is_some_and(|value| Some(value.as_str()) == example_value(name))
        }) {
            Some(name) => Err(ConfigError::ExampleSecret(name)),
            None => Ok(()),
        }
    }

    pub(super) fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None | Some("0") | Some("false") => Ok(false),
            Some("1") | Some("true") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("{other:?} is not true or false"),
            }),
        }
    }

    /// A positive whole number, or `default` when unset.
    pub(super) fn number(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::Invalid {
                    name,
                    reason: format!("{v:?} is not a positive whole number"),
                }),
        }
    }
}
