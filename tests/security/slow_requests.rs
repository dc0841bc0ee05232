//! Slow requests cannot block payments. 200 connections to the release
//! binary (engine on, production logging) each declare a 1 MiB body to the
//! Stripe webhook and send nothing of it, or all of it but the last byte,
//! and a few send half a request head; no credentials needed. A signed
//! Stripe delivery sent while they hold on is still taken (room is kept
//! for small bodies), one sent 12 s after they started is answered 200
//! within a second (every slow body has been refused at its deadline), the
//! process stays within its body budget, and each refusal is logged,
//! rate-limited.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::bodies::memory;
use crate::support::engine::TestWorld;
use crate::support::storm::{paid_sessions, Delivery, Sidecar};

const MIB: usize = 1024 * 1024;

async fn stalled(addr: &str, send_all_but_one: bool) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/webhooks/stripe HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Stripe-Signature: t=1,v1=00\r\nContent-Length: {MIB}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    if send_all_but_one {
        // The server may answer 503 (budget) and stop reading: that is fine.
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            stream.write_all(&vec![b' '; MIB - 1]),
        )
        .await;
    }
    stream
}

async fn half_a_head(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /api/webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Le")
        .await
        .unwrap();
    stream
}

/// What the server said on `stream`, if anything, and whether it then
/// closed it (read within `wait`).
async fn answer(stream: &mut TcpStream, wait: Duration) -> (Option<u16>, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break (status(&seen), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => break (status(&seen), false),
        }
    }
}

fn status(bytes: &[u8]) -> Option<u16> {
    std::str::from_utf8(bytes)
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn deliver(url: &str, delivery: &Delivery) -> (u16, Duration) {
    let started = Instant::now();
    let status = reqwest::Client::new()
        .post(format!("{url}/api/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", &delivery.signature)
        .body(delivery.payload.clone())
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    (status, started.elapsed())
}

#[tokio::test]
async fn slow_bodies_and_heads_cannot_block_stripe_deliveries() {
    let world = TestWorld::new(1, |_| {}).await;
    let mut sidecar = Sidecar::start(&world, "text", true).await;
    let deliveries = paid_sessions(&world, 2).await;
    let addr = sidecar.url.trim_start_matches("http://").to_owned();
    // Warm up what every request shares.
    let _ = reqwest::get(format!("{}/health", sidecar.url)).await;
    let (_, peak_before) = memory(sidecar.pid());

    let started = Instant::now();
    let mut silent = Vec::new();
    let mut almost = Vec::new();
    for i in 0..200 {
        if i % 2 == 0 {
            silent.push(stalled(&addr, false).await);
        }
    }
    let almost_sent = futures_util::future::join_all((0..100).map(|_| stalled(&addr, true))).await;
    almost.extend(almost_sent);
    let mut heads = Vec::new();
    for _ in 0..10 {
        heads.push(half_a_head(&addr).await);
    }
    println!(
        "# 200 stalled bodies and 10 half heads open after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // While they hold on: a payment still goes through.
    let (during, during_took) = deliver(&sidecar.url, &deliveries[0]).await;
    assert_eq!(during, 200, "a Stripe delivery during the attack is taken");

    tokio::time::sleep(Duration::from_secs(12).saturating_sub(started.elapsed())).await;
    let (after, after_took) = deliver(&sidecar.url, &deliveries[1]).await;
    println!(
        "# Stripe delivery during the attack: {during} in {} ms; 12 s after it began: {after} in {} ms",
        during_took.as_millis(),
        after_took.as_millis()
    );
    assert_eq!(after, 200, "a Stripe delivery 12 s in is answered 200");
    assert!(
        after_took < Duration::from_secs(1),
        "and within a second ({after_took:?})"
    );

    // Every slow request was answered and closed by its deadline.
    let mut timed_out = 0;
    for stream in silent.iter_mut() {
        let (status, closed) = answer(stream, Duration::from_millis(500)).await;
        assert!(closed, "a silent body's connection is closed");
        timed_out += usize::from(status == Some(408));
    }
    assert_eq!(timed_out, silent.len(), "every silent body got 408");
    let mut almost_answers = std::collections::BTreeMap::new();
    for stream in almost.iter_mut() {
        let (status, closed) = answer(stream, Duration::from_millis(500)).await;
        assert!(closed, "an almost-sent body's connection is closed");
        *almost_answers.entry(status).or_insert(0) += 1;
    }
    println!("# answers to the bodies sent but their last byte: {almost_answers:?}");
    assert!(almost_answers
        .keys()
        .all(|s| matches!(s, None | Some(408) | Some(503))));
    for stream in heads.iter_mut() {
        let (_, closed) = answer(stream, Duration::from_millis(500)).await;
        assert!(closed, "a half-sent head's connection is closed");
    }

    let (_, peak_after) = memory(sidecar.pid());
    let growth = peak_after.saturating_sub(peak_before);
    println!(
        "# peak memory grew {:.1} MiB (body budget 64 MiB)",
        growth as f64 / MIB as f64
    );
    assert!(
        growth < 80 * MIB as u64,
        "the process stays within its body budget ({growth} bytes)"
    );

    assert!(sidecar.alive());
    let log = sidecar.log_text();
    let lines = log
        .lines()
        .filter(|l| l.contains("slow request refused"))
        .count();
    println!("# log lines for refused slow requests: {lines}");
    assert!(lines >= 1, "refusals are logged");
    assert!(
        lines <= 30,
        "and rate-limited ({lines} lines for 150 and more refusals)"
    );
    assert!(log.contains("log.held_back"), "with what was held back");
}
