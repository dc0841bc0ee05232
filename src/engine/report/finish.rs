//! How a report ends: complete (cut short, and why, when a limit stopped
//! it) or failed when no call got an answer; its figures computed once, from
//! every run it holds, and stored as it finishes.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::run_loop::Ending;
use super::snapshot::Snapshot;
use super::{RunError, Runner};
use crate::config::RunLimits;
use crate::engine::store::{Lease, Outcome};
use crate::figures::{self, Figures, ModelName, RunRow};

/// A report's runs, counted when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tally {
    /// Calls the provider answered (whether or not the answer was usable).
    pub answered: usize,
    /// Calls made.
    pub done: usize,
    /// The error most calls ended with, if any did.
    pub common_error: Option<String>,
}

impl Tally {
    pub(super) fn of(runs: &[RunRow]) -> Self {
        let mut errors: HashMap<&str, usize> = HashMap::new();
        for error in runs.iter().filter_map(|r| r.error.as_deref()) {
            *errors.entry(error).or_default() += 1;
        }
        let common_error = errors
            .into_iter()
            .max_by(|(a, m), (b, n)| m.cmp(n).then(b.cmp(a)))
            .map(|(error, _)| error.to_owned());
        Self {
            answered: runs.iter().filter(|r| !r.failed()).count(),
            done: runs.len(),
            common_error,
        }
    }
}

/// How a report whose calls ended for `ending` (not handed back, not lost)
/// ends, from its runs. It fails (and is refunded) only when no call got an
/// answer from the provider: answers that are not JSON, or wrong, or empty,
/// are results.
pub(super) fn outcome(
    tally: &Tally,
    ending: Ending,
    limits: &RunLimits,
    soft_ceiling_usd: Decimal,
    planned: i32,
) -> Outcome {
    let done = tally.done;
    if tally.answered == 0 {
        return Outcome::Failed {
            reason: format!(
                "None of the {done} calls made returned an answer{}. You will be refunded.",
                tally
                    .common_error
                    .as_ref()
                    .map(|e| format!("; the most common problem: {e}"))
                    .unwrap_or_default()
            ),
        };
    }
    let cut_short = match ending {
        Ending::Deadline => Some(format!(
            "Stopped at the {} s time limit: {done} of {planned} runs were made.",
            limits.max_duration.as_secs()
        )),
        Ending::Budget => Some(format!(
            "Stopped at the ${soft_ceiling_usd:.2} spending limit: {done} of {planned} runs were made."
        )),
        Ending::AllDone | Ending::HandBack | Ending::LeaseLost => None,
    };
    Outcome::Complete { cut_short }
}

/// A report's figures from its snapshot and every run it holds, computed
/// off the async threads; none (logged) if the computation failed.
pub(super) async fn compute_figures(snapshot: &Snapshot, runs: Vec<RunRow>) -> Option<Figures> {
    let expected: Vec<_> = snapshot
        .documents
        .iter()
        .map(|d| d.expected.clone())
        .collect();
    let models: Vec<ModelName> = snapshot
        .models
        .iter()
        .map(|m| ModelName {
            id: m.id.clone(),
            display_name: m.display_name.clone(),
        })
        .collect();
    let keys: Vec<String> = snapshot.documents.iter().map(|d| d.key()).collect();
    let computed = tokio::task::spawn_blocking(move || {
        let expected: Vec<_> = expected.iter().map(|e| &**e).collect();
        figures::compute(&expected, &keys, &models, &runs)
    })
    .await;
    computed
        .inspect_err(|error| tracing::error!(%error, "the report's figures could not be computed"))
        .ok()
}

/// Ends the report with `outcome`, storing its figures with it when there
/// are any. A report is never held back for its figures: if they could not
/// be computed it finishes without them (the engine tries again when it
/// next starts: `refigure`).
pub(super) async fn finish(
    runner: &Runner,
    lease: &Lease,
    outcome: Outcome,
    figures: Option<Figures>,
) -> Result<(), RunError> {
    runner
        .store
        .finish(lease, &outcome, figures.as_ref())
        .await?;
    tracing::info!(?outcome, "report finished");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(answered: usize, done: usize) -> Tally {
        Tally {
            answered,
            done,
            common_error: Some("the provider failed (HTTP 500)".into()),
        }
    }

    fn six_fifty() -> Decimal {
        "6.50".parse().unwrap()
    }

    #[test]
    fn a_report_with_no_answer_fails_with_the_commonest_problem() {
        let outcome = outcome(
            &tally(0, 6),
            Ending::AllDone,
            &RunLimits::default(),
            six_fifty(),
            6,
        );
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: "None of the 6 calls made returned an answer; the most common problem: \
                         the provider failed (HTTP 500). You will be refunded."
                    .into()
            }
        );
    }

    #[test]
    fn a_report_stopped_by_a_limit_completes_and_says_which() {
        let limits = RunLimits::default();
        assert_eq!(
            outcome(&tally(4, 6), Ending::AllDone, &limits, six_fifty(), 6),
            Outcome::Complete { cut_short: None }
        );
        assert_eq!(
            outcome(&tally(4, 4), Ending::Budget, &limits, six_fifty(), 6),
            Outcome::Complete {
                cut_short: Some(
                    "Stopped at the $6.50 spending limit: 4 of 6 runs were made.".into()
                )
            }
        );
        assert_eq!(
            outcome(&tally(4, 4), Ending::Deadline, &limits, six_fifty(), 6),
            Outcome::Complete {
                cut_short: Some("Stopped at the 750 s time limit: 4 of 6 runs were made.".into())
            }
        );
    }
}
