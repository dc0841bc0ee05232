//! The last answer of something polled, kept for a moment.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last answer of something a monitor polls (`/ready`, the figures of
/// `/metrics`) and when it was made, so that callers within a moment share
/// one read of the database.
#[derive(Clone)]
pub struct Recent<T>(Arc<Mutex<Option<(Instant, T)>>>);

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(None)))
    }
}

impl<T: Clone> Recent<T> {
    /// The last answer, if it is younger than `age`.
    pub fn within(&self, age: Duration) -> Option<T> {
        match &*self.0.lock().unwrap() {
            Some((at, value)) if at.elapsed() < age => Some(value.clone()),
            _ => None,
        }
    }

    pub fn keep(&self, value: T) {
        *self.0.lock().unwrap() = Some((Instant::now(), value));
    }
}
