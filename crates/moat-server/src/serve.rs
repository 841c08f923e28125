//! Serving on a listener with graceful shutdown: stop accepting, let running
//! requests finish within the grace period, then stop the generations still
//! running (each open stream gets an error event and `[DONE]`), then return.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::{Listener, ListenerExt};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::router;
use crate::state::AppState;
use crate::tls::TlsListener;

/// How long stopped streams get to send their last events before the
/// remaining connections are closed.
const STOPPED_STREAMS_FLUSH: Duration = Duration::from_secs(5);

/// Serve `state` on `listener` (HTTPS when [`crate::ServerOptions::tls`]
/// is set) until `shutdown` resolves; then stop accepting, let running
/// requests finish within [`crate::ServerOptions::shutdown_grace`], end the
/// streams still open with an error event and `[DONE]`, and return.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state.clone());
    match state.options().tls.clone() {
        Some(config) => {
            let listener = TlsListener::new(listener, config).with_connect_info();
            serve_on(listener, app, state, shutdown).await
        }
        None => {
            // Tokens are small writes: send them at once.
            let listener = listener.tap_io(|tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
            });
            serve_on(listener, app, state, shutdown).await
        }
    }
}

async fn serve_on<L>(
    listener: L,
    app: Router,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    SocketAddr: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let grace = state.options().shutdown_grace;

    let asked = CancellationToken::new();
    let signal = {
        let asked = asked.clone();
        async move {
            shutdown.await;
            asked.cancel();
        }
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .into_future();
    tokio::pin!(server);

    tokio::select! {
        result = &mut server => return result,
        () = asked.cancelled() => {}
    }
    state.begin_draining();
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new connections, waiting for running requests"
    );
    if let Ok(result) = tokio::time::timeout(grace, &mut server).await {
        tracing::info!("all requests finished; stopped");
        return result;
    }

    tracing::warn!("grace period over: stopping the generations still running");
    state.stop_generations();
    match tokio::time::timeout(STOPPED_STREAMS_FLUSH, &mut server).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!("connections still open after stopping generations; closing them");
            Ok(())
        }
    }
}
