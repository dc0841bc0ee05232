//! The golden table (`tests/scoring/golden.json`, one case per line of
//! policy, each with its reason) and the scorer's bounds.

use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::engine::limits::tests::limits;

#[derive(Deserialize)]
struct Case {
    name: String,
    why: String,
    expected: Value,
    /// The model's answer as JSON, or `answer_text` as it wrote it.
    #[serde(default)]
    answer: Option<Value>,
    #[serde(default)]
    answer_text: Option<String>,
    #[serde(default)]
    schema: Option<Value>,
    matched: usize,
    total: usize,
    /// `"<kind> <path>"` for every difference, in order.
    diffs: Vec<String>,
    passed: bool,
}

fn cases() -> Vec<Case> {
    serde_json::from_str(include_str!("../../../tests/scoring/golden.json"))
        .expect("the golden table is valid JSON")
}

#[test]
fn the_golden_table_holds() {
    let cases = cases();
    assert!(cases.len() >= 80, "at least 80 cases, {}", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let text = c
            .answer_text
            .clone()
            .or_else(|| c.answer.as_ref().map(Value::to_string))
            .expect("a case has an answer");
        let s = score_text(&c.expected, &text, c.schema.as_ref(), &limits().json);
        let diffs: Vec<String> = s
            .diffs
            .iter()
            .map(|d| format!("{} {}", d.kind, d.path).trim_end().to_owned())
            .collect();
        if (s.fields_matched, s.fields_total, &diffs, s.passed)
            != (c.matched, c.total, &c.diffs, c.passed)
        {
            failures.push(format!(
                "{} ({}): got {}/{} {:?} passed={}, want {}/{} {:?} passed={}",
                c.name,
                c.why,
                s.fields_matched,
                s.fields_total,
                diffs,
                s.passed,
                c.matched,
                c.total,
                c.diffs,
                c.passed
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_wrong_value_passes_anywhere_in_the_table() {
    for c in cases() {
        let wrong = c.name.starts_with("wrong") || c.name.starts_with("dropped zero");
        assert!(!(wrong && c.passed), "{} must not pass", c.name);
    }
}

/// Lists of the longest allowed length, nested as deep as the field limit
/// allows, shuffled so that nothing pairs by position.
fn worst_within_limits() -> (Value, Value) {
    let rows: Vec<Value> = (0..10)
        .map(|r| json!({"cells": (0..200).map(|c| r * 1000 + c).collect::<Vec<_>>()}))
        .collect();
    let shuffled: Vec<Value> = rows
        .iter()
        .rev()
        .map(|row| {
            let mut cells = row["cells"].as_array().unwrap().clone();
            cells.reverse();
            json!({ "cells": cells })
        })
        .collect();
    (json!({ "rows": rows }), json!({ "rows": shuffled }))
}

#[test]
fn scoring_within_the_limits_stays_within_its_budget() {
    let (expected, actual) = worst_within_limits();
    assert_eq!(limits().json.check_shape(&expected), Ok(()));
    assert_eq!(limits().json.check_shape(&actual), Ok(()));
    let (score, steps, exhausted) = score_within(&expected, &actual, None, WORK_BUDGET);
    assert!(steps <= WORK_BUDGET, "{steps} steps");
    assert!(exhausted, "this one is built to exhaust it");
    assert_eq!(score.fields_total, 2000);
    // The budget paid for some rows; the rest were paired by equality,
    // which finds these identical cells whatever their order, and always
    // the same way.
    assert_eq!(score.fields_matched, 2000);
    assert_eq!(
        score_within(&expected, &actual, None, WORK_BUDGET),
        (score, steps, exhausted)
    );
}

/// A table of `rows` rows of four fields, and an answer with its rows
/// reversed and every tenth price wrong.
pub fn table(rows: usize) -> (Value, Value) {
    let expected: Vec<Value> = (0..rows)
        .map(|i| json!({"sku": format!("A-{i:04}"), "qty": i % 7 + 1, "price": format!("{}.50", i * 3), "desc": format!("item {i}")}))
        .collect();
    let mut answer: Vec<Value> = expected
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            if i % 10 == 0 {
                row["price"] = json!("0.01");
            }
            row
        })
        .collect();
    answer.reverse();
    (json!({ "items": expected }), json!({ "items": answer }))
}

#[test]
fn a_real_table_is_matched_optimally_within_the_budget() {
    let (expected, answer) = table(200);
    let (score, steps, exhausted) = score_within(&expected, &answer, None, WORK_BUDGET);
    assert!(!exhausted && steps < WORK_BUDGET / 2, "{steps} steps");
    assert_eq!((score.fields_matched, score.fields_total), (780, 800));
    assert_eq!(score.diffs.len(), 20, "one mismatch per wrong price");
}

#[test]
fn the_quick_score_is_the_full_score_or_nothing() {
    for c in cases() {
        let text = c
            .answer_text
            .clone()
            .unwrap_or_else(|| c.answer.as_ref().unwrap().to_string());
        if let Some(quick) = quick_score_text(&c.expected, &text, c.schema.as_ref(), &limits().json)
        {
            assert_eq!(
                quick,
                score_text(&c.expected, &text, c.schema.as_ref(), &limits().json),
                "{}",
                c.name
            );
        }
    }
    let (expected, actual) = worst_within_limits();
    assert_eq!(
        quick_score_text(&expected, &actual.to_string(), None, &limits().json),
        None
    );
    let (expected, answer) = table(40);
    assert_eq!(
        quick_score_text(&expected, &answer.to_string(), None, &limits().json),
        None,
        "a table whose assignment costs more than the quick budget goes off-thread"
    );
}

#[test]
fn an_answer_past_the_limits_is_a_scored_failure_with_its_reason() {
    let expected = json!({"items": [1, 2]});
    let huge = json!({ "items": (0..5000).collect::<Vec<_>>() }).to_string();
    let s = score_text(&expected, &huge, None, &limits().json);
    assert_eq!((s.passed, s.fields_matched, s.fields_total), (false, 0, 2));
    assert_eq!(s.diffs[0].kind, DiffKind::Unreadable);
    assert_eq!(
        s.diffs[0].note.as_deref(),
        Some("the model's answer is too large to score: a list in it has 5000 items; the limit is 200")
    );
    let prose = score_text(&expected, "The items are 1 and 2.", None, &limits().json);
    assert_eq!((prose.passed, prose.fields_matched), (false, 0));
    assert!(prose.diffs[0]
        .note
        .as_deref()
        .unwrap()
        .starts_with("the model's answer is not JSON"));
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let s = score_text(&expected, &deep, None, &limits().json);
    assert_eq!(
        s.diffs[0].kind,
        DiffKind::Unreadable,
        "a hundred thousand levels deep neither crashes nor overflows"
    );
}

#[test]
fn a_failed_call_scores_zero_on_every_field() {
    let s = failed(&json!({"a": 1, "b": {"c": 2, "d": [1, 2]}}));
    assert_eq!((s.passed, s.fields_matched, s.fields_total), (false, 0, 4));
}
