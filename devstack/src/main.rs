//! `devstack`: the local stand-ins, one subcommand per service.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "devstack",
    about = "Local stand-ins for Supabase, Stripe and a model provider"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The Supabase API gateway (REST via postrust, Auth, Storage) on SUPABASE_URL.
    Supabase,
    /// The Stripe stand-in (Checkout Sessions, hosted pay page, signed
    /// webhooks to STRIPE_WEBHOOK_URL) on DEVSTACK_STRIPE_ADDR (127.0.0.1:12111).
    Stripe,
    /// The model-provider stand-in (OpenAI chat completions) on
    /// DEVSTACK_PROVIDER_ADDR (127.0.0.1:12112), configured by the JSON file
    /// at DEVSTACK_PROVIDER_CONFIG (answers by image SHA-256, latency, faults).
    Provider,
    /// The Resend stand-in (POST /emails) on DEVSTACK_RESEND_ADDR (127.0.0.1:12113).
    Resend,
}

fn repo_root() -> PathBuf {
    std::env::var("MODELPICK_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "devstack=info".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Supabase => run_supabase().await,
        Command::Stripe => run_stripe().await,
        Command::Provider => run_provider().await,
        Command::Resend => run_resend().await,
    };
    if let Err(e) = result {
        eprintln!("devstack: {e}");
        std::process::exit(1);
    }
}

async fn bind(
    var: &str,
    default: &str,
) -> Result<(tokio::net::TcpListener, std::net::SocketAddr), String> {
    let addr: std::net::SocketAddr = std::env::var(var)
        .unwrap_or_else(|_| default.into())
        .parse()
        .map_err(|e| format!("{var}: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok((listener, addr))
}

/// Announces a started stand-in and stops it on Ctrl-C or SIGTERM.
async fn serve_until_signal(
    what: &str,
    url: String,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    tracing::info!(%url, "{what} ready");
    shutdown_signal().await;
    stop.await;
    Ok(())
}

async fn run_supabase() -> Result<(), String> {
    let config = devstack::supabase::SupabaseConfig::from_env(&repo_root())?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let running = devstack::supabase::start(config, listener)
        .await
        .map_err(|e| e.to_string())?;
    serve_until_signal("Supabase API gateway", running.url(), running.stop()).await
}

async fn run_stripe() -> Result<(), String> {
    let (listener, addr) = bind("DEVSTACK_STRIPE_ADDR", "127.0.0.1:12111").await?;
    let running = devstack::stripe::start(devstack::stripe::StripeConfig::from_env(addr), listener)
        .map_err(|e| e.to_string())?;
    serve_until_signal("Stripe stand-in", running.url(), running.stop()).await
}

async fn run_provider() -> Result<(), String> {
    let config = match std::env::var("DEVSTACK_PROVIDER_CONFIG") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        Err(_) => devstack::provider::ProviderConfig::default(),
    };
    let (listener, _) = bind("DEVSTACK_PROVIDER_ADDR", "127.0.0.1:12112").await?;
    let running = devstack::provider::start(config, listener).map_err(|e| e.to_string())?;
    serve_until_signal(
        "model-provider stand-in",
        running.base_url(),
        running.stop(),
    )
    .await
}

async fn run_resend() -> Result<(), String> {
    let (listener, _) = bind("DEVSTACK_RESEND_ADDR", "127.0.0.1:12113").await?;
    let running = devstack::resend::start(listener).map_err(|e| e.to_string())?;
    serve_until_signal("Resend stand-in", running.url(), running.stop()).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("install SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
