//! One test per attack on the trust boundary, sent the way an attacker
//! would: raw HTTP at the release binary or the in-process sidecar, a
//! user's own token at the Supabase API, SQL as `anon`. (The supabase-js
//! attacks are `api.test.mjs` beside this file, the page attacks in a real
//! browser `pages.test.mjs`.) Built into the integration binary to share
//! its harness; scripts/test runs it as a suite of its own
//! (`cargo test --test integration security::`).

mod bodies;
mod catalog_bounds;
mod checkout_limits;
mod empty_answers;
mod error_bodies;
mod grants;
mod headers;
mod hosted_project;
mod settlement;
mod slow_requests;
mod storage_names;
mod success_page;
