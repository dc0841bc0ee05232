//! Repeat runs: a report may make each call k times. Its ranking, costs
//! and doubts read each model's first answers (repeat 0), so a report
//! ranks alike whatever k; these figures read all k answers of a document
//! and say whether the model answers the same way twice.

use serde::Serialize;
use serde_json::Value;

use super::diff::{DiffKind, FieldPath, StoredDiff};
use super::fields::leaf_paths;
use super::RunRow;

/// A model lists at most this many unstable fields (its size stays
/// bounded).
pub const MAX_UNSTABLE_FIELDS: usize = 50;

/// How a model's k answers of each document agree.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Repeats {
    /// Answers asked of each document.
    pub k: u32,
    /// Share of documents (with at least two answers) where every answer
    /// passed.
    pub all_pass_rate: f64,
    /// Share of their expected fields on which every answer read the
    /// same (right alike, or wrong with the same value). A call the
    /// provider never answered read nothing: it is left out here (and
    /// counted as not passed above).
    pub agreement: f64,
}

/// What one answer reads at a field: right, or wrong in some way (with the
/// value given).
#[derive(Debug, Clone, PartialEq)]
enum Reading<'a> {
    Right,
    Wrong(DiffKind, Option<&'a Value>),
}

fn reading<'a>(run: &'a RunRow, field: &FieldPath) -> Reading<'a> {
    let wrong = |d: &&StoredDiff| d.kind.costs_a_field() && d.path.holds(field);
    match run.diffs.iter().find(wrong) {
        Some(diff) => Reading::Wrong(diff.kind, diff.actual.as_ref()),
        None => Reading::Right,
    }
}

/// One model's repeats, and the fields (as the report names them, each
/// once, in document order) whose reading changed between its answers;
/// none when it answered each document once.
pub(super) fn repeats_of(expected: &[&Value], runs: &[&RunRow]) -> Option<(Repeats, Vec<String>)> {
    let k = runs.iter().map(|r| r.repeat).max()? + 1;
    if k < 2 {
        return None;
    }
    let (mut documents, mut all_passed, mut fields, mut agreed) = (0usize, 0usize, 0usize, 0usize);
    let mut unstable: Vec<String> = Vec::new();
    for (document, value) in expected.iter().enumerate() {
        let answers: Vec<&RunRow> = runs
            .iter()
            .copied()
            .filter(|r| r.image_index == document)
            .collect();
        if answers.len() < 2 {
            continue;
        }
        documents += 1;
        all_passed += usize::from(answers.iter().all(|r| r.passed));
        let answered: Vec<&RunRow> = answers.into_iter().filter(|r| !r.failed()).collect();
        if answered.len() < 2 {
            continue;
        }
        let mut paths = Vec::new();
        leaf_paths(value, FieldPath::root(), &mut paths);
        for path in paths {
            fields += 1;
            let first = reading(answered[0], &path);
            if answered[1..].iter().all(|r| reading(r, &path) == first) {
                agreed += 1;
            } else {
                let label = path.field().label();
                if !unstable.contains(&label) && unstable.len() < MAX_UNSTABLE_FIELDS {
                    unstable.push(label);
                }
            }
        }
    }
    let share = |part: usize, whole: usize| {
        if whole == 0 {
            1.0
        } else {
            part as f64 / whole as f64
        }
    };
    Some((
        Repeats {
            k,
            all_pass_rate: share(all_passed, documents),
            agreement: share(agreed, fields),
        },
        unstable,
    ))
}

/// What the accuracy verdict adds when its leader does not answer the same
/// way twice.
pub(super) fn instability_sentence(name: &str, repeats: &Repeats) -> Option<String> {
    (repeats.agreement < 1.0).then(|| {
        let changed = ((1.0 - repeats.agreement) * 100.0).round().max(1.0);
        format!(
            " Asked {} times, {name} read {changed}% of fields differently from one answer to the next: its lead rests on answers that change.",
            repeats.k
        )
    })
}
