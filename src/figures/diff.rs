//! A difference between the answer and the expected JSON, and where it is.
//! The scorer writes them, the figures read them back (which fields each
//! model got wrong), and the report page shows them; all three use these
//! types, and the page reads the words and field names serialized here
//! instead of taking a path string apart.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffKind {
    /// A wrong value.
    Mismatch,
    /// Expected and not given: a field, an object or a whole row.
    Missing,
    /// Given and not expected.
    Extra,
    /// No object to score in the answer.
    Unreadable,
    /// Not a difference: something worth saying about the answer.
    Note,
}

impl DiffKind {
    /// Whether a difference of this kind makes an expected field wrong
    /// (what the model added does not; a note is no difference).
    pub fn costs_a_field(self) -> bool {
        !matches!(self, Self::Extra | Self::Note)
    }
}

impl std::fmt::Display for DiffKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Mismatch => "mismatch",
            Self::Missing => "missing",
            Self::Extra => "extra",
            Self::Unreadable => "unreadable",
            Self::Note => "note",
        })
    }
}

/// One step of a path into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    /// A row of an expected list (from 0).
    Row(usize),
    /// A row of the answer's list that pairs with no expected row.
    ExtraRow(usize),
}

/// Where a value sits in the JSON: the answer itself is the empty path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<Step>);

impl FieldPath {
    pub fn root() -> Self {
        Self::default()
    }

    fn with(&self, step: Step) -> Self {
        let mut steps = self.0.clone();
        steps.push(step);
        Self(steps)
    }

    pub fn key(&self, key: &str) -> Self {
        self.with(Step::Key(key.to_owned()))
    }

    pub fn row(&self, index: usize) -> Self {
        self.with(Step::Row(index))
    }

    pub fn extra_row(&self, index: usize) -> Self {
        self.with(Step::ExtraRow(index))
    }

    /// The field this path is an instance of: every row folded into one
    /// (`items › row 3 › price` is the field `items[].price`).
    pub fn field(&self) -> Field {
        Field(
            self.0
                .iter()
                .map(|step| match step {
                    Step::Key(key) => Some(key.clone()),
                    Step::Row(_) | Step::ExtraRow(_) => None,
                })
                .collect(),
        )
    }

    /// Whether the value at this path holds the one at `other` (or is it).
    pub fn holds(&self, other: &FieldPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The path in words: `items › row 2 › unit_price`, or `the answer`.
    pub fn words(&self) -> String {
        if self.0.is_empty() {
            return "the answer".into();
        }
        self.0
            .iter()
            .map(|step| match step {
                Step::Key(key) => key.clone(),
                Step::Row(i) => format!("row {}", i + 1),
                Step::ExtraRow(i) => format!("extra row {}", i + 1),
            })
            .collect::<Vec<_>>()
            .join(" › ")
    }
}

/// The path in the scoring policy's notation, for logs and tests:
/// `items[1].price`, an extra row `items[+2]`.
impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if i == 0 => write!(f, "{key}")?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Row(row) => write!(f, "[{row}]")?,
                Step::ExtraRow(row) => write!(f, "[+{row}]")?,
            }
        }
        Ok(())
    }
}

/// A field of the expected JSON: its keys, `None` where a list's rows are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Field(Vec<Option<String>>);

impl Field {
    /// This field and every value holding it, the answer itself first.
    pub fn holders(&self) -> Vec<Field> {
        (0..=self.0.len())
            .map(|n| Field(self.0[..n].to_vec()))
            .collect()
    }

    /// The field as the report names it: `items[].price`.
    pub fn label(&self) -> String {
        let mut label = String::new();
        for step in &self.0 {
            match step {
                Some(key) if label.is_empty() => label.push_str(key),
                Some(key) => {
                    label.push('.');
                    label.push_str(key);
                }
                None => label.push_str("[]"),
            }
        }
        label
    }
}

/// Serialized as the steps: keys as strings, rows as numbers, an extra row
/// as `{"extra": n}`.
impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let steps: Vec<Value> = self
            .0
            .iter()
            .map(|step| match step {
                Step::Key(key) => json!(key),
                Step::Row(i) => json!(i),
                Step::ExtraRow(i) => json!({ "extra": i }),
            })
            .collect();
        steps.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let steps = match Value::deserialize(deserializer)? {
            Value::Array(steps) => steps,
            other => return Err(D::Error::custom(format!("{other} is no path"))),
        };
        steps
            .into_iter()
            .map(|step| match step {
                Value::String(key) => Ok(Step::Key(key)),
                Value::Number(n) => n
                    .as_u64()
                    .map(|i| Step::Row(i as usize))
                    .ok_or_else(|| D::Error::custom("a row is a whole number")),
                Value::Object(o) => o
                    .get("extra")
                    .and_then(Value::as_u64)
                    .map(|i| Step::ExtraRow(i as usize))
                    .ok_or_else(|| D::Error::custom("an extra row is {\"extra\": n}")),
                other => Err(D::Error::custom(format!("{other} is no step of a path"))),
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// One difference, as stored with its run and shown on the report.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDiff {
    pub path: FieldPath,
    pub kind: DiffKind,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
    /// Why, in words, where the kind does not say it all.
    pub note: Option<String>,
}

/// Serialized once, with what the page shows: `where` (the path in words)
/// and `field` (the field it is at, as the field map names fields).
impl Serialize for FieldDiff {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            kind: DiffKind,
            path: &'a FieldPath,
            #[serde(rename = "where")]
            place: String,
            field: Field,
            costs_field: bool,
            expected: &'a Option<Value>,
            actual: &'a Option<Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            note: &'a Option<String>,
        }
        Shown {
            kind: self.kind,
            path: &self.path,
            place: self.path.words(),
            field: self.path.field(),
            costs_field: self.kind.costs_a_field(),
            expected: &self.expected,
            actual: &self.actual,
            note: &self.note,
        }
        .serialize(serializer)
    }
}

/// What the figures read back of a stored difference: its kind and place,
/// and for a wrong value, what was expected and what the model said.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredDiff {
    pub kind: DiffKind,
    pub path: FieldPath,
    #[serde(default)]
    pub expected: Option<Value>,
    #[serde(default)]
    pub actual: Option<Value>,
}

/// A difference as the figures read it back from `benchmark_runs`: its
/// kind and place, and what was expected and said only for a wrong value
/// (the store's `RUN_COLUMNS` keeps no more).
impl From<&FieldDiff> for StoredDiff {
    fn from(diff: &FieldDiff) -> Self {
        let mismatch = diff.kind == DiffKind::Mismatch;
        Self {
            kind: diff.kind,
            path: diff.path.clone(),
            expected: diff.expected.clone().filter(|_| mismatch),
            actual: diff.actual.clone().filter(|_| mismatch),
        }
    }
}

/// Counts the leaves (fields) of an expected value.
pub fn leaves(value: &Value) -> usize {
    match value {
        Value::Object(map) if !map.is_empty() => map.values().map(leaves).sum(),
        Value::Array(items) if !items.is_empty() => items.iter().map(leaves).sum(),
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_is_read_back_as_the_store_keeps_it() {
        let diff = |kind| FieldDiff {
            path: FieldPath::root().key("total"),
            kind,
            expected: Some(serde_json::json!("96.00")),
            actual: Some(serde_json::json!("97.00")),
            note: Some("why".into()),
        };
        let wrong = StoredDiff::from(&diff(DiffKind::Mismatch));
        assert_eq!(
            (wrong.expected, wrong.actual),
            (
                Some(serde_json::json!("96.00")),
                Some(serde_json::json!("97.00"))
            )
        );
        let missing = StoredDiff::from(&diff(DiffKind::Missing));
        assert_eq!(
            (
                missing.kind,
                missing.path.words(),
                missing.expected,
                missing.actual
            ),
            (DiffKind::Missing, "total".to_owned(), None, None),
            "only a wrong value keeps what was expected and said"
        );
    }

    #[test]
    fn a_path_is_shown_in_words_and_folded_into_its_field() {
        let price = FieldPath::root().key("items").row(1).key("unit_price");
        assert_eq!(price.words(), "items › row 2 › unit_price");
        assert_eq!(price.to_string(), "items[1].unit_price");
        assert_eq!(price.field().label(), "items[].unit_price");
        assert_eq!(
            price.field().holders(),
            [
                FieldPath::root().field(),
                FieldPath::root().key("items").field(),
                FieldPath::root().key("items").row(0).field(),
                price.field()
            ]
        );
        assert_eq!(FieldPath::root().words(), "the answer");
        assert_eq!(
            FieldPath::root().key("items").extra_row(3).words(),
            "items › extra row 4"
        );
        let row = FieldPath::root().key("items").row(1);
        assert!(row.holds(&price) && !price.holds(&row));
        assert!(FieldPath::root().holds(&price));
        assert!(
            !FieldPath::root().key("item").holds(&price),
            "a key, not a prefix of one"
        );
    }

    #[test]
    fn a_difference_is_serialized_once_with_its_words_and_read_back() {
        let diff = FieldDiff {
            path: FieldPath::root().key("items").extra_row(0),
            kind: DiffKind::Extra,
            expected: None,
            actual: Some(json!({"sku": "A-1"})),
            note: None,
        };
        let stored = serde_json::to_value(&diff).unwrap();
        assert_eq!(
            stored,
            json!({
                "kind": "extra", "path": ["items", {"extra": 0}], "where": "items › extra row 1",
                "field": ["items", null], "costs_field": false, "expected": null, "actual": {"sku": "A-1"}
            })
        );
        let back: StoredDiff = serde_json::from_value(stored).unwrap();
        assert_eq!((back.kind, back.path), (DiffKind::Extra, diff.path.clone()));
        // Differences in the old notation were rewritten as steps (migration
        // 034): a path as a string is no path any more.
        assert!(serde_json::from_value::<StoredDiff>(
            json!({"kind": "extra", "path": "items[+0]"})
        )
        .is_err());
        assert!(!DiffKind::Extra.costs_a_field() && DiffKind::Missing.costs_a_field());
    }
}
