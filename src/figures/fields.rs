//! The per-field map: each field of the expected JSON (rows folded) and,
//! per model, the documents where it was entirely right.

use std::collections::HashMap;

use serde_json::Value;

use super::diff::{Field, FieldPath};
use super::{FieldRow, ModelRuns, RunRow, MAX_FIELD_ROWS};

/// Every leaf of an expected value with its path, as the scorer names it.
pub(super) fn leaf_paths(value: &Value, path: FieldPath, out: &mut Vec<FieldPath>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                leaf_paths(child, path.key(key), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                leaf_paths(child, path.row(i), out);
            }
        }
        _ => out.push(path),
    }
}

/// What a model's run of one document says of its fields.
enum Reading<'a> {
    /// No run of the document: nothing of it is right.
    NotRun,
    /// Every field is wrong (a failed call, or an answer with no object to
    /// score).
    AllWrong,
    /// The fields at or under these paths are wrong; the rest are right.
    WrongAt(Vec<&'a FieldPath>),
}

impl<'a> Reading<'a> {
    fn of(run: Option<&'a RunRow>) -> Self {
        let Some(run) = run else {
            return Self::NotRun;
        };
        let wrong: Vec<&FieldPath> = run
            .diffs
            .iter()
            .filter(|d| d.kind.costs_a_field())
            .map(|d| &d.path)
            .collect();
        if run.failed() || wrong.iter().any(|p| **p == FieldPath::root()) {
            Self::AllWrong
        } else {
            Self::WrongAt(wrong)
        }
    }

    /// Whether a leaf is right: no difference is at the leaf or at a value
    /// holding it.
    fn right(&self, leaf: &FieldPath) -> bool {
        match self {
            Self::WrongAt(wrong) => !wrong.iter().any(|at| at.holds(leaf)),
            Self::NotRun | Self::AllWrong => false,
        }
    }
}

/// Each field's documents right per model, worst first.
pub(super) fn field_rows(expected: &[&Value], models: &[&ModelRuns]) -> Vec<FieldRow> {
    let mut rows: HashMap<Field, FieldRow> = HashMap::new();
    for (document, value) in expected.iter().enumerate() {
        let mut leaves = Vec::new();
        leaf_paths(value, FieldPath::root(), &mut leaves);
        let mut fields: HashMap<Field, Vec<&FieldPath>> = HashMap::new();
        for leaf in &leaves {
            fields.entry(leaf.field()).or_default().push(leaf);
        }
        // Each model's run of this document, read once for all its fields.
        let readings: Vec<Reading> = models
            .iter()
            .map(|model| {
                Reading::of(
                    model
                        .runs
                        .iter()
                        .copied()
                        .find(|r| r.image_index == document),
                )
            })
            .collect();
        for (field, instances) in fields {
            let row = rows.entry(field.clone()).or_insert_with(|| FieldRow {
                label: field.label(),
                costed_by: field.holders(),
                field,
                right: vec![0; models.len()],
                of: 0,
            });
            row.of += 1;
            for (m, reading) in readings.iter().enumerate() {
                if instances.iter().all(|leaf| reading.right(leaf)) {
                    row.right[m] += 1;
                }
            }
        }
    }
    let mut rows: Vec<FieldRow> = rows.into_values().collect();
    let worst = |row: &FieldRow| {
        row.right
            .iter()
            .map(|&r| r as f64 / row.of.max(1) as f64)
            .sum::<f64>()
            / row.right.len().max(1) as f64
    };
    rows.sort_by(|a, b| {
        worst(a)
            .total_cmp(&worst(b))
            .then_with(|| a.label.cmp(&b.label))
    });
    rows.truncate(MAX_FIELD_ROWS);
    rows
}
