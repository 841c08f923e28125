//! Conversations in OpenAI's shapes (`/v1/conversations…`) and moat's list
//! of the caller's own (`/v1/moat/conversations…`). Handlers extract, call
//! the gateway's conversations part, render. Without an audit log (whose
//! subject keys seal them) every route is 404.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_gateway::Conversations;
use moat_protocol::conversations::{
    CreateConversationRequest, CreateItemsRequest, ItemListQuery, SummaryQuery,
    UpdateConversationRequest,
};
use moat_protocol::{ApiError, ErrorKind};

use super::{json, query};
use crate::auth::Calling;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;

type Answer = Result<Response, ErrorResponse>;

fn conversations(state: &AppState) -> Result<&Conversations, ApiError> {
    state.gateway().conversations().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "Conversations are not kept on this server.",
        )
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Calling(call): Calling,
    JsonBody(request): JsonBody<CreateConversationRequest>,
) -> Answer {
    json(conversations(&state)?.create(&call, request).await?)
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(conversations(&state)?.get(&call, &id).await?)
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<UpdateConversationRequest>,
) -> Answer {
    json(conversations(&state)?.update(&call, &id, request).await?)
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(conversations(&state)?.delete(&call, &id).await?)
}

pub(crate) async fn add_items(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CreateItemsRequest>,
) -> Answer {
    json(
        conversations(&state)?
            .add_items(&call, &id, request)
            .await?,
    )
}

pub(crate) async fn list_items(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    q: Result<Query<ItemListQuery>, QueryRejection>,
) -> Answer {
    json(conversations(&state)?.items(&call, &id, &query(q)?).await?)
}

pub(crate) async fn get_item(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path((id, item_id)): Path<(String, String)>,
) -> Answer {
    json(
        conversations(&state)?
            .get_item(&call, &id, &item_id)
            .await?,
    )
}

pub(crate) async fn delete_item(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path((id, item_id)): Path<(String, String)>,
) -> Answer {
    json(
        conversations(&state)?
            .delete_item(&call, &id, &item_id)
            .await?,
    )
}

pub(crate) async fn summaries(
    State(state): State<AppState>,
    Calling(call): Calling,
    q: Result<Query<SummaryQuery>, QueryRejection>,
) -> Answer {
    json(conversations(&state)?.summaries(&call, &query(q)?).await?)
}

pub(crate) async fn export(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    let export = conversations(&state)?.export(&call, &id).await?;
    let name = format!("attachment; filename=\"{}.json\"", export.conversation.id);
    let mut response = Json(export).into_response();
    if let Ok(value) = name.parse() {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
