//! The HTTP listener: connections served by hyper with the service's limits, so one slow or
//! greedy client cannot hold the service.
//!
//! - **Headers**: the request line and headers must arrive within `header_timeout_s` (a client
//!   sending a byte a second is cut off) and fit in `max_header_bytes` (else 431).
//! - **Bodies**: the whole body must arrive within `body_timeout_s` of the request (else 408
//!   `request_timeout`, see [`crate::routes`]'s body deadline).
//! - **Connections**: at most `max_connections` at once; one more is answered 503
//!   `too_many_connections` with `Retry-After` and closed.
//!
//! HTTP/1.1 (as before: the service has never spoken HTTP/2). Graceful shutdown: on the signal
//! the listener stops accepting, open connections finish the request in flight and close.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::http::StatusCode;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::Limits;
use crate::error::{ApiCode, ApiError};
use crate::AppState;

/// What a client over the connection limit is told before the connection closes: the API's
/// JSON error, written by hand (the connection never reaches hyper).
fn too_many_connections() -> Vec<u8> {
    let body = serde_json::to_vec(
        &ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ApiCode::TooManyConnections,
            "too many connections; try again shortly / 连接过多，请稍后重试",
        )
        .body(),
    )
    .unwrap_or_default();
    let mut response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    response
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains open connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits: Limits = state.config.limits.clone();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_timeout_s.max(1)))
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (mut stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            state.metrics.connection_refused();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&too_many_connections())).await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        // What `into_make_service_with_connect_info` gives handlers: the peer's address.
        let service = app.clone().map_request(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.map(axum::body::Body::new)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// hyper's smallest read buffer.
const MIN_HEADER_BYTES: usize = 8192;
