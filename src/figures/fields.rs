//! The per-field map: each field of the expected JSON (rows folded) and,
//! per model, the documents where it was entirely right.

use std::collections::HashMap;

use serde_json::Value;

use super::diff::{Field, FieldPath};
use super::{FieldRow, ModelRuns, RunRow, MAX_FIELD_ROWS};

/// Every leaf of an expected value with its path, as the scorer names it.
fn leaf_paths(value: &Value, path: FieldPath, out: &mut Vec<FieldPath>) {
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

/// Where a run got expected fields wrong; `None` when every field is
/// (a failed call, or an answer with no object to score).
fn wrong_at(run: &RunRow) -> Option<Vec<&FieldPath>> {
    let wrong: Vec<&FieldPath> = run
        .diffs
        .iter()
        .filter(|d| d.kind.costs_a_field())
        .map(|d| &d.path)
        .collect();
    let all = run.failed() || wrong.iter().any(|p| **p == FieldPath::root());
    (!all).then_some(wrong)
}

/// Whether a leaf is right in a run: a run exists, and no difference is at
/// the leaf or at a value holding it.
fn leaf_right(leaf: &FieldPath, wrong: Option<&Option<Vec<&FieldPath>>>) -> bool {
    match wrong {
        Some(Some(wrong)) => !wrong.iter().any(|at| at.holds(leaf)),
        _ => false,
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
        let wrong: Vec<Option<Option<Vec<&FieldPath>>>> = models
            .iter()
            .map(|model| {
                model
                    .runs
                    .iter()
                    .find(|r| r.image_index == document)
                    .map(|run| wrong_at(run))
            })
            .collect();
        for (field, instances) in fields {
            let row = rows.entry(field.clone()).or_insert_with(|| FieldRow {
                label: field.label(),
                field,
                right: vec![0; models.len()],
                of: 0,
            });
            row.of += 1;
            for (m, wrong) in wrong.iter().enumerate() {
                if instances
                    .iter()
                    .all(|leaf| leaf_right(leaf, wrong.as_ref()))
                {
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
