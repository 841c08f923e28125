//! Files and vector stores in OpenAI's shapes: `/v1/files…` and
//! `/v1/vector_stores…`. Handlers extract, call the gateway's knowledge
//! part, render. With knowledge bases off, every route is 404.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use moat_gateway::{Knowledge, SearchOptions};
use moat_protocol::files::{FileListQuery, FilePurpose};
use moat_protocol::page::ListQuery;
use moat_protocol::vector_stores::{
    AttachFileRequest, CreateFileBatchRequest, CreateVectorStoreRequest, ModifyVectorStoreRequest,
    SearchRequest, VectorStoreFileListQuery,
};
use moat_protocol::{ApiError, ErrorKind};
use serde::Deserialize;

use super::{json, query};
use crate::auth::Calling;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::state::AppState;

type Answer = Result<Response, ErrorResponse>;

fn knowledge(state: &AppState) -> Result<&Knowledge, ApiError> {
    state.gateway().knowledge().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "Knowledge bases are not enabled on this server.",
        )
    })
}

// ---------- files ----------

/// `POST /v1/files`: multipart with `file` and `purpose`.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Calling(call): Calling,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Answer {
    let kb = knowledge(&state)?;
    let mut multipart = multipart.map_err(|r| {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("Send the file as multipart/form-data: {}", r.body_text()),
        )
    })?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut purpose: Option<String> = None;
    let limit = kb.settings().max_file_bytes;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(&e, limit).into()),
        };
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| multipart_error(&e, limit))?;
                file = Some((name, bytes.to_vec()));
            }
            Some("purpose") => {
                let text = field.text().await.map_err(|e| multipart_error(&e, limit))?;
                purpose = Some(text);
            }
            // Fields OpenAI may add (expires_after…) are ignored.
            _ => {}
        }
    }
    let (name, bytes) =
        file.ok_or_else(|| ApiError::invalid_param("file", "The upload has no `file` field."))?;
    let purpose = purpose
        .ok_or_else(|| ApiError::invalid_param("purpose", "The upload has no `purpose` field."))?;
    let purpose = FilePurpose::parse(purpose.trim())?;
    json(kb.upload(&call, &name, purpose, bytes).await?)
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("The upload is larger than the limit of {limit} bytes."),
        )
    } else {
        ApiError::new(
            ErrorKind::InvalidRequest,
            format!("The multipart body could not be read: {}", e.body_text()),
        )
    }
}

pub(crate) async fn list_files(
    State(state): State<AppState>,
    Calling(call): Calling,
    q: Result<Query<FileListQuery>, QueryRejection>,
) -> Answer {
    json(knowledge(&state)?.files(&call, &query(q)?).await?)
}

pub(crate) async fn get_file(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(knowledge(&state)?.file(&call, &id).await?)
}

pub(crate) async fn file_content(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    let (_, bytes) = knowledge(&state)?.file_content(&call, &id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

pub(crate) async fn delete_file(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(knowledge(&state)?.delete_file(&call, &id).await?)
}

// ---------- vector stores ----------

pub(crate) async fn create_store(
    State(state): State<AppState>,
    Calling(call): Calling,
    JsonBody(request): JsonBody<CreateVectorStoreRequest>,
) -> Answer {
    json(knowledge(&state)?.create_store(&call, request).await?)
}

pub(crate) async fn list_stores(
    State(state): State<AppState>,
    Calling(call): Calling,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Answer {
    json(knowledge(&state)?.vector_stores(&call, &query(q)?).await?)
}

pub(crate) async fn get_store(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(knowledge(&state)?.vector_store(&call, &id).await?)
}

pub(crate) async fn modify_store(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ModifyVectorStoreRequest>,
) -> Answer {
    json(knowledge(&state)?.modify_store(&call, &id, request).await?)
}

pub(crate) async fn delete_store(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
) -> Answer {
    json(knowledge(&state)?.delete_store(&call, &id).await?)
}

pub(crate) async fn attach(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AttachFileRequest>,
) -> Answer {
    json(knowledge(&state)?.attach(&call, &id, request).await?)
}

pub(crate) async fn list_store_files(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    q: Result<Query<VectorStoreFileListQuery>, QueryRejection>,
) -> Answer {
    json(
        knowledge(&state)?
            .store_files(&call, &id, &query(q)?)
            .await?,
    )
}

pub(crate) async fn get_store_file(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path((id, file_id)): Path<(String, String)>,
) -> Answer {
    json(knowledge(&state)?.store_file(&call, &id, &file_id).await?)
}

pub(crate) async fn detach(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path((id, file_id)): Path<(String, String)>,
) -> Answer {
    json(knowledge(&state)?.detach(&call, &id, &file_id).await?)
}

pub(crate) async fn create_batch(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<CreateFileBatchRequest>,
) -> Answer {
    json(knowledge(&state)?.create_batch(&call, &id, request).await?)
}

pub(crate) async fn get_batch(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path((id, batch_id)): Path<(String, String)>,
) -> Answer {
    json(knowledge(&state)?.file_batch(&call, &id, &batch_id).await?)
}

/// The search body: OpenAI's, plus moat's `"moat": {"mode": ...,
/// "weights": ...}`.
#[derive(Deserialize)]
pub(crate) struct SearchBody {
    #[serde(flatten)]
    request: SearchRequest,
    #[serde(default)]
    moat: SearchOptions,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    Calling(call): Calling,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SearchBody>,
) -> Answer {
    json(
        knowledge(&state)?
            .search(&call, &id, body.request, body.moat)
            .await?,
    )
}
