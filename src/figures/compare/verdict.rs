//! The comparison's one sentence: the earlier report's pick against the
//! best of both, on the documents they share, with the interval when the
//! documents cannot confirm a lead, and what the better one costs.

use rust_decimal::prelude::ToPrimitive;

use super::ComparedModel;
use crate::figures::wording::percent;
use crate::figures::{Comparison, ModelFigures};

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

pub(super) fn verdict(
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
    let runner_up = figures(&c.runner_up).unwrap_or(best);
    let lead = Lead {
        best,
        pick,
        runner_up,
        comparison: c,
        same,
    };
    if c.difference.abs() < 1e-9 {
        lead.tie()
    } else if best.model_id == pick.model_id {
        lead.pick_still_leads()
    } else {
        lead.pick_beaten()
    }
}

/// The best of both, the earlier pick, and what the documents say of the
/// difference between them (or between the pick and the runner-up, when
/// the pick is the best).
struct Lead<'a> {
    best: &'a ModelFigures,
    pick: &'a ModelFigures,
    runner_up: &'a ModelFigures,
    comparison: &'a Comparison,
    /// "on the same 12 documents"
    same: String,
}

impl Lead<'_> {
    fn interval(&self) -> String {
        format!(
            "the difference could be anywhere from {:+.1} to {:+.1} points",
            self.comparison.interval[0] * 100.0,
            self.comparison.interval[1] * 100.0
        )
    }

    fn tie(&self) -> String {
        let other = if self.best.model_id == self.pick.model_id {
            self.runner_up
        } else {
            self.best
        };
        format!(
            "{} ties with your earlier pick {} {}: {} of fields right each{}.",
            other.display_name,
            self.pick.display_name,
            self.same,
            percent(self.pick.field_accuracy),
            cost_clause(other, self.pick)
        )
    }

    fn pick_still_leads(&self) -> String {
        let confirmed = if self.comparison.separable {
            String::from("a lead these documents confirm")
        } else {
            format!(
                "a lead these documents cannot confirm ({})",
                self.interval()
            )
        };
        format!(
            "Your earlier pick {} still leads {}, with {} of fields right; the closest, {}, is {} behind, {confirmed}.",
            self.best.display_name,
            self.same,
            percent(self.best.field_accuracy),
            self.runner_up.display_name,
            points(self.comparison.difference)
        )
    }

    fn pick_beaten(&self) -> String {
        let (best, pick, same) = (self.best, self.pick, &self.same);
        let by = points(self.comparison.difference);
        let cost = cost_clause(best, pick);
        if self.comparison.separable {
            format!(
                "{} beats your earlier pick {} by {by} of field accuracy {same}{cost}.",
                best.display_name, pick.display_name
            )
        } else {
            format!(
                "{} leads your earlier pick {} by {by} of field accuracy {same}{cost}, a lead these documents cannot confirm ({}).",
                best.display_name,
                pick.display_name,
                self.interval()
            )
        }
    }
}

/// ", at a fifth of the cost", or nothing when the costs cannot be told.
fn cost_clause(a: &ModelFigures, b: &ModelFigures) -> String {
    cost_against(a, b).map_or(String::new(), |c| format!(", {c}"))
}
