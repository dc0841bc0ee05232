//! What a call may cost and what it did cost, at the prices snapshotted
//! into the report at payment (the ceilings themselves are settings:
//! `config::SOFT_CEILING_USD`, `config::HARD_CEILING_USD`).

use serde::Deserialize;

use super::provider::CallOutcome;

/// Prompt tokens assumed for one image plus instructions before the call.
pub const DEFAULT_INPUT_TOKENS: u32 = 1500;
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
    fn tokens(&self, prompt: u32, completion: u32) -> f64 {
        (prompt as f64 * self.prompt_usd_per_mtok
            + completion as f64 * self.completion_usd_per_mtok)
            / 1e6
    }

    /// The most one call can cost: estimated prompt, every allowed output
    /// token, the image and the request fee.
    pub fn worst_case(&self, prompt_chars: usize, max_tokens: u32) -> f64 {
        let prompt_tokens = DEFAULT_INPUT_TOKENS + (prompt_chars / 3) as u32;
        self.tokens(prompt_tokens, max_tokens) + self.image_usd + self.request_usd
    }

    /// What a call cost: the provider's own figure when it gives one, else
    /// its tokens at our prices. A call with no answer and no usage cost 0.
    pub fn actual(&self, outcome: &CallOutcome) -> f64 {
        if let Some(cost) = outcome.reported_cost {
            return cost.max(0.0);
        }
        if outcome.prompt_tokens == 0 && outcome.completion_tokens == 0 {
            return 0.0;
        }
        self.tokens(outcome.prompt_tokens, outcome.completion_tokens)
            + self.image_usd
            + self.request_usd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt4o() -> Price {
        Price {
            prompt_usd_per_mtok: 2.5,
            completion_usd_per_mtok: 10.0,
            image_usd: 0.0,
            request_usd: 0.0,
            supports_json_schema: true,
        }
    }

    #[test]
    fn worst_case_counts_every_allowed_token() {
        let w = gpt4o().worst_case(300, 1000);
        assert!((w - ((1600.0 * 2.5 + 1000.0 * 10.0) / 1e6)).abs() < 1e-12);
    }

    #[test]
    fn the_providers_cost_wins_over_our_arithmetic() {
        let outcome = CallOutcome {
            text: Ok("{}".into()),
            response_time_ms: 1,
            prompt_tokens: 1000,
            completion_tokens: 100,
            total_tokens: 1100,
            reported_cost: Some(0.0042),
            attempts: 1,
        };
        assert_eq!(gpt4o().actual(&outcome), 0.0042);
        let priced = CallOutcome {
            reported_cost: None,
            ..outcome
        };
        assert!((gpt4o().actual(&priced) - 0.0035).abs() < 1e-12);
    }
}
