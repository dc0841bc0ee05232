//! ModelPick's backend, one binary in two halves: the sidecar (checkout,
//! Stripe webhooks, pages) and the benchmark engine. Neither half imports
//! the other; `startup` wires both from `config`; the rest are shared
//! leaves that import no half.

pub mod config;
pub mod engine;
pub mod ops;
pub mod sidecar;
pub mod startup;

pub mod auth;
pub mod database;
pub mod email;
pub mod figures;
pub mod money;
pub mod once_map;
pub mod smoke;
pub mod storage;
pub mod stripe;
pub mod supabase;
pub mod telemetry;
pub mod templates;
