//! Step 7, route: a model name to the backend that serves it.

use std::sync::Arc;

use moat_protocol::ApiError;
use moat_router::Backend;

use crate::{authorize, Call, Gateway};

impl Gateway {
    /// The backend of `model`, for a caller allowed to use it (403 first,
    /// then 404 when allowed but not served). Only a served name enters the
    /// request's log span and audit record: any other is the caller's text.
    pub(crate) fn route(&self, call: &Call, model: &str) -> Result<Arc<dyn Backend>, ApiError> {
        authorize::model(&call.principal, model)?;
        let backend = self.parts.models.get(model)?;
        tracing::Span::current().record("model", model);
        call.trail.model(model, backend.info().kind);
        Ok(backend)
    }
}

impl Gateway {
    /// What is known of `model`, for a caller allowed to use it (403
    /// first, then 404).
    pub fn model_for(
        &self,
        principal: &moat_policy::Principal,
        model: &str,
    ) -> Result<moat_router::BackendInfo, ApiError> {
        authorize::model(principal, model)?;
        Ok(self.parts.models.get(model)?.info())
    }
}
