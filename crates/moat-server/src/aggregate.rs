//! Non-streamed responses: the generation's events collected into one
//! `chat.completion` or `text_completion`. An error event anywhere makes
//! the whole response that error.

use std::collections::BTreeMap;

use futures::StreamExt;
use moat_protocol::chat::{
    Annotation, AssistantMessage, ChatChoice, ChatCompletion, Role, ToolCall, ToolCallDelta,
};
use moat_protocol::completion::{Completion, CompletionChoice};
use moat_protocol::{ApiError, FinishReason, GenerationEvent, Usage};
use moat_router::EventStream;
use tokio_util::sync::CancellationToken;

use crate::chunks::ResponseMeta;
use crate::sse::shutting_down;

/// Everything one generation produced.
#[derive(Debug, Default)]
struct Generation {
    content: String,
    reasoning: String,
    tool_calls: BTreeMap<u32, ToolCall>,
    annotations: Vec<Annotation>,
}

impl Generation {
    fn add_tool_call(&mut self, delta: ToolCallDelta) {
        delta.merge_into(&mut self.tool_calls);
    }
}

/// Read `events` to the end, or until `stop` is cancelled.
async fn collect(
    mut events: EventStream,
    stop: &CancellationToken,
) -> Result<(Generation, FinishReason, Usage), ApiError> {
    let mut generation = Generation::default();
    loop {
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => return Err(shutting_down()),
            next = events.next() => next,
        };
        match next {
            Some(Ok(GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            })) => {
                generation.content.push_str(&content);
                generation.reasoning.push_str(&reasoning);
                for delta in tool_calls {
                    generation.add_tool_call(delta);
                }
            }
            Some(Ok(GenerationEvent::Annotations(annotations))) => {
                generation.annotations.extend(annotations);
            }
            // Shown as it happens in a stream; the audit record keeps it.
            Some(Ok(GenerationEvent::Tool(_))) => {}
            Some(Ok(GenerationEvent::Finish { reason, usage })) => {
                return Ok((generation, reason, usage));
            }
            Some(Err(error)) => return Err(error),
            None => {
                tracing::error!("the backend's stream ended without a finish event");
                return Err(ApiError::internal());
            }
        }
    }
}

/// A `chat.completion` from the generation's events.
pub(crate) async fn chat(
    events: EventStream,
    meta: ResponseMeta,
    stop: &CancellationToken,
) -> Result<ChatCompletion, ApiError> {
    let (generation, finish_reason, usage) = collect(events, stop).await?;
    let tool_calls: Vec<ToolCall> = generation.tool_calls.into_values().collect();
    // `content` is null only when the answer is nothing but tool calls.
    let content = if generation.content.is_empty() && !tool_calls.is_empty() {
        None
    } else {
        Some(generation.content)
    };
    Ok(ChatCompletion {
        id: meta.id,
        object: "chat.completion".to_owned(),
        created: meta.created,
        model: meta.model,
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: Role::Assistant,
                content,
                reasoning_content: (!generation.reasoning.is_empty())
                    .then_some(generation.reasoning),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                annotations: (!generation.annotations.is_empty()).then_some(generation.annotations),
            },
            finish_reason,
            logprobs: None,
        }],
        usage,
    })
}

/// A `text_completion` from the generation's events.
pub(crate) async fn completion(
    events: EventStream,
    meta: ResponseMeta,
    stop: &CancellationToken,
) -> Result<Completion, ApiError> {
    let (generation, finish_reason, usage) = collect(events, stop).await?;
    Ok(Completion {
        id: meta.id,
        object: "text_completion".to_owned(),
        created: meta.created,
        model: meta.model,
        choices: vec![CompletionChoice {
            index: 0,
            text: generation.content,
            finish_reason: Some(finish_reason),
            logprobs: None,
        }],
        usage: Some(usage),
    })
}
