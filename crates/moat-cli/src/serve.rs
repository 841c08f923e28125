//! `moat serve`: load the models, bind, serve until SIGTERM or Ctrl-C.

use std::sync::Arc;

use moat_audit::{AuditKeys, AuditLog, WriterSettings};
use moat_engine::{Embedder, EmbedderConfig, Engine};
use moat_router::embedded::EmbeddedBackend;
use moat_router::embedding::EmbeddingBackend;
use moat_router::upstream::{UpstreamBackend, UpstreamConfig};
use moat_router::{ModelPurpose, ModelRegistry};
use moat_server::{AppState, PiiGuard, ServerOptions};
use tokio_util::sync::CancellationToken;

use crate::access::{self, KeyAdmin};
use crate::config::{self, Config, ModelConfigResolved, Options};
use crate::models::{describe, no_models_hint, plan, Planned};
use crate::output::{human_size, say};

pub fn run(options: Options) -> anyhow::Result<()> {
    let config = Config::resolve(options)?;
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
    let tls = match &config.access.tls {
        Some(settings) => Some(moat_server::tls::server_config(settings)?),
        None => None,
    };
    let key_admin = KeyAdmin::open(&config.access).await?;
    tracing::info!(store = %key_admin.store.describe(), "store open");
    access::ensure_admin_key(&key_admin).await?;
    let audit_log = open_audit(&config, &key_admin.store).await?;
    let audit_writer = audit_log.writer(WriterSettings::default());
    let stop_tasks = CancellationToken::new();
    let purge_task = tokio::spawn(purge_daily(
        audit_log.clone(),
        config.audit.clone(),
        stop_tasks.clone(),
    ));
    let parking = (key_admin.store.clone(), key_admin.parking_key);
    let serving = access::build(
        &config.access,
        key_admin,
        audit_log.clone(),
        audit_writer.clone(),
        stop_tasks.clone(),
    )
    .await?;
    // Embedding models share the engine's threads and queue size.
    let embedder_config = EmbedderConfig {
        threads: config.engine.threads,
        queue_size: config.engine.queue_size,
        ..EmbedderConfig::default()
    };
    let mut registry = ModelRegistry::new();
    for p in planned {
        let line = describe(&p);
        match p {
            Planned::Embedded { file, .. }
                if moat_engine::embedding::embedding_pooling(&file.metadata).is_some() =>
            {
                registry
                    .insert(load_embedding_model(file, embedder_config.clone()).await?)
                    .map_err(anyhow::Error::msg)?;
            }
            Planned::Embedded { file, embeddings } => {
                let (file_arch, file_quant, file_size, file_path) = (
                    file.metadata.architecture().to_owned(),
                    file.metadata.quantization(),
                    file.size,
                    file.path.clone(),
                );
                tracing::info!(model = %file.id, path = %file.path.display(), "loading model");
                let engine_config = config.engine.clone();
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
                    config.engine.parallel,
                    engine.context_length()
                ));
                let engine = Arc::new(engine);
                let mut backend = EmbeddedBackend::new(Arc::clone(&engine), config.embedded);
                if embeddings {
                    let embedder_config = embedder_config.clone();
                    let embedder = tokio::task::spawn_blocking(move || {
                        Embedder::for_engine(&engine, &embedder_config)
                    })
                    .await??;
                    say(&format!(
                        "moat serving embeddings of {} ({} dimensions)",
                        embedder.id(),
                        embedder.dimensions()
                    ));
                    backend = backend.with_embedder(Arc::new(embedder));
                }
                registry
                    .insert(Arc::new(backend))
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
    check_served(
        &registry,
        "embedding_model",
        config.knowledge.embedding_model.as_deref(),
        ("embedding model", ModelPurpose::embeds),
    )?;
    check_served(
        &registry,
        "reranker",
        config.knowledge.reranker.as_deref(),
        ("reranker", ModelPurpose::ranks),
    )?;

    let guard = PiiGuard::new(config.guard.scanner()?, config.guard.policy);
    tracing::info!(
        policy = config.guard.policy.name(),
        custom_recognizers = config.guard.recognizers.len(),
        "personal-data guard"
    );

    let cors_origins = config
        .access
        .cors_origins
        .iter()
        .map(|o| o.parse())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("cors_origins: {e}"))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let options = ServerOptions {
        max_body_bytes: config.max_body_bytes,
        shutdown_grace: config.shutdown_grace,
        allow_clients: config.access.allow_clients.clone(),
        cors_origins,
        tls,
        metrics_open: config.metrics_open,
        connections: config.network.connections,
        trusted_proxies: config.network.trusted_proxies.clone(),
    };
    let parts = moat_server::GatewayParts {
        guard,
        tools: Some(
            moat_server::ServerTools::parked_in(
                config.tools.registry.clone(),
                config.tools.settings,
                parking.0,
                &parking.1,
            )
            .map_err(|e| anyhow::anyhow!("[[tools]] {e}"))?,
        ),
        knowledge: Some(config.knowledge.clone()),
        settings: moat_server::GatewaySettings {
            default_max_tokens: config.default_max_tokens,
        },
    };
    let gateway = moat_server::Gateway::new(registry, serving.access, parts);
    if let Some(knowledge) = gateway.knowledge() {
        // Stores switch to a changed embedding model before any ingest
        // resumes, so that resumed ingests embed with the new one.
        match knowledge.resume_reembeds().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(stores = n, "re-embedding knowledge bases in the background"),
            Err(e) => tracing::warn!(error = %e, "knowledge-base re-embeds were not started"),
        }
        match knowledge.resume_ingests().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "resuming interrupted ingests"),
            Err(e) => tracing::warn!(error = %e, "interrupted ingests were not resumed"),
        }
    }
    // Expired conversations and ended sessions are gone before the first
    // request, and every hour after.
    let housekeeping = Housekeeping {
        conversations: gateway.conversations().cloned(),
        sessions: gateway.access().sessions.clone(),
    };
    housekeeping.run().await;
    let housekeeping = tokio::spawn(housekeeping.hourly(stop_tasks.clone()));
    let state = AppState::new(gateway, options);
    let shutdown = shutdown_signal()?;
    say(&format!("moat listening on {scheme}://{addr}"));
    let result = moat_server::serve(listener, state, shutdown).await;
    stop_tasks.cancel();
    if let Err(error) = audit_writer.close().await {
        tracing::error!(%error, "audit log not closed cleanly");
    }
    let _ = purge_task.await;
    let _ = housekeeping.await;
    serving.usage.flush().await;
    drop(serving.usage);
    for task in serving.tasks {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    }
    result?;
    tracing::info!("stopped");
    Ok(())
}

/// Load an embedding model (BERT and others: a pooling type in the GGUF)
/// on a blocking thread.
async fn load_embedding_model(
    file: moat_engine::catalog::ModelFile,
    config: EmbedderConfig,
) -> anyhow::Result<Arc<EmbeddingBackend>> {
    tracing::info!(model = %file.id, path = %file.path.display(), "loading embedding model");
    let (arch, quant, size, path) = (
        file.metadata.architecture().to_owned(),
        file.metadata.quantization(),
        file.size,
        file.path.clone(),
    );
    let embedder = tokio::task::spawn_blocking(move || Embedder::load(&file, &config)).await??;
    let what = if embedder.pooling().ranks() {
        format!(
            "reranker {} ({} {}, {}) from {}: up to {} tokens a query and document",
            embedder.id(),
            arch,
            quant,
            human_size(size),
            path.display(),
            embedder.max_tokens()
        )
    } else {
        format!(
            "embedding model {} ({} {}, {}) from {}: {} dimensions, {} pooling, up to {} tokens an input",
            embedder.id(),
            arch,
            quant,
            human_size(size),
            path.display(),
            embedder.dimensions(),
            embedder.pooling().name(),
            embedder.max_tokens()
        )
    };
    say(&format!("moat serving {what}"));
    Ok(Arc::new(EmbeddingBackend::new(Arc::new(embedder))))
}

/// The audit log on the store, with its keys file (created with the log,
/// refused when the log has records but the file is gone).
async fn open_audit(config: &Config, store: &moat_store::Store) -> anyhow::Result<AuditLog> {
    let empty = moat_audit::log_is_empty(store).await?;
    let keys = AuditKeys::load_or_create(&config.audit.keys_file, empty)?;
    let log = AuditLog::open(store.clone(), keys).await?;
    tracing::info!(
        keys = %config.audit.keys_file.display(),
        retention_days = config.audit.retention.as_secs() / 86_400,
        "audit log open"
    );
    Ok(log)
}

/// Once a day (and at start), delete audit records past retention.
async fn purge_daily(log: AuditLog, audit: config::AuditConfig, stop: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(86_400));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let now = moat_policy::clock::Clock::now_ms(&moat_policy::clock::SystemClock);
        match moat_audit::purge(&log, audit.retention, now, audit.allow_short_retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "audit records past retention purged"),
            Err(error) => tracing::warn!(%error, "audit purge failed"),
        }
    }
}

/// What is deleted once it has ended: conversations and stored responses
/// past retention, web UI sessions that timed out.
struct Housekeeping {
    conversations: Option<moat_server::Conversations>,
    sessions: moat_policy::Sessions,
}

impl Housekeeping {
    async fn run(&self) {
        if let Some(conversations) = &self.conversations {
            let now = moat_policy::clock::Clock::now_ms(&moat_policy::clock::SystemClock);
            match conversations.purge_expired(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(conversations = n, "conversations past retention deleted"),
                Err(error) => tracing::warn!(%error, "conversation purge failed"),
            }
            match conversations.purge_expired_responses(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(responses = n, "stored responses past retention deleted"),
                Err(error) => tracing::warn!(%error, "stored response purge failed"),
            }
        }
        match self.sessions.purge().await {
            Ok(n) => tracing::debug!(sessions = n, "ended web UI sessions deleted"),
            Err(error) => tracing::warn!(%error, "web UI session purge failed"),
        }
    }

    /// [`Housekeeping::run`] every hour until `stop`.
    async fn hourly(self, stop: CancellationToken) {
        let hour = std::time::Duration::from_secs(3_600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + hour, hour);
        loop {
            tokio::select! {
                _ = tick.tick() => self.run().await,
                () = stop.cancelled() => return,
            }
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed here, before
/// the listening line is printed, so a signal sent right after it is not
/// lost to the default action.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutdown requested; finishing running requests");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing running requests");
    })
}

/// `[knowledge] embedding_model` and `reranker`, when set, name a served
/// a served model of that `kind`: a typo would otherwise turn every store
/// keyword-only, or leave every search unreranked.
fn check_served(
    registry: &ModelRegistry,
    key: &str,
    model: Option<&str>,
    (kind, does): (&str, fn(ModelPurpose) -> bool),
) -> anyhow::Result<()> {
    let Some(model) = model else {
        return Ok(());
    };
    let mut fitting: Vec<String> = registry
        .infos()
        .into_iter()
        .filter(|info| does(info.purpose))
        .map(|info| info.id)
        .collect();
    if fitting.iter().any(|id| id == model) {
        return Ok(());
    }
    fitting.sort();
    let served = if fitting.is_empty() {
        "none".to_owned()
    } else {
        fitting.join(", ")
    };
    anyhow::bail!("[knowledge] {key} `{model}` is not a served {kind} (served: {served})")
}
