//! What a call cost, at the prices snapshotted into the report at payment.
//! What a call *may* cost is the database's to compute (`reserve_run`,
//! migration 016), so that no engine can under-reserve; the ceilings are
//! settings (`config::SOFT_CEILING_USD`, `config::HARD_CEILING_USD`).

use serde::Deserialize;

use super::provider::Usage;

/// A model's prices as snapshotted into the report at payment.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Price {
    pub prompt_usd_per_mtok: f64,
    pub completion_usd_per_mtok: f64,
    #[serde(default)]
    pub image_usd: f64,
    #[serde(default)]
    pub request_usd: f64,
    #[serde(default)]
    pub supports_json_schema: bool,
}

impl Price {
    /// What a billed attempt cost: the provider's own figure when it gives
    /// one, else its tokens, image and request at our prices. An attempt
    /// with no usage at all cost nothing.
    pub fn cost_of(&self, usage: &Usage) -> f64 {
        if let Some(cost) = usage.cost {
            return cost.max(0.0);
        }
        if usage.prompt_tokens == 0 && usage.completion_tokens == 0 {
            return 0.0;
        }
        (usage.prompt_tokens as f64 * self.prompt_usd_per_mtok
            + usage.completion_tokens as f64 * self.completion_usd_per_mtok)
            / 1e6
            + self.image_usd
            + self.request_usd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_providers_cost_wins_over_our_arithmetic() {
        let price = Price {
            prompt_usd_per_mtok: 2.5,
            completion_usd_per_mtok: 10.0,
            image_usd: 0.0,
            request_usd: 0.0,
            supports_json_schema: true,
        };
        let usage = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            total_tokens: 1100,
            cost: Some(0.0042),
        };
        assert_eq!(price.cost_of(&usage), 0.0042);
        let priced = Usage {
            cost: None,
            ..usage
        };
        assert!((price.cost_of(&priced) - 0.0035).abs() < 1e-12);
        assert_eq!(price.cost_of(&Usage::default()), 0.0);
    }
}
