//! The table of served models, looked up by the `model` of each request.

use std::collections::BTreeMap;
use std::sync::Arc;

use moat_protocol::ApiError;

use crate::backend::{Backend, BackendInfo};

/// Served models by id.
#[derive(Clone, Default)]
pub struct ModelRegistry {
    models: BTreeMap<String, Arc<dyn Backend>>,
}

impl ModelRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a backend under its own id; a second one with the same id
    /// is an error naming it.
    pub fn insert(&mut self, backend: Arc<dyn Backend>) -> Result<(), String> {
        let id = backend.info().id;
        if self.models.contains_key(&id) {
            return Err(format!("two models are configured with the id `{id}`"));
        }
        self.models.insert(id, backend);
        Ok(())
    }

    /// The backend for `model`, or 404 `model_not_found`.
    pub fn get(&self, model: &str) -> Result<Arc<dyn Backend>, ApiError> {
        self.models
            .get(model)
            .cloned()
            .ok_or_else(|| ApiError::model_not_found(model))
    }

    /// Every served model, sorted by id.
    pub fn infos(&self) -> Vec<BackendInfo> {
        self.models.values().map(|b| b.info()).collect()
    }

    pub fn backends(&self) -> impl Iterator<Item = &Arc<dyn Backend>> {
        self.models.values()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}
