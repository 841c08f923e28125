//! The one configuration of `moat serve`: defaults, a TOML file, `MOAT_*`
//! environment variables and command-line flags, in rising precedence, all
//! declared once in [`Options`]; each crate's settings are built from it
//! here. Unknown keys in the file are errors naming the key, line and file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use moat_engine::EngineConfig;
use moat_guard::{CustomRecognizer, Policy, Scanner};
use moat_router::embedded::EmbeddedSettings;

mod access;
mod knowledge;
mod layers;
mod models;
pub mod network;
mod options;
pub mod tools;

pub use access::{AccessConfig, StoreOptions};
pub use layers::{load, load_with, parse_command_line};
pub use models::ModelConfigResolved;
pub use options::{AuditOptions, ConfigFile, GuardOptions, Options, MIN_RETENTION_DAYS};

/// The resolved configuration: each part checked, in the settings type of
/// the crate it is for.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub models_dirs: Vec<PathBuf>,
    /// The embedded engine's settings, for every embedded model.
    pub engine: EngineConfig,
    /// The embedded backend's settings, for every embedded model.
    pub embedded: EmbeddedSettings,
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
    pub knowledge: moat_server::KnowledgeSettings,
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

impl TryFrom<GuardOptions> for GuardConfig {
    type Error = anyhow::Error;

    fn try_from(options: GuardOptions) -> anyhow::Result<Self> {
        let guard = Self {
            policy: options.policy,
            recognizers: options.recognizers,
        };
        guard.scanner()?;
        Ok(guard)
    }
}

/// The resolved `[audit]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    pub retention: Duration,
    pub allow_short_retention: bool,
    pub keys_file: PathBuf,
}

/// `[audit]`, checked.
impl TryFrom<&AuditOptions> for AuditConfig {
    type Error = anyhow::Error;

    fn try_from(audit: &AuditOptions) -> anyhow::Result<Self> {
        let days = audit.retention_days;
        anyhow::ensure!(days >= 1, "[audit] retention_days must be at least 1");
        anyhow::ensure!(
            days >= MIN_RETENTION_DAYS || audit.allow_short_retention,
            "[audit] retention_days = {days} is under {MIN_RETENTION_DAYS} days; set \
             allow_short_retention = true if that is really meant"
        );
        Ok(Self {
            retention: Duration::from_secs(days.saturating_mul(86_400)),
            allow_short_retention: audit.allow_short_retention,
            keys_file: audit.keys_file.clone(),
        })
    }
}

/// The embedded engine's settings, checked.
impl TryFrom<&Options> for EngineConfig {
    type Error = anyhow::Error;

    fn try_from(options: &Options) -> anyhow::Result<Self> {
        let parallel = options.parallel;
        anyhow::ensure!(
            (1..=256).contains(&parallel),
            "parallel must be between 1 and 256, not {parallel}"
        );
        let batch_size = options.batch_size;
        anyhow::ensure!(
            (16..=8192).contains(&batch_size),
            "batch_size must be between 16 and 8192, not {batch_size}"
        );
        if let Some(c) = options.ctx_size {
            anyhow::ensure!(c >= 128, "ctx_size must be at least 128, not {c}");
        }
        if let Some(t) = options.threads {
            anyhow::ensure!(t >= 1, "threads must be at least 1");
        }
        Ok(Self {
            parallel,
            ctx_size: options.ctx_size,
            threads: options.threads,
            batch_size,
            queue_size: options.queue_size,
        })
    }
}

/// The embedded backend's settings.
impl From<&Options> for EmbeddedSettings {
    fn from(options: &Options) -> Self {
        Self {
            tool_grammar: options.tool_grammar.into(),
        }
    }
}

impl Config {
    /// Check `options` and build each part's settings from them.
    pub fn resolve(options: Options) -> anyhow::Result<Self> {
        let access = AccessConfig::resolve(&options)?;
        let audit = AuditConfig::try_from(&options.audit)?;
        let engine = EngineConfig::try_from(&options)?;
        let embedded = EmbeddedSettings::from(&options);
        let network = network::resolve(&options)?;
        let listen = options.listen;
        let metrics_open = options.metrics.open.unwrap_or(listen.ip().is_loopback());
        let default_max_tokens = options.default_max_tokens;
        anyhow::ensure!(
            default_max_tokens != Some(0),
            "default_max_tokens must be at least 1 (leave it out for no default)"
        );
        let models = options
            .models
            .into_iter()
            .enumerate()
            .map(|(i, m)| models::resolve(i, m))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let guard = GuardConfig::try_from(options.guard)?;
        let tools = tools::resolve(
            options.tools,
            &options.tool_loop,
            options.file.config.as_deref(),
        )?;
        tools::check_role_defaults(&access.roles()?, &tools.registry)?;
        // Knowledge-base indexes are this process's own (`data/kb`), also
        // when replicas share the database and the secret: each keeps its
        // indexes in line with the database.
        let data_dir = PathBuf::from("data");
        let knowledge = options.knowledge.settings(&data_dir)?;
        Ok(Self {
            listen,
            models_dirs: options.models_dir,
            engine,
            embedded,
            max_body_bytes: options.max_body_bytes,
            shutdown_grace: Duration::from_secs(options.shutdown_grace_secs),
            default_max_tokens,
            models,
            guard,
            access,
            audit,
            metrics_open,
            tools,
            network,
            knowledge,
        })
    }
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use super::testing::layered;
    use super::*;

    fn file(text: &str) -> anyhow::Result<Options> {
        layers::parse_file(text, Path::new("moat.toml"))
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::resolve(Options::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.models_dirs, [PathBuf::from("models")]);
        assert_eq!(c.engine.parallel, 4);
        assert_eq!(c.engine.queue_size, 64);
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
        let c = Config::resolve(f).unwrap();
        assert_eq!(c.guard.policy, Policy::Block);
        assert_eq!(c.guard.recognizers.len(), 1);
        assert_eq!(c.guard.recognizers[0].name, "customer_no");
        let found = c.guard.scanner().unwrap().scan("客户号KH0012345678");
        assert_eq!(found.len(), 1);
        for policy in ["allow", "mask", "pseudonymize"] {
            let f = file(&format!("[guard]\npolicy = \"{policy}\"\n")).unwrap();
            let c = Config::resolve(f).unwrap();
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
        let err = Config::resolve(f).unwrap_err().to_string();
        assert!(err.contains("[guard]") && err.contains("staff_no"), "{err}");
        let f = file("[[guard.recognizers]]\nname = \"mobile\"\npattern = \"d{4}\"\n").unwrap();
        let err = Config::resolve(f).unwrap_err().to_string();
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
        let f = "listen = \"0.0.0.0:9000\"\nparallel = 2\nmodels_dir = [\"a\", \"b\"]\n";
        let c = Config::resolve(layered(Some(f), &["--parallel", "8"], &[]).unwrap()).unwrap();
        assert_eq!(c.engine.parallel, 8);
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.models_dirs, [PathBuf::from("a"), PathBuf::from("b")]);
    }

    #[test]
    fn upstream_models_need_id_and_url() {
        let f = file("[[models]]\nbackend = \"upstream\"\nbase_url = \"http://h/v1\"\n").unwrap();
        let err = Config::resolve(f).unwrap_err().to_string();
        assert!(err.contains("needs an `id`"), "{err}");
        let f = file("[[models]]\nid = \"big\"\nbackend = \"upstream\"\nbase_url = \"http://h/v1\"\napi_key_env = \"VLLM_KEY\"\n").unwrap();
        let c = Config::resolve(f).unwrap();
        assert!(matches!(&c.models[0], ModelConfigResolved::Upstream { id, .. } if id == "big"));
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
        let c = Config::resolve(file(&on).unwrap()).unwrap();
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
        let plain = Config::resolve(file(text).unwrap()).unwrap();
        assert!(plain.access.tls.is_none());
    }

    #[test]
    fn tool_errors_name_the_file_and_the_tool() {
        let text = "[[tools]]\nname = \"lookup\"\ndescription = \"d\"\n\
                    parameters = { type = \"object\", properties = { id = { \"$ref\" = \"#/nowhere\" } } }\n\
                    http = { url = \"http://orders.internal/{id}\" }\n";
        let mut options = file(text).unwrap();
        options.file.config = Some(PathBuf::from("/etc/moat/moat.toml"));
        let err = Config::resolve(options).unwrap_err().to_string();
        assert!(err.contains("/etc/moat/moat.toml"), "{err}");
        assert!(err.contains("lookup"), "{err}");
        assert!(err.contains("#/nowhere"), "{err}");
        let err = Config::resolve(file("[tool_loop]\nmax_steps = 0\n").unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_steps"), "{err}");
    }

    #[test]
    fn role_default_tools_must_be_registered_and_allowed() {
        let tool = "[[tools]]\nname = \"lookup\"\ndescription = \"d\"\n\
                    http = { url = \"http://orders.internal/x\" }\n";
        let resolve = |roles: &str| Config::resolve(file(&format!("{tool}{roles}")).unwrap());
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
            Config::resolve(file(text).unwrap())
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
        let c = Config::resolve(Options::default()).unwrap();
        assert_eq!(c.access.store, "data/moat.db");
        assert_eq!(c.access.secret_file, PathBuf::from("data/moat.secret"));
        assert!(c.access.redis_url.is_none() && c.access.tls.is_none());
    }

    #[test]
    fn audit_retention_below_six_months_needs_the_override() {
        let resolve = |text: &str| AuditConfig::try_from(&file(text).unwrap().audit);
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
            Config::resolve(f).unwrap().metrics_open
        };
        assert!(on("127.0.0.1:8080", ""));
        assert!(on("[::1]:8080", ""));
        assert!(!on("0.0.0.0:8080", ""));
        assert!(on("0.0.0.0:8080", "[metrics]\nopen = true\n"));
        assert!(!on("127.0.0.1:8080", "[metrics]\nopen = false\n"));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let options = Options {
            parallel: 0,
            ..Default::default()
        };
        assert!(Config::resolve(options).is_err());
    }
}
