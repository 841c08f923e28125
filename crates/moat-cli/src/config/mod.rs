//! The one configuration of `moat serve`: a TOML file, `MOAT_*` environment
//! variables and command-line flags, in rising precedence, with one default
//! per field. Unknown keys in the file are errors naming the key and file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use moat_guard::{CustomRecognizer, Policy, Scanner};
use serde::Deserialize;

mod access;
pub mod network;
pub mod tools;

pub use access::{AccessConfig, AuthFileConfig, StoreArgs, StoreFileConfig, TlsFileConfig};

/// Flags shared by `serve` and `models`; each can also come from the
/// environment (`MOAT_*`) or the configuration file.
#[derive(Debug, Default, Clone, Args)]
pub struct ConfigArgs {
    /// TOML configuration file; see docs/configuration.md.
    #[arg(global = true, long, env = "MOAT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory searched for *.gguf models (repeat for several).
    /// Default: models
    #[arg(
        global = true,
        long,
        env = "MOAT_MODELS_DIR",
        value_name = "DIR",
        value_delimiter = ','
    )]
    pub models_dir: Vec<PathBuf>,
}

/// The configuration file alone: for `moat keys` and `moat usage`.
#[derive(Debug, Default, Clone, Args)]
pub struct ConfigFileArgs {
    /// TOML configuration file; see docs/configuration.md.
    #[arg(global = true, long, env = "MOAT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Flags of `moat serve`.
#[derive(Debug, Default, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: ConfigArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Redis for rate-limit counters shared by several replicas. Default: in memory
    #[arg(long, env = "MOAT_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// Address to listen on; port 0 picks a free port. Default: 127.0.0.1:8080
    #[arg(long, env = "MOAT_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Sequences each embedded model decodes together. Default: 4
    #[arg(long, env = "MOAT_PARALLEL", value_name = "N")]
    pub parallel: Option<u32>,
    /// CPU threads for inference. Default: all cores
    #[arg(long, env = "MOAT_THREADS", value_name = "N")]
    pub threads: Option<u32>,
    /// KV cache size in tokens per embedded model, shared by its sequences;
    /// also the longest request. Default: the model's context, at most 4096
    #[arg(long, env = "MOAT_CTX_SIZE", value_name = "N")]
    pub ctx_size: Option<u32>,
    /// Requests that may wait for a free slot before new ones get 503. Default: 64
    #[arg(long, env = "MOAT_QUEUE_SIZE", value_name = "N")]
    pub queue_size: Option<u32>,
    /// Most tokens decoded in one step (prompt chunk size). Default: 512
    #[arg(long, env = "MOAT_BATCH_SIZE", value_name = "N")]
    pub batch_size: Option<u32>,
    /// Most tokens of a chat answer whose request names no max_tokens.
    /// Default: until the context is full (never past the caller's quota)
    #[arg(long, env = "MOAT_DEFAULT_MAX_TOKENS", value_name = "N")]
    pub default_max_tokens: Option<u32>,
    #[command(flatten)]
    pub network: network::NetworkArgs,
}

/// The TOML file, exactly as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub models_dir: Option<OneOrMany>,
    pub parallel: Option<u32>,
    pub threads: Option<u32>,
    pub ctx_size: Option<u32>,
    pub queue_size: Option<u32>,
    pub batch_size: Option<u32>,
    /// Largest request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Seconds running streams get to finish on shutdown.
    pub shutdown_grace_secs: Option<u64>,
    /// Most tokens of a chat answer whose request names no `max_tokens`.
    pub default_max_tokens: Option<u32>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
    #[serde(default)]
    pub guard: GuardFileConfig,
    /// Client addresses or CIDRs allowed to connect; empty: all.
    #[serde(default)]
    pub allow_clients: Vec<String>,
    /// Browser origins allowed by CORS (`https://app.example.com`); empty: CORS off.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Redis for rate-limit counters shared by several replicas.
    pub redis_url: Option<String>,
    #[serde(default)]
    pub store: StoreFileConfig,
    #[serde(default)]
    pub auth: AuthFileConfig,
    pub tls: Option<TlsFileConfig>,
    #[serde(default)]
    pub roles: Vec<moat_policy::RoleConfig>,
    #[serde(default)]
    pub audit: AuditFileConfig,
    #[serde(default)]
    pub metrics: MetricsFileConfig,
    /// Server-side tools requests may opt into.
    #[serde(default)]
    pub tools: Vec<moat_tools::ToolConfig>,
    #[serde(default)]
    pub tool_loop: tools::ToolLoopFileConfig,
    /// Proxies whose Forwarded / X-Forwarded-For headers name the client.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub connections: network::ConnectionsFileConfig,
}

/// The `[audit]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFileConfig {
    /// Days records are kept; below 180 only with `allow_short_retention`. Default: 180
    pub retention_days: Option<u64>,
    /// Accept a retention under 180 days. Default: false
    #[serde(default)]
    pub allow_short_retention: bool,
    /// The audit keys file (checkpoint signing key, principal pseudonym key),
    /// outside the database. Default: data/audit.key
    pub keys_file: Option<PathBuf>,
}

/// The `[metrics]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFileConfig {
    /// `GET /metrics` without credentials. Default: true when listening on a
    /// loopback address, otherwise an admin key is needed.
    pub open: Option<bool>,
}

/// The resolved `[audit]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    pub retention: Duration,
    pub allow_short_retention: bool,
    pub keys_file: PathBuf,
}

/// The shortest retention accepted without the explicit override (MLPS
/// level 3 asks for six months).
pub const MIN_RETENTION_DAYS: u64 = 180;

/// `[audit]`, checked.
pub fn resolve_audit(file: &FileConfig) -> anyhow::Result<AuditConfig> {
    let days = file.audit.retention_days.unwrap_or(MIN_RETENTION_DAYS);
    anyhow::ensure!(days >= 1, "[audit] retention_days must be at least 1");
    anyhow::ensure!(
        days >= MIN_RETENTION_DAYS || file.audit.allow_short_retention,
        "[audit] retention_days = {days} is under {MIN_RETENTION_DAYS} days; set \
         allow_short_retention = true if that is really meant"
    );
    Ok(AuditConfig {
        retention: Duration::from_secs(days.saturating_mul(86_400)),
        allow_short_retention: file.audit.allow_short_retention,
        keys_file: file
            .audit
            .keys_file
            .clone()
            .unwrap_or_else(|| PathBuf::from("data/audit.key")),
    })
}

/// The `[guard]` table: what happens to personal data before a model sees it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardFileConfig {
    /// allow | mask | pseudonymize | block. Default: pseudonymize
    pub policy: Option<Policy>,
    /// `[[guard.recognizers]]`: the operator's own kinds of personal data.
    #[serde(default)]
    pub recognizers: Vec<CustomRecognizer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Embedded,
    Upstream,
}

/// One `[[models]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The id clients use; default: the file stem (embedded) — required for upstream.
    pub id: Option<String>,
    #[serde(default)]
    pub backend: BackendKind,
    /// Embedded: the GGUF file, inside one of the model directories.
    pub path: Option<PathBuf>,
    /// Upstream: base URL of an OpenAI-compatible API, e.g. http://10.0.0.5:8000/v1
    pub base_url: Option<String>,
    /// Upstream: name of the environment variable holding its API key.
    pub api_key_env: Option<String>,
    /// Upstream: the model name the upstream knows; default: `id`.
    pub upstream_model: Option<String>,
    /// Upstream: seconds to wait for the first byte. Default: 60
    pub timeout_secs: Option<u64>,
    /// Upstream: context length to advertise in /v1/models.
    pub context_length: Option<u32>,
    /// Embedded chat model: answer `/v1/embeddings` too (mean pooling over
    /// its last hidden states). Embedding models (a pooling type in the
    /// GGUF) need no setting. Default: false
    #[serde(default)]
    pub embeddings: bool,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub models_dirs: Vec<PathBuf>,
    pub parallel: u32,
    pub threads: Option<u32>,
    pub ctx_size: Option<u32>,
    pub queue_size: u32,
    pub batch_size: u32,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// `None`: a chat answer without `max_tokens` runs until the context is
    /// full or the caller's quota is spent.
    pub default_max_tokens: Option<u32>,
    pub models: Vec<ModelConfigResolved>,
    pub guard: GuardConfig,
    pub access: AccessConfig,
    pub audit: AuditConfig,
    /// `GET /metrics` without credentials.
    pub metrics_open: bool,
    pub tools: tools::ToolsConfig,
    pub network: network::NetworkConfig,
}

/// The personal-data guard's settings, checked: every custom recognizer
/// compiles.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardConfig {
    pub policy: Policy,
    pub recognizers: Vec<CustomRecognizer>,
}

impl GuardConfig {
    /// The scanner with the built-in and the custom recognizers; an invalid
    /// custom recognizer is an error naming it.
    pub fn scanner(&self) -> anyhow::Result<Scanner> {
        Scanner::with_custom(&self.recognizers).map_err(|e| anyhow::anyhow!("[guard] {e}"))
    }
}

/// A `[[models]]` entry after checks.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfigResolved {
    Embedded {
        id: Option<String>,
        path: PathBuf,
        /// Answer `/v1/embeddings` too.
        embeddings: bool,
    },
    Upstream {
        id: String,
        base_url: String,
        api_key_env: Option<String>,
        upstream_model: Option<String>,
        timeout: Duration,
        context_length: Option<u32>,
    },
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_models_dirs() -> Vec<PathBuf> {
    vec![PathBuf::from("models")]
}
const fn default_parallel() -> u32 {
    4
}
const fn default_queue_size() -> u32 {
    64
}
const fn default_batch_size() -> u32 {
    512
}
const fn default_max_body_bytes() -> usize {
    8 << 20
}
const fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}
const fn default_upstream_timeout() -> Duration {
    Duration::from_secs(60)
}
const fn default_guard_policy() -> Policy {
    Policy::Pseudonymize
}

/// Read the file named by `--config`/`MOAT_CONFIG`, if any.
pub fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read configuration file {}: {e}", path.display()))?;
    parse_file(&text, path)
}

pub fn parse_file(text: &str, path: &Path) -> anyhow::Result<FileConfig> {
    toml::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "configuration file {}: {}",
            path.display(),
            e.message_with_span(text)
        )
    })
}

trait MessageWithSpan {
    fn message_with_span(&self, text: &str) -> String;
}

impl MessageWithSpan for toml::de::Error {
    fn message_with_span(&self, text: &str) -> String {
        match self.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("line {line}: {}", self.message())
            }
            None => self.message().to_owned(),
        }
    }
}

impl Config {
    /// Merge flags and environment (already in `args`) over the file.
    pub fn resolve(args: &ServeArgs, file: FileConfig) -> anyhow::Result<Self> {
        let mut access = AccessConfig::resolve(&args.store, &file_access(&file))?;
        let audit = resolve_audit(&file)?;
        if let Some(url) = &args.redis_url {
            access.redis_url = Some(access::check_redis_url(url)?);
        }
        let models_dirs = if !args.common.models_dir.is_empty() {
            args.common.models_dir.clone()
        } else {
            match file.models_dir {
                Some(OneOrMany::One(p)) => vec![p],
                Some(OneOrMany::Many(v)) if !v.is_empty() => v,
                _ => default_models_dirs(),
            }
        };
        let parallel = args
            .parallel
            .or(file.parallel)
            .unwrap_or_else(default_parallel);
        anyhow::ensure!(
            (1..=256).contains(&parallel),
            "parallel must be between 1 and 256, not {parallel}"
        );
        let batch_size = args
            .batch_size
            .or(file.batch_size)
            .unwrap_or_else(default_batch_size);
        anyhow::ensure!(
            (16..=8192).contains(&batch_size),
            "batch_size must be between 16 and 8192, not {batch_size}"
        );
        let ctx_size = args.ctx_size.or(file.ctx_size);
        if let Some(c) = ctx_size {
            anyhow::ensure!(c >= 128, "ctx_size must be at least 128, not {c}");
        }
        let threads = args.threads.or(file.threads);
        if let Some(t) = threads {
            anyhow::ensure!(t >= 1, "threads must be at least 1");
        }
        let models = file
            .models
            .into_iter()
            .enumerate()
            .map(|(i, m)| resolve_model(i, m))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let guard = GuardConfig {
            policy: file.guard.policy.unwrap_or_else(default_guard_policy),
            recognizers: file.guard.recognizers,
        };
        guard.scanner()?;
        let tools = tools::resolve(file.tools, &file.tool_loop, args.common.config.as_deref())?;
        tools::check_role_defaults(&access.roles()?, &tools.registry)?;
        let listen = args.listen.or(file.listen).unwrap_or_else(default_listen);
        let metrics_open = file.metrics.open.unwrap_or(listen.ip().is_loopback());
        let default_max_tokens = args.default_max_tokens.or(file.default_max_tokens);
        anyhow::ensure!(
            default_max_tokens != Some(0),
            "default_max_tokens must be at least 1 (leave it out for no default)"
        );
        let network = network::resolve(&args.network, &file.connections, &file.trusted_proxies)?;
        Ok(Self {
            network,
            listen,
            metrics_open,
            models_dirs,
            parallel,
            threads,
            ctx_size,
            queue_size: args
                .queue_size
                .or(file.queue_size)
                .unwrap_or_else(default_queue_size),
            batch_size,
            max_body_bytes: file.max_body_bytes.unwrap_or_else(default_max_body_bytes),
            shutdown_grace: file
                .shutdown_grace_secs
                .map_or_else(default_shutdown_grace, Duration::from_secs),
            default_max_tokens,
            models,
            guard,
            access,
            audit,
            tools,
        })
    }
}

/// The access-control parts of the file, moved out of it.
fn file_access(file: &FileConfig) -> access::FileAccess<'_> {
    access::FileAccess {
        allow_clients: &file.allow_clients,
        cors_origins: &file.cors_origins,
        redis_url: file.redis_url.as_deref(),
        store: &file.store,
        auth: &file.auth,
        tls: file.tls.as_ref(),
        roles: &file.roles,
    }
}

/// The access configuration alone, for `moat keys` and `moat usage`.
pub fn resolve_access(store: &StoreArgs, file: &FileConfig) -> anyhow::Result<AccessConfig> {
    AccessConfig::resolve(store, &file_access(file))
}

fn resolve_model(index: usize, m: ModelConfig) -> anyhow::Result<ModelConfigResolved> {
    let at = || format!("[[models]] entry {}", index + 1);
    match m.backend {
        BackendKind::Embedded => {
            anyhow::ensure!(
                m.base_url.is_none() && m.api_key_env.is_none() && m.upstream_model.is_none(),
                "{}: base_url, api_key_env and upstream_model are for backend = \"upstream\"",
                at()
            );
            let path = m.path.ok_or_else(|| {
                anyhow::anyhow!("{}: an embedded model needs `path` to a .gguf file", at())
            })?;
            Ok(ModelConfigResolved::Embedded {
                id: m.id,
                path,
                embeddings: m.embeddings,
            })
        }
        BackendKind::Upstream => {
            anyhow::ensure!(m.path.is_none(), "{}: `path` is for embedded models", at());
            anyhow::ensure!(
                !m.embeddings,
                "{}: `embeddings` is for embedded models (an upstream's own server decides)",
                at()
            );
            let id =
                m.id.ok_or_else(|| anyhow::anyhow!("{}: an upstream model needs an `id`", at()))?;
            let base_url = m
                .base_url
                .ok_or_else(|| anyhow::anyhow!("{}: an upstream model needs `base_url`", at()))?;
            anyhow::ensure!(
                base_url.starts_with("http://") || base_url.starts_with("https://"),
                "{}: base_url must start with http:// or https://",
                at()
            );
            Ok(ModelConfigResolved::Upstream {
                id,
                base_url,
                api_key_env: m.api_key_env,
                upstream_model: m.upstream_model,
                timeout: m
                    .timeout_secs
                    .map_or_else(default_upstream_timeout, Duration::from_secs),
                context_length: m.context_length,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file(text: &str) -> anyhow::Result<FileConfig> {
        parse_file(text, Path::new("moat.toml"))
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.models_dirs, [PathBuf::from("models")]);
        assert_eq!(c.parallel, 4);
        assert_eq!(c.queue_size, 64);
        assert_eq!(c.max_body_bytes, 8 << 20);
        assert!(c.models.is_empty());
        assert_eq!(c.guard.policy, Policy::Pseudonymize);
        assert!(c.guard.recognizers.is_empty());
    }

    #[test]
    fn guard_policy_and_custom_recognizers() {
        let f = file(concat!(
            "[guard]\npolicy = \"block\"\n",
            "[[guard.recognizers]]\nname = \"customer_no\"\nprefix = \"KH\"\n",
            "pattern = \"d{10}\"\ncontext = [\"客户号\"]\n",
        ))
        .unwrap();
        let c = Config::resolve(&ServeArgs::default(), f).unwrap();
        assert_eq!(c.guard.policy, Policy::Block);
        assert_eq!(c.guard.recognizers.len(), 1);
        assert_eq!(c.guard.recognizers[0].name, "customer_no");
        let found = c.guard.scanner().unwrap().scan("客户号KH0012345678");
        assert_eq!(found.len(), 1);
        for policy in ["allow", "mask", "pseudonymize"] {
            let f = file(&format!("[guard]\npolicy = \"{policy}\"\n")).unwrap();
            let c = Config::resolve(&ServeArgs::default(), f).unwrap();
            assert_eq!(c.guard.policy.name(), policy);
        }
    }

    #[test]
    fn guard_mistakes_are_named() {
        let err = file("[guard]\npolicy = \"redact\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("redact") && err.contains("line 2"), "{err}");
        let err = file("[guard]\npolcy = \"mask\"\n").unwrap_err().to_string();
        assert!(err.contains("polcy"), "{err}");
        let err =
            file("[[guard.recognizers]]\nname = \"x\"\npattern = \"d{4}\"\nchecksum = \"crc\"\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("crc"), "{err}");
        let f = file("[[guard.recognizers]]\nname = \"staff_no\"\npattern = \"q{4}\"\n").unwrap();
        let err = Config::resolve(&ServeArgs::default(), f)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[guard]") && err.contains("staff_no"), "{err}");
        let f = file("[[guard.recognizers]]\nname = \"mobile\"\npattern = \"d{4}\"\n").unwrap();
        let err = Config::resolve(&ServeArgs::default(), f)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mobile`"), "{err}");
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let err = file("listen = \"127.0.0.1:9\"\nparalel = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("moat.toml"), "{err}");
        assert!(err.contains("paralel"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = file("[[models]]\nid = \"x\"\npth = \"a.gguf\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pth"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let f =
            file("listen = \"0.0.0.0:9000\"\nparallel = 2\nmodels_dir = [\"a\", \"b\"]\n").unwrap();
        let args = ServeArgs {
            parallel: Some(8),
            ..Default::default()
        };
        let c = Config::resolve(&args, f).unwrap();
        assert_eq!(c.parallel, 8);
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.models_dirs, [PathBuf::from("a"), PathBuf::from("b")]);
    }

    #[test]
    fn upstream_models_need_id_and_url() {
        let f = file("[[models]]\nbackend = \"upstream\"\nbase_url = \"http://h/v1\"\n").unwrap();
        let err = Config::resolve(&ServeArgs::default(), f)
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs an `id`"), "{err}");
        let f = file("[[models]]\nid = \"big\"\nbackend = \"upstream\"\nbase_url = \"http://h/v1\"\napi_key_env = \"VLLM_KEY\"\n").unwrap();
        let c = Config::resolve(&ServeArgs::default(), f).unwrap();
        assert!(matches!(&c.models[0], ModelConfigResolved::Upstream { id, .. } if id == "big"));
    }

    #[test]
    fn a_chat_model_can_be_configured_for_embeddings() {
        let f = file("[[models]]\npath = \"models/chat.gguf\"\nembeddings = true\n").unwrap();
        let c = Config::resolve(&ServeArgs::default(), f).unwrap();
        assert!(matches!(
            &c.models[0],
            ModelConfigResolved::Embedded {
                embeddings: true,
                ..
            }
        ));
        let f = file("[[models]]\npath = \"models/chat.gguf\"\n").unwrap();
        let c = Config::resolve(&ServeArgs::default(), f).unwrap();
        assert!(matches!(
            &c.models[0],
            ModelConfigResolved::Embedded {
                embeddings: false,
                ..
            }
        ));
        let f = file("[[models]]\nid = \"u\"\nbackend = \"upstream\"\nbase_url = \"http://h/v1\"\nembeddings = true\n").unwrap();
        let err = Config::resolve(&ServeArgs::default(), f)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`embeddings` is for embedded models"), "{err}");
    }

    /// moat.example.toml, with every commented-out setting switched on,
    /// is a valid configuration.
    #[test]
    fn the_example_file_is_valid_with_every_setting_on() {
        let text = include_str!("../../../../moat.example.toml");
        let setting = |l: &str| {
            l.starts_with('[')
                || l.split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        };
        let on: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if setting(rest) => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(on.contains("\n[[roles]]") && on.contains("\n[tls]"), "{on}");
        let c = Config::resolve(&ServeArgs::default(), file(&on).unwrap()).unwrap();
        assert_eq!(c.access.roles.len(), 1);
        assert!(c.access.tls.is_some() && c.access.oidc.is_some());
        assert_eq!(
            c.access.redis_url.as_deref(),
            Some("redis://127.0.0.1:6379/")
        );
        assert!(!c.access.allow_clients.is_empty());
        assert_eq!(
            c.tools.registry.names().collect::<Vec<_>>(),
            ["get_order_status"]
        );
        assert_eq!(c.tools.settings.max_steps, 8);
        let plain = Config::resolve(&ServeArgs::default(), file(text).unwrap()).unwrap();
        assert!(plain.access.tls.is_none());
    }

    #[test]
    fn tool_errors_name_the_file_and_the_tool() {
        let text = "[[tools]]\nname = \"lookup\"\ndescription = \"d\"\n\
                    parameters = { type = \"object\", properties = { id = { \"$ref\" = \"#/nowhere\" } } }\n\
                    http = { url = \"http://orders.internal/{id}\" }\n";
        let args = ServeArgs {
            common: ConfigArgs {
                config: Some(PathBuf::from("/etc/moat/moat.toml")),
                ..ConfigArgs::default()
            },
            ..ServeArgs::default()
        };
        let err = Config::resolve(&args, file(text).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/moat/moat.toml"), "{err}");
        assert!(err.contains("lookup"), "{err}");
        assert!(err.contains("#/nowhere"), "{err}");
        let err = Config::resolve(
            &ServeArgs::default(),
            file("[tool_loop]\nmax_steps = 0\n").unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("max_steps"), "{err}");
    }

    #[test]
    fn role_default_tools_must_be_registered_and_allowed() {
        let tool = "[[tools]]\nname = \"lookup\"\ndescription = \"d\"\n\
                    http = { url = \"http://orders.internal/x\" }\n";
        let resolve = |roles: &str| {
            Config::resolve(
                &ServeArgs::default(),
                file(&format!("{tool}{roles}")).unwrap(),
            )
        };
        let err = resolve("[[roles]]\nname = \"clerk\"\ndefault_tools = [\"nope\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("clerk") && err.contains("`nope` is not a registered"),
            "{err}"
        );
        let err = resolve("[[roles]]\nname = \"clerk\"\ndefault_tools = [\"lookup\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("clerk") && err.contains("may not use `lookup`"),
            "{err}"
        );
        let ok = resolve(
            "[[roles]]\nname = \"clerk\"\ntools = [\"look*\"]\ndefault_tools = [\"lookup\"]\n",
        )
        .unwrap();
        let roles = ok.access.roles().unwrap();
        assert_eq!(roles.get("clerk").unwrap().default_tools, ["lookup"]);
    }

    #[test]
    fn access_settings_are_checked() {
        let err = |text: &str| {
            Config::resolve(&ServeArgs::default(), file(text).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert!(err("allow_clients = [\"10.0.0.0/33\"]\n").contains("allow_clients"));
        assert!(err("cors_origins = [\"*\"]\n").contains("cors_origins"));
        assert!(err("redis_url = \"http://x\"\n").contains("redis://"));
        assert!(err("[[roles]]\nname = \"a\"\n[[roles]]\nname = \"a\"\n").contains("twice"));
        assert!(err("[[roles]]\nname = \"bad name\"\n").contains("bad name"));
        let e = file("[[roles]]\nname = \"a\"\nmodel = [\"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("model"), "{e}");
        let e = file(
            "[auth.oidc]\nissuer = \"https://i\"\naudience = \"moat\"\nalgorithms = [\"HS256\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("HS256"), "{e}");
        let c = Config::resolve(&ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(c.access.store, "data/moat.db");
        assert_eq!(c.access.secret_file, PathBuf::from("data/moat.secret"));
        assert!(c.access.redis_url.is_none() && c.access.tls.is_none());
    }

    #[test]
    fn audit_retention_below_six_months_needs_the_override() {
        let resolve = |text: &str| resolve_audit(&file(text).unwrap());
        let default = resolve("").unwrap();
        assert_eq!(default.retention, Duration::from_secs(180 * 86_400));
        assert_eq!(default.keys_file, PathBuf::from("data/audit.key"));
        let err = resolve("[audit]\nretention_days = 30\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_short_retention"), "{err}");
        let short =
            resolve("[audit]\nretention_days = 30\nallow_short_retention = true\n").unwrap();
        assert_eq!(short.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(
            resolve("[audit]\nretention_days = 400\n")
                .unwrap()
                .retention
                .as_secs(),
            400 * 86_400
        );
    }

    #[test]
    fn metrics_are_open_on_loopback_only_by_default() {
        let on = |listen: &str, extra: &str| {
            let f = file(&format!("listen = \"{listen}\"\n{extra}")).unwrap();
            Config::resolve(&ServeArgs::default(), f)
                .unwrap()
                .metrics_open
        };
        assert!(on("127.0.0.1:8080", ""));
        assert!(on("[::1]:8080", ""));
        assert!(!on("0.0.0.0:8080", ""));
        assert!(on("0.0.0.0:8080", "[metrics]\nopen = true\n"));
        assert!(!on("127.0.0.1:8080", "[metrics]\nopen = false\n"));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let args = ServeArgs {
            parallel: Some(0),
            ..Default::default()
        };
        assert!(Config::resolve(&args, FileConfig::default()).is_err());
    }
}
