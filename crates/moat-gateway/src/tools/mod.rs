//! Step 9, server-side tools. A chat request names the registered tools
//! it wants (`"moat": {"tools": [...]}`); those the caller may use are
//! offered to the model, and moat runs the calls the model makes: validate
//! the arguments, check the caller's roles, stop for a person's
//! confirmation where the tool says so, execute, feed the result back, and
//! go on until the model answers in text or a limit is reached.

mod parked;
mod run;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use moat_policy::{authorize, Denied, Permission, Principal};
use moat_protocol::chat::Tool;
use moat_protocol::ApiError;
use moat_store::Store;
use moat_tools::{Confirmations, RegisteredTool, RegistryError, ToolExecutor, ToolRegistry};

use parked::Parked;

pub(crate) use run::{run, Conversation, Loop, Pending, Resume};

/// Limits of a tool loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolLoopSettings {
    /// Model turns in one request (a resumed loop counts on).
    pub max_steps: u32,
    /// Invalid arguments sent back to the model before the request fails.
    pub max_invalid_arguments: u32,
    /// How long a call waits for its confirmation.
    pub confirmation_ttl: Duration,
    /// Calls waiting for confirmation, over all callers.
    pub max_pending: usize,
}

impl Default for ToolLoopSettings {
    fn default() -> Self {
        Self {
            max_steps: 8,
            max_invalid_arguments: 2,
            confirmation_ttl: Duration::from_secs(600),
            max_pending: 10_000,
        }
    }
}

/// The registered tools, their executor and the calls awaiting
/// confirmation (in memory, or sealed in the store: see
/// [`ServerTools::parked_in`]); cheap to clone.
#[derive(Clone)]
pub struct ServerTools {
    inner: Arc<Inner>,
}

struct Inner {
    registry: ToolRegistry,
    executor: ToolExecutor,
    settings: ToolLoopSettings,
    parked: Parked,
}

impl ServerTools {
    /// Calls awaiting confirmation are kept in this process's memory.
    pub fn new(registry: ToolRegistry, settings: ToolLoopSettings) -> Result<Self, RegistryError> {
        let parked = Parked::Memory(Confirmations::new(
            settings.confirmation_ttl,
            settings.max_pending,
        ));
        Self::with_parked(registry, settings, parked)
    }

    /// Calls awaiting confirmation are sealed with `key` (32 bytes every
    /// replica derives alike, e.g. from the server secret) and kept in
    /// `store`: any replica sharing both resumes them, and they outlive a
    /// restart.
    pub fn parked_in(
        registry: ToolRegistry,
        settings: ToolLoopSettings,
        store: Store,
        key: &[u8; 32],
    ) -> Result<Self, RegistryError> {
        let parked = Parked::in_store(store, key, settings.confirmation_ttl, settings.max_pending);
        Self::with_parked(registry, settings, parked)
    }

    fn with_parked(
        registry: ToolRegistry,
        settings: ToolLoopSettings,
        parked: Parked,
    ) -> Result<Self, RegistryError> {
        let executor = ToolExecutor::new(registry.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                executor,
                settings,
                parked,
            }),
        })
    }

    /// No tools registered.
    pub fn none() -> Result<Self, RegistryError> {
        Self::new(ToolRegistry::empty(), ToolLoopSettings::default())
    }

    pub(crate) fn settings(&self) -> &ToolLoopSettings {
        &self.inner.settings
    }

    pub(crate) fn registry(&self) -> &ToolRegistry {
        &self.inner.registry
    }

    pub(crate) fn executor(&self) -> &ToolExecutor {
        &self.inner.executor
    }

    /// Park `pending` for `owner` until the owner decides; the one-time
    /// confirmation id.
    pub(crate) async fn park(&self, owner: &str, pending: Pending) -> Result<String, ApiError> {
        self.inner.parked.park(owner, pending).await
    }

    /// The call parked under `id` for `owner`, once; `None` for every id
    /// that is not (or no longer) one of the owner's parked calls.
    pub(crate) async fn take_parked(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<Option<Pending>, ApiError> {
        self.inner.parked.take(id, owner).await
    }

    /// The definitions of `names` for the model, if the caller may use
    /// every one; otherwise 403 `tool_not_allowed` naming the first it may
    /// not use. A name that is not registered gets the same answer, so
    /// names cannot be probed.
    pub(crate) fn offer(
        &self,
        principal: &Principal,
        names: &[String],
    ) -> Result<Vec<Tool>, ApiError> {
        let mut offered: Vec<Tool> = Vec::with_capacity(names.len());
        for name in names {
            match self.inner.registry.get(name) {
                Some(tool) if may_use(principal, tool) => {
                    if !offered.iter().any(|t| t.function.name == *name) {
                        offered.push(tool.definition());
                    }
                }
                _ => return Err(Denied::tool(name).into()),
            }
        }
        Ok(offered)
    }
}

/// A role of the caller lists the tool in its `tools`, or the tool lists
/// one of the caller's roles in its `roles`.
pub(crate) fn may_use(principal: &Principal, tool: &RegisteredTool) -> bool {
    let permission = Permission::Tool {
        name: tool.name(),
        roles: tool.roles(),
    };
    authorize(principal, permission).is_ok()
}

impl fmt::Debug for ServerTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTools")
            .field("tools", &self.inner.registry.names().collect::<Vec<_>>())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}
