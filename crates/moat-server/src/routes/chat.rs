//! `POST /v1/chat/completions`, and `POST /v1/moat/confirmations/{id}`,
//! which resumes a chat whose server-side tool call awaited a decision.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use moat_protocol::chat::{ChatCompletionRequest, StreamOptions};
use moat_protocol::{ApiError, ErrorKind};
use moat_router::Backend;
use serde::Deserialize;

use crate::audit::{self, AuditTrail};
use crate::auth::Caller;
use crate::chunks::{ChatChunks, ResponseMeta};
use crate::error::ErrorResponse;
use crate::extract::JsonBody;
use crate::guard::ResponseRestorer;
use crate::state::AppState;
use crate::tools::{self, Conversation, Resume, RunContext};
use crate::{aggregate, limits, sse};

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    caller: Caller,
    trail: AuditTrail,
    JsonBody(mut request): JsonBody<ChatCompletionRequest>,
) -> Result<Response, ErrorResponse> {
    request.validate()?;
    let server_tools = match request.moat.take() {
        Some(options) => options.tools,
        // A request that names no tools of either kind gets its roles'.
        None if request.tools.as_ref().is_none_or(Vec::is_empty) => caller.0.default_tools(),
        None => Vec::new(),
    };
    let backend = state.backend_for(&caller, &request.model)?;
    // Only a model that is served names the request in the log: any other
    // name is the caller's text.
    tracing::Span::current().record("model", request.model.as_str());
    trail.model(&request.model, backend.info().kind);
    if server_tools.is_empty() {
        return respond(state, caller, trail, backend, request, None).await;
    }
    // The client's own tools stay offered beside moat's: a call of one of
    // them ends the answer, for the client to run.
    let mut tools = request.tools.take().unwrap_or_default();
    let client_tools: Vec<String> = tools.iter().map(|t| t.function.name.clone()).collect();
    for offered in state.offer_tools(&caller, &server_tools)? {
        if client_tools.contains(&offered.function.name) {
            return Err(ApiError::invalid_param(
                "tools",
                format!(
                    "`{}` is both one of your tools and a server-side tool in `moat.tools`; \
                     rename yours.",
                    offered.function.name
                ),
            )
            .into());
        }
        tools.push(offered);
    }
    request.tools = Some(tools);
    let conversation = Conversation {
        request,
        offered: server_tools,
        client_tools,
        steps: 0,
        invalid: 0,
    };
    respond_with_tools(state, caller, trail, backend, conversation, None).await
}

/// The caller's decision on a tool call that awaits confirmation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Decision {
    /// Run the call (`true`) or tell the model it was rejected (`false`).
    approve: bool,
    /// Stream the rest of the answer as SSE.
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

/// `POST /v1/moat/confirmations/{id}`: approve or reject the parked call
/// and go on with the conversation; the answer is a chat completion like
/// the one that stopped at the call. Only the caller who started the chat
/// can decide; every other id (decided, expired, unknown, another
/// caller's) is 404.
pub(crate) async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    trail: AuditTrail,
    Path(id): Path<String>,
    JsonBody(decision): JsonBody<Decision>,
) -> Result<Response, ErrorResponse> {
    let not_found = || {
        ApiError::new(
            ErrorKind::ConfirmationNotFound,
            "No tool call awaits your decision under this id: it was decided already, \
             expired, or never issued.",
        )
        .with_param("id")
    };
    let tools = state.tools().ok_or_else(not_found)?;
    let pending = tools
        .take_parked(&id, &caller.0.id)
        .await?
        .ok_or_else(not_found)?;
    let mut conversation = pending.conversation;
    conversation.request.stream = decision.stream;
    conversation.request.stream_options = decision.stream_options;
    let model = conversation.request.model.clone();
    let backend = state.backend_for(&caller, &model)?;
    tracing::Span::current().record("model", model.as_str());
    trail.model(&model, backend.info().kind);
    let resume = Resume {
        calls: pending.calls,
        approved: decision.approve,
    };
    respond_with_tools(state, caller, trail, backend, conversation, Some(resume)).await
}

async fn respond_with_tools(
    state: AppState,
    caller: Caller,
    trail: AuditTrail,
    backend: Arc<dyn Backend>,
    conversation: Conversation,
    resume: Option<Resume>,
) -> Result<Response, ErrorResponse> {
    let request = conversation.request.clone();
    respond(
        state,
        caller,
        trail,
        backend,
        request,
        Some((conversation, resume)),
    )
    .await
}

/// Admit, guard, generate (through the tool loop when there is one) and
/// answer as JSON or SSE.
async fn respond(
    state: AppState,
    caller: Caller,
    trail: AuditTrail,
    backend: Arc<dyn Backend>,
    mut request: ChatCompletionRequest,
    tool_run: Option<(Conversation, Option<Resume>)>,
) -> Result<Response, ErrorResponse> {
    let estimate = limits::chat_estimate(&request);
    let admission = match state.admit(&caller, estimate.total()).await {
        Ok(admission) => admission,
        Err(refusal) => return Ok(limits::refusal_response(refusal)),
    };
    let rate = admission.status;
    let meta = ResponseMeta::new("chatcmpl-", &request.model, request.include_usage());
    let stream = request.stream;
    let guard = state.guard_for(&caller.0);
    trail.prompt(|| audit::chat_text(&request), &guard);
    // What the guard refuses is refused before anything runs; a tool loop
    // guards each turn itself, so it gets the conversation unguarded.
    let (found, restorer) = guard.protect_chat(&mut request).await?;
    trail.pii(&found);
    let model = request.model.clone();
    let quota = limits::Quota::new(admission, state.options().default_max_tokens);
    request.token_budget = quota.budget(estimate, request.max_new_tokens());
    let (backend_events, restorer) = match (tool_run, state.tools()) {
        (Some((conversation, resume)), Some(tools)) => {
            let ctx = RunContext {
                tools: tools.clone(),
                principal: caller.0.clone(),
                backend,
                guard,
                trail: trail.clone(),
                metrics: state.metrics().clone(),
                quota: quota.clone(),
            };
            let events = tools::run(ctx, conversation, resume);
            (events, ResponseRestorer::none())
        }
        _ => (backend.chat(request).await?, restorer),
    };
    let events = super::answer_events(
        &state,
        trail,
        backend_events,
        quota,
        model,
        estimate,
        restorer,
    );
    let stop = state.stop_generations_token();
    let response = if stream {
        sse::response(events, ChatChunks(meta), stop)
    } else {
        Json(aggregate::chat(events, meta, &stop).await?).into_response()
    };
    Ok(limits::with_rate_headers(response, &rate))
}
