//! ModelPick's backend: the sidecar (checkout, Stripe webhooks, pages) and the
//! benchmark engine.

pub mod auth;
pub mod config;
pub mod database;
pub mod email;
pub mod engine;
pub mod fulfilment;
pub mod html;
pub mod http;
pub mod once_map;
pub mod startup;
pub mod stripe;
pub mod supabase;
pub mod telemetry;
