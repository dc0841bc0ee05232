//! Stripe: creating and reading Checkout Sessions, and verifying the
//! webhooks Stripe sends.

pub mod client;
pub mod lookups;
pub mod signature;
pub mod types;

/// The one thing we sell, fixed on the server.
pub const PRICE_CENTS: i64 = 1499;
pub const CURRENCY: &str = "usd";
pub const PRODUCT_NAME: &str = "ModelPick Benchmark Report";

/// The price as people read it: `$14.99`.
pub fn price_text() -> String {
    format!("${}.{:02}", PRICE_CENTS / 100, PRICE_CENTS % 100)
}
