//! Scoring a model's answer against the JSON the user expects, field by field.
//!
//! * Every leaf of the expected JSON is a field (`items[2].price`); field
//!   accuracy is matched fields ÷ expected fields.
//! * Leaves compare after normalisation a person would expect: surrounding
//!   and repeated whitespace does not matter, and numbers compare as numbers
//!   whatever their spelling (`"1,000.00"`, `"$1000"`, `1000`).
//! * A missing key is a difference even when `null` was expected; a key the
//!   user did not ask for is a difference too (an invented field).
//! * Arrays are matched by the best assignment of elements, not by index,
//!   unless the schema marks the array `"x-ordered": true`.
//! * The document passes when there is no difference at all.
//! * An answer that is not a JSON object, or is larger than the limits a
//!   draft's expected JSON is held to (`limits`), is a result too: it
//!   scores zero, with the reason as its one difference.
//!
//! Scoring is bounded whatever the answer: see [`WORK_BUDGET`].

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::limits::{self, TooLarge};

/// Steps one score may take (a step is one leaf compared, one cell of a
/// similarity matrix, or one inner step of an assignment).
///
/// Why this bounds scoring: the answer and the expected JSON are both
/// within `limits` (at most 2,000 fields, lists of at most 200 items), so
/// one assignment between two lists costs at most 200 x 200 matrix cells
/// plus 200^3 = 8 million Hungarian steps, but lists nested in lists would
/// multiply those. Every matrix and assignment is charged to this budget
/// *before* it is built; once the budget cannot pay for one, that list and
/// every later one is matched by equality, then position, which costs one step
/// per element and builds nothing (identical elements are still paired
/// whatever their order). The walk outside matching visits each
/// field once. So a score takes at most `WORK_BUDGET` steps of matching
/// plus steps linear in the two values' fields, whatever they hold; the
/// budget is counted, not timed, so the same answer always gets the same
/// score. (Lists within the budget, which is every real document, are
/// matched optimally.)
pub const WORK_BUDGET: u64 = 50_000_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    pub path: String,
    /// `mismatch`, `missing` (expected, not given) or `extra` (given, not expected).
    pub kind: &'static str,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
    /// Why, in words, where the kind does not say it all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub passed: bool,
    pub fields_total: usize,
    pub fields_matched: usize,
    pub diffs: Vec<FieldDiff>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutputError {
    #[error("the model gave no answer")]
    Empty,
    #[error("the model's answer is not JSON: {0}")]
    NotJson(String),
    #[error("the model's answer is JSON but not an object")]
    NotAnObject,
    #[error("the model's answer is too large to score: {0}")]
    TooLarge(#[from] TooLarge),
}

/// The model's text as a JSON object: whitespace and one ```json fence are
/// tolerated; prose around the JSON is not.
pub fn parse_output(text: &str) -> Result<Value, OutputError> {
    limits::check_bytes(text)?;
    let mut body = text.trim();
    if body.is_empty() {
        return Err(OutputError::Empty);
    }
    if let Some(rest) = body.strip_prefix("```") {
        let rest = rest
            .strip_prefix("json")
            .or_else(|| rest.strip_prefix("JSON"))
            .unwrap_or(rest);
        body = rest
            .strip_suffix("```")
            .ok_or_else(|| OutputError::NotJson("unclosed code fence".into()))?
            .trim();
    }
    let value: Value =
        serde_json::from_str(body).map_err(|e| OutputError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(OutputError::NotAnObject);
    }
    limits::check_shape(&value)?;
    Ok(value)
}

/// Counts the leaves (fields) of an expected value.
fn leaves(value: &Value) -> usize {
    match value {
        Value::Object(map) if !map.is_empty() => map.values().map(leaves).sum(),
        Value::Array(items) if !items.is_empty() => items.iter().map(leaves).sum(),
        _ => 1,
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let cleaned: String = s
                .trim()
                .trim_start_matches(['$', '€', '£'])
                .trim_end_matches(['$', '€', '£'])
                .trim()
                .chars()
                .filter(|c| *c != ',' && *c != '_')
                .collect();
            let looks_numeric = !cleaned.is_empty()
                && cleaned
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
                && cleaned.chars().any(|c| c.is_ascii_digit());
            if looks_numeric {
                cleaned.parse().ok()
            } else {
                None
            }
        }
        _ => None,
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn leaf_equal(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::String(a), Value::String(b)) if a == b => true,
        (Value::Array(a), Value::Array(b)) => a.is_empty() && b.is_empty(),
        (Value::Object(a), Value::Object(b)) => a.is_empty() && b.is_empty(),
        _ => {
            if let (Some(a), Some(b)) = (number_of(expected), number_of(actual)) {
                if expected.is_number() || actual.is_number() || (a - b).abs() < 1e-9 {
                    return (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
                }
            }
            match (expected, actual) {
                (Value::String(a), Value::String(b)) => {
                    collapse_whitespace(a) == collapse_whitespace(b)
                }
                _ => false,
            }
        }
    }
}

/// Whether the schema marks this array as ordered (`"x-ordered": true`).
fn ordered(schema: Option<&Value>) -> bool {
    schema
        .and_then(|s| s.get("x-ordered"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn property_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    schema?.get("properties")?.get(key)
}

fn item_schema(schema: Option<&Value>) -> Option<&Value> {
    schema?.get("items")
}

struct Walk {
    matched: usize,
    diffs: Vec<FieldDiff>,
    /// Whether differences are written down (not while only measuring
    /// how well two list elements fit).
    record: bool,
    steps_left: u64,
    /// The budget refused to pay for something: the result is not the one
    /// an unlimited budget would give.
    exhausted: bool,
}

impl Walk {
    fn new(record: bool, steps_left: u64) -> Self {
        Self {
            matched: 0,
            diffs: Vec::new(),
            record,
            steps_left,
            exhausted: false,
        }
    }

    fn differ(
        &mut self,
        path: &str,
        kind: &'static str,
        expected: Option<&Value>,
        actual: Option<&Value>,
    ) {
        if self.record {
            self.diffs.push(FieldDiff {
                path: path.to_owned(),
                kind,
                expected: expected.cloned(),
                actual: actual.cloned(),
                note: None,
            });
        }
    }

    /// Takes `steps` from the budget if it holds them; if not, empties it,
    /// so that every later request is refused too.
    fn charge(&mut self, steps: u64) -> bool {
        if steps <= self.steps_left {
            self.steps_left -= steps;
            true
        } else {
            self.steps_left = 0;
            self.exhausted = true;
            false
        }
    }

    fn missing_all(&mut self, path: &str, expected: &Value) {
        match expected {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    self.missing_all(&join(path, k), v);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    self.missing_all(&format!("{path}[{i}]"), v);
                }
            }
            _ => self.differ(path, "missing", Some(expected), None),
        }
    }

    fn compare(&mut self, path: &str, expected: &Value, actual: &Value, schema: Option<&Value>) {
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) if !e.is_empty() => {
                self.compare_objects(path, e, a, schema)
            }
            (Value::Array(e), Value::Array(a)) if !e.is_empty() => {
                self.compare_arrays(path, e, a, schema)
            }
            _ => {
                self.steps_left = self.steps_left.saturating_sub(1);
                if leaf_equal(expected, actual) && leaves(actual) == 1 {
                    self.matched += 1
                } else {
                    // A wrong leaf, or a scalar where a structure was
                    // expected (or the reverse): one entry; every expected
                    // field under it counts as missed through `fields_total`.
                    self.differ(path, "mismatch", Some(expected), Some(actual))
                }
            }
        }
    }

    fn compare_objects(
        &mut self,
        path: &str,
        e: &Map<String, Value>,
        a: &Map<String, Value>,
        schema: Option<&Value>,
    ) {
        for (key, expected) in e {
            let child = join(path, key);
            match a.get(key) {
                Some(actual) => {
                    self.compare(&child, expected, actual, property_schema(schema, key))
                }
                None => self.missing_all(&child, expected),
            }
        }
        for (key, actual) in a {
            if !e.contains_key(key) {
                self.differ(&join(path, key), "extra", None, Some(actual));
            }
        }
    }

    fn compare_arrays(&mut self, path: &str, e: &[Value], a: &[Value], schema: Option<&Value>) {
        let items = item_schema(schema);
        let pairs: Vec<(usize, Option<usize>)> = if ordered(schema) {
            by_position(e.len(), a.len())
        } else {
            self.best_assignment(e, a, items)
        };
        let mut used = vec![false; a.len()];
        for (i, j) in pairs {
            let child = format!("{path}[{i}]");
            match j {
                Some(j) => {
                    used[j] = true;
                    self.compare(&child, &e[i], &a[j], items);
                }
                None => self.missing_all(&child, &e[i]),
            }
        }
        for (j, actual) in a.iter().enumerate() {
            if !used[j] {
                self.differ(&format!("{path}[+{j}]"), "extra", None, Some(actual));
            }
        }
    }

    /// Matched fields if `actual` were paired with `expected`.
    fn similarity(&mut self, expected: &Value, actual: &Value, schema: Option<&Value>) -> usize {
        let mut trial = Walk::new(false, self.steps_left);
        trial.compare("", expected, actual, schema);
        self.steps_left = trial.steps_left;
        self.exhausted |= trial.exhausted;
        trial.matched
    }

    /// Pairs each expected element with at most one actual element so that
    /// the total of matched fields is as large as possible (Hungarian
    /// algorithm on the negated similarity); expected elements left over
    /// get `None`. By position when the budget cannot pay for it.
    fn best_assignment(
        &mut self,
        e: &[Value],
        a: &[Value],
        schema: Option<&Value>,
    ) -> Vec<(usize, Option<usize>)> {
        let n = e.len().max(a.len()) as u64;
        if !self.charge(e.len() as u64 * a.len() as u64 + n * n * n) {
            return by_equality(e, a);
        }
        let n = n as usize;
        let mut gain = vec![vec![0i64; n]; n];
        for (i, ev) in e.iter().enumerate() {
            for (j, av) in a.iter().enumerate() {
                gain[i][j] = self.similarity(ev, av, schema) as i64;
            }
        }
        let max = gain.iter().flatten().copied().max().unwrap_or(0);
        let cost: Vec<Vec<i64>> = gain
            .iter()
            .map(|row| row.iter().map(|g| max - g).collect())
            .collect();
        let assignment = hungarian(&cost);
        (0..e.len())
            .map(|i| {
                let j = assignment[i];
                (i, (j < a.len()).then_some(j))
            })
            .collect()
    }
}

/// Pairs identical elements first (whatever their order), then the rest by
/// position: linear in the elements' size, for lists the budget cannot pay
/// an assignment for.
fn by_equality(e: &[Value], a: &[Value]) -> Vec<(usize, Option<usize>)> {
    let mut unpaired: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, value) in a.iter().enumerate().rev() {
        unpaired.entry(value.to_string()).or_default().push(j);
    }
    let mut pairs: Vec<(usize, Option<usize>)> = e
        .iter()
        .enumerate()
        .map(|(i, value)| (i, unpaired.get_mut(&value.to_string()).and_then(Vec::pop)))
        .collect();
    let mut rest = unpaired.into_values().flatten().collect::<Vec<_>>();
    rest.sort_unstable();
    let mut rest = rest.into_iter();
    for (_, j) in pairs.iter_mut().filter(|(_, j)| j.is_none()) {
        *j = rest.next();
    }
    pairs
}

fn by_position(expected: usize, actual: usize) -> Vec<(usize, Option<usize>)> {
    (0..expected)
        .map(|i| (i, (i < actual).then_some(i)))
        .collect()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Minimum-cost perfect matching on a square matrix; returns the column
/// assigned to each row.
fn hungarian(cost: &[Vec<i64>]) -> Vec<usize> {
    let n = cost.len();
    const INF: i64 = i64::MAX / 4;
    let (mut u, mut v) = (vec![0i64; n + 1], vec![0i64; n + 1]);
    let (mut p, mut way) = (vec![0usize; n + 1], vec![0usize; n + 1]);
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![INF; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = INF;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut row_to_col = vec![0; n];
    for j in 1..=n {
        if p[j] > 0 {
            row_to_col[p[j] - 1] = j - 1;
        }
    }
    row_to_col
}

/// Scores a parsed answer against the expected JSON.
pub fn score(expected: &Value, actual: &Value, schema: Option<&Value>) -> Score {
    score_counted(expected, actual, schema).0
}

/// The score, and the matching steps it took.
fn score_counted(expected: &Value, actual: &Value, schema: Option<&Value>) -> (Score, u64) {
    let (score, steps, _) = score_within(expected, actual, schema, WORK_BUDGET);
    (score, steps)
}

/// The score within `budget` steps, the steps taken, and whether the
/// budget limited it.
fn score_within(
    expected: &Value,
    actual: &Value,
    schema: Option<&Value>,
    budget: u64,
) -> (Score, u64, bool) {
    let mut walk = Walk::new(true, budget);
    walk.compare("", expected, actual, schema);
    let steps = budget - walk.steps_left;
    let score = Score {
        passed: walk.diffs.is_empty(),
        fields_total: leaves(expected),
        fields_matched: walk.matched,
        diffs: walk.diffs,
    };
    (score, steps, walk.exhausted)
}

/// Answers at most this long may be scored where they arrive...
pub const QUICK_TEXT_BYTES: usize = 4096;
/// ...when scoring them takes at most this many steps (tens of
/// microseconds).
pub const QUICK_STEPS: u64 = 20_000;

/// The score of a short answer whose scoring is cheap, computed at once;
/// `None` when it is not (score it off the async threads with
/// [`score_text`]). When it answers, it is exactly what [`score_text`]
/// would say: a budget that never ran out limited nothing.
pub fn quick_score_text(expected: &Value, text: &str, schema: Option<&Value>) -> Option<Score> {
    if text.len() > QUICK_TEXT_BYTES {
        return None;
    }
    match parse_output(text) {
        Ok(answer) => {
            let (score, _, exhausted) = score_within(expected, &answer, schema, QUICK_STEPS);
            (!exhausted).then_some(score)
        }
        Err(why) => Some(unreadable(expected, &why)),
    }
}

/// Scores a model's text: parsed and scored, or, when it cannot be read
/// as a JSON object within the limits, zero with the reason.
pub fn score_text(expected: &Value, text: &str, schema: Option<&Value>) -> Score {
    match parse_output(text) {
        Ok(answer) => score(expected, &answer, schema),
        Err(why) => unreadable(expected, &why),
    }
}

/// An answer that could not be read: every field missed, and why.
pub fn unreadable(expected: &Value, why: &dyn std::fmt::Display) -> Score {
    Score {
        passed: false,
        fields_total: leaves(expected),
        fields_matched: 0,
        diffs: vec![FieldDiff {
            path: String::new(),
            kind: "unreadable",
            expected: None,
            actual: None,
            note: Some(why.to_string()),
        }],
    }
}

/// A call that failed: no answer, every field missed.
pub fn failed(expected: &Value) -> Score {
    Score {
        passed: false,
        fields_total: leaves(expected),
        fields_matched: 0,
        diffs: Vec::new(),
    }
}

#[cfg(test)]
mod golden {
    use super::*;
    use serde_json::json;

    struct Case {
        name: &'static str,
        expected: Value,
        actual: Value,
        schema: Option<Value>,
        matched: usize,
        total: usize,
        diff_paths: &'static [&'static str],
    }

    fn case(
        name: &'static str,
        expected: Value,
        actual: Value,
        matched: usize,
        total: usize,
        diff_paths: &'static [&'static str],
    ) -> Case {
        Case {
            name,
            expected,
            actual,
            schema: None,
            matched,
            total,
            diff_paths,
        }
    }

    fn cases() -> Vec<Case> {
        let invoice = json!({"number": "INV-1", "total": 96.0, "items": [
            {"description": "Ink", "qty": 3, "price": 32.0},
            {"description": "Paper", "qty": 1, "price": 0.0}
        ]});
        vec![
            case(
                "identical",
                json!({"a": "x", "b": 1}),
                json!({"a": "x", "b": 1}),
                2,
                2,
                &[],
            ),
            case(
                "one wrong string",
                json!({"a": "x", "b": "y"}),
                json!({"a": "x", "b": "z"}),
                1,
                2,
                &["b"],
            ),
            case(
                "surrounding whitespace",
                json!({"a": "Acme Co"}),
                json!({"a": "  Acme Co \n"}),
                1,
                1,
                &[],
            ),
            case(
                "inner whitespace collapses",
                json!({"a": "Acme  Paper Co"}),
                json!({"a": "Acme Paper\tCo"}),
                1,
                1,
                &[],
            ),
            case(
                "case matters by default",
                json!({"a": "Acme"}),
                json!({"a": "ACME"}),
                0,
                1,
                &["a"],
            ),
            case(
                "number vs formatted string",
                json!({"total": 1000}),
                json!({"total": "1,000.00"}),
                1,
                1,
                &[],
            ),
            case(
                "currency symbol",
                json!({"total": 96}),
                json!({"total": "$96.00"}),
                1,
                1,
                &[],
            ),
            case(
                "euro suffix",
                json!({"total": 12.5}),
                json!({"total": "12.50 €"}),
                1,
                1,
                &[],
            ),
            case(
                "float vs int",
                json!({"q": 3}),
                json!({"q": 3.0}),
                1,
                1,
                &[],
            ),
            case(
                "wrong number",
                json!({"q": 3}),
                json!({"q": 4}),
                0,
                1,
                &["q"],
            ),
            case(
                "numeric strings both sides",
                json!({"zip": "02139"}),
                json!({"zip": "02139"}),
                1,
                1,
                &[],
            ),
            case(
                "number is not a word",
                json!({"n": 1}),
                json!({"n": "one"}),
                0,
                1,
                &["n"],
            ),
            case(
                "missing key",
                json!({"a": 1, "b": 2}),
                json!({"a": 1}),
                1,
                2,
                &["b"],
            ),
            case(
                "missing vs null differ",
                json!({"a": null}),
                json!({}),
                0,
                1,
                &["a"],
            ),
            case(
                "null matches null",
                json!({"a": null}),
                json!({"a": null}),
                1,
                1,
                &[],
            ),
            case(
                "null where a value was expected",
                json!({"a": "x"}),
                json!({"a": null}),
                0,
                1,
                &["a"],
            ),
            case(
                "extra key is a difference",
                json!({"a": 1}),
                json!({"a": 1, "b": 2}),
                1,
                1,
                &["b"],
            ),
            case(
                "booleans",
                json!({"paid": true}),
                json!({"paid": false}),
                0,
                1,
                &["paid"],
            ),
            case(
                "bool vs string",
                json!({"paid": true}),
                json!({"paid": "true"}),
                0,
                1,
                &["paid"],
            ),
            case(
                "nested object",
                json!({"v": {"name": "A", "vat": "X1"}}),
                json!({"v": {"name": "A", "vat": "X2"}}),
                1,
                2,
                &["v.vat"],
            ),
            case(
                "missing nested object counts each field",
                json!({"v": {"name": "A", "vat": "X1"}}),
                json!({}),
                0,
                2,
                &["v.name", "v.vat"],
            ),
            case(
                "scalar instead of object",
                json!({"v": {"name": "A", "vat": "X1"}}),
                json!({"v": "A"}),
                0,
                2,
                &["v"],
            ),
            case(
                "array of objects, same order",
                invoice.clone(),
                invoice.clone(),
                8,
                8,
                &[],
            ),
            case(
                "array of objects, shuffled",
                invoice.clone(),
                json!({"number": "INV-1", "total": 96, "items": [
                    {"description": "Paper", "qty": 1, "price": 0},
                    {"description": "Ink", "qty": 3, "price": 32}
                ]}),
                8,
                8,
                &[],
            ),
            case(
                "array element wrong, matched by best fit",
                invoice.clone(),
                json!({"number": "INV-1", "total": 96, "items": [
                    {"description": "Paper", "qty": 2, "price": 0},
                    {"description": "Ink", "qty": 3, "price": 32}
                ]}),
                7,
                8,
                &["items[1].qty"],
            ),
            case(
                "array element missing",
                invoice.clone(),
                json!({"number": "INV-1", "total": 96, "items": [{"description": "Ink", "qty": 3, "price": 32}]}),
                5,
                8,
                &["items[1].description", "items[1].price", "items[1].qty"],
            ),
            case(
                "array element invented",
                json!({"items": [{"d": "Ink"}]}),
                json!({"items": [{"d": "Ink"}, {"d": "Tax"}]}),
                1,
                1,
                &["items[+1]"],
            ),
            case(
                "array of primitives, any order",
                json!({"tags": ["a", "b", "c"]}),
                json!({"tags": ["c", "a", "b"]}),
                3,
                3,
                &[],
            ),
            case(
                "array of primitives, one wrong",
                json!({"tags": ["a", "b"]}),
                json!({"tags": ["a", "x"]}),
                1,
                2,
                &["tags[1]"],
            ),
            case(
                "array instead of object",
                json!({"a": {"b": 1}}),
                json!({"a": [1]}),
                0,
                1,
                &["a"],
            ),
            case(
                "empty expected array",
                json!({"items": []}),
                json!({"items": []}),
                1,
                1,
                &[],
            ),
            case(
                "empty array expected, items given",
                json!({"items": []}),
                json!({"items": [1]}),
                0,
                1,
                &["items"],
            ),
            case(
                "empty object expected",
                json!({"meta": {}}),
                json!({"meta": {}}),
                1,
                1,
                &[],
            ),
            Case {
                name: "ordered array compares by index",
                expected: json!({"lines": ["first", "second"]}),
                actual: json!({"lines": ["second", "first"]}),
                schema: Some(
                    json!({"properties": {"lines": {"type": "array", "x-ordered": true}}}),
                ),
                matched: 0,
                total: 2,
                diff_paths: &["lines[0]", "lines[1]"],
            },
            Case {
                name: "ordered array, in order",
                expected: json!({"lines": ["first", "second"]}),
                actual: json!({"lines": ["first", "second"]}),
                schema: Some(
                    json!({"properties": {"lines": {"type": "array", "x-ordered": true}}}),
                ),
                matched: 2,
                total: 2,
                diff_paths: &[],
            },
            case(
                "unicode strings",
                json!({"name": "Müller & Söhne"}),
                json!({"name": "Müller & Söhne"}),
                1,
                1,
                &[],
            ),
            case(
                "deep path naming",
                json!({"a": {"b": [{"c": 1}]}}),
                json!({"a": {"b": [{"c": 2}]}}),
                0,
                1,
                &["a.b[0].c"],
            ),
        ]
    }

    #[test]
    fn the_golden_table_holds() {
        let cases = cases();
        assert!(cases.len() >= 30, "at least 30 cases");
        for c in cases {
            let s = score(&c.expected, &c.actual, c.schema.as_ref());
            let paths: Vec<&str> = s.diffs.iter().map(|d| d.path.as_str()).collect();
            assert_eq!(
                (s.fields_matched, s.fields_total, paths.as_slice()),
                (c.matched, c.total, c.diff_paths),
                "case {:?}: {:?}",
                c.name,
                s.diffs
            );
            assert_eq!(s.passed, c.diff_paths.is_empty(), "case {:?}", c.name);
        }
    }

    #[test]
    fn output_parsing_tolerates_a_fence_and_rejects_prose() {
        let ok = json!({"a": 1});
        assert_eq!(parse_output("{\"a\": 1}"), Ok(ok.clone()));
        assert_eq!(parse_output("  ```json\n{\"a\": 1}\n```  "), Ok(ok.clone()));
        assert_eq!(parse_output("```\n{\"a\": 1}\n```"), Ok(ok));
        assert_eq!(parse_output(""), Err(OutputError::Empty));
        assert!(matches!(
            parse_output("Here is the JSON: {\"a\": 1}"),
            Err(OutputError::NotJson(_))
        ));
        assert!(matches!(
            parse_output("```json\n{\"a\": 1}"),
            Err(OutputError::NotJson(_))
        ));
        assert!(matches!(
            parse_output("{\"a\": 1"),
            Err(OutputError::NotJson(_))
        ));
        assert_eq!(parse_output("[1, 2]"), Err(OutputError::NotAnObject));
    }

    /// Lists of the longest allowed length, nested as deep as the field
    /// limit allows, shuffled so that nothing pairs by position.
    fn worst_within_limits() -> (Value, Value) {
        let rows: Vec<Value> = (0..10)
            .map(|r| json!((0..200).map(|c| r * 1000 + c).collect::<Vec<_>>()))
            .collect();
        let shuffled: Vec<Value> = rows
            .iter()
            .rev()
            .map(|row| {
                let mut cells = row.as_array().unwrap().clone();
                cells.reverse();
                Value::Array(cells)
            })
            .collect();
        (json!({ "rows": rows }), json!({ "rows": shuffled }))
    }

    #[test]
    fn scoring_within_the_limits_stays_within_its_budget() {
        let (expected, actual) = worst_within_limits();
        assert_eq!(limits::check_shape(&expected), Ok(()));
        assert_eq!(limits::check_shape(&actual), Ok(()));
        let (score, steps) = score_counted(&expected, &actual, None);
        assert!(steps <= WORK_BUDGET, "{steps} steps");
        assert_eq!(score.fields_total, 2000);
        // The budget paid for the outer assignment and some rows; the rest
        // were paired by equality, which finds these identical cells
        // whatever their order, and always the same way.
        assert_eq!(score.fields_matched, 2000);
        assert_eq!(score_counted(&expected, &actual, None), (score, steps));
    }

    #[test]
    fn the_quick_score_is_the_full_score_or_nothing() {
        for c in cases() {
            let text = c.actual.to_string();
            let quick = quick_score_text(&c.expected, &text, c.schema.as_ref());
            assert_eq!(
                quick,
                Some(score_text(&c.expected, &text, c.schema.as_ref())),
                "{}",
                c.name
            );
        }
        let (expected, actual) = worst_within_limits();
        assert_eq!(quick_score_text(&expected, &actual.to_string(), None), None);
        let rows: Vec<Value> = (0..40).map(|i| json!({"sku": i, "qty": 1})).collect();
        let (expected, actual) = (json!({ "items": rows }), json!({ "items": rows }));
        assert_eq!(
            quick_score_text(&expected, &actual.to_string(), None),
            None,
            "a table whose assignment costs more than the quick budget goes off-thread"
        );
    }

    #[test]
    fn a_real_table_is_matched_optimally_within_the_budget() {
        let rows: Vec<Value> = (0..200)
            .map(|i| json!({"sku": format!("A-{i}"), "qty": i % 7, "price": i * 3, "tax": 19, "desc": format!("item {i}")}))
            .collect();
        let mut shuffled = rows.clone();
        shuffled.reverse();
        let (score, steps) = score_counted(
            &json!({ "items": rows }),
            &json!({ "items": shuffled }),
            None,
        );
        assert!(steps < WORK_BUDGET / 2, "{steps} steps");
        assert_eq!((score.fields_matched, score.fields_total), (1000, 1000));
    }

    #[test]
    fn an_answer_past_the_limits_is_a_scored_failure_with_its_reason() {
        let expected = json!({"items": [1, 2]});
        let huge = json!({ "items": (0..5000).collect::<Vec<_>>() }).to_string();
        let s = score_text(&expected, &huge, None);
        assert_eq!((s.passed, s.fields_matched, s.fields_total), (false, 0, 2));
        assert_eq!(s.diffs[0].kind, "unreadable");
        assert_eq!(
            s.diffs[0].note.as_deref(),
            Some("the model's answer is too large to score: a list in it has 5000 items; the limit is 200")
        );
        let prose = score_text(&expected, "The items are 1 and 2.", None);
        assert_eq!((prose.passed, prose.fields_matched), (false, 0));
        assert!(prose.diffs[0]
            .note
            .as_deref()
            .unwrap()
            .starts_with("the model's answer is not JSON"));
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let s = score_text(&expected, &deep, None);
        assert_eq!(
            s.diffs[0].kind, "unreadable",
            "a hundred thousand levels deep neither crashes nor overflows"
        );
    }

    #[test]
    fn a_failed_call_scores_zero_on_every_field() {
        let s = failed(&json!({"a": 1, "b": {"c": 2, "d": [1, 2]}}));
        assert_eq!((s.passed, s.fields_matched, s.fields_total), (false, 0, 4));
    }
}
