//! What a finished report tells its buyer, computed once when it finishes
//! and stored with it (`reports.figures`, read through `read_report` under
//! the report's own rules): each model's pass rate with its Wilson
//! interval, field accuracy with a seeded bootstrap interval over
//! documents, cost per document and per 1,000, latency with its n; which
//! model to pick for each priority, in one sentence, saying ties and
//! differences the documents cannot confirm as such; and every field's
//! accuracy per model, worst first.

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

mod doubts;
mod fields;
mod models;
mod repeats;
mod stats;
mod wording;

pub mod compare;
pub mod diff;

use diff::{Field, StoredDiff};
use doubts::label_doubts;
pub use doubts::LabelDoubt;
use fields::field_rows;
use models::{best_first, compare, model_figures, model_runs, pareto, ModelRuns};
pub use repeats::Repeats;
pub use stats::wilson;
use wording::{accuracy_verdict, other_verdict, sample_warning};

/// What the figures hold: 3 adds each model's cost per correct document
/// and failures by kind, the models on the accuracy-cost frontier, and
/// label doubts.
/// The page renders older versions as they were.
pub const FIGURES_VERSION: u32 = 3;
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
    /// Which of the call's answers this is (0: the first; a report that
    /// asks each call k times has 0 to k - 1).
    pub repeat: u32,
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
    /// What each document read entirely right cost: all the model's calls
    /// over the documents it passed. None when it passed none, with the
    /// reason in `cost_per_correct_document_note`.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub cost_per_correct_document: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_per_correct_document_note: Option<String>,
    /// Why the documents it did not pass were not read right.
    pub failures: Failures,
    /// How its answers to each document agree, in a report that asked
    /// each call more than once; with the fields whose reading changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unstable_fields: Vec<String>,
}

/// The documents a model did not pass, by why: its answer was not a JSON
/// object that could be scored (`format`); it was, with wrong or missing
/// values (`extraction`); the provider gave no answer, an error or a
/// timeout (`provider`); no endpoint met the report's data policy
/// (`unavailable`).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Failures {
    pub format: usize,
    pub extraction: usize,
    pub provider: usize,
    pub unavailable: usize,
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
    /// The fields a difference costing this one is at: this field and
    /// every value holding it (a missing row costs its fields).
    pub costed_by: Vec<Field>,
    /// Per model (in the report's order): documents with this field all
    /// right, of documents that have it.
    pub right: Vec<usize>,
    pub of: usize,
}

/// How the ranked models read one document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DocumentResult {
    /// Models that read it entirely right,
    pub right: usize,
    /// of the models that read it.
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
    /// Per document, by index.
    pub document_results: Vec<DocumentResult>,
    /// The models no other beats on both field accuracy and cost per
    /// document (the best first).
    pub pareto: Vec<String>,
    /// Fields where every model that answered, two at least, read the same
    /// value and not the expected one: likely a mistake in the expected
    /// JSON.
    pub label_doubts: Vec<LabelDoubt>,
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
pub fn compute(
    expected: &[&Value],
    keys: &[String],
    models: &[ModelName],
    runs: &[RunRow],
) -> Figures {
    let (ranked, unavailable) = available(models, runs);
    let first = first_answers(runs);
    let mut figures = Figures {
        unavailable,
        ..rank(expected, keys, &ranked, &first)
    };
    add_repeats(&mut figures, expected, runs);
    figures
}

/// The runs the ranking reads: each call's first answer. Only a report
/// that asked each call more than once has others (then they are left out
/// of a copy).
fn first_answers(runs: &[RunRow]) -> Cow<'_, [RunRow]> {
    if runs.iter().any(|r| r.repeat > 0) {
        Cow::Owned(runs.iter().filter(|r| r.repeat == 0).cloned().collect())
    } else {
        Cow::Borrowed(runs)
    }
}

/// Each model's repeats (a report that asked each call more than once),
/// and what each verdict says when the model it picks answers otherwise.
fn add_repeats(figures: &mut Figures, expected: &[&Value], runs: &[RunRow]) {
    for model in &mut figures.models {
        let own: Vec<&RunRow> = runs
            .iter()
            .filter(|r| r.model_id == model.model_id)
            .collect();
        if let Some((repeats, unstable)) = repeats::repeats_of(expected, &own) {
            model.repeats = Some(repeats);
            model.unstable_fields = unstable;
        }
    }
    // Each verdict says so when the model it picks answers otherwise twice.
    let said = |pick: Option<&ModelFigures>| {
        pick.and_then(|m| {
            let repeats = m.repeats.as_ref()?;
            repeats::instability_sentence(&m.display_name, repeats)
        })
    };
    let accuracy = said(figures.models.first());
    let cost = said(wording::other_pick(&figures.models, false));
    let speed = said(wording::other_pick(&figures.models, true));
    let verdicts = &mut figures.verdicts;
    for (verdict, sentence) in [
        (&mut verdicts.accuracy, accuracy),
        (&mut verdicts.cost, cost),
        (&mut verdicts.speed, speed),
    ] {
        if let Some(sentence) = sentence {
            verdict.push_str(&sentence);
        }
    }
}

/// Per document, how many of the ranked models read it entirely right.
fn document_results(documents: usize, ranked: &[&ModelRuns]) -> Vec<DocumentResult> {
    (0..documents)
        .map(|document| {
            let read = ranked
                .iter()
                .filter_map(|model| model.runs.iter().find(|r| r.image_index == document));
            let (right, of) = read.fold((0, 0), |(right, of), run| {
                (right + usize::from(run.passed), of + 1)
            });
            DocumentResult { right, of }
        })
        .collect()
}

fn rank(expected: &[&Value], keys: &[String], models: &[ModelName], runs: &[RunRow]) -> Figures {
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
    let document_results = document_results(documents, &ranked);
    let label_doubts = label_doubts(keys, &ranked);
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
        version: FIGURES_VERSION,
        pareto: pareto(&models),
        label_doubts,
        documents,
        min_calls_for_p95: MIN_CALLS_FOR_P95,
        verdicts,
        sample_warning: sample_warning(documents, comparison.as_ref(), &models),
        comparison,
        fields,
        document_results,
        models,
        unavailable: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
