//! Which call of a report to start next, within the concurrency limits:
//! the model with the most work left among those with a free slot, so every
//! model keeps its slots busy to the end and no slot idles while work
//! remains. Plain bookkeeping, no I/O.

use std::collections::{HashMap, HashSet, VecDeque};

/// One (model, image) call still to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub model: String,
    pub image_index: usize,
}

pub struct Schedule {
    /// Cells still to start, per model, images in order.
    pending: HashMap<String, VecDeque<Cell>>,
    in_flight: HashMap<String, usize>,
    per_model: usize,
}

impl Schedule {
    /// Every cell of `models` × `images` without a result in `done`.
    pub fn new(
        models: &[String],
        images: usize,
        done: &HashSet<(String, i32)>,
        per_model: usize,
    ) -> Self {
        let mut pending: HashMap<String, VecDeque<Cell>> = HashMap::new();
        for model in models {
            for image_index in 0..images {
                if !done.contains(&(model.clone(), image_index as i32)) {
                    pending.entry(model.clone()).or_default().push_back(Cell {
                        model: model.clone(),
                        image_index,
                    });
                }
            }
        }
        Self {
            pending,
            in_flight: HashMap::new(),
            per_model,
        }
    }

    /// The images some pending cell needs.
    pub fn images_needed(&self) -> HashSet<usize> {
        self.pending
            .values()
            .flatten()
            .map(|cell| cell.image_index)
            .collect()
    }

    pub fn has_pending(&self) -> bool {
        self.pending.values().any(|cells| !cells.is_empty())
    }

    fn busy(&self, model: &str) -> usize {
        self.in_flight.get(model).copied().unwrap_or(0)
    }

    /// The next cell to start, counted in flight from now; `None` when every
    /// model with work left has all its slots busy.
    pub fn start_next(&mut self) -> Option<Cell> {
        let model = self
            .pending
            .iter()
            .filter(|(model, cells)| !cells.is_empty() && self.busy(model) < self.per_model)
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

    fn models(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn cells_with_results_are_left_out() {
        let done: HashSet<(String, i32)> = [("a".to_string(), 0), ("b".to_string(), 1)].into();
        let mut schedule = Schedule::new(&models(&["a", "b"]), 2, &done, 3);
        let mut started = Vec::new();
        while let Some(cell) = schedule.start_next() {
            started.push((cell.model, cell.image_index));
        }
        started.sort();
        assert_eq!(started, [("a".to_string(), 1), ("b".to_string(), 0)]);
        assert!(!schedule.has_pending());
    }

    #[test]
    fn no_model_passes_its_slots_and_the_busiest_backlog_goes_first() {
        let mut schedule = Schedule::new(&models(&["a", "b"]), 5, &HashSet::new(), 3);
        let mut a = 0;
        let mut b = 0;
        while let Some(cell) = schedule.start_next() {
            if cell.model == "a" {
                a += 1
            } else {
                b += 1
            }
        }
        assert_eq!((a, b), (3, 3), "three each, then every slot is busy");
        schedule.finished("b");
        assert_eq!(
            schedule.start_next().unwrap().model,
            "b",
            "a freed slot is used"
        );
        assert_eq!(schedule.start_next(), None);
    }

    #[test]
    fn the_model_with_most_work_left_is_started_first() {
        let done: HashSet<(String, i32)> = [("a".to_string(), 0), ("a".to_string(), 1)].into();
        let mut schedule = Schedule::new(&models(&["a", "b"]), 3, &done, 3);
        assert_eq!(schedule.images_needed(), [0, 1, 2].into());
        assert_eq!(schedule.start_next().unwrap().model, "b");
    }
}
