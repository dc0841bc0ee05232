//! A Supabase API gateway on one port, routed like Supabase's own:
//! `/rest/v1` to a PostgREST-compatible server (postrust), `/auth/v1` and
//! `/storage/v1` served here.

mod auth;
mod auth_admin;
mod auth_recovery;
mod auth_routes;
mod auth_user;
mod config;
mod filters;
mod gateway;
mod jwt;
mod mailer;
mod reply;
mod rest;
mod storage;

pub use config::{role_url, MailerConfig, SupabaseConfig};
pub use gateway::{start, RunningSupabase};
pub use jwt::Claims;
