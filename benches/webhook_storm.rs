//! A storm of signed Stripe webhooks at the real `modelpick serve` process
//! (release build, its production log subscriber at info, the engine
//! running every report it creates), on one 2-core machine with the local
//! Supabase API and Postgres:
//!
//! 1. open loop: events at a fixed offered rate whatever the answers, each
//!    delivered 3 times at once over keep-alive connections, latency from
//!    when each delivery was due; prints throughput, latency percentiles,
//!    non-2xx answers (must be 0), reports (must equal sessions), log bytes
//!    per request, and where the CPU went: the sidecar, the API layer (the
//!    gateway's threads and postrust), Postgres, the load generator;
//! 2. saturation: a closed loop over 64 connections, as fast as answered.
//!
//!   cargo bench --bench webhook_storm
//!
//! 1,000 deliveries/s for 30 s. `STORM_NO_ENGINE=1` runs the sidecar
//! without its engine; `STORM_PROVIDER_MS` sets the model's answer time. With `MODELPICK_BENCH_QUICK=1` (what CI
//! runs), 300/s for 3 s; the invariants are asserted either way.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::engine::TestWorld;
use support::storm::{
    closed_loop, open_loop, paid_sessions, percentile, report_count, Sample, Sidecar,
};
use support::supabase::TestSupabase;

const COPIES: usize = 3;
const GOAL_P99_MS: f64 = 25.0;
/// How long the model provider stand-in takes to answer: 1 s, as the fast
/// vision models do (slow ones take several), so the engine works through
/// its backlog at a real pace. `STORM_PROVIDER_MS` sets another.
fn provider_latency_ms() -> u64 {
    std::env::var("STORM_PROVIDER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

fn quick() -> bool {
    std::env::var("MODELPICK_BENCH_QUICK").is_ok_and(|v| v == "1")
}

fn ticks_of(stat: &str) -> (String, i32, f64) {
    // comm is in parentheses and may hold spaces; fields after it are plain.
    let (head, rest) = stat.rsplit_once(')').unwrap_or(("", ""));
    let comm = head
        .split_once('(')
        .map(|(_, c)| c.to_owned())
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ppid = fields.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    let ticks = fields
        .get(11)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    (comm, ppid, ticks / 100.0)
}

/// CPU seconds so far of: one process; this process's threads whose name
/// starts with a prefix; every process with a name (and, if given, parent).
fn process_cpu(pid: u32) -> f64 {
    ticks_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default()).2
}

fn threads_cpu(prefix: &str) -> f64 {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .map(|t| {
                    ticks_of(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default())
                })
                .filter(|(comm, _, _)| comm.starts_with(prefix))
                .map(|(_, _, cpu)| cpu)
                .sum()
        })
        .unwrap_or(0.0)
}

fn processes_cpu(name: &str, parent: Option<i32>) -> f64 {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .chars()
                        .all(|c| c.is_ascii_digit())
                })
                .map(|e| {
                    ticks_of(&std::fs::read_to_string(e.path().join("stat")).unwrap_or_default())
                })
                .filter(|(comm, ppid, _)| comm == name && parent.is_none_or(|p| p == *ppid))
                .map(|(_, _, cpu)| cpu)
                .sum()
        })
        .unwrap_or(0.0)
}

struct CpuMeter {
    sidecar_pid: u32,
    at: [f64; 5],
    started: Instant,
}

impl CpuMeter {
    fn read(sidecar_pid: u32) -> [f64; 5] {
        let me = std::process::id() as i32;
        let gateway = threads_cpu("api-gateway");
        [
            process_cpu(sidecar_pid),
            gateway + processes_cpu("postrust", Some(me)),
            processes_cpu("postgres", None),
            process_cpu(me as u32) - gateway,
            0.0,
        ]
    }

    fn start(sidecar_pid: u32) -> Self {
        Self {
            sidecar_pid,
            at: Self::read(sidecar_pid),
            started: Instant::now(),
        }
    }

    fn print(&self) {
        let now = Self::read(self.sidecar_pid);
        let wall = self.started.elapsed().as_secs_f64();
        println!(
            "  CPU over {wall:.1} s (2 cores = {:.1} CPU-s available)",
            2.0 * wall
        );
        for (i, what) in [
            "sidecar (webhooks + engine)",
            "API layer (gateway + postrust)",
            "Postgres",
            "load generator + stand-ins",
        ]
        .iter()
        .enumerate()
        {
            let used = now[i] - self.at[i];
            println!(
                "    {what:<32} {used:6.2} CPU-s  {:5.1}% of one core",
                100.0 * used / wall
            );
        }
    }
}

fn describe(samples: &[Sample], elapsed: Duration, goal: bool) {
    let non_2xx = samples
        .iter()
        .filter(|s| !(200..300).contains(&s.status))
        .count();
    println!("  requests      {}", samples.len());
    println!(
        "  throughput    {:.0} requests/s",
        samples.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency p50   {:.1} ms",
        percentile(samples, 0.50).as_secs_f64() * 1e3
    );
    let p99 = percentile(samples, 0.99).as_secs_f64() * 1e3;
    if goal {
        let verdict = if p99 <= GOAL_P99_MS { "met" } else { "MISSED" };
        println!("  latency p99   {p99:.1} ms (goal {GOAL_P99_MS} ms: {verdict})");
    } else {
        println!("  latency p99   {p99:.1} ms");
    }
    println!(
        "  latency max   {:.1} ms",
        percentile(samples, 1.0).as_secs_f64() * 1e3
    );
    println!("  non-2xx       {non_2xx} (must be 0)");
    assert_eq!(non_2xx, 0, "every delivery was acknowledged");
}

fn main() {
    // The local Supabase API on a runtime of its own, so its threads' CPU
    // can be told apart from the load generator's.
    let gateway = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("api-gateway")
        .enable_all()
        .build()
        .unwrap();
    let supabase = gateway.block_on(TestSupabase::start());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(storm(supabase));
    gateway.shutdown_background();
}

async fn storm(supabase: TestSupabase) {
    let (rate, seconds, saturation_sessions) = if quick() {
        (300.0, 3.0, 300)
    } else {
        (1000.0, 30.0, 3000)
    };
    let latency = provider_latency_ms();
    let world = TestWorld::with_supabase(supabase, 1, |config| config.latency_ms = latency).await;
    let engine_on = std::env::var("STORM_NO_ENGINE").is_err();
    let mut sidecar = Sidecar::start(&world, "text", engine_on).await;
    let sessions = (rate * seconds / COPIES as f64) as usize;
    let events = paid_sessions(&world, sessions).await;

    let engine = if engine_on { "on" } else { "off" };
    println!("webhook storm at modelpick serve (release, info logging, engine {engine}, model answers in {latency} ms), {COPIES} copies of each event at once");
    println!(
        "open loop: {rate:.0} deliveries/s offered for {seconds:.0} s ({sessions} paid sessions)"
    );
    let cpu = CpuMeter::start(sidecar.pid());
    let started = Instant::now();
    let samples = open_loop(&sidecar.url, events, rate, COPIES).await;
    let elapsed = started.elapsed();
    describe(&samples, elapsed, true);
    cpu.print();
    let reports = report_count(&world).await;
    println!(
        "  reports       {reports} (must be {sessions}), {} finished by the engine meanwhile",
        finished_count(&world).await
    );
    assert_eq!(
        reports as usize, sessions,
        "every paid session became exactly one report"
    );
    let log = sidecar.log_text();
    println!(
        "  log           {:.0} bytes per request, longest line {} bytes",
        log.len() as f64 / samples.len() as f64,
        log.lines().map(str::len).max().unwrap_or(0)
    );
    assert!(!log.contains("panicked"), "no panic in the log");
    assert!(sidecar.alive(), "the sidecar is still running");

    println!("saturation: closed loop over 64 connections ({saturation_sessions} more sessions)");
    let events = paid_sessions(&world, saturation_sessions).await;
    let cpu = CpuMeter::start(sidecar.pid());
    let started = Instant::now();
    let (samples, rate) = closed_loop(&sidecar.url, events, COPIES, 64).await;
    describe(&samples, started.elapsed(), false);
    println!("  saturation    {rate:.0} requests/s");
    cpu.print();
    let reports = report_count(&world).await;
    assert_eq!(
        reports as usize,
        sessions + saturation_sessions,
        "one report per session"
    );
    assert!(sidecar.alive(), "the sidecar is still running");
}

async fn finished_count(world: &TestWorld) -> i64 {
    world
        .supabase
        .db
        .client()
        .await
        .query_one(
            "select count(*) from public.reports where status in ('complete', 'failed')",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}
