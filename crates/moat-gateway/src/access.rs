//! What steps 2–4 and 11 of a request need, built once by the binary (or a
//! test) from the store and the configuration.

use moat_audit::{AuditLog, AuditWriter};
use moat_policy::keys::KeyService;
use moat_policy::{Authenticator, Limiter, Sessions};
use moat_store::Store;

/// Authentication, limits, key administration, the store behind them, and
/// the audit log's writer.
#[derive(Clone)]
pub struct Access {
    pub authenticator: Authenticator,
    /// Web UI sessions, standing for the keys they were opened with.
    pub sessions: Sessions,
    pub limiter: Limiter,
    pub keys: KeyService,
    pub store: Store,
    /// Every request's record goes here; `None` only in tests of other
    /// steps.
    pub audit: Option<AuditWriter>,
    /// The log, for reading it (`GET /admin/audit`).
    pub audit_log: Option<AuditLog>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("authenticator", &self.authenticator)
            .field("store", &self.store.describe())
            .field("audit", &self.audit.is_some())
            .finish_non_exhaustive()
    }
}
