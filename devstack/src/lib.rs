//! Local stand-ins for the services ModelPick talks to, each speaking the
//! real service's wire protocol so that the real clients (supabase-js,
//! postgrest-rs, the Stripe and OpenAI-style HTTP APIs) work unchanged.
//! A development tool: never linked into the product.

pub mod models;
pub mod png;
pub mod provider;
pub mod resend;
pub mod server;
pub mod stripe;
pub mod supabase;
