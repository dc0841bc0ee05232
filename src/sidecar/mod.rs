//! The sidecar: the warp app that creates Stripe Checkout Sessions, takes
//! Stripe's webhooks, serves the pages, compares two reports and signs a
//! shared report's images. It reaches the database only
//! through Supabase's API (PostgREST), as the caller or with the
//! service-role key, by calling the functions that carry the rules.

mod account;
mod body;
mod checkout;
mod compare;
mod counters;
mod error;
mod fulfill;
mod headers;
mod legal;
mod metrics;
mod pages;
mod policy;
mod ready;
mod recent;
mod request;
mod routes;
mod serve;
mod shared_images;
mod state;
mod unsubscribe;
mod web;
mod webhook;

pub use body::BodyBudget;
pub use counters::{Metrics, ShopFigures};
pub use error::ApiError;
pub use fulfill::Settlements;
pub use headers::SecurityHeaders;
pub use legal::LegalPages;
pub use ready::Readiness;
pub use routes::routes;
pub use serve::serve;
pub use state::{system_clock, AppState, Clock, ReadBudget};
