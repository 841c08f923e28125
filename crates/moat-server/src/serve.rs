//! Serving on a listener: the accept loop (connection caps, TLS handshakes,
//! the timeouts of [`crate::ConnectionLimits`]) and graceful shutdown: stop
//! accepting, let running requests finish within the grace period, then stop
//! the generations still running (each open stream gets an error event and
//! `[DONE]`), then return.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::connections::{
    Admitted, ClockedBody, ConnectionClock, ConnectionLimits, OpenConnections, Refused, TimedBody,
    TimedIo,
};
use crate::router;
use crate::state::AppState;

/// How long stopped streams get to send their last events before the
/// remaining connections are closed.
const STOPPED_STREAMS_FLUSH: Duration = Duration::from_secs(5);

/// Headers hyper itself reads before answering a bare 431; the stricter
/// limits moat enforces (with an error body and an audit record) sit below
/// these, in `headers.rs`.
const HYPER_MAX_HEADERS: usize = 1024;
const HYPER_MAX_HEADER_BYTES: usize = 256 * 1024;

/// The longest pause after an accept error such as too many open files.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serve `state` on `listener` (HTTPS when [`crate::ServerOptions::tls`]
/// is set) until `shutdown` resolves; then stop accepting, let running
/// requests finish within [`crate::ServerOptions::shutdown_grace`], end the
/// streams still open with an error event and `[DONE]`, and return.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let options = state.options();
    let grace = options.shutdown_grace;
    let serving = Arc::new(Serving {
        app: router(state.clone()),
        tls: options.tls.clone().map(TlsAcceptor::from),
        limits: options.connections,
        open: OpenConnections::new(options.connections),
    });

    let asked = CancellationToken::new();
    {
        let asked = asked.clone();
        tokio::spawn(async move {
            shutdown.await;
            asked.cancel();
        });
    }
    let graceful = GracefulShutdown::new();
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = tokio::select! {
            () = asked.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                backoff = Duration::ZERO;
                serving.start(tcp, peer, graceful.watcher());
            }
            Err(error) => {
                backoff = accept_backoff(&error, backoff);
                if !backoff.is_zero() {
                    tokio::select! {
                        () = asked.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                }
            }
        }
    }
    drop(listener);

    state.begin_draining();
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new connections, waiting for running requests"
    );
    let closed = graceful.shutdown();
    tokio::pin!(closed);
    if tokio::time::timeout(grace, &mut closed).await.is_ok() {
        tracing::info!("all requests finished; stopped");
        return Ok(());
    }
    tracing::warn!("grace period over: stopping the generations still running");
    state.stop_generations();
    if tokio::time::timeout(STOPPED_STREAMS_FLUSH, &mut closed)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after stopping generations; closing them");
    }
    Ok(())
}

/// What every connection task needs.
struct Serving {
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    open: Arc<OpenConnections>,
}

impl Serving {
    /// Admit `tcp` (or close it when its client or the server is full) and
    /// serve it in a task of its own.
    fn start(self: &Arc<Self>, tcp: TcpStream, peer: SocketAddr, watcher: Watcher) {
        let admitted = match self.open.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refused) => {
                let why = match refused {
                    Refused::ClientFull => "too many connections from this client",
                    Refused::ServerFull => "too many connections",
                };
                tracing::debug!(client = %peer.ip(), why, "connection closed at once");
                return;
            }
        };
        // Tokens are small writes: send them at once.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
        let this = self.clone();
        tokio::spawn(async move {
            let Some(acceptor) = this.tls.clone() else {
                this.serve_connection(tcp, peer, watcher, admitted).await;
                return;
            };
            match tokio::time::timeout(this.limits.header_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => this.serve_connection(stream, peer, watcher, admitted).await,
                Ok(Err(error)) => tracing::debug!(client = %peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(client = %peer, "TLS handshake timed out"),
            }
        });
    }

    /// HTTP/1.1 on one connection until it closes or times out.
    async fn serve_connection<S>(
        &self,
        stream: S,
        peer: SocketAddr,
        watcher: Watcher,
        _admitted: Admitted,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let clock = ConnectionClock::new(self.limits);
        let io = TokioIo::new(TimedIo::new(stream, clock.clone()));
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let clock = clock.clone();
            let app = app.clone();
            async move {
                clock.request_started();
                let mut request =
                    request.map(|body| axum::body::Body::new(TimedBody::new(body, clock.clone())));
                request.extensions_mut().insert(ConnectInfo(peer));
                let response = app.oneshot(request).await?;
                let (mut parts, body) = response.into_parts();
                if clock.body_timed_out() {
                    // The rest of the body may still be on its way.
                    parts
                        .headers
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, std::convert::Infallible>(hyper::Response::from_parts(
                    parts,
                    ClockedBody::new(body, clock),
                ))
            }
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            // moat's own clock covers heads; hyper's would also cut idle
            // keep-alives at the header timeout.
            .header_read_timeout(None)
            .max_headers(HYPER_MAX_HEADERS)
            .max_buf_size(HYPER_MAX_HEADER_BYTES)
            .keep_alive(true);
        let connection = http.serve_connection(io, service);
        if let Err(error) = watcher.watch(connection).await {
            if error.is_parse_too_large() {
                tracing::info!(client = %peer.ip(), "request head over hyper's limit; connection closed");
            } else {
                tracing::debug!(client = %peer.ip(), %error, "connection ended with an error");
            }
        }
    }
}

/// The pause after a failed accept: none for errors of one connection
/// (it was reset before it was accepted); otherwise (too many open files,
/// out of memory) a pause that doubles from 10 ms up to
/// [`MAX_ACCEPT_BACKOFF`], so the loop does not spin while the condition
/// lasts. Logged when a run of failures begins.
fn accept_backoff(error: &io::Error, previous: Duration) -> Duration {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) {
        return Duration::ZERO;
    }
    if previous.is_zero() {
        tracing::error!(%error, "accepting a connection failed; pausing before the next accept");
        return Duration::from_millis(10);
    }
    (previous * 2).min(MAX_ACCEPT_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off_without_spinning() {
        let emfile = io::Error::other("Too many open files");
        let mut pause = Duration::ZERO;
        let mut pauses = Vec::new();
        for _ in 0..10 {
            pause = accept_backoff(&emfile, pause);
            pauses.push(pause.as_millis());
        }
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(accept_backoff(&reset, pause), Duration::ZERO);
    }
}
