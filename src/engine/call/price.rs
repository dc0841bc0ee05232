//! What a call cost, in exact dollars, at the prices snapshotted into the
//! report when it was paid for. What a call *may* cost (its worst case) is
//! the database's to compute (`reserve_run`), so that no engine can
//! under-reserve; nothing here estimates.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::attempt::Usage;
use crate::money::exact;

/// A model's prices as snapshotted into the report at payment: US dollars
/// per million prompt and completion tokens, per image and per request.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SnapshotPrice {
    #[serde(deserialize_with = "exact")]
    pub prompt_usd_per_mtok: Decimal,
    #[serde(deserialize_with = "exact")]
    pub completion_usd_per_mtok: Decimal,
    #[serde(default, deserialize_with = "exact")]
    pub image_usd: Decimal,
    #[serde(default, deserialize_with = "exact")]
    pub request_usd: Decimal,
    #[serde(default)]
    pub supports_json_schema: bool,
}

const MILLION: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

impl SnapshotPrice {
    /// What a billed attempt cost: the provider's own figure when it gives
    /// one, else its tokens, image and request at our prices. An attempt
    /// with no usage at all cost nothing.
    pub fn cost_of(&self, usage: &Usage) -> Decimal {
        if let Some(cost) = usage.cost {
            return cost.max(Decimal::ZERO);
        }
        if usage.prompt_tokens == 0 && usage.completion_tokens == 0 {
            return Decimal::ZERO;
        }
        (Decimal::from(usage.prompt_tokens) * self.prompt_usd_per_mtok
            + Decimal::from(usage.completion_tokens) * self.completion_usd_per_mtok)
            / MILLION
            + self.image_usd
            + self.request_usd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn the_providers_cost_wins_over_our_arithmetic_and_both_are_exact() {
        let price: SnapshotPrice = serde_json::from_value(json!({
            "prompt_usd_per_mtok": 2.5, "completion_usd_per_mtok": 10, "supports_json_schema": true
        }))
        .unwrap();
        assert_eq!(price.prompt_usd_per_mtok, usd("2.5"));
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            total_tokens: 1100,
            cost: Some(usd("0.0042")),
        };
        assert_eq!(price.cost_of(&usage), usd("0.0042"));
        let priced = Usage {
            cost: None,
            ..usage
        };
        assert_eq!(price.cost_of(&priced), usd("0.0035"));
        assert_eq!(price.cost_of(&Usage::default()), Decimal::ZERO);
    }
}
