//! Comparing two leaves under their field's rule, with each leaf read once.
//!
//! Pairing the rows of two lists compares every expected row with every
//! answered one, so each leaf takes part in hundreds of comparisons. What a
//! leaf means (its rule from the schema, its amount, its text with spaces
//! collapsed) is worked out the first time and kept for the rest of the
//! score, keyed by where the leaf sits in memory: both JSON values outlive
//! the score, so an address names one leaf for its whole duration.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::Value;

use super::amount::{self, Convention, Decimal};
use super::date;
use super::schema::{Kind, Node};

/// How an expected leaf is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rule {
    Amount(Option<Convention>),
    Text {
        case_insensitive: bool,
    },
    /// Dates compare as dates when both are strings, else as text.
    Date {
        case_insensitive: bool,
    },
    DateTime {
        case_insensitive: bool,
    },
}

impl Rule {
    /// The rule a leaf is read under (dates are read as their text).
    fn reading(self) -> Rule {
        match self {
            Rule::Date { case_insensitive } | Rule::DateTime { case_insensitive } => {
                Rule::Text { case_insensitive }
            }
            rule => rule,
        }
    }
}

/// A leaf as its rule reads it.
#[derive(Debug, PartialEq, Eq)]
enum Reading {
    Amount(Decimal),
    Text(String),
}

struct Expected {
    rule: Rule,
    /// `None` when the leaf cannot be read under its rule (an amount that
    /// is not one): it then matches nothing.
    reading: Option<Reading>,
}

/// Hashes an address (and a small rule): the keys are already spread.
#[derive(Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type ByAddress<K, V> = HashMap<K, V, BuildHasherDefault<AddressHasher>>;

fn address(value: &Value) -> usize {
    value as *const Value as usize
}

/// The leaves read so far in one score.
#[derive(Default)]
pub struct Leaves {
    expected: ByAddress<usize, Expected>,
    actual: ByAddress<(usize, Rule), Option<Reading>>,
}

/// An expected string that names something rather than counts it: digits
/// with a leading zero or more than 15 of them (spaces aside), or `-`,
/// `_`, `/` between its characters.
pub fn is_identifier(text: &str) -> bool {
    let text = text.trim();
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let inner = text.trim_start_matches(['-', '−']);
    (all_digits && ((digits.len() > 1 && digits.starts_with('0')) || digits.len() > 15))
        || inner.contains(['-', '_', '/'])
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rule of an expected leaf: the schema's, or its own type's.
fn rule_of(expected: &Value, node: &Node) -> Rule {
    let kind = match (node.kind(), expected) {
        (Kind::Auto, Value::Number(_)) => Kind::Amount,
        (Kind::Auto, Value::String(s)) if is_identifier(s) => Kind::Text,
        (Kind::Auto, Value::String(s)) if amount::parse(s, None).is_some() => Kind::Amount,
        (Kind::Auto, _) => Kind::Text,
        (kind, _) => kind,
    };
    let case_insensitive = node.case_insensitive();
    match kind {
        Kind::Amount => Rule::Amount(expected.as_str().and_then(amount::convention)),
        Kind::Date => Rule::Date { case_insensitive },
        Kind::DateTime => Rule::DateTime { case_insensitive },
        Kind::Auto | Kind::Text => Rule::Text { case_insensitive },
    }
}

/// A leaf read under `rule` (`hint` is the expected value's convention for
/// an amount); the expected value itself is read without one.
fn read(value: &Value, rule: Rule) -> Option<Reading> {
    match rule.reading() {
        Rule::Amount(hint) => amount::of_value(value, hint).map(Reading::Amount),
        Rule::Text { case_insensitive } => {
            let text = match value {
                Value::String(s) => collapse_whitespace(s),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(Reading::Text(if case_insensitive {
                text.to_lowercase()
            } else {
                text
            }))
        }
        Rule::Date { .. } | Rule::DateTime { .. } => unreachable!("dates are read as text"),
    }
}

impl Leaves {
    /// Whether two leaves are the same under the expected one's rule.
    pub fn equal(&mut self, expected: &Value, actual: &Value, node: &Node) -> bool {
        match (expected, actual) {
            (Value::Null, Value::Null) => return true,
            (Value::Bool(a), Value::Bool(b)) => return a == b,
            (Value::Array(a), Value::Array(b)) => return a.is_empty() && b.is_empty(),
            (Value::Object(a), Value::Object(b)) => return a.is_empty() && b.is_empty(),
            (Value::Null | Value::Bool(_), _) | (_, Value::Null | Value::Bool(_)) => return false,
            _ => {}
        }
        let known = self.expected.entry(address(expected)).or_insert_with(|| {
            let rule = rule_of(expected, node);
            let reading = match rule {
                Rule::Amount(_) => read(expected, Rule::Amount(None)),
                rule => read(expected, rule),
            };
            Expected { rule, reading }
        });
        match (known.rule, expected.as_str(), actual.as_str()) {
            (Rule::Date { .. }, Some(e), Some(a)) => date::same_date(e, a),
            (Rule::DateTime { .. }, Some(e), Some(a)) => date::same_date_time(e, a),
            (rule, ..) => match &known.reading {
                Some(wanted) => {
                    let given = self
                        .actual
                        .entry((address(actual), rule.reading()))
                        .or_insert_with(|| read(actual, rule.reading()));
                    given.as_ref() == Some(wanted)
                }
                None => false,
            },
        }
    }
}
