//! Which call of a report to start next, within the concurrency limits:
//! the model with the most work left among those with a free slot, so every
//! model keeps its slots busy to the end and no slot idles while work
//! remains. Plain bookkeeping, no I/O.
//!
//! A model that answers 429 slows down (AIMD): its slots are halved (at
//! most once per `COOL_DOWN`, down to one) and it starts nothing before its
//! `Retry-After` has passed; each call it answers after that grows its
//! slots back by a fraction, about one slot per two rounds, up to the
//! limit. A rate-limited model so waits instead of spending the report's
//! time on retries that are refused.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A model's slots are halved at most once in this long: the 429s of calls
/// already in flight say nothing new.
const COOL_DOWN: Duration = Duration::from_secs(1);
/// How long a model waits after a 429 that says nothing of when to retry.
const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// One call still to make: a model reading a document, for the `repeat`th
/// time (0 unless the report asks each call more than once).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cell {
    pub model: String,
    pub image_index: usize,
    pub repeat: usize,
}

impl Cell {
    /// Its document's place and its repeat, as the database numbers them.
    pub fn numbers(&self) -> (i32, i32) {
        // Both are bounded by the draft's limits (50 documents, 3 repeats).
        (self.image_index as i32, self.repeat as i32)
    }
}

pub struct Schedule {
    /// Cells still to start, per model, images in order (a document's
    /// repeats one after another, so its pages are held the least time).
    pending: HashMap<String, VecDeque<Cell>>,
    in_flight: HashMap<String, usize>,
    per_model: usize,
    /// Each model's slots now (AIMD), at most `per_model`.
    slots: HashMap<String, f64>,
    paused_until: HashMap<String, Instant>,
    last_cut: HashMap<String, Instant>,
}

impl Schedule {
    /// Every cell of `models` × `images` × `repeats` without a result in
    /// `done`.
    pub fn new(
        models: &[String],
        images: usize,
        repeats: usize,
        done: &HashSet<Cell>,
        per_model: usize,
    ) -> Self {
        let mut pending: HashMap<String, VecDeque<Cell>> = HashMap::new();
        for model in models {
            for image_index in 0..images {
                for repeat in 0..repeats {
                    let cell = Cell {
                        model: model.clone(),
                        image_index,
                        repeat,
                    };
                    if !done.contains(&cell) {
                        pending.entry(model.clone()).or_default().push_back(cell);
                    }
                }
            }
        }
        Self {
            pending,
            in_flight: HashMap::new(),
            per_model,
            slots: HashMap::new(),
            paused_until: HashMap::new(),
            last_cut: HashMap::new(),
        }
    }

    /// Takes a model's cells out of the schedule (they will not be run).
    pub fn remove_model(&mut self, model: &str) -> Vec<Cell> {
        self.pending
            .remove(model)
            .map(Vec::from)
            .unwrap_or_default()
    }

    fn slots(&self, model: &str) -> usize {
        self.slots
            .get(model)
            .map_or(self.per_model, |s| s.floor() as usize)
            .clamp(1, self.per_model.max(1))
    }

    fn paused(&self, model: &str, now: Instant) -> bool {
        self.paused_until.get(model).is_some_and(|t| *t > now)
    }

    /// A call of `model` met a 429.
    pub fn rate_limited(&mut self, model: &str, retry_after: Option<Duration>, now: Instant) {
        let pause = now
            + retry_after
                .unwrap_or(DEFAULT_PAUSE)
                .min(Duration::from_secs(60));
        let until = self.paused_until.entry(model.to_owned()).or_insert(pause);
        *until = (*until).max(pause);
        let cooled = self
            .last_cut
            .get(model)
            .is_none_or(|t| now.duration_since(*t) >= COOL_DOWN);
        if cooled {
            let slots = self
                .slots
                .entry(model.to_owned())
                .or_insert(self.per_model as f64);
            *slots = (*slots / 2.0).max(1.0);
            self.last_cut.insert(model.to_owned(), now);
            tracing::info!(model, slots = *slots, "rate-limited: fewer calls at once");
        }
    }

    /// A call of `model` was answered: its slots grow back a little.
    pub fn answered(&mut self, model: &str) {
        if let Some(slots) = self.slots.get_mut(model) {
            *slots = (*slots + 0.5 / *slots).min(self.per_model as f64);
        }
    }

    /// When a paused model with work left may start again, if one waits.
    pub fn next_resume(&self, now: Instant) -> Option<Instant> {
        self.pending
            .iter()
            .filter(|(model, cells)| !cells.is_empty() && self.paused(model, now))
            .filter_map(|(model, _)| self.paused_until.get(model).copied())
            .min()
    }

    /// How many pending cells need each image, images in order.
    pub fn calls_per_image(&self) -> BTreeMap<usize, usize> {
        let mut calls = BTreeMap::new();
        for cell in self.pending.values().flatten() {
            *calls.entry(cell.image_index).or_default() += 1;
        }
        calls
    }

    pub fn has_pending(&self) -> bool {
        self.pending.values().any(|cells| !cells.is_empty())
    }

    fn busy(&self, model: &str) -> usize {
        self.in_flight.get(model).copied().unwrap_or(0)
    }

    /// The next cell to start, counted in flight from now; `None` when every
    /// model with work left has all its slots busy or is paused.
    pub fn start_next(&mut self, now: Instant) -> Option<Cell> {
        let model = self
            .pending
            .iter()
            .filter(|(model, cells)| {
                !cells.is_empty()
                    && self.busy(model) < self.slots(model)
                    && !self.paused(model, now)
            })
            .max_by_key(|(model, cells)| (cells.len(), std::cmp::Reverse(self.busy(model))))
            .map(|(model, _)| model.clone())?;
        let cell = self.pending.get_mut(&model)?.pop_front()?;
        *self.in_flight.entry(model).or_default() += 1;
        Some(cell)
    }

    /// A started cell ended (or was never sent): its slot is free.
    pub fn finished(&mut self, model: &str) {
        if let Some(n) = self.in_flight.get_mut(model) {
            *n = n.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn models(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn cell(model: &str, image_index: usize, repeat: usize) -> Cell {
        Cell {
            model: model.into(),
            image_index,
            repeat,
        }
    }

    #[test]
    fn cells_with_results_are_left_out() {
        let done: HashSet<Cell> = [cell("a", 0, 0), cell("b", 1, 0)].into();
        let mut schedule = Schedule::new(&models(&["a", "b"]), 2, 1, &done, 3);
        let mut started = Vec::new();
        while let Some(cell) = schedule.start_next(Instant::now()) {
            started.push((cell.model, cell.image_index));
        }
        started.sort();
        assert_eq!(started, [("a".to_string(), 1), ("b".to_string(), 0)]);
        assert!(!schedule.has_pending());
    }

    #[test]
    fn no_model_passes_its_slots_and_the_busiest_backlog_goes_first() {
        let mut schedule = Schedule::new(&models(&["a", "b"]), 5, 1, &HashSet::new(), 3);
        let mut a = 0;
        let mut b = 0;
        while let Some(cell) = schedule.start_next(Instant::now()) {
            if cell.model == "a" {
                a += 1
            } else {
                b += 1
            }
        }
        assert_eq!((a, b), (3, 3), "three each, then every slot is busy");
        schedule.finished("b");
        assert_eq!(
            schedule.start_next(Instant::now()).unwrap().model,
            "b",
            "a freed slot is used"
        );
        assert_eq!(schedule.start_next(Instant::now()), None);
    }

    #[test]
    fn a_rate_limited_model_halves_its_slots_waits_and_grows_back_slowly() {
        let mut schedule = Schedule::new(&models(&["a"]), 40, 1, &HashSet::new(), 4);
        let t0 = Instant::now();
        let started: Vec<Cell> = std::iter::from_fn(|| schedule.start_next(t0)).collect();
        assert_eq!(started.len(), 4);
        for _ in 0..4 {
            schedule.finished("a");
        }
        schedule.rate_limited("a", Some(Duration::from_secs(2)), t0);
        schedule.rate_limited("a", Some(Duration::from_secs(2)), t0);
        assert_eq!(schedule.start_next(t0), None, "paused for Retry-After");
        assert_eq!(schedule.next_resume(t0), Some(t0 + Duration::from_secs(2)));
        let t1 = t0 + Duration::from_secs(2);
        let started: Vec<Cell> = std::iter::from_fn(|| schedule.start_next(t1)).collect();
        assert_eq!(started.len(), 2, "halved once for the burst, not twice");
        schedule.finished("a");
        schedule.finished("a");
        schedule.rate_limited("a", None, t1 + Duration::from_millis(1500));
        let t2 = t1 + Duration::from_secs(3);
        assert_eq!(
            std::iter::from_fn(|| schedule.start_next(t2)).count(),
            1,
            "down to one"
        );
        schedule.finished("a");
        let mut answered = 0;
        while schedule.slots("a") < 4 {
            schedule.answered("a");
            answered += 1;
        }
        assert!(
            (10..30).contains(&answered),
            "grown back after {answered} answers"
        );
    }

    #[test]
    fn the_model_with_most_work_left_is_started_first() {
        let done: HashSet<Cell> = [cell("a", 0, 0), cell("a", 1, 0)].into();
        let mut schedule = Schedule::new(&models(&["a", "b"]), 3, 1, &done, 3);
        assert_eq!(schedule.calls_per_image(), [(0, 1), (1, 1), (2, 2)].into());
        assert_eq!(schedule.start_next(Instant::now()).unwrap().model, "b");
    }

    #[test]
    fn each_document_is_read_as_many_times_as_asked_its_repeats_together() {
        let done: HashSet<Cell> = [cell("a", 0, 1)].into();
        let mut schedule = Schedule::new(&models(&["a", "b"]), 2, 3, &done, 1);
        assert_eq!(schedule.calls_per_image(), [(0, 5), (1, 6)].into());
        let mut a = Vec::new();
        while let Some(next) = schedule.start_next(Instant::now()) {
            if next.model == "a" {
                a.push((next.image_index, next.repeat));
            }
            schedule.finished(&next.model);
        }
        assert_eq!(a, [(0, 0), (0, 2), (1, 0), (1, 1), (1, 2)]);
    }
}
