//! `[[tools]]` (the server-side tool registry) and `[tool_loop]` (its limits).

use std::path::Path;
use std::time::Duration;

use moat_policy::Roles;
use moat_server::ToolLoopSettings;
use moat_tools::ToolRegistry;
use serde::Deserialize;

/// The `[tool_loop]` table; its defaults are [`ToolLoopSettings`]'.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolLoopOptions {
    /// Model turns in one request with server-side tools.
    pub max_steps: u32,
    /// Invalid tool arguments returned to the model before the request
    /// fails.
    pub max_invalid_arguments: u32,
    /// Seconds a call marked `confirm` waits for the caller's decision.
    pub confirmation_ttl_secs: u64,
}

impl Default for ToolLoopOptions {
    fn default() -> Self {
        let settings = ToolLoopSettings::default();
        Self {
            max_steps: settings.max_steps,
            max_invalid_arguments: settings.max_invalid_arguments,
            confirmation_ttl_secs: settings.confirmation_ttl.as_secs(),
        }
    }
}

/// The loop's limits, checked.
impl TryFrom<&ToolLoopOptions> for ToolLoopSettings {
    type Error = anyhow::Error;

    fn try_from(options: &ToolLoopOptions) -> anyhow::Result<Self> {
        let max_steps = options.max_steps;
        anyhow::ensure!(
            (1..=64).contains(&max_steps),
            "[tool_loop] max_steps must be between 1 and 64, not {max_steps}"
        );
        let max_invalid_arguments = options.max_invalid_arguments;
        anyhow::ensure!(
            max_invalid_arguments <= 16,
            "[tool_loop] max_invalid_arguments must be at most 16, not {max_invalid_arguments}"
        );
        anyhow::ensure!(
            (10..=86_400).contains(&options.confirmation_ttl_secs),
            "[tool_loop] confirmation_ttl_secs must be between 10 and 86400"
        );
        Ok(Self {
            max_steps,
            max_invalid_arguments,
            confirmation_ttl: Duration::from_secs(options.confirmation_ttl_secs),
            ..Self::default()
        })
    }
}

/// The registered tools and the loop's limits, checked.
#[derive(Debug, Clone)]
pub struct ToolsConfig {
    pub registry: ToolRegistry,
    pub settings: ToolLoopSettings,
}

/// Check every `[[tools]]` entry (schemas compile, URLs and hosts agree,
/// secrets in headers are set) and `[tool_loop]`. `config_path` is the
/// configuration file: schema files are read relative to its directory.
pub fn resolve(
    tools: Vec<moat_tools::ToolConfig>,
    loop_options: &ToolLoopOptions,
    config_path: Option<&Path>,
) -> anyhow::Result<ToolsConfig> {
    let base_dir = config_path
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let registry = ToolRegistry::new(tools, base_dir).map_err(|e| match config_path {
        Some(path) => anyhow::anyhow!("configuration file {}: [[tools]] {e}", path.display()),
        None => anyhow::anyhow!("[[tools]] {e}"),
    })?;
    Ok(ToolsConfig {
        registry,
        settings: ToolLoopSettings::try_from(loop_options)?,
    })
}

/// Every tool a role offers by default (`default_tools`) is registered
/// and one the role may use.
pub fn check_role_defaults(roles: &Roles, registry: &ToolRegistry) -> anyhow::Result<()> {
    for name in roles.names() {
        let Some(role) = roles.get(name) else {
            continue;
        };
        for tool in &role.default_tools {
            let registered = registry.get(tool).ok_or_else(|| {
                anyhow::anyhow!(
                    "[[roles]] role `{name}`, default_tools: `{tool}` is not a registered \
                     tool; add a [[tools]] entry named `{tool}` or remove it"
                )
            })?;
            let allowed = role.tools.matches(tool) || registered.roles().iter().any(|r| r == name);
            anyhow::ensure!(
                allowed,
                "[[roles]] role `{name}`, default_tools: the role may not use `{tool}`; \
                 add it to the role's `tools` (or the role to the tool's `roles`)"
            );
        }
    }
    Ok(())
}
