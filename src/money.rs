//! Exact dollars: amounts read from JSON exactly as they were written, and
//! written for people by one rule (`dollars`; the pages' `web/money.js`
//! follows the same rule, and a test holds the two together).

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer};

/// An amount of money from JSON, exactly as it was written: a JSON number
/// (`0.0042`: read back from the shortest digits that give the same
/// double, which are the digits written for any amount of up to 15
/// significant digits) or a decimal string (`"0.0042"`).
pub fn exact<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    parse(&value).ok_or_else(|| serde::de::Error::custom(format!("{value} is not an amount")))
}

/// The same, for an optional amount (`null` or absent is none).
pub fn exact_option<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    if value.is_null() {
        return Ok(None);
    }
    parse(&value)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{value} is not an amount")))
}

/// `value` as an exact amount, if it is one.
pub fn parse(value: &serde_json::Value) -> Option<Decimal> {
    let text = match value {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => f.to_string(),
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

/// A dollar amount with the digits that matter: from $1 with cents
/// (`$2.15`), below it three significant digits, trailing zeros dropped
/// (`$0.000418`, `$0.1`); halves round away from zero. The pages format
/// amounts the same way (`App.money`, held to this by a test).
pub fn dollars(amount: Decimal) -> String {
    if amount.is_zero() {
        return "$0".into();
    }
    let sign = if amount.is_sign_negative() { "-" } else { "" };
    let amount = amount.abs();
    if amount >= Decimal::ONE {
        let cents = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        return format!("{sign}${cents:.2}");
    }
    // Leading zeros after the point, then three digits.
    let mut places = 3;
    let mut scaled = amount;
    while scaled < Decimal::new(1, 1) && places < 28 {
        scaled *= Decimal::TEN;
        places += 1;
    }
    let rounded = amount
        .round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    format!("{sign}${rounded}")
}

/// A model's price per million tokens, written one way everywhere: dollars
/// with cents, more digits only when the price has them (`$0.50`, `$3.00`,
/// `$0.075`). The pages write it the same way (`rate` in `web/money.js`).
pub fn rate(price: Decimal) -> String {
    let price = price.abs().normalize();
    let places = price.scale().max(2) as usize;
    format!("${price:.places$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_price_per_million_tokens_reads_as_the_pages_write_it() {
        assert_eq!(rate(usd("0.5")), "$0.50");
        assert_eq!(rate(usd("3.000000")), "$3.00");
        assert_eq!(rate(usd("0.075")), "$0.075");
        assert_eq!(rate(usd("0.0375")), "$0.0375");
        assert_eq!(rate(usd("15")), "$15.00");
        assert_eq!(rate(Decimal::ZERO), "$0.00");
    }

    #[test]
    fn amounts_are_read_as_written() {
        for (json, text) in [
            (json!(0.1), "0.1"),
            (json!(0.000418), "0.000418"),
            (json!(1e-7), "0.0000001"),
            (json!("0.30"), "0.30"),
            (json!(6.5), "6.5"),
            (json!(12), "12"),
        ] {
            assert_eq!(parse(&json), Some(usd(text)), "{json}");
        }
        assert_eq!(parse(&json!("a lot")), None);
        assert_eq!(parse(&json!(null)), None);
        // 0.1 + 0.2 in doubles is 0.30000000000000004; in dollars it is 0.3.
        assert_eq!(
            parse(&json!(0.1)).unwrap() + parse(&json!(0.2)).unwrap(),
            usd("0.3")
        );
    }

    #[test]
    fn amounts_are_written_with_the_digits_that_matter() {
        for (amount, text) in [
            ("0", "$0"),
            ("0.000418", "$0.000418"),
            ("0.0004185", "$0.000419"),
            ("0.1", "$0.1"),
            ("0.9996", "$1"),
            ("2.149", "$2.15"),
            ("2.145", "$2.15"),
            ("1234.5", "$1234.50"),
            ("-0.25", "-$0.25"),
        ] {
            assert_eq!(dollars(usd(amount)), text, "{amount}");
        }
    }
}
