//! One request as the pipeline sees it: who asks, and the trail its audit
//! record is written from.

use std::sync::Arc;

use moat_policy::Principal;

use crate::audit::AuditTrail;

/// One request's caller and audit trail.
#[derive(Clone)]
pub struct Call {
    /// The authenticated caller.
    pub principal: Arc<Principal>,
    /// The request's audit trail (it carries the request id).
    pub trail: AuditTrail,
}

impl Call {
    pub fn new(principal: Arc<Principal>, trail: AuditTrail) -> Self {
        Self { principal, trail }
    }
}
