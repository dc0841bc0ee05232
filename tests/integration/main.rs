//! Integration tests against a real PostgreSQL: one binary, one fresh
//! database per test.

#[path = "../support/mod.rs"]
mod support;

mod account;
mod catalog;
mod charges;
mod compare;
mod database_tls;
mod engine;
mod followups;
mod fulfillment;
mod honest_errors;
mod hostile_input;
mod load;
mod metrics;
mod money;
mod ops;
mod pages;
mod password_recovery;
mod pay;
mod prepared_images;
mod privacy;
mod ready;
mod repeats;
mod report_queue;
mod rescoring;
mod supabase_api;
mod watches;

#[path = "../security/mod.rs"]
mod security;
