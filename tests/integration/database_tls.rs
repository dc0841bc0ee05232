//! The engine's connection honours `sslmode` and `sslrootcert` as libpq
//! does, against a server on loopback that answers Postgres's SSLRequest and
//! presents the certificate in tests/fixtures/tls: a test CA, and a
//! certificate for `localhost` (only) signed by it, valid until 2126; the
//! CA's key was discarded after signing. The server ends every session with
//! an error naming how the client arrived, so the client's error says
//! whether TLS was negotiated, refused by the client, or never asked for.

use std::path::PathBuf;
use std::sync::Arc;

use modelpick::database::Database;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
        .display()
        .to_string()
}

fn acceptor() -> tokio_rustls::TlsAcceptor {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// Reads the rest of the client's startup message (of which `read` bytes
/// are read already) and refuses it with `message`.
async fn refuse(mut stream: impl AsyncRead + AsyncWrite + Unpin, read: &[u8], message: &str) {
    let length = match read {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]) as usize,
        _ => stream.read_u32().await.unwrap_or(8) as usize,
    };
    let already = read.len().max(4);
    let mut rest = vec![0; length.saturating_sub(already).min(10_000)];
    let _ = stream.read_exact(&mut rest).await;
    let mut fields = Vec::new();
    for (code, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28000"),
        (b'M', message),
    ] {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut reply = vec![b'E'];
    reply.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    reply.extend_from_slice(&fields);
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

/// A server for a bounded number of sessions; its address.
async fn postgres_with_tls(sessions: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = acceptor();
    tokio::spawn(async move {
        for _ in 0..sessions {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if socket.read_exact(&mut first).await.is_err() {
                    return;
                }
                if first == SSL_REQUEST {
                    socket.write_all(b"S").await.unwrap();
                    if let Ok(tls) = acceptor.accept(socket).await {
                        refuse(tls, &[], "arrived over TLS").await;
                    }
                } else {
                    refuse(socket, &first, "arrived in plain text").await;
                }
            });
        }
    });
    port
}

/// How a connection attempt ended: the server's message, or the client's
/// own error (a refused certificate).
async fn attempt(url: &str) -> String {
    let database = Database::from_url(url).unwrap();
    match database.connect().await {
        Ok(_) => "connected".into(),
        Err(e) => match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => {
                let mut text = format!("client error: {e}");
                let mut cause = std::error::Error::source(&e);
                while let Some(inner) = cause {
                    text.push_str(&format!(": {inner}"));
                    cause = inner.source();
                }
                text
            }
        },
    }
}

#[tokio::test]
async fn sslmode_decides_encryption_and_what_certificate_is_trusted() {
    let port = postgres_with_tls(6).await;
    let ca = fixture("ca.pem");
    let url = |host: &str, query: &str| format!("postgres://u:p@{host}:{port}/db?{query}");

    assert_eq!(
        attempt(&url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}")
        ))
        .await,
        "arrived over TLS",
        "verify-full: the CA signed it and it names the host"
    );
    let wrong_host = attempt(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(
        wrong_host.starts_with("client error") && wrong_host.contains("certificate"),
        "verify-full refuses a certificate for another name: {wrong_host}"
    );
    assert_eq!(
        attempt(&url(
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={ca}")
        ))
        .await,
        "arrived over TLS",
        "verify-ca checks the CA, not the name"
    );
    let untrusted = attempt(&url("localhost", "sslmode=verify-full")).await;
    assert!(
        untrusted.starts_with("client error") && untrusted.contains("certificate"),
        "a CA that is not among the trusted roots is refused: {untrusted}"
    );
    assert_eq!(
        attempt(&url("127.0.0.1", "sslmode=require")).await,
        "arrived over TLS",
        "require encrypts without checking, as libpq does"
    );
    assert_eq!(
        attempt(&url("127.0.0.1", "sslmode=disable")).await,
        "arrived in plain text"
    );
}

#[tokio::test]
async fn the_engine_connection_to_the_real_server_is_encrypted_when_required() {
    let db = crate::support::db::TestDb::new().await;
    let server_has_tls: String = db
        .client()
        .await
        .query_one("show ssl", &[])
        .await
        .unwrap()
        .get(0);
    let database = Database::from_url(&format!("{}?sslmode=require", db.url)).unwrap();
    match database.connect().await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            assert_eq!(server_has_tls, "on");
            let encrypted: bool = client
                .query_one(
                    "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            assert!(encrypted, "sslmode=require gives an encrypted session");
        }
        Err(e) => assert_eq!(
            server_has_tls, "off",
            "sslmode=require fails only where the server has no TLS: {e}"
        ),
    }
}
