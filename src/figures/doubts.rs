//! Label doubts: a field where every model that answered a document, two
//! at least, read the same value and not the one the buyer expected. The
//! likelier mistake is then in the expected JSON, and the report says so
//! first.

use serde::Serialize;
use serde_json::Value;

use super::diff::{DiffKind, FieldPath};
use super::models::ModelRuns;
use super::RunRow;

/// A report lists at most this many (its size stays bounded).
pub const MAX_LABEL_DOUBTS: usize = 100;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelDoubt {
    /// The document's key, as the report's documents give it (the
    /// SHA-256 of its image's path, in hex): what a corrected expected
    /// JSON is given under.
    pub document_key: String,
    /// The field's place in words (`items › row 2 › total`).
    pub field: String,
    /// The same place as steps into the expected JSON (keys and row
    /// numbers from 0): where a correction puts the consensus.
    pub path: FieldPath,
    pub expected: Value,
    /// What every model that answered read there.
    pub consensus: Value,
    /// Those models, best first.
    pub models: Vec<String>,
}

/// An answer that was scored: the provider answered, with an object.
fn scored(run: &RunRow) -> bool {
    !run.failed() && !run.diffs.iter().any(|d| d.kind == DiffKind::Unreadable)
}

/// Two readings agree when they are the same JSON, text compared without
/// surrounding spaces.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.trim() == b.trim(),
        _ => a == b,
    }
}

/// The doubts of every document (by its key, in order), in document then
/// field order.
pub(super) fn label_doubts(keys: &[String], ranked: &[&ModelRuns]) -> Vec<LabelDoubt> {
    let mut doubts = Vec::new();
    for (document, key) in keys.iter().enumerate() {
        let answered: Vec<(&str, &RunRow)> = ranked
            .iter()
            .filter_map(|model| {
                let run = model.runs.iter().find(|r| r.image_index == document)?;
                scored(run).then_some((model.name.id.as_str(), *run))
            })
            .collect();
        let Some(((_, first), others)) = answered.split_first() else {
            continue;
        };
        if others.is_empty() {
            continue;
        }
        for diff in first.diffs.iter().filter(|d| d.kind == DiffKind::Mismatch) {
            let (Some(expected), Some(read)) = (&diff.expected, &diff.actual) else {
                continue;
            };
            let agreed = others.iter().all(|(_, run)| {
                run.diffs.iter().any(|d| {
                    d.kind == DiffKind::Mismatch
                        && d.path == diff.path
                        && d.actual.as_ref().is_some_and(|v| same(v, read))
                })
            });
            if agreed {
                doubts.push(LabelDoubt {
                    document_key: key.clone(),
                    field: diff.path.words(),
                    path: diff.path.clone(),
                    expected: expected.clone(),
                    consensus: read.clone(),
                    models: answered.iter().map(|(id, _)| (*id).to_owned()).collect(),
                });
                if doubts.len() == MAX_LABEL_DOUBTS {
                    return doubts;
                }
            }
        }
    }
    doubts
}
