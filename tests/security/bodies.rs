//! Memory from one request: huge chunked bodies (no length declared) at
//! the routes that take a body, sent over a raw socket to the release
//! binary (`modelpick serve`, engine on, production logging). Each is
//! answered 413 at its cap, and the process grows by a few MiB at most
//! however many arrive at once.

use std::time::Duration;

use futures_util::future::join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::engine::TestWorld;
use crate::support::storm::Sidecar;

const MIB: u64 = 1024 * 1024;

/// The process's resident and peak resident memory, in bytes.
pub(super) fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .unwrap()
            * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// POSTs a chunked body of up to `total` bytes to `path`, stopping when the
/// server answers or closes; the answer's status, and what was sent.
async fn chunked_post(addr: &str, path: &str, total: u64) -> (Option<u16>, u64) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut answered) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut head = vec![0u8; 1024];
        let n = reader.read(&mut head).await.unwrap_or(0);
        let status = std::str::from_utf8(&head[..n])
            .ok()
            .and_then(|h| h.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok());
        let _ = tx.send(status);
    });
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Stripe-Signature: t=1,v1=00\r\nAuthorization: Bearer x\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let piece = vec![b' '; 64 * 1024];
    let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
    frame.extend_from_slice(&piece);
    frame.extend_from_slice(b"\r\n");
    let mut sent = 0;
    // Writes until the server answers or stops taking bytes, whichever is
    // first (a server that stops reading must not stall the attacker).
    while sent < total {
        tokio::select! {
            biased;
            status = &mut answered => return (status.ok().flatten(), sent),
            written = writer.write_all(&frame) => {
                if written.is_err() {
                    break;
                }
                sent += piece.len() as u64;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), writer.write_all(b"0\r\n\r\n")).await;
    let status = tokio::time::timeout(Duration::from_secs(30), answered)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    (status, sent)
}

async fn attack(sidecar: &Sidecar, path: &str, total: u64, at_once: usize, grows_less_than: u64) {
    let addr = sidecar.url.trim_start_matches("http://").to_owned();
    let (_, peak_before) = memory(sidecar.pid());
    let answers = join_all((0..at_once).map(|_| chunked_post(&addr, path, total))).await;
    let (rss_after, peak_after) = memory(sidecar.pid());
    for (status, sent) in &answers {
        assert_eq!(
            *status,
            Some(413),
            "{path}: answered 413 ({sent} bytes sent)"
        );
    }
    let growth = peak_after.saturating_sub(peak_before);
    println!(
        "# {at_once} x {} MB chunked to {path}: 413 after {} KiB sent each (at most); peak memory grew {:.1} MiB (RSS now {:.1} MiB)",
        total / 1_000_000,
        answers.iter().map(|(_, s)| s).max().unwrap() / 1024,
        growth as f64 / MIB as f64,
        rss_after as f64 / MIB as f64,
    );
    assert!(
        growth < grows_less_than,
        "{path}: the process grew {growth} bytes, the bound is {grows_less_than}"
    );
}

#[tokio::test]
async fn huge_chunked_bodies_get_413_and_cost_no_memory() {
    let world = TestWorld::new(1, |_| {}).await;
    let sidecar = Sidecar::start(&world, "text", true).await;
    // Warm up: the first requests allocate what every request shares.
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let _ = http.get(format!("{}/health", sidecar.url)).send().await;
        let _ = http
            .post(format!("{}/api/checkout", sidecar.url))
            .body("{}")
            .send()
            .await;
    }
    for path in ["/api/webhooks/stripe", "/api/checkout"] {
        attack(&sidecar, path, 50_000_000, 1, 16 * MIB).await;
        attack(&sidecar, path, 300_000_000, 1, 64 * MIB).await;
        attack(&sidecar, path, 300_000_000, 4, 64 * MIB).await;
    }
    let answer = http.get(format!("{}/health", sidecar.url)).send().await;
    assert!(answer.is_ok(), "the process still serves");
}
