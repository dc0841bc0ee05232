//! The engine's direct connection to Postgres, with TLS as libpq does it.
//!
//! `DATABASE_URL` is read once: its `sslmode` and `sslrootcert` mean what
//! they mean to libpq (hosted Supabase requires TLS; its dashboard gives a
//! CA certificate for `sslmode=verify-full`), the rest goes to
//! tokio-postgres. TLS is rustls.
//!
//! | sslmode | encrypted | certificate checked |
//! | --- | --- | --- |
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers it | no |
//! | `require` | always | only when `sslrootcert` is given, as `verify-ca` |
//! | `verify-ca` | always | signed by a trusted CA |
//! | `verify-full` | always | signed by a trusted CA, and for the host connected to |
//!
//! Trusted CAs: the PEM file `sslrootcert` names, or the public web roots
//! when it is absent or `system`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("DATABASE_URL is not a valid connection string: {0}")]
    Invalid(String),
    #[error(
        "DATABASE_URL has sslmode={0}; use disable, prefer, require, verify-ca or verify-full"
    )]
    SslMode(String),
    #[error("DATABASE_URL's sslrootcert {path} cannot be used: {reason}")]
    RootCert { path: String, reason: String },
}

/// How much of TLS a connection insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl TlsMode {
    fn parse(value: &str) -> Result<Self, DatabaseUrlError> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => return Err(DatabaseUrlError::SslMode(other.to_owned())),
        })
    }
}

/// A parsed `DATABASE_URL`: what to connect to, and how to secure it.
#[derive(Clone)]
pub struct Database {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub tls_mode: TlsMode,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("tls_mode", &self.tls_mode)
            .finish()
    }
}

impl Database {
    pub fn from_url(url: &str) -> Result<Self, DatabaseUrlError> {
        let (rest, ssl_mode, root_cert) = take_tls_parameters(url)?;
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| DatabaseUrlError::Invalid(e.to_string()))?;
        let tls_mode = match ssl_mode {
            Some(mode) => TlsMode::parse(&mode)?,
            None => TlsMode::Prefer,
        };
        config.ssl_mode(match tls_mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        let check = match (tls_mode, root_cert.is_some()) {
            (TlsMode::VerifyFull, _) => Check::Full,
            (TlsMode::VerifyCa, _) | (TlsMode::Require, true) => Check::Chain,
            _ => Check::Nothing,
        };
        let tls = MakeRustlsConnect::new(client_config(check, root_cert.as_deref())?);
        Ok(Self {
            config,
            tls,
            tls_mode,
        })
    }

    /// One connection, with its driver (which must be polled).
    pub async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<
                tokio_postgres::Socket,
                <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<
                    tokio_postgres::Socket,
                >>::Stream,
            >,
        ),
        tokio_postgres::Error,
    > {
        self.config.connect(self.tls.clone()).await
    }

    /// A pool of connections. Fast recycling drops a connection the server
    /// closed, so a cut connection is replaced on next use.
    pub fn pool(&self, size: usize) -> Result<deadpool_postgres::Pool, DatabaseUrlError> {
        let manager = deadpool_postgres::Manager::from_config(
            self.config.clone(),
            self.tls.clone(),
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        deadpool_postgres::Pool::builder(manager)
            .max_size(size)
            .build()
            .map_err(|e| DatabaseUrlError::Invalid(e.to_string()))
    }
}

/// The URL without `sslmode` and `sslrootcert` (tokio-postgres knows no
/// `verify-*` and no root certificates), and their values.
fn take_tls_parameters(
    url: &str,
) -> Result<(String, Option<String>, Option<String>), DatabaseUrlError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut ssl_mode, mut root_cert) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| DatabaseUrlError::Invalid(format!("{key} is not valid UTF-8")))?
            .into_owned();
        match key {
            "sslmode" => ssl_mode = Some(value),
            "sslrootcert" => root_cert = Some(value),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, ssl_mode, root_cert))
}

#[derive(Debug, Clone, Copy)]
enum Check {
    Nothing,
    Chain,
    Full,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(root_cert: Option<&str>) -> Result<RootCertStore, DatabaseUrlError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let failed = |reason: String| DatabaseUrlError::RootCert {
                path: path.to_owned(),
                reason,
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| failed(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| failed(e.to_string()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(failed("it holds no usable certificate".into()));
            }
        }
    }
    Ok(roots)
}

fn client_config(check: Check, root_cert: Option<&str>) -> Result<ClientConfig, DatabaseUrlError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DatabaseUrlError::Invalid(e.to_string()))?;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(Lenient {
            provider,
            chain: None,
        }),
        Check::Chain | Check::Full => {
            let webpki = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(root_cert)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| DatabaseUrlError::Invalid(e.to_string()))?;
            match check {
                Check::Full => webpki,
                _ => Arc::new(Lenient {
                    provider,
                    chain: Some(webpki),
                }),
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// What libpq checks short of `verify-full`, the handshake's signatures
/// checked either way: for `prefer` and `require` (no `chain`) any
/// certificate is taken, as libpq takes it; for `verify-ca` the chain must
/// lead to a trusted CA, and the name in the certificate is not compared
/// with the host.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_as_libpq_reads_it() {
        let mode = |url: &str| Database::from_url(url).map(|d| d.tls_mode);
        assert_eq!(mode("postgres://u:p@h/db"), Ok(TlsMode::Prefer));
        assert_eq!(
            mode("postgres://u:p@h/db?sslmode=disable"),
            Ok(TlsMode::Disable)
        );
        assert_eq!(
            mode("postgres://u:p@h/db?sslmode=require"),
            Ok(TlsMode::Require)
        );
        assert_eq!(
            mode("postgres://u:p@h:5432/db?application_name=engine&sslmode=verify-full"),
            Ok(TlsMode::VerifyFull)
        );
        assert_eq!(
            mode("postgres://u:p@h/db?sslmode=verify-ca"),
            Ok(TlsMode::VerifyCa)
        );
        assert_eq!(
            mode("postgres://u:p@h/db?sslmode=strict"),
            Err(DatabaseUrlError::SslMode("strict".into()))
        );
    }

    #[test]
    fn other_parameters_reach_the_driver() {
        let database =
            Database::from_url("postgres://u:p@h:6000/db?sslmode=require&application_name=engine")
                .unwrap();
        assert_eq!(database.config.get_application_name(), Some("engine"));
        assert_eq!(database.config.get_ports(), &[6000]);
        assert_eq!(database.config.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn a_missing_root_certificate_is_named() {
        let error =
            Database::from_url("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=/nope.pem")
                .unwrap_err();
        assert!(
            matches!(error, DatabaseUrlError::RootCert { ref path, .. } if path == "/nope.pem")
        );
    }
}
