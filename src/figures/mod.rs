//! What a finished report tells its buyer, computed once when it finishes
//! and stored with it (`reports.figures`, read through `read_report` under
//! the report's own rules): each model's pass rate with its Wilson
//! interval, field accuracy with a seeded bootstrap interval over
//! documents, cost per document and per 1,000, latency with its n; which
//! model to pick for each priority, in one sentence, saying ties and
//! differences the documents cannot confirm as such; and every field's
//! accuracy per model, worst first.

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

mod fields;
mod models;
mod stats;
mod wording;

pub mod compare;
pub mod diff;

use diff::{Field, StoredDiff};
use fields::field_rows;
use models::{best_first, compare, model_figures, model_runs, ModelRuns};
pub use stats::wilson;
use wording::{accuracy_verdict, other_verdict, sample_warning};

/// Fewer calls than this, and a 95th percentile means nothing: not shown.
pub const MIN_CALLS_FOR_P95: usize = 20;
/// Fewer documents than this, and the report says its figures are rough.
pub const FEW_DOCUMENTS: usize = 10;
/// The field map keeps the worst fields up to this many (a report's size
/// stays bounded whatever its documents hold).
pub const MAX_FIELD_ROWS: usize = 500;

/// One recorded call, as `benchmark_runs` holds it.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub model_id: String,
    pub image_index: usize,
    pub passed: bool,
    pub fields_total: u32,
    pub fields_matched: u32,
    pub cost_usd: Decimal,
    pub latency_ms: u32,
    /// Why the call failed (no answer: every field wrong, no latency);
    /// none when it was answered.
    pub error: Option<String>,
    /// No endpoint of the model met the report's data policy (its reason
    /// in `error`).
    pub unavailable: bool,
    /// The scorer's differences.
    pub diffs: Vec<StoredDiff>,
}

impl RunRow {
    /// No answer came: every field is wrong, and there is no latency.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// A model of the report: its id and the name people know it by.
#[derive(Debug, Clone)]
pub struct ModelName {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelFigures {
    pub model_id: String,
    pub display_name: String,
    pub documents: usize,
    pub passed: usize,
    pub pass_rate: f64,
    pub pass_interval: [f64; 2],
    pub field_accuracy: f64,
    pub field_interval: [f64; 2],
    /// Amounts are exact decimal strings (`"0.000654"`).
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_usd: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_per_document_usd: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub cost_per_1000_usd: Decimal,
    pub latency_n: usize,
    pub latency_p50_ms: Option<u32>,
    pub latency_p95_ms: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub best: String,
    pub runner_up: String,
    /// Field accuracy of the best minus the runner-up's, and its 95%
    /// interval from the same resampled documents.
    pub difference: f64,
    pub interval: [f64; 2],
    pub separable: bool,
    /// Documents like these that would tell the two apart, when it can be
    /// estimated.
    pub documents_needed: Option<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldRow {
    /// The field, list positions folded (`["items", null, "price"]`), as
    /// each difference names the field it is at.
    #[serde(rename = "path")]
    pub field: Field,
    /// The field as the report shows it: `items[].price`.
    pub label: String,
    /// Per model (in the report's order): documents with this field all
    /// right, of documents that have it.
    pub right: Vec<usize>,
    pub of: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdicts {
    pub accuracy: String,
    pub cost: String,
    pub speed: String,
}

/// A model no endpoint would run under the report's data policy: not
/// ranked, and said why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnavailableModel {
    pub model_id: String,
    pub display_name: String,
    /// The provider's refusal.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub version: u32,
    pub documents: usize,
    /// Fewer calls than this give no p95 (said with the figure).
    pub min_calls_for_p95: usize,
    /// Best first, by accuracy, then cost, then speed.
    pub models: Vec<ModelFigures>,
    pub verdicts: Verdicts,
    pub comparison: Option<Comparison>,
    pub sample_warning: Option<String>,
    pub fields: Vec<FieldRow>,
    /// Models the data policy left without an endpoint, in the report's
    /// order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<UnavailableModel>,
}

/// Splits the models into those ranked and those the data policy left
/// without an endpoint (every run of theirs refused as unavailable).
fn available(models: &[ModelName], runs: &[RunRow]) -> (Vec<ModelName>, Vec<UnavailableModel>) {
    let mut ranked = Vec::new();
    let mut unavailable = Vec::new();
    for model in models {
        let mut theirs = runs.iter().filter(|r| r.model_id == model.id).peekable();
        let first_refusal = theirs.peek().and_then(|r| r.error.clone());
        if theirs.peek().is_some() && theirs.all(|r| r.unavailable) {
            unavailable.push(UnavailableModel {
                model_id: model.id.clone(),
                display_name: model.display_name.clone(),
                reason: first_refusal.unwrap_or_default(),
            });
        } else {
            ranked.push(model.clone());
        }
    }
    (ranked, unavailable)
}

/// The report's figures from its recorded runs, the expected JSON of each
/// document (by index) and its models in the order the buyer chose them.
/// A model the data policy left without an endpoint is listed apart, not
/// ranked.
pub fn compute(expected: &[&Value], models: &[ModelName], runs: &[RunRow]) -> Figures {
    let (ranked, unavailable) = available(models, runs);
    Figures {
        unavailable,
        ..rank(expected, &ranked, runs)
    }
}

fn rank(expected: &[&Value], models: &[ModelName], runs: &[RunRow]) -> Figures {
    let documents = expected.len();
    let fields: Vec<u32> = expected
        .iter()
        .map(|&value| diff::leaves(value) as u32)
        .collect();
    let per_model: Vec<ModelRuns> = models
        .iter()
        .map(|name| model_runs(&fields, name, runs))
        .collect();
    let mut figures: Vec<(ModelFigures, usize)> = per_model
        .iter()
        .enumerate()
        .map(|(i, model)| (model_figures(model, documents), i))
        .collect();
    figures.sort_by(|(a, _), (b, _)| best_first(a, b));
    let comparison = (figures.len() >= 2).then(|| {
        compare(
            &per_model[figures[0].1],
            &per_model[figures[1].1],
            documents,
        )
    });
    let ranked: Vec<&ModelRuns> = figures.iter().map(|&(_, i)| &per_model[i]).collect();
    let fields = field_rows(expected, &ranked);
    let models: Vec<ModelFigures> = figures.into_iter().map(|(f, _)| f).collect();
    let verdicts = if models.is_empty() {
        let none = String::from("No model was run.");
        Verdicts {
            accuracy: none.clone(),
            cost: none.clone(),
            speed: none,
        }
    } else {
        Verdicts {
            accuracy: accuracy_verdict(&models, comparison.as_ref(), documents),
            cost: other_verdict(&models, false),
            speed: other_verdict(&models, true),
        }
    };
    Figures {
        version: 2,
        documents,
        min_calls_for_p95: MIN_CALLS_FOR_P95,
        verdicts,
        sample_warning: sample_warning(documents, comparison.as_ref(), &models),
        comparison,
        fields,
        models,
        unavailable: Vec::new(),
    }
}

/// One model's runs, and its fields right per document (a document it has
/// no run for counts as nothing right of all its fields).
#[cfg(test)]
mod tests {
    use super::stats::{accuracy_of, bootstrap};
    use super::*;
    use serde_json::json;

    fn name(id: &str, display: &str) -> ModelName {
        ModelName {
            id: id.into(),
            display_name: display.into(),
        }
    }

    /// A path written as the scoring policy writes it (`items[1].qty`,
    /// `items[+1]`), as the stored form of a difference at it.
    fn stored(path: &str, kind: &str) -> StoredDiff {
        let mut steps = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (key, rows) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() {
                steps.push(json!(key));
            }
            for row in rows
                .split('[')
                .map(|r| r.trim_end_matches(']'))
                .filter(|r| !r.is_empty())
            {
                steps.push(match row.strip_prefix('+') {
                    Some(extra) => json!({"extra": extra.parse::<u64>().unwrap()}),
                    None => json!(row.parse::<u64>().unwrap()),
                });
            }
        }
        serde_json::from_value(json!({"kind": kind, "path": steps})).unwrap()
    }

    /// A run of `model` on document `doc`: `matched` of `total` fields,
    /// wrong at `wrong` (paths), costing `cost` dollars, answering in `ms`.
    fn run(
        model: &str,
        doc: usize,
        matched: u32,
        total: u32,
        wrong: &[&str],
        cost: &str,
        ms: u32,
    ) -> RunRow {
        RunRow {
            model_id: model.into(),
            image_index: doc,
            passed: matched == total && wrong.is_empty(),
            fields_total: total,
            fields_matched: matched,
            cost_usd: cost.parse().unwrap(),
            latency_ms: ms,
            error: None,
            unavailable: false,
            diffs: wrong.iter().map(|p| stored(p, "mismatch")).collect(),
        }
    }

    fn usd(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    /// `compute` over owned expected values.
    fn figures_of(expected: &[Value], models: &[ModelName], runs: &[RunRow]) -> Figures {
        compute(&expected.iter().collect::<Vec<_>>(), models, runs)
    }

    fn close(a: [f64; 2], b: [f64; 2]) {
        assert!(
            (a[0] - b[0]).abs() < 5e-5 && (a[1] - b[1]).abs() < 5e-5,
            "{a:?} vs {b:?}"
        );
    }

    #[test]
    fn wilson_intervals_match_the_published_values() {
        // Newcombe (1998), Statistics in Medicine 17:857, table I, method 3.
        close(wilson(81, 263), [0.2553, 0.3662]);
        close(wilson(15, 148), [0.0624, 0.1605]);
        close(wilson(0, 20), [0.0, 0.1611]);
        close(wilson(1, 29), [0.0061, 0.1718]);
        close(wilson(2, 3), [0.2077, 0.9385]);
    }

    #[test]
    fn the_bootstrap_is_seeded_and_brackets_the_estimate() {
        let per_document = [(9, 10), (10, 10), (7, 10), (10, 10), (8, 10), (10, 10)];
        let interval = bootstrap(6, |s| accuracy_of(&per_document, s));
        assert_eq!(
            interval,
            bootstrap(6, |s| accuracy_of(&per_document, s)),
            "same every time"
        );
        let estimate = accuracy_of(&per_document, &[0, 1, 2, 3, 4, 5]);
        assert!(
            interval[0] < estimate && estimate < interval[1],
            "{interval:?} around {estimate}"
        );
        // Pinned: the seed makes this exact; a change to the resampling shows here.
        close(interval, [0.8, 0.98333]);
        let same = [(10, 10); 5];
        assert_eq!(
            bootstrap(5, |s| accuracy_of(&same, s)),
            [1.0, 1.0],
            "no spread, no width"
        );
    }

    use crate::money::dollars;

    #[test]
    fn cost_is_projected_per_document_and_per_thousand() {
        let expected = vec![json!({"a": 1}); 3];
        let runs = [
            run("m", 0, 1, 1, &[], "0.0001", 900),
            run("m", 1, 1, 1, &[], "0.0002", 1000),
            run("m", 2, 1, 1, &[], "0.000354", 1100),
        ];
        let figures = figures_of(&expected, &[name("m", "Model")], &runs);
        let m = &figures.models[0];
        assert_eq!(m.cost_usd, usd("0.000654"));
        assert_eq!(m.cost_per_document_usd, usd("0.000218"));
        assert_eq!(m.cost_per_1000_usd, usd("0.218"));
        assert_eq!(dollars(m.cost_per_document_usd), "$0.000218");
        assert_eq!(dollars(m.cost_per_1000_usd), "$0.218");
        assert_eq!(dollars(usd("2.149")), "$2.15");
        assert_eq!(
            (m.latency_n, m.latency_p50_ms, m.latency_p95_ms),
            (3, Some(1000), None),
            "no p95 from 3 calls"
        );
    }

    #[test]
    fn an_exact_tie_is_called_a_tie_with_what_separates_them() {
        let expected = vec![json!({"a": 1, "b": 2, "c": 3}); 3];
        let mut runs = Vec::new();
        for doc in 0..3 {
            let wrong: &[&str] = if doc == 2 { &["c"] } else { &[] };
            let matched = if doc == 2 { 2 } else { 3 };
            runs.push(run("google/gemini", doc, matched, 3, wrong, "0.0001", 1200));
            runs.push(run("openai/gpt-4o", doc, matched, 3, wrong, "0.0025", 1000));
        }
        let figures = figures_of(
            &expected,
            &[
                name("openai/gpt-4o", "GPT-4o"),
                name("google/gemini", "Gemini"),
            ],
            &runs,
        );
        assert_eq!(
            figures.verdicts.accuracy,
            "Gemini and GPT-4o are tied on your documents (88.9% of fields each); Gemini is 25× cheaper, GPT-4o 17% faster."
        );
        assert_eq!(
            figures.verdicts.speed,
            "For speed, pick GPT-4o: a median of 1000 ms a document, 88.9% of fields right (the most accurate, Gemini, gets 88.9%)."
        );
        assert_eq!(
            figures.sample_warning.as_deref(),
            Some("With 3 documents, these figures are rough: one document moves a pass rate by 33 points."),
            "an exact tie has no documents-needed estimate"
        );
    }

    #[test]
    fn a_lead_the_documents_cannot_confirm_is_not_called_a_win() {
        let expected = vec![json!({"a": 1, "b": 2}); 4];
        let mut runs = Vec::new();
        for doc in 0..4 {
            runs.push(run("a", doc, 2, 2, &[], "0.001", 900));
            let (matched, wrong): (u32, &[&str]) = if doc == 0 { (1, &["b"]) } else { (2, &[]) };
            runs.push(run("b", doc, matched, 2, wrong, "0.001", 900));
        }
        let figures = figures_of(&expected, &[name("a", "Alpha"), name("b", "Beta")], &runs);
        let comparison = figures.comparison.clone().unwrap();
        assert!(!comparison.separable, "{comparison:?}");
        assert_eq!(
            figures.verdicts.accuracy,
            "Alpha leads with 100% of fields right against Beta's 87.5%, a difference your 4 documents cannot confirm."
        );
        let needed = comparison.documents_needed.unwrap();
        assert!(needed > 4, "{needed}");
        assert!(figures.sample_warning.unwrap().contains(&format!(
            "About {needed} documents like these would tell Alpha and Beta apart."
        )));
    }

    #[test]
    fn a_clear_lead_names_the_pick_with_its_interval() {
        let expected = vec![json!({"a": 1, "b": 2, "c": 3, "d": 4}); 30];
        let mut runs = Vec::new();
        for doc in 0..30 {
            runs.push(run("a", doc, 4, 4, &[], "0.002", 900));
            runs.push(run("b", doc, 2, 4, &["a", "b"], "0.001", 800));
        }
        let figures = figures_of(&expected, &[name("b", "Beta"), name("a", "Alpha")], &runs);
        assert!(figures.comparison.as_ref().unwrap().separable);
        assert_eq!(figures.models[0].model_id, "a", "best first");
        assert_eq!(
            figures.verdicts.accuracy,
            "Pick Alpha: 100% of fields right (100%–100%), ahead of Beta (50%) on your documents, at $2.00 per 1,000 documents."
        );
        assert_eq!(
            figures.verdicts.cost,
            "For the lowest cost, pick Beta: $1.00 per 1,000 documents, 50% of fields right (the most accurate, Alpha, gets 100%)."
        );
        assert_eq!(figures.sample_warning, None);
    }

    #[test]
    fn the_field_map_folds_rows_and_counts_a_missing_row_against_its_fields() {
        let expected = vec![
            json!({"total": 5, "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}),
            json!({"total": 7, "items": [{"sku": "C", "qty": 1}]}),
        ];
        let runs = [
            run("m", 0, 3, 5, &["items[1]"], "0.001", 900),
            run("m", 1, 2, 3, &["items[0].qty"], "0.001", 900),
        ];
        let mut extra = run("m", 1, 3, 3, &[], "0.001", 900);
        extra.diffs = vec![stored("items[+1]", "extra")];
        let figures = figures_of(&expected, &[name("m", "M")], &runs);
        let row = |path: &str| {
            figures
                .fields
                .iter()
                .find(|f| f.label == path)
                .unwrap()
                .clone()
        };
        assert_eq!((row("total").right[0], row("total").of), (2, 2));
        assert_eq!(
            (row("items[].sku").right[0], row("items[].sku").of),
            (1, 2),
            "the missing row"
        );
        assert_eq!((row("items[].qty").right[0], row("items[].qty").of), (0, 2));
        assert_eq!(figures.fields[0].label, "items[].qty", "worst first");
        let with_extra = figures_of(
            &expected[1..],
            &[name("m", "M")],
            &[RunRow {
                image_index: 0,
                ..extra
            }],
        );
        assert!(
            with_extra.fields.iter().all(|f| f.right[0] == 1),
            "an invented row costs no expected field"
        );
    }

    #[test]
    fn a_model_the_data_policy_left_without_an_endpoint_is_named_not_ranked() {
        let expected = vec![json!({"total": 1}), json!({"total": 2})];
        let refused = |doc| RunRow {
            error: Some("no endpoint of this model meets the privacy policy asked for".into()),
            unavailable: true,
            passed: false,
            fields_matched: 0,
            ..run("keeps/data", doc, 0, 1, &[], "0", 0)
        };
        let figures = figures_of(
            &expected,
            &[name("keeps/data", "Keeps Data"), name("m", "M")],
            &[
                refused(0),
                refused(1),
                run("m", 0, 1, 1, &[], "0.001", 500),
                run("m", 1, 1, 1, &[], "0.001", 500),
            ],
        );
        assert_eq!(figures.models.len(), 1, "only the model that ran is ranked");
        assert_eq!(figures.models[0].model_id, "m");
        assert!(figures.comparison.is_none());
        assert_eq!(
            figures.fields[0].right,
            vec![2],
            "the field map has one column"
        );
        assert_eq!(
            figures.unavailable,
            vec![UnavailableModel {
                model_id: "keeps/data".into(),
                display_name: "Keeps Data".into(),
                reason: "no endpoint of this model meets the privacy policy asked for".into(),
            }]
        );
        let shown = serde_json::to_value(&figures).unwrap();
        assert_eq!(shown["unavailable"][0]["model_id"], "keeps/data");
        let plain = figures_of(
            &expected,
            &[name("m", "M")],
            &[run("m", 0, 1, 1, &[], "0", 1)],
        );
        assert!(serde_json::to_value(&plain)
            .unwrap()
            .get("unavailable")
            .is_none());
    }
}
