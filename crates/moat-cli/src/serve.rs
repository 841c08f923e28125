//! `moat serve`: load the models, bind, serve until SIGTERM or Ctrl-C.

use std::sync::Arc;

use moat_engine::{Engine, EngineConfig};
use moat_router::embedded::EmbeddedBackend;
use moat_router::upstream::{UpstreamBackend, UpstreamConfig};
use moat_router::ModelRegistry;
use moat_server::{PiiGuard, ServerOptions};

use crate::config::{self, Config, ModelConfigResolved, ServeArgs};
use crate::models::{describe, no_models_hint, plan, Planned};
use crate::output::{human_size, say};

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let file = config::read_file(args.common.config.as_deref())?;
    let config = Config::resolve(&args, file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("moat-http")
        .build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let planned = plan(&config)?;
    if planned.is_empty() {
        anyhow::bail!("{}", no_models_hint(&config));
    }
    let engine_config = EngineConfig {
        parallel: config.parallel,
        ctx_size: config.ctx_size,
        threads: config.threads,
        batch_size: config.batch_size,
        queue_size: config.queue_size,
    };
    let mut registry = ModelRegistry::new();
    for p in planned {
        let line = describe(&p);
        match p {
            Planned::Embedded(file) => {
                let (file_arch, file_quant, file_size, file_path) = (
                    file.metadata.architecture().to_owned(),
                    file.metadata.quantization(),
                    file.size,
                    file.path.clone(),
                );
                tracing::info!(model = %file.id, path = %file.path.display(), "loading model");
                let engine_config = engine_config.clone();
                let engine =
                    tokio::task::spawn_blocking(move || Engine::load(&file, &engine_config))
                        .await??;
                say(&format!(
                    "moat serving model {} ({} {}, {}) from {}: {} slots sharing a {}-token context",
                    engine.id(),
                    file_arch,
                    file_quant,
                    human_size(file_size),
                    file_path.display(),
                    config.parallel,
                    engine.context_length()
                ));
                registry
                    .insert(Arc::new(EmbeddedBackend::new(Arc::new(engine))))
                    .map_err(anyhow::Error::msg)?;
            }
            Planned::Upstream(ModelConfigResolved::Upstream {
                id,
                base_url,
                api_key_env,
                upstream_model,
                timeout,
                context_length,
            }) => {
                let api_key = match &api_key_env {
                    Some(var) => Some(std::env::var(var).map_err(|_| {
                        anyhow::anyhow!(
                            "model {id}: environment variable {var} (api_key_env) is not set"
                        )
                    })?),
                    None => None,
                };
                let backend = UpstreamBackend::new(UpstreamConfig {
                    id,
                    base_url,
                    api_key,
                    upstream_model,
                    timeout,
                    context_length,
                })
                .map_err(anyhow::Error::msg)?;
                say(&format!("moat serving model {line}"));
                registry
                    .insert(Arc::new(backend))
                    .map_err(anyhow::Error::msg)?;
            }
            Planned::Upstream(ModelConfigResolved::Embedded { .. }) => {}
        }
    }

    let guard = PiiGuard::new(config.guard.scanner()?, config.guard.policy);
    tracing::info!(
        policy = config.guard.policy.name(),
        custom_recognizers = config.guard.recognizers.len(),
        "personal-data guard"
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    say(&format!("moat listening on http://{addr}"));
    let options = ServerOptions {
        max_body_bytes: config.max_body_bytes,
        shutdown_grace: config.shutdown_grace,
        guard,
    };
    moat_server::serve(listener, registry, options, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing running requests");
}
