//! `modelpick serve`: the sidecar.

use clap::{Parser, Subcommand};
use modelpick::config::Settings;
use modelpick::startup::{self, AppState};

#[derive(Debug, Parser)]
#[command(name = "modelpick", version, about = "ModelPick's backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve checkout, the Stripe webhook and the pages on SIDECAR_ADDR.
    Serve,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "modelpick=info,warp=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    match cli.command {
        Command::Serve => {
            let (listener, addr) = startup::bind(&settings).await?;
            tracing::info!(%addr, "sidecar listening");
            let state = AppState::new(settings, startup::system_clock());
            startup::serve(state, listener, shutdown_signal()).await;
            tracing::info!("sidecar stopped");
        }
    }
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
