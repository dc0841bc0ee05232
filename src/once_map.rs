//! Work done once per key, however many callers ask at once: the first runs
//! it, the others wait for its answer, later ones read it. Bounded: past
//! `capacity` keys the oldest are forgotten (and would be worked out again).
//! A failed attempt is not kept, so the next caller tries again.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

type Slot<V> = Arc<OnceCell<V>>;

/// The slots by key, and the keys oldest first.
struct Slots<V> {
    by_key: HashMap<String, Slot<V>>,
    order: VecDeque<String>,
}

pub struct OnceMap<V> {
    capacity: usize,
    slots: Mutex<Slots<V>>,
}

impl<V: Clone> OnceMap<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            slots: Mutex::new(Slots {
                by_key: HashMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    fn slot(&self, key: &str) -> Slot<V> {
        let mut guard = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let Slots { by_key, order } = &mut *guard;
        if let Some(slot) = by_key.get(key) {
            return slot.clone();
        }
        while by_key.len() >= self.capacity {
            match order.pop_front() {
                Some(oldest) => by_key.remove(&oldest),
                None => break,
            };
        }
        let slot = Slot::default();
        by_key.insert(key.to_owned(), slot.clone());
        order.push_back(key.to_owned());
        slot
    }

    /// The value for `key`, and whether this call worked it out.
    pub async fn get_or_try_init<E, F, Fut>(&self, key: &str, init: F) -> Result<(V, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let slot = self.slot(key);
        let mut worked = false;
        let value = slot
            .get_or_try_init(|| {
                worked = true;
                init()
            })
            .await?
            .clone();
        Ok((value, worked))
    }

    /// The value for `key` if it is known already.
    pub fn get(&self, key: &str) -> Option<V> {
        let guard = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        guard.by_key.get(key).and_then(|slot| slot.get().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let map = OnceMap::<u32>::new(10);
        let runs = AtomicUsize::new(0);
        let ask = || {
            map.get_or_try_init("k", || async {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok::<_, ()>(7)
            })
        };
        let answers = futures_util::future::join_all((0..20).map(|_| ask())).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(answers.iter().all(|a| a.as_ref().unwrap().0 == 7));
        assert_eq!(answers.iter().filter(|a| a.as_ref().unwrap().1).count(), 1);
    }

    #[tokio::test]
    async fn a_failure_is_tried_again_and_old_keys_are_forgotten() {
        let map = OnceMap::<u32>::new(2);
        assert!(map
            .get_or_try_init("a", || async { Err::<u32, _>("down") })
            .await
            .is_err());
        assert_eq!(
            map.get_or_try_init("a", || async { Ok::<_, ()>(1) }).await,
            Ok((1, true))
        );
        map.get_or_try_init("b", || async { Ok::<_, ()>(2) })
            .await
            .unwrap();
        map.get_or_try_init("c", || async { Ok::<_, ()>(3) })
            .await
            .unwrap();
        assert_eq!(map.get("a"), None, "the oldest is forgotten past capacity");
        assert_eq!(map.get("c"), Some(3));
    }
}
