//! Amounts read the way a person reads them, as exact decimals: thousands
//! and decimal separators by their place (`1,234.56`, `1.234,56`,
//! `1 234,56`, `12,50`, `1'234.50`, `1,23,456.00`), a currency symbol or
//! ISO code before or after, a leading minus or accounting parentheses for
//! negatives, a trailing `%`. No floating point anywhere: `"96.00"`, `96`
//! and `"96"` are the same decimal, and 4,270,000,002 is not 4,270,000,000.

use serde_json::Value;

/// An exact decimal: `digits` × 10^`exponent`, normalised (no leading or
/// trailing zeros in `digits`; zero is empty digits, never negative), so
/// that equal amounts are equal values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    fn new(negative: bool, integer: &str, fraction: &str, exponent: i64) -> Self {
        let mut digits = format!("{integer}{fraction}");
        let mut exponent = exponent - fraction.len() as i64;
        let trimmed = digits.trim_start_matches('0').len();
        digits.drain(..digits.len() - trimmed);
        while digits.ends_with('0') {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Self {
                negative: false,
                digits,
                exponent: 0,
            };
        }
        Self {
            negative,
            digits,
            exponent,
        }
    }
}

/// Which separator marks the decimals, when a spelling shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Convention {
    DecimalPoint,
    DecimalComma,
}

/// Currency signs and codes understood before or after an amount.
const SYMBOLS: [&str; 16] = [
    "$", "€", "£", "¥", "￥", "₹", "₩", "₽", "₺", "₪", "฿", "₫", "¢", "円", "元", "kr",
];
const WORDS: [&str; 5] = ["Fr.", "Rs.", "Rs", "zł", "Kč"];
/// ISO 4217 codes understood before or after an amount (only these: an
/// identifier such as `INV123` must not lose its letters).
const CODES: [&str; 25] = [
    "USD", "EUR", "GBP", "CHF", "JPY", "INR", "CNY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK",
    "PLN", "CZK", "HUF", "RUB", "TRY", "BRL", "MXN", "ZAR", "SGD", "HKD", "KRW", "AED",
];

/// A JSON number as an exact decimal (its shortest spelling, as written).
pub fn of_number(number: &serde_json::Number) -> Option<Decimal> {
    plain(&number.to_string())
}

/// `-12.5e3`, `96`, `0.10`: plain decimal notation, as JSON writes it.
fn plain(text: &str) -> Option<Decimal> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return None;
    }
    Some(Decimal::new(negative, integer, fraction, exponent))
}

/// A value as an amount: a JSON number, or a string a person would read as
/// one (`hint` settles `1,234` alone: thousands unless the expected value
/// writes decimals with a comma).
pub fn of_value(value: &Value, hint: Option<Convention>) -> Option<Decimal> {
    match value {
        Value::Number(n) => of_number(n),
        Value::String(s) => parse(s, hint),
        _ => None,
    }
}

/// The convention a spelling shows, if it shows one (`1.234,56`: comma).
pub fn convention(text: &str) -> Option<Convention> {
    let core = strip_decorations(text.trim())?.1;
    let last = core.rfind(['.', ','])?;
    let after = core.len() - last - 1;
    let mark = core.as_bytes()[last];
    let both = core.contains('.') && core.contains(',');
    let once = core.matches(mark as char).count() == 1;
    match (mark, both || (once && after != 3)) {
        (b'.', true) => Some(Convention::DecimalPoint),
        (b',', true) => Some(Convention::DecimalComma),
        _ => None,
    }
}

/// A string read as an amount, or `None` when it is not one.
pub fn parse(text: &str, hint: Option<Convention>) -> Option<Decimal> {
    let (negative, core) = strip_decorations(text.trim())?;
    let (integer, fraction) = split_decimals(core, hint)?;
    let integer = ungroup(integer)?;
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Decimal::new(negative, &integer, fraction, 0))
}

/// The sign and the bare number of a spelled amount: currency, minus,
/// parentheses and `%` taken away.
fn strip_decorations(text: &str) -> Option<(bool, &str)> {
    let mut rest = text;
    let mut negative = false;
    if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        negative = true;
        rest = inner.trim();
    }
    rest = rest.strip_suffix('%').map(str::trim_end).unwrap_or(rest);
    for _ in 0..2 {
        rest = strip_currency(rest);
        if let Some(r) = rest.strip_prefix(['-', '−']) {
            negative = !negative;
            rest = r.trim_start();
        } else if let Some(r) = rest.strip_suffix(['-', '−']) {
            negative = true;
            rest = r.trim_end();
        }
    }
    let starts = rest.bytes().next().is_some_and(|b| b.is_ascii_digit());
    let ends = rest.bytes().last().is_some_and(|b| b.is_ascii_digit());
    (starts && ends).then_some((negative, rest))
}

/// `text` without one currency sign or ISO code at either end.
fn strip_currency(text: &str) -> &str {
    let iso = |s: &str| CODES.contains(&s);
    for sign in SYMBOLS.iter().chain(WORDS.iter()) {
        if let Some(rest) = text.strip_prefix(sign) {
            return rest.trim_start();
        }
        if let Some(rest) = text.strip_suffix(sign) {
            return rest.trim_end();
        }
    }
    if let Some((code, rest)) = text.split_once(' ') {
        if iso(code) {
            return rest.trim_start();
        }
    }
    if let Some((rest, code)) = text.rsplit_once(' ') {
        if iso(code) {
            return rest.trim_end();
        }
    }
    if text.len() > 3 && text.is_char_boundary(3) && iso(&text[..3]) {
        return text[3..].trim_start();
    }
    text
}

/// The integer part (still grouped) and the decimals, by which of `.` and
/// `,` marks the decimals.
fn split_decimals(core: &str, hint: Option<Convention>) -> Option<(&str, &str)> {
    let has_point = core.contains('.');
    let has_comma = core.contains(',');
    let decimal_mark = match (has_point, has_comma) {
        (true, true) => core.rfind(['.', ',']).map(|i| core.as_bytes()[i] as char),
        (false, false) => None,
        (point, _) => {
            let mark = if point { '.' } else { ',' };
            let count = core.matches(mark).count();
            let at = core.rfind(mark)?;
            let after = core.len() - at - 1;
            let before = &core[..at];
            let could_group = (1..=3).contains(&before.len()) && !before.starts_with('0');
            if count > 1 {
                None
            } else if after != 3 || !could_group {
                Some(mark)
            } else {
                // `1,234` or `1.234` alone: the expected value's convention,
                // else thousands.
                match (mark, hint) {
                    (',', Some(Convention::DecimalComma)) => Some(','),
                    ('.', Some(Convention::DecimalPoint)) => Some('.'),
                    _ => None,
                }
            }
        }
    };
    match decimal_mark {
        Some(mark) => {
            let at = core.rfind(mark)?;
            Some((&core[..at], &core[at + 1..]))
        }
        None => Some((core, "")),
    }
}

/// The digits of an integer part written with thousands separators (`,`,
/// `.`, `'`, `’`, spaces, and Indian lakh grouping), or `None` when the
/// grouping is not one a person writes.
fn ungroup(integer: &str) -> Option<String> {
    let groups: Vec<&str> = integer
        .split([',', '.', '\'', '’', ' ', '\u{a0}', '\u{202f}'])
        .collect();
    if groups
        .iter()
        .any(|g| !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if groups.len() > 1 {
        let (first, rest) = groups.split_first()?;
        let western = !first.is_empty() && first.len() <= 3 && rest.iter().all(|g| g.len() == 3);
        let indian = !first.is_empty()
            && first.len() <= 2
            && rest.len() >= 2
            && rest[..rest.len() - 1].iter().all(|g| g.len() == 2)
            && rest[rest.len() - 1].len() == 3;
        if !western && !indian {
            return None;
        }
    }
    let digits: String = groups.concat();
    (!digits.is_empty()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Option<Decimal> {
        parse(text, None)
    }

    #[test]
    fn spellings_of_one_amount_are_one_decimal() {
        let v = d("1234.56");
        for spelling in [
            "1,234.56",
            "1.234,56",
            "1 234,56",
            "1\u{202f}234,56",
            "1'234.56",
            "1’234.56",
            "$1,234.56",
            "USD 1,234.56",
            "1.234,56 €",
            "CHF 1'234.56",
            "1234.560",
        ] {
            assert_eq!(d(spelling), v, "{spelling}");
        }
        assert_eq!(d("1,23,456.00"), d("123456"));
        assert_eq!(d("12,50"), d("12.5"));
        assert_eq!(d("-$150.00"), d("-150"));
        assert_eq!(d("($150.00)"), d("-150"));
        assert_eq!(d("$-150"), d("-150"));
        assert_eq!(d("20%"), d("20"));
        assert_eq!(d("¥1,200"), d("1200"));
        assert_eq!(d("96.00"), plain("96"));
    }

    #[test]
    fn what_is_not_an_amount_or_not_the_same_one() {
        assert_ne!(d("12,50"), d("1250"));
        assert_ne!(d("1.234,56 €"), d("1.23456"));
        assert_ne!(d("4270000002"), d("4270000000"));
        for text in [
            "1,2,3", "2024_001", "12-34", "INV-1", "", "$", "12 34 56", "1..2", "INV123",
        ] {
            assert_eq!(d(text), None, "{text}");
        }
        assert_eq!(d("1,234"), d("1234"), "thousands unless told otherwise");
        assert_eq!(
            parse("1,234", Some(Convention::DecimalComma)),
            plain("1.234")
        );
        assert_eq!(convention("1.234,56"), Some(Convention::DecimalComma));
        assert_eq!(convention("12,5"), Some(Convention::DecimalComma));
        assert_eq!(convention("1,234.5"), Some(Convention::DecimalPoint));
        assert_eq!(convention("1,234"), None);
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d("1,23"), d("1.23"), "two decimals after a comma");
        assert_eq!(d("0,125"), d("0.125"), "no thousands group starts with 0");
    }
}
