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

async fn run_supabase() -> Result<(), String> {
    let config = devstack::supabase::SupabaseConfig::from_env(&repo_root())?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let running = devstack::supabase::start(config, listener)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(url = %running.url(), "Supabase API gateway ready");
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}

async fn run_stripe() -> Result<(), String> {
    let addr: std::net::SocketAddr = std::env::var("DEVSTACK_STRIPE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:12111".into())
        .parse()
        .map_err(|e| format!("DEVSTACK_STRIPE_ADDR: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let running = devstack::stripe::start(devstack::stripe::StripeConfig::from_env(addr), listener)
        .map_err(|e| e.to_string())?;
    tracing::info!(url = %running.url(), "Stripe stand-in ready");
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}

async fn run_provider() -> Result<(), String> {
    let addr: std::net::SocketAddr = std::env::var("DEVSTACK_PROVIDER_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:12112".into())
        .parse()
        .map_err(|e| format!("DEVSTACK_PROVIDER_ADDR: {e}"))?;
    let config = match std::env::var("DEVSTACK_PROVIDER_CONFIG") {
        Ok(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
        Err(_) => devstack::provider::ProviderConfig::default(),
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let running = devstack::provider::start(config, listener).map_err(|e| e.to_string())?;
    tracing::info!(url = %running.base_url(), "model-provider stand-in ready");
    shutdown_signal().await;
    running.stop().await;
    Ok(())
}

async fn run_resend() -> Result<(), String> {
    let addr: std::net::SocketAddr = std::env::var("DEVSTACK_RESEND_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:12113".into())
        .parse()
        .map_err(|e| format!("DEVSTACK_RESEND_ADDR: {e}"))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let running = devstack::resend::start(listener).map_err(|e| e.to_string())?;
    tracing::info!(url = %running.url(), "Resend stand-in ready");
    shutdown_signal().await;
    running.stop().await;
    Ok(())
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
