//! Two reports side by side (`/compare`): on the documents they share (the
//! same file with the same expected JSON), every model of either report
//! with its figures computed as a report's are, the earlier report's pick
//! against the best of both in one sentence with its interval, each
//! model's price then and now, and the documents that differ named.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::models::{best_first, compare as compare_pair, model_figures, model_runs, ModelRuns};
use super::wording::sample_warning;
use super::{diff, Comparison, ModelFigures, ModelName, RunRow};
use documents::match_documents;
use verdict::verdict;

mod documents;
#[cfg(test)]
mod tests;
mod verdict;

/// A model's listed price as the comparison shows it (then: the report's
/// snapshot; now: the catalog's): per million tokens in and out, and per
/// image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedPrice {
    #[serde(with = "rust_decimal::serde::str")]
    pub prompt_usd_per_mtok: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub completion_usd_per_mtok: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub image_usd: Decimal,
}

/// A document of one report: its file's key, its name, what it should give.
#[derive(Debug, Clone)]
pub struct Document {
    pub key: String,
    pub name: String,
    pub expected: Value,
}

#[derive(Debug, Clone)]
pub struct SideModel {
    pub id: String,
    pub display_name: String,
    /// The price the report was run at.
    pub price: Option<ListedPrice>,
}

/// One report, as its readers see it.
#[derive(Debug, Clone)]
pub struct Side {
    pub id: String,
    pub name: String,
    pub paid_at: DateTime<Utc>,
    pub documents: Vec<Document>,
    pub models: Vec<SideModel>,
    /// Its runs, `image_index` its own documents' indexes.
    pub runs: Vec<RunRow>,
    /// The model the report ranked first, when it has figures.
    pub pick: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Which {
    Earlier,
    Later,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRef {
    pub id: String,
    pub name: String,
    pub paid_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparedModel {
    pub report: Which,
    pub model_id: String,
    /// As the page names it: "GPT-4o", "Gemini 2.5 Flash (new)", or with
    /// "(earlier)" / "(later)" when both reports ran it.
    pub label: String,
    /// Run only by the later report.
    pub new: bool,
    /// On the shared documents; `model_id` and `display_name` as labelled.
    pub figures: ModelFigures,
    pub price_then: Option<ListedPrice>,
    /// None: no longer offered.
    pub price_now: Option<ListedPrice>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportComparison {
    pub earlier: ReportRef,
    pub later: ReportRef,
    /// Documents both reports ran with the same expected JSON.
    pub documents: usize,
    pub only_earlier: Vec<String>,
    pub only_later: Vec<String>,
    /// The same file, with different expected JSON: not compared.
    pub changed: Vec<String>,
    /// Best first.
    pub models: Vec<ComparedModel>,
    pub verdict: String,
    /// The best against the earlier pick (or, when the pick is the best,
    /// against the runner-up), on the shared documents.
    pub comparison: Option<Comparison>,
    pub sample_warning: Option<String>,
}

/// A model of one report among both: unique across the two.
fn tagged(which: Which, id: &str) -> String {
    format!("{which:?}:{id}")
}

/// `a` and `b` compared, the earlier paid first whatever their order;
/// `now`: the catalog's prices of the models offered today.
pub fn compare(a: Side, b: Side, now: &HashMap<String, ListedPrice>) -> ReportComparison {
    let (earlier, later) = if b.paid_at < a.paid_at {
        (b, a)
    } else {
        (a, b)
    };
    let matching = match_documents(&earlier.documents, &later.documents);
    let fields: Vec<u32> = matching
        .pairs
        .iter()
        .map(|&(i, _)| diff::leaves(&earlier.documents[i].expected) as u32)
        .collect();
    let documents = fields.len();
    let pool = Pool::of(&earlier, &later, &matching.pairs);
    // Each model is compared on its first answers, as each report ranks
    // it; how alike its later answers were is on its own report's page.
    let first = super::first_answers(&pool.runs);
    let per_model: Vec<ModelRuns> = pool
        .entries
        .iter()
        .map(|entry| model_runs(&fields, &entry.name, &first))
        .collect();
    let mut ranked: Vec<(ModelFigures, usize)> = per_model
        .iter()
        .enumerate()
        .map(|(i, runs)| (model_figures(runs, documents), i))
        .collect();
    ranked.sort_by(|(a, _), (b, _)| best_first(a, b));
    let pick = pool.earlier_pick(earlier.pick.as_deref(), &ranked);
    let comparison = lead(&pool, &per_model, &ranked, pick.as_deref(), documents);
    let models = pool.compared(ranked, now);
    let figures: Vec<ModelFigures> = models.iter().map(|m| m.figures.clone()).collect();
    ReportComparison {
        earlier: reference(&earlier),
        later: reference(&later),
        documents,
        only_earlier: matching.only_earlier,
        only_later: matching.only_later,
        changed: matching.changed,
        sample_warning: (documents > 0)
            .then(|| sample_warning(documents, comparison.as_ref(), &figures))
            .flatten(),
        verdict: verdict(&models, pick.as_deref(), comparison.as_ref(), documents),
        models,
        comparison,
    }
}

/// One model of one report, among the models of both.
struct Entry<'a> {
    which: Which,
    model: &'a SideModel,
    /// Tagged with its report, labelled as the page names it.
    name: ModelName,
    /// Whether the other report ran it too.
    in_both: bool,
}

/// The models of both reports and their runs of the shared documents,
/// each run's model tagged with its report and its document renumbered
/// to its place among the shared ones.
struct Pool<'a> {
    entries: Vec<Entry<'a>>,
    runs: Vec<RunRow>,
}

impl<'a> Pool<'a> {
    fn of(earlier: &'a Side, later: &'a Side, pairs: &[(usize, usize)]) -> Self {
        let mut pool = Pool {
            entries: Vec::new(),
            runs: Vec::new(),
        };
        for (which, side, other) in [
            (Which::Earlier, earlier, later),
            (Which::Later, later, earlier),
        ] {
            for model in &side.models {
                let in_both = other.models.iter().any(|m| m.id == model.id);
                let suffix = match (which, in_both) {
                    (Which::Earlier, true) => " (earlier)",
                    (Which::Later, true) => " (later)",
                    (Which::Later, false) => " (new)",
                    (Which::Earlier, false) => "",
                };
                pool.entries.push(Entry {
                    which,
                    model,
                    name: ModelName {
                        id: tagged(which, &model.id),
                        display_name: format!("{}{suffix}", model.display_name),
                    },
                    in_both,
                });
            }
            let shared_at: HashMap<usize, usize> = pairs
                .iter()
                .enumerate()
                .map(|(shared, &(i, j))| (if which == Which::Earlier { i } else { j }, shared))
                .collect();
            pool.runs.extend(side.runs.iter().filter_map(|run| {
                Some(RunRow {
                    model_id: tagged(which, &run.model_id),
                    image_index: *shared_at.get(&run.image_index)?,
                    diffs: Vec::new(),
                    ..run.clone()
                })
            }));
        }
        pool
    }

    fn index_of(&self, tagged_id: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.name.id == tagged_id)
    }

    /// The earlier report's pick (tagged), else its best here.
    fn earlier_pick(&self, pick: Option<&str>, ranked: &[(ModelFigures, usize)]) -> Option<String> {
        pick.map(|id| tagged(Which::Earlier, id))
            .filter(|id| self.index_of(id).is_some())
            .or_else(|| {
                ranked
                    .iter()
                    .find(|(_, i)| self.entries[*i].which == Which::Earlier)
                    .map(|(f, _)| f.model_id.clone())
            })
    }

    /// The ranked models as the page shows them.
    fn compared(
        &self,
        ranked: Vec<(ModelFigures, usize)>,
        now: &HashMap<String, ListedPrice>,
    ) -> Vec<ComparedModel> {
        ranked
            .into_iter()
            .map(|(figures, i)| {
                let entry = &self.entries[i];
                ComparedModel {
                    report: entry.which,
                    model_id: entry.model.id.clone(),
                    label: entry.name.display_name.clone(),
                    new: entry.which == Which::Later && !entry.in_both,
                    figures,
                    price_then: entry.model.price.clone(),
                    price_now: now.get(&entry.model.id).cloned(),
                }
            })
            .collect()
    }
}

/// The best against the earlier pick, or, when the pick is the best,
/// against the runner-up; none with fewer than two models.
fn lead(
    pool: &Pool,
    per_model: &[ModelRuns],
    ranked: &[(ModelFigures, usize)],
    pick: Option<&str>,
    documents: usize,
) -> Option<Comparison> {
    let best = ranked.first()?.1;
    let pick = pool.index_of(pick?)?;
    if best != pick {
        Some(compare_pair(&per_model[best], &per_model[pick], documents))
    } else {
        let second = ranked.get(1)?.1;
        Some(compare_pair(
            &per_model[best],
            &per_model[second],
            documents,
        ))
    }
}

fn reference(side: &Side) -> ReportRef {
    ReportRef {
        id: side.id.clone(),
        name: side.name.clone(),
        paid_at: side.paid_at,
    }
}
