//! Serving on a listener with graceful shutdown: stop accepting, let running
//! requests finish within the grace period, then stop the generations still
//! running (each open stream gets an error event and `[DONE]`), then return.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::serve::ListenerExt;
use moat_router::ModelRegistry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::{router, ServerOptions};

/// How long stopped streams get to send their last events before the
/// remaining connections are closed.
const STOPPED_STREAMS_FLUSH: Duration = Duration::from_secs(5);

/// Serve `models` on `listener` until `shutdown` resolves; then stop
/// accepting, let running requests finish within
/// [`ServerOptions::shutdown_grace`], end the streams still open with an
/// error event and `[DONE]`, and return.
pub async fn serve(
    listener: TcpListener,
    models: ModelRegistry,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = options.shutdown_grace;
    let state = AppState::new(models, options);
    let app = router(state.clone());

    let asked = CancellationToken::new();
    let signal = {
        let asked = asked.clone();
        async move {
            shutdown.await;
            asked.cancel();
        }
    };
    // Tokens are small writes: send them at once.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app)
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
