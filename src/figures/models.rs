//! Each model's figures on the report's documents, and how the best two
//! differ: pass rate with its Wilson interval, field accuracy with a
//! bootstrap interval over documents, exact costs per document and per
//! 1,000, latency with its n.

use rust_decimal::Decimal;

use super::diff::DiffKind;
use super::stats::{accuracy_of, bootstrap, latency_percentile, wilson, Z95};
use super::{Comparison, Failures, ModelFigures, ModelName, RunRow, MIN_CALLS_FOR_P95};

pub(super) struct ModelRuns<'a> {
    pub name: &'a ModelName,
    /// (matched, total) per document index; documents without a run
    /// count as nothing right.
    pub per_document: Vec<(u32, u32)>,
    pub runs: Vec<&'a RunRow>,
}

pub(super) fn model_figures(model: &ModelRuns, documents: usize) -> ModelFigures {
    let passed = model.runs.iter().filter(|r| r.passed).count();
    let cost: Decimal = model.runs.iter().map(|r| r.cost_usd).sum();
    let mut latencies: Vec<u32> = model
        .runs
        .iter()
        .filter(|r| !r.failed())
        .map(|r| r.latency_ms)
        .collect();
    latencies.sort_unstable();
    let all: Vec<usize> = (0..documents).collect();
    let per_document = cost / Decimal::from(model.runs.len().max(1));
    ModelFigures {
        model_id: model.name.id.clone(),
        display_name: model.name.display_name.clone(),
        documents,
        passed,
        pass_rate: if documents == 0 {
            0.0
        } else {
            passed as f64 / documents as f64
        },
        pass_interval: wilson(passed, documents),
        field_accuracy: accuracy_of(&model.per_document, &all),
        field_interval: bootstrap(documents, |sample| accuracy_of(&model.per_document, sample)),
        cost_usd: cost,
        cost_per_document_usd: per_document,
        cost_per_1000_usd: per_document * Decimal::ONE_THOUSAND,
        latency_n: latencies.len(),
        latency_p50_ms: latency_percentile(&latencies, 0.5),
        latency_p95_ms: (latencies.len() >= MIN_CALLS_FOR_P95)
            .then(|| latency_percentile(&latencies, 0.95))
            .flatten(),
        cost_per_correct_document: (passed > 0).then(|| (cost / Decimal::from(passed)).normalize()),
        cost_per_correct_document_note: (passed == 0)
            .then(|| "no document was read entirely right, so none has a price".to_owned()),
        failures: failures(&model.runs),
        repeats: None,
        unstable_fields: Vec::new(),
    }
}

/// The runs that did not pass, by why (see [`Failures`]).
fn failures(runs: &[&RunRow]) -> Failures {
    let mut failures = Failures::default();
    for run in runs.iter().filter(|r| !r.passed) {
        let kind = if run.unavailable {
            &mut failures.unavailable
        } else if run.failed() {
            &mut failures.provider
        } else if run.diffs.iter().any(|d| d.kind == DiffKind::Unreadable) {
            &mut failures.format
        } else {
            &mut failures.extraction
        };
        *kind += 1;
    }
    failures
}

/// The models (ranked best first) that no other model beats on both field
/// accuracy and cost per document: at least as accurate and as cheap, and
/// better on one.
pub(super) fn pareto(models: &[ModelFigures]) -> Vec<String> {
    let beats = |a: &ModelFigures, b: &ModelFigures| {
        a.field_accuracy >= b.field_accuracy
            && a.cost_per_document_usd <= b.cost_per_document_usd
            && (a.field_accuracy > b.field_accuracy
                || a.cost_per_document_usd < b.cost_per_document_usd)
    };
    models
        .iter()
        .filter(|m| !models.iter().any(|other| beats(other, m)))
        .map(|m| m.model_id.clone())
        .collect()
}

/// How the best and the runner-up differ, on the same documents.
pub(super) fn compare(best: &ModelRuns, second: &ModelRuns, documents: usize) -> Comparison {
    let all: Vec<usize> = (0..documents).collect();
    let difference =
        accuracy_of(&best.per_document, &all) - accuracy_of(&second.per_document, &all);
    let interval = bootstrap(documents, |sample| {
        accuracy_of(&best.per_document, sample) - accuracy_of(&second.per_document, sample)
    });
    let separable = interval[0] > 0.0 || interval[1] < 0.0;
    // Per-document differences: their spread says how many documents a
    // difference this size needs to stand out (normal approximation).
    let rate = |(m, t): (u32, u32)| {
        if t == 0 {
            0.0
        } else {
            f64::from(m) / f64::from(t)
        }
    };
    let diffs: Vec<f64> = (0..documents)
        .map(|d| rate(best.per_document[d]) - rate(second.per_document[d]))
        .collect();
    let mean = diffs.iter().sum::<f64>() / documents.max(1) as f64;
    let variance =
        diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (documents.max(2) - 1) as f64;
    // An exact tie has no size to detect: nothing to estimate.
    let documents_needed = (!separable && difference.abs() > 1e-9 && variance > 0.0).then(|| {
        ((Z95 * variance.sqrt() / difference.abs()).powi(2).ceil() as usize).max(documents + 1)
    });
    Comparison {
        best: best.name.id.clone(),
        runner_up: second.name.id.clone(),
        difference,
        interval,
        separable,
        documents_needed,
    }
}

/// One model's runs, and its fields right per document (a document it has
/// no run for counts as nothing right of all its fields).
pub(super) fn model_runs<'a>(
    fields: &[u32],
    name: &'a ModelName,
    runs: &'a [RunRow],
) -> ModelRuns<'a> {
    let runs: Vec<&RunRow> = runs.iter().filter(|r| r.model_id == name.id).collect();
    let mut per_document: Vec<(u32, u32)> = fields.iter().map(|&total| (0, total)).collect();
    for run in &runs {
        if let Some(slot) = per_document.get_mut(run.image_index) {
            *slot = (run.fields_matched, run.fields_total.max(slot.1));
        }
    }
    ModelRuns {
        name,
        per_document,
        runs,
    }
}

/// Accuracy, then pass rate, then cost, then speed.
pub(super) fn best_first(a: &ModelFigures, b: &ModelFigures) -> std::cmp::Ordering {
    b.field_accuracy
        .total_cmp(&a.field_accuracy)
        .then(b.pass_rate.total_cmp(&a.pass_rate))
        .then(a.cost_per_document_usd.cmp(&b.cost_per_document_usd))
        .then(
            a.latency_p50_ms
                .unwrap_or(u32::MAX)
                .cmp(&b.latency_p50_ms.unwrap_or(u32::MAX)),
        )
}
