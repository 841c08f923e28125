//! `GET /v1/models` and `GET /v1/models/{model}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use moat_protocol::models::{ModelCard, ModelList};
use moat_protocol::{ApiError, ErrorKind};
use moat_router::BackendInfo;

use crate::auth::Caller;
use crate::error::ErrorResponse;
use crate::state::AppState;

fn card(info: BackendInfo) -> ModelCard {
    ModelCard::new(info.id, info.created, info.context_length)
}

/// Only the models the caller may use are listed.
pub(crate) async fn list_models(State(state): State<AppState>, caller: Caller) -> Json<ModelList> {
    Json(ModelList {
        object: "list".to_owned(),
        data: state
            .gateway()
            .models_for(&caller.0)
            .into_iter()
            .map(card)
            .collect(),
    })
}

pub(crate) async fn get_model(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ModelCard>, ErrorResponse> {
    let Path(model) = path.map_err(|rejection| {
        ApiError::new(ErrorKind::InvalidRequest, rejection.body_text()).with_param("model")
    })?;
    Ok(Json(card(state.gateway().model_for(&caller.0, &model)?)))
}
