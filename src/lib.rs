//! ModelPick's backend: the sidecar (checkout, Stripe webhooks, pages) and the
//! benchmark engine. See `DESIGN` in the shared docs for the architecture.

pub mod engine;
