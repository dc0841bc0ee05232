//! Scoring a model's answer against the JSON the user expects, field by
//! field, by the policy in `docs/scoring.md` (shown on every report as
//! "How we score"; `tests/scoring/golden.json` pins each rule).
//!
//! * Every leaf of the expected JSON is a field; field accuracy is matched
//!   fields ÷ expected fields; a document passes with no difference at all.
//! * Amounts compare as exact decimals however they are spelled
//!   (`amount`); identifiers (leading zeros, more than 15 digits, `-`, `_`,
//!   `/`) and everything the schema calls a string compare as text, with
//!   surrounding and repeated whitespace ignored; dates and case only where
//!   the schema asks (`format: date`, `x-compare: "case-insensitive"`).
//! * Lists are matched by the best assignment of their elements, or, when
//!   ordered (`x-ordered`, and any list directly inside a list), by the best
//!   alignment; an element pairs only with one that has at least half its
//!   fields right, so a missing row is one "missing" and an invented one
//!   one "extra".
//! * A key missing is a difference even when `null` was expected; a key the
//!   user did not ask for is a difference too.
//! * An answer wrapped in a fence or a short preface is scored on its
//!   object, with a note; an answer that is not one JSON object within the
//!   limits scores zero, with the reason.
//!
//! Scoring is bounded whatever the answer: see [`WORK_BUDGET`].

mod amount;
mod answer;
mod date;
mod leaf;
mod matching;
mod schema;

use serde_json::{Map, Value};

use super::limits::JsonLimits;
pub use crate::figures::diff::{leaves, DiffKind, Field, FieldDiff, FieldPath, StoredDiff};
pub use answer::OutputError;
use leaf::Leaves;
use matching::Pairs;
use schema::Node;

/// Steps one score may take (a step is one leaf compared, one cell of a
/// similarity or alignment matrix, or one inner step of an assignment).
///
/// Why this bounds scoring: the answer and the expected JSON are both
/// within `limits` (at most 2,000 fields, lists of at most 200 items), so
/// one assignment between two lists costs at most 200 x 200 matrix cells
/// plus 200^3 = 8 million Hungarian steps, but lists nested in lists would
/// multiply those. Every matrix and assignment is charged to this budget
/// *before* it is built; once the budget cannot pay for one, that list and
/// every later one is matched by equality, then position, which costs one
/// step per element and builds nothing (identical elements are still
/// paired whatever their order). The walk outside matching visits each
/// field once. So a score takes at most `WORK_BUDGET` steps of matching
/// plus steps linear in the two values' fields, whatever they hold; the
/// budget is counted, not timed, so the same answer always gets the same
/// score. (Lists within the budget, which is every real document, are
/// matched optimally.)
pub const WORK_BUDGET: u64 = 50_000_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub passed: bool,
    pub fields_total: usize,
    pub fields_matched: usize,
    pub diffs: Vec<FieldDiff>,
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
    /// The leaves read so far (shared with trial walks).
    readings: Leaves,
}

/// Where a value sits: its path, its schema, and whether it is an element
/// of a list (a list there is ordered by default).
#[derive(Clone, Copy)]
struct At<'p, 's> {
    path: &'p FieldPath,
    node: Node<'s>,
    in_list: bool,
}

impl Walk {
    fn new(record: bool, steps_left: u64) -> Self {
        Self {
            matched: 0,
            diffs: Vec::new(),
            record,
            steps_left,
            exhausted: false,
            readings: Leaves::default(),
        }
    }

    fn differ(
        &mut self,
        path: &FieldPath,
        kind: DiffKind,
        expected: Option<&Value>,
        actual: Option<&Value>,
    ) {
        if self.record {
            self.diffs.push(FieldDiff {
                path: path.clone(),
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

    fn compare(&mut self, at: At, expected: &Value, actual: &Value) {
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) if !e.is_empty() => self.compare_objects(at, e, a),
            (Value::Array(e), Value::Array(a)) if !e.is_empty() => self.compare_arrays(at, e, a),
            _ => {
                self.steps_left = self.steps_left.saturating_sub(1);
                if leaves(actual) == 1 && self.readings.equal(expected, actual, &at.node) {
                    self.matched += 1
                } else {
                    // A wrong leaf, or a scalar where a structure was
                    // expected (or the reverse): one entry; every expected
                    // field under it counts as missed through `fields_total`.
                    self.differ(at.path, DiffKind::Mismatch, Some(expected), Some(actual))
                }
            }
        }
    }

    fn compare_objects(&mut self, at: At, e: &Map<String, Value>, a: &Map<String, Value>) {
        for (key, expected) in e {
            // A trial walk writes nothing down: it needs no paths.
            let path = if self.record {
                at.path.key(key)
            } else {
                FieldPath::root()
            };
            let child = At {
                path: &path,
                node: at.node.property(key),
                in_list: false,
            };
            match a.get(key) {
                Some(actual) => self.compare(child, expected, actual),
                None => self.differ(&path, DiffKind::Missing, Some(expected), None),
            }
        }
        for (key, actual) in a {
            if !e.contains_key(key) && self.record {
                self.differ(&at.path.key(key), DiffKind::Extra, None, Some(actual));
            }
        }
    }

    fn compare_arrays(&mut self, at: At, e: &[Value], a: &[Value]) {
        let ordered = at.node.ordered().unwrap_or(at.in_list);
        let pairs = self.pair(at, e, a, ordered);
        let mut used = vec![false; a.len()];
        for (i, pair) in pairs.into_iter().enumerate() {
            let path = if self.record {
                at.path.row(i)
            } else {
                FieldPath::root()
            };
            match pair {
                Some(j) => {
                    used[j] = true;
                    let child = At {
                        path: &path,
                        node: at.node.item(i),
                        in_list: true,
                    };
                    self.compare(child, &e[i], &a[j]);
                }
                None => self.differ(&path, DiffKind::Missing, Some(&e[i]), None),
            }
        }
        for (j, actual) in a.iter().enumerate() {
            if !used[j] && self.record {
                self.differ(&at.path.extra_row(j), DiffKind::Extra, None, Some(actual));
            }
        }
    }

    /// The pairs of expected and answered elements: the best assignment,
    /// or for an ordered list the best alignment, among pairs with at least
    /// half the expected element's fields right; by equality (then
    /// position) when the budget cannot pay for that.
    fn pair(&mut self, at: At, e: &[Value], a: &[Value], ordered: bool) -> Pairs {
        let n = e.len().max(a.len()) as u64;
        let cells = e.len() as u64 * a.len() as u64;
        let cost = if ordered { cells } else { cells + n * n * n };
        if !self.charge(cost) {
            return if ordered {
                matching::by_position(e.len(), a.len())
            } else {
                matching::by_equality(e, a)
            };
        }
        let gain: Vec<Vec<Option<i64>>> = e
            .iter()
            .enumerate()
            .map(|(i, ev)| {
                let root = FieldPath::root();
                let item = At {
                    path: &root,
                    node: at.node.item(i),
                    in_list: true,
                };
                let needed = leaves(ev).div_ceil(2);
                a.iter()
                    .map(|av| {
                        let fit = self.similarity(item, ev, av);
                        (fit >= needed.max(1)).then_some(fit as i64)
                    })
                    .collect()
            })
            .collect();
        if ordered {
            matching::align(&gain, a.len())
        } else {
            matching::assign(&gain, a.len())
        }
    }

    /// Matched fields if `actual` were paired with `expected`.
    fn similarity(&mut self, at: At, expected: &Value, actual: &Value) -> usize {
        let mut trial = Walk::new(false, self.steps_left);
        trial.readings = std::mem::take(&mut self.readings);
        trial.compare(at, expected, actual);
        self.readings = trial.readings;
        self.steps_left = trial.steps_left;
        self.exhausted |= trial.exhausted;
        trial.matched
    }
}

/// Scores a parsed answer against the expected JSON.
pub fn score(expected: &Value, actual: &Value, schema: Option<&Value>) -> Score {
    score_within(expected, actual, schema, WORK_BUDGET).0
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
    let root = FieldPath::root();
    let at = At {
        path: &root,
        node: Node::root(schema),
        in_list: false,
    };
    walk.compare(at, expected, actual);
    let steps = budget - walk.steps_left;
    let score = Score {
        passed: walk.diffs.is_empty(),
        fields_total: leaves(expected),
        fields_matched: walk.matched,
        diffs: walk.diffs,
    };
    (score, steps, walk.exhausted)
}

/// A score with the note that the answer had extra text around its object
/// (a note, not a difference: the document may still pass).
fn noted(mut score: Score) -> Score {
    score.diffs.insert(
        0,
        FieldDiff {
            path: FieldPath::root(),
            kind: DiffKind::Note,
            expected: None,
            actual: None,
            note: Some(answer::EXTRA_TEXT.into()),
        },
    );
    score
}

/// Scores a model's text: its object scored, or, when it holds no object
/// that can be scored, zero with the reason.
pub fn score_text(
    expected: &Value,
    text: &str,
    schema: Option<&Value>,
    limits: &JsonLimits,
) -> Score {
    match answer::extract(text, limits) {
        Ok((answer, false)) => score(expected, &answer, schema),
        Ok((answer, true)) => noted(score(expected, &answer, schema)),
        Err(why) => unreadable(expected, &why),
    }
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
pub fn quick_score_text(
    expected: &Value,
    text: &str,
    schema: Option<&Value>,
    limits: &JsonLimits,
) -> Option<Score> {
    if text.len() > QUICK_TEXT_BYTES {
        return None;
    }
    match answer::extract(text, limits) {
        Ok((answer, extra)) => {
            let (score, _, exhausted) = score_within(expected, &answer, schema, QUICK_STEPS);
            (!exhausted).then(|| if extra { noted(score) } else { score })
        }
        Err(why) => Some(unreadable(expected, &why)),
    }
}

/// An answer that could not be read: every field missed, and why.
pub fn unreadable(expected: &Value, why: &dyn std::fmt::Display) -> Score {
    Score {
        passed: false,
        fields_total: leaves(expected),
        fields_matched: 0,
        diffs: vec![FieldDiff {
            path: FieldPath::root(),
            kind: DiffKind::Unreadable,
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
mod golden;
