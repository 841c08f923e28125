//! `POST /v1/embeddings`: one vector per input. The steps of a generation
//! route, without a stream: role check, rate limits and quota (every token
//! a prompt token), the personal-data guard on every input (token ids are
//! read back as text first), the audit record, the metrics.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_guard::Policy;
use moat_protocol::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};
use moat_protocol::{ApiError, ErrorKind};
use moat_router::{not_embedding_model_refusal, Backend};

use crate::audit::AuditTrail;
use crate::auth::Caller;
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::guard::PiiGuard;
use crate::limits;
use crate::state::AppState;

pub(crate) async fn embeddings(
    State(state): State<AppState>,
    caller: Caller,
    trail: AuditTrail,
    JsonBody(mut request): JsonBody<EmbeddingRequest>,
) -> Result<Response, ErrorResponse> {
    request.validate()?;
    let backend = state.backend_for(&caller, &request.model)?;
    let info = backend.info();
    tracing::Span::current().record("model", request.model.as_str());
    trail.model(&request.model, info.kind);
    if !info.purpose.embeds() {
        return Err(not_embedding_model_refusal(&request.model).into());
    }
    let estimate = estimate(&request);
    let admission = match state.admit(&caller, estimate).await {
        Ok(admission) => admission,
        Err(refusal) => return Ok(limits::refusal_response(refusal)),
    };
    let rate = admission.status.clone();
    let guard = state.guard_for(&caller.0);
    protect(&guard, &*backend, &mut request, &trail).await?;
    let model = request.model.clone();
    let format = request.encoding_format;
    let result = backend.embed(request).await;
    let embeddings = match result {
        Ok(embeddings) => embeddings,
        Err(error) => {
            admission.release().await;
            return Err(error.into());
        }
    };
    let tokens = embeddings.prompt_tokens;
    admission.record(&model, u64::from(tokens), 0).await;
    admission.release().await;
    trail.tokens(tokens, 0);
    state.metrics().observe_embeddings(&model, tokens);
    let answer = EmbeddingResponse::new(&model, embeddings, format);
    Ok(limits::with_rate_headers(
        Json(answer).into_response(),
        &rate,
    ))
}

/// The guard on every input, as the model will read it: texts are
/// scanned and rewritten per policy; token ids are read back as text by
/// the backend and, where personal data is found under a rewriting policy,
/// replaced by the rewritten text. A backend that cannot read its token
/// ids gets them only under `allow`. The audit content is the inputs' text
/// as sent, one a line.
async fn protect(
    guard: &PiiGuard,
    backend: &dyn Backend,
    request: &mut EmbeddingRequest,
    trail: &AuditTrail,
) -> Result<(), ApiError> {
    match &mut request.input {
        EmbeddingInput::Texts(texts) => {
            trail.prompt(|| texts.join("\n"), guard);
            let found = guard.protect_texts(texts, "input").await?;
            trail.pii(&found);
        }
        EmbeddingInput::Tokens(ids) => {
            let read = backend.token_text(ids.clone()).await;
            let mut texts = match read {
                Some(texts) => texts?,
                None if guard.policy() == Policy::Allow => return Ok(()),
                None => {
                    return Err(ApiError::new(
                        ErrorKind::InvalidParameter,
                        "This model's backend cannot read token ids back as text, so the personal-data guard cannot check them: send text.",
                    )
                    .with_param("input"))
                }
            };
            trail.prompt(|| texts.join("\n"), guard);
            let before = texts.clone();
            let found = guard.protect_texts(&mut texts, "input").await?;
            trail.pii(&found);
            if texts != before {
                request.input = EmbeddingInput::Texts(texts);
            }
        }
    }
    Ok(())
}

/// Tokens the request is expected to use before it is tokenized: its text
/// at 3 bytes a token (as the other routes estimate), or its token ids.
fn estimate(request: &EmbeddingRequest) -> u64 {
    let tokens = match &request.input {
        EmbeddingInput::Texts(texts) => texts.iter().map(|t| t.len().div_ceil(3)).sum(),
        EmbeddingInput::Tokens(ids) => ids.iter().map(Vec::len).sum::<usize>(),
    };
    u64::try_from(tokens).unwrap_or(u64::MAX)
}
