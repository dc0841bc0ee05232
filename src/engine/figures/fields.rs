//! The per-field map: each field of the expected JSON (list positions
//! folded) and, per model, the documents where it was entirely right.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{FieldRow, ModelRuns, RunRow, MAX_FIELD_ROWS};
use crate::engine::score;

/// `items[3].price` as `items[].price`.
fn folded(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// Every leaf of an expected value with its path, as the scorer writes it.
fn leaf_paths(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                leaf_paths(child, &score::join(path, key), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                leaf_paths(child, &format!("{path}[{i}]"), out);
            }
        }
        _ => out.push(path.to_owned()),
    }
}

/// Whether a leaf at `path` is wrong in a run: a failed call, an unreadable
/// answer, or a difference at the leaf or at a value holding it.
fn leaf_wrong(path: &str, run: Option<&RunRow>, wrong_at: &HashSet<&str>) -> bool {
    let Some(run) = run else { return true };
    if run.failed || wrong_at.contains("") {
        return true;
    }
    if wrong_at.contains(path) {
        return true;
    }
    path.char_indices()
        .filter(|&(_, c)| c == '.' || c == '[')
        .any(|(i, _)| wrong_at.contains(&path[..i]))
}

/// The paths a run got wrong (a difference there, or at a value holding
/// it); what it added does not make an expected field wrong.
fn wrong_at(run: Option<&RunRow>) -> HashSet<&str> {
    run.map(|r| {
        r.diffs
            .iter()
            .filter(|(_, kind)| kind != "extra" && kind != "note")
            .map(|(p, _)| p.as_str())
            .collect()
    })
    .unwrap_or_default()
}

/// Each field's documents right per model, worst first.
pub(super) fn field_rows(expected: &[Value], models: &[&ModelRuns]) -> Vec<FieldRow> {
    let mut rows: HashMap<String, FieldRow> = HashMap::new();
    for (document, value) in expected.iter().enumerate() {
        let mut leaves = Vec::new();
        leaf_paths(value, "", &mut leaves);
        let mut fields: HashMap<String, Vec<&str>> = HashMap::new();
        for leaf in &leaves {
            fields.entry(folded(leaf)).or_default().push(leaf);
        }
        // Each model's run of this document, read once for all its fields.
        let runs: Vec<(Option<&RunRow>, HashSet<&str>)> = models
            .iter()
            .map(|model| {
                let run = model
                    .runs
                    .iter()
                    .find(|r| r.image_index == document)
                    .copied();
                (run, wrong_at(run))
            })
            .collect();
        for (field, instances) in fields {
            let row = rows.entry(field.clone()).or_insert_with(|| FieldRow {
                path: field,
                right: vec![0; models.len()],
                of: 0,
            });
            row.of += 1;
            for (m, (run, wrong)) in runs.iter().enumerate() {
                if !instances.iter().any(|leaf| leaf_wrong(leaf, *run, wrong)) {
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
            .then_with(|| a.path.cmp(&b.path))
    });
    rows.truncate(MAX_FIELD_ROWS);
    rows
}
