//! The options struct: every setting of `moat serve` declared once, with its
//! TOML key (the field's name), its `MOAT_*` variable and flag (where it has
//! them), its help text (the doc comment) and its one default function.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use moat_engine::EngineConfig;
use moat_guard::{CustomRecognizer, Policy};
use moat_router::embedded::EmbeddedSettings;
use moat_server::ServerOptions;
use serde::{Deserialize, Deserializer};

use super::access::{AuthOptions, StoreOptions, TlsOptions};
use super::knowledge::KnowledgeOptions;
use super::models::ModelConfig;
use super::network::ConnectionOptions;
use super::tools::ToolLoopOptions;

/// The configuration file; named by a flag or the environment, never by
/// the file itself.
#[derive(Debug, Default, Clone, Args)]
pub struct ConfigFile {
    /// TOML configuration file; see docs/configuration.md.
    #[arg(global = true, long, env = "MOAT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Everything `moat serve` is configured with. A field is read from the
/// TOML file, then from its `MOAT_*` variable, then from its flag; tables of
/// the file are the nested sections. Unknown keys are errors.
#[derive(Debug, Clone, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    #[command(flatten)]
    #[serde(skip)]
    pub file: ConfigFile,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "MOAT_LISTEN", value_name = "ADDR", default_value_t = default_listen())]
    pub listen: SocketAddr,
    /// Directory searched for *.gguf models (repeat, or separate with commas,
    /// for several).
    #[arg(
        long,
        env = "MOAT_MODELS_DIR",
        value_name = "DIR",
        value_delimiter = ',',
        default_values_os_t = default_models_dir()
    )]
    #[serde(deserialize_with = "one_or_many")]
    pub models_dir: Vec<PathBuf>,
    /// Sequences each embedded model decodes together.
    #[arg(long, env = "MOAT_PARALLEL", value_name = "N", default_value_t = default_parallel())]
    pub parallel: u32,
    /// CPU threads for inference. Default: all cores
    #[arg(long, env = "MOAT_THREADS", value_name = "N")]
    pub threads: Option<u32>,
    /// KV cache size in tokens per embedded model, shared by its sequences;
    /// also the longest request. Default: the model's context, at most 4096
    #[arg(long, env = "MOAT_CTX_SIZE", value_name = "N")]
    pub ctx_size: Option<u32>,
    /// Requests that may wait for a free slot before new ones get 503.
    #[arg(long, env = "MOAT_QUEUE_SIZE", value_name = "N", default_value_t = default_queue_size())]
    pub queue_size: u32,
    /// Most tokens decoded in one step (prompt chunk size).
    #[arg(long, env = "MOAT_BATCH_SIZE", value_name = "N", default_value_t = default_batch_size())]
    pub batch_size: u32,
    /// Constrain tool calls on the embedded engine with a grammar built from
    /// the tools' JSON Schemas; `off` is for measuring its effect, not for
    /// production.
    #[arg(
        long,
        env = "MOAT_TOOL_GRAMMAR",
        value_name = "on|off",
        value_enum,
        ignore_case = true,
        default_value_t = default_tool_grammar()
    )]
    pub tool_grammar: Switch,
    /// Most tokens of a chat answer whose request names no max_tokens.
    /// Default: until the context is full (never past the caller's quota)
    #[arg(long, env = "MOAT_DEFAULT_MAX_TOKENS", value_name = "N")]
    pub default_max_tokens: Option<u32>,
    /// Largest request body in bytes; larger ones get 413.
    #[arg(skip = default_max_body_bytes())]
    pub max_body_bytes: usize,
    /// Seconds running streams get to finish on shutdown.
    #[arg(skip = default_shutdown_grace_secs())]
    pub shutdown_grace_secs: u64,
    /// `[[models]]`: models added or renamed, embedded or upstream.
    #[arg(skip)]
    pub models: Vec<ModelConfig>,
    /// `[guard]`: what happens to personal data before a model sees it.
    #[arg(skip)]
    pub guard: GuardOptions,
    /// Client addresses or CIDRs allowed to connect; empty: all.
    #[arg(skip)]
    pub allow_clients: Vec<String>,
    /// Browser origins allowed by CORS (`https://app.example.com`); empty: CORS off.
    #[arg(skip)]
    pub cors_origins: Vec<String>,
    /// Redis for rate-limit counters shared by several replicas. Default: in memory
    #[arg(long, env = "MOAT_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// Proxies (addresses or CIDRs) whose Forwarded / X-Forwarded-For
    /// headers name the client. Default: none
    #[arg(
        long,
        env = "MOAT_TRUSTED_PROXIES",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// `[connections]`: timeouts and caps of client connections.
    #[command(flatten)]
    pub connections: ConnectionOptions,
    /// `[store]`: where keys, usage and the audit log live.
    #[command(flatten)]
    pub store: StoreOptions,
    /// `[auth]`: brute-force thresholds and OIDC.
    #[arg(skip)]
    pub auth: AuthOptions,
    /// `[tls]`: serve HTTPS.
    #[arg(skip)]
    pub tls: Option<TlsOptions>,
    /// `[[roles]]`: what each role may do.
    #[arg(skip)]
    pub roles: Vec<moat_policy::RoleConfig>,
    /// `[audit]`: retention and the keys file.
    #[command(flatten)]
    pub audit: AuditOptions,
    /// `[metrics]`: who may read `GET /metrics`.
    #[arg(skip)]
    pub metrics: MetricsOptions,
    /// `[[tools]]`: server-side tools requests may opt into.
    #[arg(skip)]
    pub tools: Vec<moat_tools::ToolConfig>,
    /// `[tool_loop]`: limits of the server-side tool loop.
    #[arg(skip)]
    pub tool_loop: ToolLoopOptions,
    /// `[knowledge]`: knowledge bases' embedding model, uploads, ingest and
    /// search.
    #[arg(skip)]
    pub knowledge: KnowledgeOptions,
    /// `[ui]`: the web UI's sessions.
    #[arg(skip)]
    pub ui: UiOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            file: ConfigFile::default(),
            listen: default_listen(),
            models_dir: default_models_dir(),
            parallel: default_parallel(),
            threads: None,
            ctx_size: None,
            queue_size: default_queue_size(),
            batch_size: default_batch_size(),
            tool_grammar: default_tool_grammar(),
            default_max_tokens: None,
            max_body_bytes: default_max_body_bytes(),
            shutdown_grace_secs: default_shutdown_grace_secs(),
            models: Vec::new(),
            guard: GuardOptions::default(),
            allow_clients: Vec::new(),
            cors_origins: Vec::new(),
            redis_url: None,
            trusted_proxies: Vec::new(),
            connections: ConnectionOptions::default(),
            store: StoreOptions::default(),
            auth: AuthOptions::default(),
            tls: None,
            roles: Vec::new(),
            audit: AuditOptions::default(),
            metrics: MetricsOptions::default(),
            tools: Vec::new(),
            tool_loop: ToolLoopOptions::default(),
            knowledge: KnowledgeOptions::default(),
            ui: UiOptions::default(),
        }
    }
}

/// A setting that is on or off (`on`/`off`; `true`/`false` and `1`/`0` are
/// accepted on the command line and in the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    #[value(alias = "true", alias = "1")]
    On,
    #[value(alias = "false", alias = "0")]
    Off,
}

impl From<bool> for Switch {
    fn from(on: bool) -> Self {
        if on {
            Self::On
        } else {
            Self::Off
        }
    }
}

impl From<Switch> for bool {
    fn from(switch: Switch) -> Self {
        switch == Switch::On
    }
}

/// The `[guard]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardOptions {
    /// allow | mask | pseudonymize | block.
    pub policy: Policy,
    /// `[[guard.recognizers]]`: the operator's own kinds of personal data.
    pub recognizers: Vec<CustomRecognizer>,
}

impl Default for GuardOptions {
    fn default() -> Self {
        Self {
            policy: default_guard_policy(),
            recognizers: Vec::new(),
        }
    }
}

/// The `[audit]` table.
#[derive(Debug, Clone, Args, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditOptions {
    /// Days records are kept; below 180 only with `allow_short_retention`.
    #[arg(skip = default_retention_days())]
    pub retention_days: u64,
    /// Accept a retention under 180 days.
    #[arg(skip)]
    pub allow_short_retention: bool,
    /// The audit keys file (checkpoint signing key, principal pseudonym key),
    /// outside the database.
    #[arg(
        global = true,
        long = "audit-keys",
        env = "MOAT_AUDIT_KEYS",
        value_name = "FILE",
        default_value_os_t = default_audit_keys_file()
    )]
    pub keys_file: PathBuf,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            retention_days: default_retention_days(),
            allow_short_retention: false,
            keys_file: default_audit_keys_file(),
        }
    }
}

/// The `[metrics]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsOptions {
    /// `GET /metrics` without credentials. Default: true when listening on a
    /// loopback address, otherwise an admin key is needed.
    pub open: Option<bool>,
}

/// The `[ui]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiOptions {
    /// Minutes without a request after which a signed-in session ends
    /// (1 to 1440). Default: 30.
    pub session_idle_minutes: u64,
    /// Hours after sign-in at which a session ends however active (1 to
    /// 168). Default: 12.
    pub session_hours: u64,
    /// Administrators and auditors sign in to the web UI with a one-time
    /// code (TOTP) too; each such key needs `moat keys totp KEY_ID` first.
    /// Default: false.
    pub admin_second_factor: bool,
}

impl Default for UiOptions {
    fn default() -> Self {
        let settings = moat_policy::SessionSettings::default();
        Self {
            session_idle_minutes: settings.idle.as_secs() / 60,
            session_hours: settings.lifetime.as_secs() / 3600,
            admin_second_factor: settings.admin_second_factor,
        }
    }
}

impl UiOptions {
    /// The session settings these name, checked.
    pub fn sessions(&self) -> anyhow::Result<moat_policy::SessionSettings> {
        anyhow::ensure!(
            (1..=1440).contains(&self.session_idle_minutes),
            "[ui] session_idle_minutes must be 1 to 1440, not {}",
            self.session_idle_minutes
        );
        anyhow::ensure!(
            (1..=168).contains(&self.session_hours),
            "[ui] session_hours must be 1 to 168, not {}",
            self.session_hours
        );
        Ok(moat_policy::SessionSettings {
            admin_second_factor: self.admin_second_factor,
            idle: std::time::Duration::from_secs(self.session_idle_minutes * 60),
            lifetime: std::time::Duration::from_secs(self.session_hours * 3600),
        })
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_models_dir() -> Vec<PathBuf> {
    vec![PathBuf::from("models")]
}
fn default_parallel() -> u32 {
    EngineConfig::default().parallel
}
fn default_queue_size() -> u32 {
    EngineConfig::default().queue_size
}
fn default_batch_size() -> u32 {
    EngineConfig::default().batch_size
}
fn default_tool_grammar() -> Switch {
    EmbeddedSettings::default().tool_grammar.into()
}
const fn default_max_body_bytes() -> usize {
    ServerOptions::DEFAULT_MAX_BODY_BYTES
}
const fn default_shutdown_grace_secs() -> u64 {
    ServerOptions::DEFAULT_SHUTDOWN_GRACE.as_secs()
}
fn default_guard_policy() -> Policy {
    Policy::default()
}
/// The shortest retention accepted without the explicit override (MLPS
/// level 3 asks for six months).
pub const MIN_RETENTION_DAYS: u64 = moat_audit::MIN_RETENTION.as_secs() / 86_400;
const fn default_retention_days() -> u64 {
    MIN_RETENTION_DAYS
}
fn default_audit_keys_file() -> PathBuf {
    PathBuf::from("data/audit.key")
}

/// `models_dir = "a"` or `models_dir = ["a", "b"]`; an empty list is the
/// default.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(path) => vec![path],
        OneOrMany::Many(paths) if paths.is_empty() => default_models_dir(),
        OneOrMany::Many(paths) => paths,
    })
}
