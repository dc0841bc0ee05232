//! `modelpick serve` (the sidecar with the engine inside), `modelpick
//! worker` (the engine alone) and `modelpick catalog sync` (the model
//! catalog, once, as the provider lists it), `modelpick smoke <SITE_URL>`
//! (a deployed site, checked from outside), `modelpick ops summary|stuck|
//! report <id>` (an operator's questions).

use clap::{Parser, Subcommand};
use modelpick::config::{CatalogCommandSettings, EngineSettings, Settings};
use modelpick::sidecar::system_clock;
use modelpick::startup;
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "modelpick", version, about = "ModelPick's backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve checkout, the Stripe webhook and the pages on SIDECAR_ADDR, and
    /// run the benchmark engine in the same process.
    Serve {
        /// Do not run the engine here (run `modelpick worker` elsewhere).
        #[arg(long)]
        no_engine: bool,
    },
    /// Run only the benchmark engine.
    Worker,
    /// Check a deployed site from outside, as a customer meets it: pages,
    /// readiness, the Supabase project, the webhook and checkout's doors.
    /// Exits non-zero when a check fails, naming what to fix.
    Smoke {
        /// The public URL of the site, e.g. https://modelpick.example.com
        site_url: String,
    },
    /// An operator's questions, answered from the database (DATABASE_URL).
    Ops {
        #[command(subcommand)]
        action: OpsAction,
    },
    /// The model catalog.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
}

#[derive(Debug, Subcommand)]
enum OpsAction {
    /// Today and the last 7 days: paid, complete, failed, refunded, money
    /// taken and refunded, model spend, margin.
    Summary,
    /// What needs a person: reports waiting, expired leases, emails and
    /// refunds that keep failing, disputes, alerts not mailed.
    Stuck,
    /// One report's story: its payment, claims, calls, email and refund.
    Report {
        /// The report's id (as in /report/<id>).
        report_id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogAction {
    /// Make the catalog what OPENROUTER_BASE_URL/models offers now: vision
    /// models with known prices, at those prices; the rest inactive.
    Sync,
}

fn main() -> anyhow::Result<()> {
    modelpick::telemetry::init(modelpick::telemetry::LogFormat::from_env());
    let cli = Cli::parse();
    // The engine alone waits on the network nearly all the time: one thread
    // runs it with no cross-thread wake-ups (scoring has its own blocking
    // threads). The sidecar serves requests on every core.
    let runtime = match cli.command {
        Command::Worker | Command::Catalog { .. } | Command::Smoke { .. } | Command::Ops { .. } => {
            tokio::runtime::Builder::new_current_thread()
        }
        Command::Serve { .. } => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    match cli.command {
        Command::Serve { no_engine } => serve(no_engine, stopped).await?,
        Command::Worker => {
            let engine = startup::engine(&EngineSettings::from_env()?)?;
            engine.run(stopped).await;
        }
        Command::Catalog {
            action: CatalogAction::Sync,
        } => return sync_catalog().await,
        Command::Smoke { site_url } => return smoke(&site_url).await,
        Command::Ops { action } => return ops(action).await,
    }
    tracing::info!("stopped");
    Ok(())
}

/// The sidecar on SIDECAR_ADDR, with the engine beside it unless told not.
/// The engine runs on a thread of its own, with its own runtime and its own
/// database connections, so that a report's calls never queue behind
/// webhooks or the reverse.
async fn serve(no_engine: bool, stopped: watch::Receiver<bool>) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let engine = if no_engine {
        None
    } else {
        let engine = startup::engine(&EngineSettings::from_env()?)?;
        let stopped = stopped.clone();
        Some(
            std::thread::Builder::new()
                .name("engine".into())
                .spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map(|runtime| runtime.block_on(engine.run(stopped)))
                })?,
        )
    };
    let (listener, addr) = startup::bind(&settings).await?;
    tracing::info!(%addr, "sidecar listening");
    let state = startup::sidecar(settings, system_clock());
    let mut until = stopped;
    startup::serve(state, listener, async move {
        let _ = until.wait_for(|stop| *stop).await;
    })
    .await;
    if let Some(engine) = engine {
        tokio::task::spawn_blocking(move || engine.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the engine's thread panicked"))??;
    }
    Ok(())
}

/// `modelpick ops ...`: the answer on stdout.
async fn ops(action: OpsAction) -> anyhow::Result<()> {
    let store = startup::operations_store(&modelpick::config::database_url_from_env()?)?;
    let text = match action {
        OpsAction::Summary => modelpick::ops::summary(&store).await?,
        OpsAction::Stuck => modelpick::ops::stuck(&store).await?,
        OpsAction::Report { report_id } => modelpick::ops::report(&store, report_id).await?,
    };
    print!("{text}");
    Ok(())
}

/// `modelpick smoke <SITE_URL>`: one line per check, then the verdict.
async fn smoke(site_url: &str) -> anyhow::Result<()> {
    let outcomes = modelpick::smoke::run(site_url).await;
    for outcome in &outcomes {
        match &outcome.result {
            Ok(found) => println!("ok    {:<14} {found}", outcome.name),
            Err(why) => println!("FAIL  {:<14} {why}", outcome.name),
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} checks failed on {site_url}", outcomes.len());
    }
    println!("{site_url}: all {} checks passed", outcomes.len());
    Ok(())
}

/// `modelpick catalog sync`: one sync, what it changed on stdout.
async fn sync_catalog() -> anyhow::Result<()> {
    let syncer = startup::catalog_sync(&CatalogCommandSettings::from_env()?)?;
    let summary = syncer.sync().await?;
    println!(
        "catalog synced: {} models offered ({} added, {} repriced, {} offered again), {} withdrawn, {} listed but not offerable",
        summary.offered,
        summary.added,
        summary.repriced,
        summary.reactivated,
        summary.deactivated,
        summary.refused
    );
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
