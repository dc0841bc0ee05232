//! Request bodies, read within two bounds: each route's own cap, checked on
//! the bytes actually read (a chunked body declares no length, and a
//! declared one is refused before any byte is read), and one budget for the
//! bytes of every body the process holds at once, so that a thousand slow
//! uploads at the cap cannot add up to more memory than the budget either.
//! Over the cap: 413; over the budget: 503, to be retried.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::{Filter, Rejection};

/// Body bytes all requests may hold at once.
pub const BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;
/// The budget is counted in KiB.
const UNIT: usize = 1024;

/// The process's budget for request bodies.
#[derive(Clone)]
pub struct BodyBudget(Arc<Semaphore>);

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes.div_ceil(UNIT))))
    }
}

impl Default for BodyBudget {
    fn default() -> Self {
        Self::new(BODY_BUDGET_BYTES)
    }
}

/// A body read whole, and its share of the budget, given back when this is
/// dropped (after the handler that reads it).
#[derive(Debug)]
pub struct Body {
    pub bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

#[derive(Debug)]
pub struct TooLarge(pub u64);
impl warp::reject::Reject for TooLarge {}

#[derive(Debug)]
pub struct OverBudget;
impl warp::reject::Reject for OverBudget {}

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
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| {
            let budget = budget.clone();
            async move { read(Box::pin(stream), limit, &budget).await }
        })
}

async fn read<S, B>(mut stream: S, limit: u64, budget: &BodyBudget) -> Result<Body, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut bytes = BytesMut::new();
    let mut held: Option<OwnedSemaphorePermit> = None;
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|_| warp::reject::custom(Unreadable))?;
        let len = bytes.len() + chunk.remaining();
        if len as u64 > limit {
            return Err(warp::reject::custom(TooLarge(limit)));
        }
        let units = len.div_ceil(UNIT) as u32;
        let have = held.as_ref().map_or(0, |p| p.num_permits() as u32);
        if units > have {
            let more = budget
                .0
                .clone()
                .try_acquire_many_owned(units - have)
                .map_err(|_| warp::reject::custom(OverBudget))?;
            match held.as_mut() {
                Some(permit) => permit.merge(more),
                None => held = Some(more),
            }
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

    #[tokio::test]
    async fn a_body_is_read_whole_within_its_cap_and_the_budget() {
        let budget = BodyBudget::new(8 * UNIT);
        let body = read(chunks(&[1000, 2000, 96]), 4096, &budget)
            .await
            .unwrap();
        assert_eq!(body.bytes.len(), 3096);
        assert_eq!(
            budget.0.available_permits(),
            4,
            "4 KiB held while the body lives"
        );
        drop(body);
        assert_eq!(budget.0.available_permits(), 8, "and given back after");
    }

    #[tokio::test]
    async fn a_body_past_its_cap_is_refused_as_soon_as_it_passes() {
        let budget = BodyBudget::new(8 * UNIT);
        let refused = read(chunks(&[4000, 200, 1_000_000]), 4096, &budget).await;
        assert!(refused.unwrap_err().find::<TooLarge>().is_some());
        assert_eq!(budget.0.available_permits(), 8, "nothing stays held");
    }

    #[tokio::test]
    async fn bodies_past_the_budget_together_are_refused() {
        let budget = BodyBudget::new(4 * UNIT);
        let first = read(chunks(&[3 * UNIT]), 1 << 20, &budget).await.unwrap();
        let second = read(chunks(&[2 * UNIT]), 1 << 20, &budget).await;
        assert!(second.unwrap_err().find::<OverBudget>().is_some());
        drop(first);
        assert!(read(chunks(&[2 * UNIT]), 1 << 20, &budget).await.is_ok());
    }
}
