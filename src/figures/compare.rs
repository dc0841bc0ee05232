//! Two reports side by side (`/compare`): on the documents they share (the
//! same file with the same expected JSON), every model of either report
//! with its figures computed as a report's are, the earlier report's pick
//! against the best of both in one sentence with its interval, each
//! model's price then and now, and the documents that differ named.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::models::{best_first, compare as compare_pair, model_figures, model_runs, ModelRuns};
use super::wording::{percent, sample_warning};
use super::{diff, Comparison, ModelFigures, ModelName, RunRow};

/// What a model cost per million tokens in and out, and per image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Price {
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
    pub price: Option<Price>,
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
    pub price_then: Option<Price>,
    /// None: no longer offered.
    pub price_now: Option<Price>,
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

/// Which documents the two reports share, by index in each.
struct Matching {
    pairs: Vec<(usize, usize)>,
    only_earlier: Vec<String>,
    only_later: Vec<String>,
    changed: Vec<String>,
}

fn match_documents(earlier: &[Document], later: &[Document]) -> Matching {
    let mut later_by_key: HashMap<&str, usize> = HashMap::new();
    for (i, doc) in later.iter().enumerate() {
        later_by_key.entry(doc.key.as_str()).or_insert(i);
    }
    let mut matching = Matching {
        pairs: Vec::new(),
        only_earlier: Vec::new(),
        only_later: Vec::new(),
        changed: Vec::new(),
    };
    let mut used = vec![false; later.len()];
    for (i, doc) in earlier.iter().enumerate() {
        match later_by_key.get(doc.key.as_str()) {
            Some(&j) if !used[j] => {
                used[j] = true;
                if doc.expected == later[j].expected {
                    matching.pairs.push((i, j));
                } else {
                    matching.changed.push(doc.name.clone());
                }
            }
            _ => matching.only_earlier.push(doc.name.clone()),
        }
    }
    matching.only_later = later
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(doc, _)| doc.name.clone())
        .collect();
    matching
}

/// A model of one report among both: unique across the two.
fn tagged(which: Which, id: &str) -> String {
    format!("{which:?}:{id}")
}

/// `a` and `b` compared, the earlier paid first whatever their order;
/// `now`: the catalog's prices of the models offered today.
pub fn compare(a: Side, b: Side, now: &HashMap<String, Price>) -> ReportComparison {
    let (earlier, later) = if b.paid_at < a.paid_at {
        (b, a)
    } else {
        (a, b)
    };
    let matching = match_documents(&earlier.documents, &later.documents);
    let expected: Vec<&Value> = matching
        .pairs
        .iter()
        .map(|&(i, _)| &earlier.documents[i].expected)
        .collect();
    let fields: Vec<u32> = expected.iter().map(|&v| diff::leaves(v) as u32).collect();
    let documents = expected.len();

    let in_earlier = |id: &str| earlier.models.iter().any(|m| m.id == id);
    let in_later = |id: &str| later.models.iter().any(|m| m.id == id);
    let mut names = Vec::new();
    let mut runs = Vec::new();
    for (which, side) in [(Which::Earlier, &earlier), (Which::Later, &later)] {
        let position: HashMap<usize, usize> = matching
            .pairs
            .iter()
            .enumerate()
            .map(|(shared, &(i, j))| (shared, if which == Which::Earlier { i } else { j }))
            .map(|(shared, own)| (own, shared))
            .collect();
        for model in &side.models {
            let both = in_earlier(&model.id) && in_later(&model.id);
            let suffix = match (which, both) {
                (Which::Earlier, true) => " (earlier)",
                (Which::Later, true) => " (later)",
                (Which::Later, false) => " (new)",
                (Which::Earlier, false) => "",
            };
            names.push((
                which,
                model,
                ModelName {
                    id: tagged(which, &model.id),
                    display_name: format!("{}{suffix}", model.display_name),
                },
            ));
        }
        runs.extend(side.runs.iter().filter_map(|run| {
            let shared = *position.get(&run.image_index)?;
            Some(RunRow {
                model_id: tagged(which, &run.model_id),
                image_index: shared,
                diffs: Vec::new(),
                ..run.clone()
            })
        }));
    }

    let per_model: Vec<ModelRuns> = names
        .iter()
        .map(|(_, _, name)| model_runs(&fields, name, &runs))
        .collect();
    let mut ranked: Vec<(ModelFigures, usize)> = per_model
        .iter()
        .enumerate()
        .map(|(i, runs)| (model_figures(runs, documents), i))
        .collect();
    ranked.sort_by(|(a, _), (b, _)| best_first(a, b));

    // The earlier report's pick, else its best here.
    let pick = earlier
        .pick
        .as_deref()
        .filter(|id| in_earlier(id))
        .map(|id| tagged(Which::Earlier, id))
        .or_else(|| {
            ranked
                .iter()
                .find(|(_, i)| names[*i].0 == Which::Earlier)
                .map(|(f, _)| f.model_id.clone())
        });
    let index_of = |id: &str| names.iter().position(|(_, _, n)| n.id == id);
    let best = ranked.first().map(|(f, i)| (f.clone(), *i));
    let comparison = match (&best, pick.as_deref().and_then(index_of)) {
        (Some((_, b)), Some(p)) if *b != p => {
            Some(compare_pair(&per_model[*b], &per_model[p], documents))
        }
        (Some(_), Some(_)) if ranked.len() >= 2 => Some(compare_pair(
            &per_model[ranked[0].1],
            &per_model[ranked[1].1],
            documents,
        )),
        _ => None,
    };
    let models: Vec<ComparedModel> = ranked
        .into_iter()
        .map(|(figures, i)| {
            let (which, model, name) = &names[i];
            ComparedModel {
                report: *which,
                model_id: model.id.clone(),
                label: name.display_name.clone(),
                new: *which == Which::Later && !in_earlier(&model.id),
                figures,
                price_then: model.price.clone(),
                price_now: now.get(&model.id).cloned(),
            }
        })
        .collect();
    let figures: Vec<ModelFigures> = models.iter().map(|m| m.figures.clone()).collect();
    let verdict = verdict(&models, pick.as_deref(), comparison.as_ref(), documents);
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
        models,
        verdict,
        comparison,
    }
}

fn reference(side: &Side) -> ReportRef {
    ReportRef {
        id: side.id.clone(),
        name: side.name.clone(),
        paid_at: side.paid_at,
    }
}

/// "4.1 points"
fn points(share: f64) -> String {
    format!("{:.1} points", share.abs() * 100.0)
}

/// What `a` costs against `b`, per document: "at a fifth of the cost".
fn cost_against(a: &ModelFigures, b: &ModelFigures) -> Option<String> {
    let (a, b) = (
        a.cost_per_document_usd.to_f64()?,
        b.cost_per_document_usd.to_f64()?,
    );
    if a <= 0.0 || b <= 0.0 {
        return None;
    }
    let ratio = a / b;
    const FRACTIONS: [&str; 9] = [
        "half",
        "a third",
        "a quarter",
        "a fifth",
        "a sixth",
        "a seventh",
        "an eighth",
        "a ninth",
        "a tenth",
    ];
    Some(if (0.95..=1.05).contains(&ratio) {
        "at about the same cost".into()
    } else if ratio < 1.0 {
        let times = 1.0 / ratio;
        let whole = times.round();
        if (2.0..=10.0).contains(&whole) && (times - whole).abs() / whole < 0.1 {
            format!("at {} of the cost", FRACTIONS[whole as usize - 2])
        } else {
            format!("at {:.0}% of the cost", ratio * 100.0)
        }
    } else if (ratio - 2.0).abs() < 0.1 {
        "at twice the cost".into()
    } else {
        format!("at {ratio:.1}× the cost")
    })
}

fn verdict(
    models: &[ComparedModel],
    pick: Option<&str>,
    comparison: Option<&Comparison>,
    documents: usize,
) -> String {
    if documents == 0 {
        return "These two reports share no document with the same expected JSON, so their models cannot be compared."
            .into();
    }
    let figures = |id: &str| {
        models
            .iter()
            .find(|m| m.figures.model_id == id)
            .map(|m| &m.figures)
    };
    let (Some(best), Some(pick)) = (models.first(), pick.and_then(figures)) else {
        return "No model was run on these documents.".into();
    };
    let best = &best.figures;
    let same = format!(
        "on the same {documents} document{}",
        if documents == 1 { "" } else { "s" }
    );
    let Some(c) = comparison else {
        return format!(
            "{} is the only model {same}: {} of fields right.",
            best.display_name,
            percent(best.field_accuracy)
        );
    };
    let cost = |a: &ModelFigures, b: &ModelFigures| {
        cost_against(a, b).map_or(String::new(), |c| format!(", {c}"))
    };
    let interval = format!(
        "the difference could be anywhere from {:+.1} to {:+.1} points",
        c.interval[0] * 100.0,
        c.interval[1] * 100.0
    );
    if c.difference.abs() < 1e-9 {
        let other = if best.model_id == pick.model_id {
            figures(&c.runner_up).unwrap_or(best)
        } else {
            best
        };
        return format!(
            "{} ties with your earlier pick {} {same}: {} of fields right each{}.",
            other.display_name,
            pick.display_name,
            percent(pick.field_accuracy),
            cost(other, pick)
        );
    }
    if best.model_id == pick.model_id {
        let second = figures(&c.runner_up).unwrap_or(best);
        let confirmed = if c.separable {
            String::from("a lead these documents confirm")
        } else {
            format!("a lead these documents cannot confirm ({interval})")
        };
        return format!(
            "Your earlier pick {} still leads {same}, with {} of fields right; the closest, {}, is {} behind, {confirmed}.",
            best.display_name,
            percent(best.field_accuracy),
            second.display_name,
            points(c.difference)
        );
    }
    if c.separable {
        format!(
            "{} beats your earlier pick {} by {} of field accuracy {same}{}.",
            best.display_name,
            pick.display_name,
            points(c.difference),
            cost(best, pick)
        )
    } else {
        format!(
            "{} leads your earlier pick {} by {} of field accuracy {same}{}, a lead these documents cannot confirm ({interval}).",
            best.display_name,
            pick.display_name,
            points(c.difference),
            cost(best, pick)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(key: &str, total: i64) -> Document {
        Document {
            key: key.into(),
            name: format!("{key}.png"),
            expected: json!({"total": total, "vendor": "Acme", "date": "2026-01-02", "number": key}),
        }
    }

    fn run(model: &str, index: usize, matched: u32, cost: &str) -> RunRow {
        RunRow {
            model_id: model.into(),
            image_index: index,
            passed: matched == 4,
            fields_total: 4,
            fields_matched: matched,
            cost_usd: cost.parse().unwrap(),
            latency_ms: 900,
            error: None,
            diffs: Vec::new(),
        }
    }

    fn model(id: &str, name: &str) -> SideModel {
        SideModel {
            id: id.into(),
            display_name: name.into(),
            price: None,
        }
    }

    fn side(
        id: &str,
        day: u32,
        documents: Vec<Document>,
        models: Vec<SideModel>,
        runs: Vec<RunRow>,
    ) -> Side {
        Side {
            id: id.into(),
            name: format!("report {id}"),
            paid_at: format!("2026-{day:02}-01T00:00:00Z").parse().unwrap(),
            documents,
            models,
            runs,
            pick: None,
        }
    }

    /// March: GPT-4o on 12 documents, right on 3 fields of 4 everywhere.
    /// April: the same 12 and one more; Gemini right everywhere at a fifth
    /// of the cost.
    fn march_and_april() -> (Side, Side) {
        let docs: Vec<Document> = (0..12).map(|i| doc(&format!("k{i}"), i)).collect();
        let mut april_docs = docs.clone();
        april_docs.push(doc("k-extra", 99));
        let mut march = side(
            "a",
            3,
            docs,
            vec![model("openai/gpt-4o", "GPT-4o")],
            (0..12)
                .map(|i| run("openai/gpt-4o", i, 3, "0.005"))
                .collect(),
        );
        march.pick = Some("openai/gpt-4o".into());
        let april = side(
            "b",
            4,
            april_docs,
            vec![model("google/gemini-2.5-flash", "Gemini 2.5 Flash")],
            (0..13)
                .map(|i| run("google/gemini-2.5-flash", i, 4, "0.001"))
                .collect(),
        );
        (march, april)
    }

    #[test]
    fn a_new_model_that_beats_the_earlier_pick_is_said_with_its_lead_and_cost() {
        let (march, april) = march_and_april();
        // The order of the arguments does not matter: March is earlier.
        let result = compare(april, march, &HashMap::new());
        assert_eq!(result.earlier.id, "a");
        assert_eq!(result.documents, 12);
        assert_eq!(result.only_later, ["k-extra.png"]);
        assert_eq!(
            result.verdict,
            "Gemini 2.5 Flash (new) beats your earlier pick GPT-4o by 25.0 points of field accuracy on the same 12 documents, at a fifth of the cost."
        );
        assert_eq!(result.models[0].label, "Gemini 2.5 Flash (new)");
        assert!(result.models[0].new);
        assert_eq!(
            result.models[0].figures.documents, 12,
            "the extra document is not counted"
        );
        assert!(result.comparison.unwrap().separable);
    }

    #[test]
    fn a_lead_the_documents_cannot_confirm_is_said_as_such() {
        let (mut march, mut april) = march_and_april();
        march.runs = (0..12)
            .map(|i| run("openai/gpt-4o", i, 4 - u32::from(i == 0), "0.005"))
            .collect();
        april.runs = (0..12)
            .map(|i| run("google/gemini-2.5-flash", i, 4, "0.005"))
            .collect();
        let result = compare(march, april, &HashMap::new());
        assert!(
            result.verdict.starts_with("Gemini 2.5 Flash (new) leads your earlier pick GPT-4o by 2.1 points of field accuracy on the same 12 documents, at about the same cost, a lead these documents cannot confirm (the difference could be anywhere from"),
            "{}",
            result.verdict
        );
    }

    #[test]
    fn a_tie_is_said_as_a_tie_whichever_ranks_first() {
        let (mut march, mut april) = march_and_april();
        march.runs = (0..12)
            .map(|i| run("openai/gpt-4o", i, 4, "0.001"))
            .collect();
        april.runs = (0..12)
            .map(|i| run("google/gemini-2.5-flash", i, 4, "0.002"))
            .collect();
        let result = compare(march, april, &HashMap::new());
        assert_eq!(
            result.verdict,
            "Gemini 2.5 Flash (new) ties with your earlier pick GPT-4o on the same 12 documents: 100% of fields right each, at twice the cost."
        );
    }

    #[test]
    fn changed_documents_are_named_and_a_model_run_twice_is_told_apart() {
        let (march, mut april) = march_and_april();
        april.documents[0].expected = json!({"total": 1000});
        april.models.push(model("openai/gpt-4o", "GPT-4o"));
        april
            .runs
            .extend((0..13).map(|i| run("openai/gpt-4o", i, 3, "0.004")));
        let result = compare(march, april, &HashMap::new());
        assert_eq!(result.changed, ["k0.png"]);
        assert_eq!(result.documents, 11);
        let labels: Vec<&str> = result.models.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Gemini 2.5 Flash (new)",
                "GPT-4o (later)",
                "GPT-4o (earlier)"
            ]
        );
    }

    #[test]
    fn reports_without_a_shared_document_say_so() {
        let (march, mut april) = march_and_april();
        for (i, doc) in april.documents.iter_mut().enumerate() {
            doc.key = format!("other{i}");
        }
        let result = compare(march, april, &HashMap::new());
        assert_eq!(result.documents, 0);
        assert_eq!(result.only_earlier.len(), 12);
        assert!(result
            .verdict
            .starts_with("These two reports share no document"));
    }

    #[test]
    fn price_then_and_now() {
        let (mut march, april) = march_and_april();
        let price = |p: &str| Price {
            prompt_usd_per_mtok: p.parse().unwrap(),
            completion_usd_per_mtok: "10".parse().unwrap(),
            image_usd: Decimal::ZERO,
        };
        march.models[0].price = Some(price("2.5"));
        let now = HashMap::from([("openai/gpt-4o".to_owned(), price("1.25"))]);
        let result = compare(march, april, &now);
        let gpt = result
            .models
            .iter()
            .find(|m| m.model_id == "openai/gpt-4o")
            .unwrap();
        assert_eq!(gpt.price_then, Some(price("2.5")));
        assert_eq!(gpt.price_now, Some(price("1.25")));
        let gemini = result.models.iter().find(|m| m.new).unwrap();
        assert_eq!(
            gemini.price_now, None,
            "not in today's catalog: no longer offered"
        );
    }
}
