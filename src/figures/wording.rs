//! The report's sentences: the verdict for each priority, ties and
//! unconfirmed leads said as such, amounts with the digits that matter.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{Comparison, ModelFigures, FEW_DOCUMENTS};
use crate::money::dollars;

pub(super) fn percent(share: f64) -> String {
    let value = share * 100.0;
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}

/// "25× cheaper" or "20% cheaper" (`a` the smaller of two positive values).
fn how_much_less(a: Decimal, b: Decimal, word: &str) -> Option<String> {
    let (a, b) = (a.to_f64()?, b.to_f64()?);
    if a <= 0.0 || b <= a * 1.05 {
        return None;
    }
    let ratio = b / a;
    Some(if ratio >= 2.0 {
        let digits = if ratio < 10.0 { 1 } else { 0 };
        format!("{ratio:.digits$}× {word}")
    } else {
        format!("{:.0}% {word}", (1.0 - a / b) * 100.0)
    })
}

fn cost_and_speed(a: &ModelFigures, b: &ModelFigures) -> Vec<String> {
    let mut notes = Vec::new();
    let (cheap, dear) = if a.cost_per_document_usd <= b.cost_per_document_usd {
        (a, b)
    } else {
        (b, a)
    };
    let cheaper = how_much_less(
        cheap.cost_per_document_usd,
        dear.cost_per_document_usd,
        "cheaper",
    )
    .map(|less| (cheap, less));
    let faster = match (a.latency_p50_ms, b.latency_p50_ms) {
        (Some(ta), Some(tb)) => {
            let (fast, t_fast, t_slow) = if ta <= tb { (a, ta, tb) } else { (b, tb, ta) };
            (f64::from(t_slow) > f64::from(t_fast) * 1.05).then(|| {
                let share = (1.0 - f64::from(t_fast) / f64::from(t_slow)) * 100.0;
                (fast, format!("{share:.0}% faster"))
            })
        }
        _ => None,
    };
    // Each model named once: "X is 31× cheaper and 14% faster".
    match (cheaper, faster) {
        (Some((c, less)), Some((f, quicker))) if c.model_id == f.model_id => {
            notes.push(format!("{} is {less} and {quicker}", c.display_name));
        }
        (cheaper, faster) => {
            if let Some((c, less)) = cheaper {
                notes.push(format!("{} is {less}", c.display_name));
            }
            if let Some((f, quicker)) = faster {
                notes.push(format!("{} {quicker}", f.display_name));
            }
        }
    }
    notes
}

/// "96.3% of fields right (90.0%–100%)": the figure with its interval.
fn fields_right(model: &ModelFigures) -> String {
    format!(
        "{} of fields right ({}–{})",
        percent(model.field_accuracy),
        percent(model.field_interval[0]),
        percent(model.field_interval[1])
    )
}

/// The verdict when accuracy comes first.
pub(super) fn accuracy_verdict(
    models: &[ModelFigures],
    comparison: Option<&Comparison>,
    documents: usize,
) -> String {
    let best = &models[0];
    let Some((second, comparison)) = models.get(1).zip(comparison) else {
        return format!(
            "Only {} was compared: {}, {} of {} documents entirely right, {} per 1,000 documents.",
            best.display_name,
            fields_right(best),
            best.passed,
            documents,
            dollars(best.cost_per_1000_usd)
        );
    };
    let notes = cost_and_speed(best, second);
    let tail = if notes.is_empty() {
        String::new()
    } else {
        format!("; {}", notes.join(", "))
    };
    if best.field_accuracy == second.field_accuracy && best.passed == second.passed {
        format!(
            "{} and {} are tied on your documents ({} of fields each){tail}.",
            best.display_name,
            second.display_name,
            percent(best.field_accuracy)
        )
    } else if !comparison.separable {
        format!(
            "{} leads with {} of fields right against {}'s {}, a difference your {} documents cannot confirm{tail}.",
            best.display_name,
            percent(best.field_accuracy),
            second.display_name,
            percent(second.field_accuracy),
            documents
        )
    } else {
        format!(
            "Pick {}: {}, ahead of {} ({}) on your documents, at {} per 1,000 documents.",
            best.display_name,
            fields_right(best),
            second.display_name,
            percent(second.field_accuracy),
            dollars(best.cost_per_1000_usd)
        )
    }
}

/// The model the verdict picks when cost or speed comes first: the leader
/// on that, the more accurate of equals; none without models.
pub(super) fn other_pick(models: &[ModelFigures], by_speed: bool) -> Option<&ModelFigures> {
    models.iter().min_by(|a, b| {
        let first = if by_speed {
            let ms = |m: &ModelFigures| m.latency_p50_ms.unwrap_or(u32::MAX);
            ms(a).cmp(&ms(b))
        } else {
            a.cost_per_document_usd.cmp(&b.cost_per_document_usd)
        };
        first.then(b.field_accuracy.total_cmp(&a.field_accuracy))
    })
}

/// The verdict when cost or speed comes first: the leader on that, and
/// what it gives up against the most accurate.
pub(super) fn other_verdict(models: &[ModelFigures], by_speed: bool) -> String {
    let Some(pick) = other_pick(models, by_speed) else {
        return String::new();
    };
    let most_accurate = &models[0];
    let what = if by_speed {
        match pick.latency_p50_ms {
            Some(ms) => format!("a median of {ms} ms a document"),
            None => "no answered call".into(),
        }
    } else {
        format!("{} per 1,000 documents", dollars(pick.cost_per_1000_usd))
    };
    let lead = format!(
        "For {}, pick {}: {what}, {} of fields right",
        if by_speed { "speed" } else { "the lowest cost" },
        pick.display_name,
        percent(pick.field_accuracy)
    );
    if pick.model_id == most_accurate.model_id {
        format!("{lead}, also the most accurate.")
    } else {
        format!(
            "{lead} (the most accurate, {}, gets {}).",
            most_accurate.display_name,
            percent(most_accurate.field_accuracy)
        )
    }
}

pub(super) fn sample_warning(
    documents: usize,
    comparison: Option<&Comparison>,
    models: &[ModelFigures],
) -> Option<String> {
    let names = |id: &str| {
        models
            .iter()
            .find(|m| m.model_id == id)
            .map_or(id.to_owned(), |m| m.display_name.clone())
    };
    let mut parts = Vec::new();
    if documents < FEW_DOCUMENTS {
        parts.push(format!(
            "With {documents} document{}, these figures are rough: one document moves a pass rate by {} points.",
            if documents == 1 { "" } else { "s" },
            (100.0 / documents.max(1) as f64).round()
        ));
    }
    if let Some(c) = comparison.filter(|c| !c.separable) {
        if let Some(needed) = c.documents_needed {
            parts.push(format!(
                "About {needed} documents like these would tell {} and {} apart.",
                names(&c.best),
                names(&c.runner_up)
            ));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}
