//! The sidecar's connections: HTTP/1.1 on a listener we bound, each
//! connection a task, until shutdown, with a deadline on every request's
//! head (a client that sends headers a byte a minute is dropped at
//! `HEAD_DEADLINE`, as it is when it sends nothing). Bodies have their own
//! deadline where they are read (`body.rs`). On shutdown no connection is
//! taken any more and those open finish what they are answering.

use std::future::Future;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use tokio::net::TcpListener;

use warp::reply::Response;
use warp::Filter;

/// How long a client may take to send a request's head (line and headers),
/// and how long a kept-alive connection may sit idle before its next one.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// What one connection may buffer of what it reads: a request head, or
/// the part of a body not yet taken (bodies are counted in `body.rs`).
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// How long open connections get to finish once shutdown is asked.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `routes` on `listener` until `shutdown` resolves.
pub async fn serve<F>(
    routes: F,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    wait_after_accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(warp::service(routes.clone()));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_DEADLINE)
            .max_buf_size(READ_BUFFER_BYTES)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain_s = DRAIN.as_secs(),
            "connections still open after the drain; closing them"
        );
    }
}

/// A connection reset before it was accepted is nothing; running out of
/// file descriptors is, and waiting a moment lets some close.
async fn wait_after_accept_error(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
