//! Request bodies, read within three bounds: each route's own cap, checked
//! on the bytes actually read (a chunked body declares no length, and a
//! declared one is refused before any byte is read); a deadline for the
//! whole body, so that a client who stops sending lets go of what it holds;
//! and one budget for the bytes of every body the process holds at once,
//! so that a thousand slow uploads at the cap cannot add up to more memory
//! than the budget either. Part of the budget is kept for small bodies (a
//! Stripe event, a checkout: a few KiB): a body that grows past
//! `SMALL_BODY_BYTES` cannot hold any of it, so large bodies, however many,
//! never starve the small ones that carry payments.
//! Over the cap: 413; too slow: 408; over the budget: 503, to be retried.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::{Filter, Rejection};

/// Body bytes all requests may hold at once.
pub const BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// Of the budget, what only small bodies may hold.
pub const SMALL_BODY_RESERVE_BYTES: usize = 8 * 1024 * 1024;
/// A body this large or smaller may hold the reserve.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;
/// How long a body may take to arrive, from when its reading starts.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);
/// The budget is counted in KiB.
const UNIT: usize = 1024;

/// The process's budget for request bodies: the shared part and the part
/// kept for small bodies.
#[derive(Clone)]
pub struct BodyBudget {
    shared: Arc<Semaphore>,
    small: Arc<Semaphore>,
    deadline: Duration,
}

impl BodyBudget {
    /// `bytes` in all, `reserve` of them for small bodies only.
    pub fn new(bytes: usize, reserve: usize, deadline: Duration) -> Self {
        let reserve = reserve.min(bytes);
        Self {
            shared: Arc::new(Semaphore::new((bytes - reserve).div_ceil(UNIT))),
            small: Arc::new(Semaphore::new(reserve.div_ceil(UNIT))),
            deadline,
        }
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        Self::new(BODY_BUDGET_BYTES, SMALL_BODY_RESERVE_BYTES, BODY_DEADLINE)
    }
}

/// What one body holds of the budget, given back when dropped.
#[derive(Debug, Default)]
struct Held {
    shared: Option<OwnedSemaphorePermit>,
    small: Option<OwnedSemaphorePermit>,
}

impl Held {
    fn units(&self) -> usize {
        self.shared.as_ref().map_or(0, |p| p.num_permits())
            + self.small.as_ref().map_or(0, |p| p.num_permits())
    }

    fn add(slot: &mut Option<OwnedSemaphorePermit>, more: OwnedSemaphorePermit) {
        match slot.as_mut() {
            Some(permit) => permit.merge(more),
            None => *slot = Some(more),
        }
    }

    /// Holds `bytes` in all: from the shared part first, from the reserve
    /// only while the body is small; a body that outgrows the reserve moves
    /// what it held there to the shared part.
    fn grow(&mut self, budget: &BodyBudget, bytes: usize) -> Result<(), OverBudget> {
        let units = bytes.div_ceil(UNIT);
        let small_body = bytes <= SMALL_BODY_BYTES;
        if !small_body {
            if let Some(reserved) = self.small.take() {
                let moved = budget
                    .shared
                    .clone()
                    .try_acquire_many_owned(reserved.num_permits() as u32)
                    .map_err(|_| OverBudget)?;
                Self::add(&mut self.shared, moved);
            }
        }
        let have = self.units();
        if units <= have {
            return Ok(());
        }
        let wanted = (units - have) as u32;
        if let Ok(more) = budget.shared.clone().try_acquire_many_owned(wanted) {
            Self::add(&mut self.shared, more);
            return Ok(());
        }
        if small_body {
            if let Ok(more) = budget.small.clone().try_acquire_many_owned(wanted) {
                Self::add(&mut self.small, more);
                return Ok(());
            }
        }
        Err(OverBudget)
    }
}

/// A body read whole, and its share of the budget, given back when this is
/// dropped (after the handler that reads it).
#[derive(Debug)]
pub struct Body {
    pub bytes: Bytes,
    _held: Held,
}

#[derive(Debug)]
pub struct TooLarge(pub u64);
impl warp::reject::Reject for TooLarge {}

#[derive(Debug)]
pub struct OverBudget;
impl warp::reject::Reject for OverBudget {}

/// The body did not arrive within the deadline.
#[derive(Debug)]
pub struct TooSlow(pub Duration);
impl warp::reject::Reject for TooSlow {}

#[derive(Debug)]
pub struct Unreadable;
impl warp::reject::Reject for Unreadable {}

/// The body, at most `limit` bytes, within `budget`.
pub fn limited(
    limit: u64,
    budget: BodyBudget,
) -> impl Filter<Extract = (Body,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(n) if n > limit => Err(warp::reject::custom(TooLarge(limit))),
                _ => Ok(length),
            }
        })
        .and(warp::body::stream())
        .and_then(move |declared: Option<u64>, stream| {
            let budget = budget.clone();
            async move { read(Box::pin(stream), limit, declared, &budget).await }
        })
}

/// Reads `stream` whole. With a declared length the buffer is that size,
/// taken (and counted) when the first bytes arrive; without one it doubles
/// as bytes arrive, up to the cap. Either way the budget counts the memory
/// the buffer takes, spare room included.
async fn read<S, B>(
    mut stream: S,
    limit: u64,
    declared: Option<u64>,
    budget: &BodyBudget,
) -> Result<Body, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let deadline = tokio::time::Instant::now() + budget.deadline;
    let mut bytes = BytesMut::new();
    let mut held = Held::default();
    loop {
        let next = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                SLOW_BODIES.refused(bytes.len(), budget.deadline);
                return Err(warp::reject::custom(TooSlow(budget.deadline)));
            }
        };
        let Some(chunk) = next else { break };
        let mut chunk = chunk.map_err(|_| warp::reject::custom(Unreadable))?;
        let len = bytes.len() + chunk.remaining();
        if len as u64 > limit {
            return Err(warp::reject::custom(TooLarge(limit)));
        }
        if len > bytes.capacity() {
            let capacity = match declared {
                Some(declared) if declared as usize >= len => declared as usize,
                _ => len.max(bytes.capacity() * 2).min(limit as usize),
            };
            held.grow(budget, capacity).map_err(warp::reject::custom)?;
            bytes.reserve(capacity - bytes.len());
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            let n = piece.len();
            bytes.put_slice(piece);
            chunk.advance(n);
        }
    }
    Ok(Body {
        bytes: bytes.freeze(),
        _held: held,
    })
}

/// One log line per body refused for being slow, at most `PER_SECOND` a
/// second; the lines held back are counted in the next one written.
struct SlowBodyLog(Mutex<LogWindow>);

struct LogWindow {
    started: Instant,
    written: u32,
    held_back: u64,
}

static SLOW_BODIES: LazyLock<SlowBodyLog> = LazyLock::new(|| {
    SlowBodyLog(Mutex::new(LogWindow {
        started: Instant::now(),
        written: 0,
        held_back: 0,
    }))
});

impl SlowBodyLog {
    const PER_SECOND: u32 = 5;

    fn refused(&self, received_bytes: usize, deadline: Duration) {
        let held_back = {
            let mut window = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if now.duration_since(window.started) >= Duration::from_secs(1) {
                window.started = now;
                window.written = 0;
            }
            if window.written >= Self::PER_SECOND {
                window.held_back += 1;
                return;
            }
            window.written += 1;
            std::mem::take(&mut window.held_back)
        };
        tracing::warn!(
            body.received_bytes = received_bytes,
            body.deadline_s = deadline.as_secs(),
            log.held_back = held_back,
            "slow request refused: its body did not arrive in time"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Bytes, warp::Error>> + Unpin {
        futures_util::stream::iter(
            sizes
                .iter()
                .map(|&n| Ok(Bytes::from(vec![b'x'; n])))
                .collect::<Vec<_>>(),
        )
    }

    async fn read_all<S>(stream: S, limit: u64, budget: &BodyBudget) -> Result<Body, Rejection>
    where
        S: Stream<Item = Result<Bytes, warp::Error>> + Unpin,
    {
        read(stream, limit, None, budget).await
    }

    fn budget(shared_units: usize, reserve_units: usize) -> BodyBudget {
        BodyBudget::new(
            (shared_units + reserve_units) * UNIT,
            reserve_units * UNIT,
            Duration::from_secs(5),
        )
    }

    fn free(budget: &BodyBudget) -> (usize, usize) {
        (
            budget.shared.available_permits(),
            budget.small.available_permits(),
        )
    }

    #[tokio::test]
    async fn a_body_is_read_whole_within_its_cap_and_the_budget() {
        let budget = budget(8, 0);
        let body = read_all(chunks(&[1000, 2000, 96]), 4096, &budget)
            .await
            .unwrap();
        assert_eq!(body.bytes.len(), 3096);
        assert_eq!(free(&budget), (4, 0), "4 KiB held while the body lives");
        drop(body);
        assert_eq!(free(&budget), (8, 0), "and given back after");
    }

    #[tokio::test]
    async fn a_body_past_its_cap_is_refused_as_soon_as_it_passes() {
        let budget = budget(8, 0);
        let refused = read_all(chunks(&[4000, 200, 1_000_000]), 4096, &budget).await;
        assert!(refused.unwrap_err().find::<TooLarge>().is_some());
        assert_eq!(free(&budget), (8, 0), "nothing stays held");
    }

    #[tokio::test]
    async fn bodies_past_the_budget_together_are_refused() {
        let budget = budget(4, 0);
        let first = read_all(chunks(&[3 * UNIT]), 1 << 20, &budget)
            .await
            .unwrap();
        let second = read_all(chunks(&[2 * UNIT]), 1 << 20, &budget).await;
        assert!(second.unwrap_err().find::<OverBudget>().is_some());
        drop(first);
        assert!(read_all(chunks(&[2 * UNIT]), 1 << 20, &budget)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn large_bodies_cannot_take_the_room_kept_for_small_ones() {
        let budget = budget(100, 80);
        // Large bodies take all of the shared part, and no more.
        let large = read_all(chunks(&[100 * UNIT]), 1 << 20, &budget)
            .await
            .unwrap();
        assert_eq!(free(&budget), (0, 80));
        // One that starts small may use the reserve, until it grows past it.
        let refused = read_all(chunks(&[4 * UNIT, SMALL_BODY_BYTES]), 1 << 20, &budget).await;
        assert!(refused.unwrap_err().find::<OverBudget>().is_some());
        assert_eq!(
            free(&budget),
            (0, 80),
            "what it held of the reserve is back"
        );
        // A small one still fits.
        let small = read_all(chunks(&[3 * UNIT]), 1 << 20, &budget)
            .await
            .unwrap();
        assert_eq!(free(&budget), (0, 77));
        drop((large, small));
        assert_eq!(free(&budget), (100, 80));
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_is_refused_at_its_deadline() {
        tokio::time::pause();
        let budget = budget(8, 8);
        let stalled = futures_util::stream::iter(vec![Ok(Bytes::from(vec![b'x'; 2 * UNIT]))])
            .chain(futures_util::stream::pending());
        let refused = read(Box::pin(stalled), 1 << 20, Some(4 * UNIT as u64), &budget).await;
        assert!(refused.unwrap_err().find::<TooSlow>().is_some());
        assert_eq!(free(&budget), (8, 8), "what it held is given back");
    }
}
