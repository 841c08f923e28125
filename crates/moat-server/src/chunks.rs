//! The chunks of streamed responses, as OpenAI sends them: chat chunks
//! (`chat.completion.chunk`) and text completion chunks (`text_completion`).

use moat_protocol::chat::{
    Annotation, ChatCompletionChunk, ChatDelta, ChunkChoice, Role, ToolCallDelta,
};
use moat_protocol::completion::{Completion, CompletionChoice};
use moat_protocol::{ApiError, FinishReason, ToolActivity, Usage};
use serde::Serialize;

/// What every chunk of one response repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseMeta {
    pub id: String,
    pub created: u64,
    /// The model id the client asked for.
    pub model: String,
    /// Whether the client asked for `stream_options.include_usage`.
    pub include_usage: bool,
}

/// Turns generation events into the serialized chunks of one stream.
pub(crate) trait ChunkFormat: Send + Unpin + 'static {
    /// The chunk sent before any event, if the format has one.
    fn opening(&self) -> Result<Option<String>, ApiError>;
    /// The chunk of one delta; `None` when the delta carries nothing.
    fn delta(
        &self,
        content: String,
        reasoning: String,
        tool_calls: Vec<ToolCallDelta>,
    ) -> Result<Option<String>, ApiError>;
    /// The chunk of a server-side tool call's activity, in a format that
    /// shows it.
    fn tool(&self, activity: ToolActivity) -> Result<Option<String>, ApiError>;
    /// The chunk with `finish_reason` (and the answer's `annotations`, in
    /// a format that has them), then the usage chunk if asked for.
    fn finish(
        &self,
        reason: FinishReason,
        usage: Usage,
        annotations: Vec<Annotation>,
    ) -> Result<Vec<String>, ApiError>;
}

/// With `include_usage`, OpenAI sends `"usage": null` in every chunk but
/// the last, which has empty `choices` and the counts.
#[derive(Serialize)]
struct WithUsage<'a, T> {
    #[serde(flatten)]
    chunk: &'a T,
    usage: Option<&'a Usage>,
}

fn encode<T: Serialize>(
    meta: &ResponseMeta,
    chunk: &T,
    usage: Option<&Usage>,
) -> Result<String, ApiError> {
    let json = if meta.include_usage {
        serde_json::to_string(&WithUsage { chunk, usage })
    } else {
        serde_json::to_string(chunk)
    };
    json.map_err(|e| {
        tracing::error!(error = %e, "failed to serialize a response chunk");
        ApiError::internal()
    })
}

/// Chunks of `/v1/chat/completions`.
pub(crate) struct ChatChunks(pub ResponseMeta);

impl ChatChunks {
    fn chunk(&self, choices: Vec<ChunkChoice>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.0.id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.0.created,
            model: self.0.model.clone(),
            choices,
            usage: None,
        }
    }

    fn choice(delta: ChatDelta, finish_reason: Option<FinishReason>) -> Vec<ChunkChoice> {
        vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason,
            logprobs: None,
        }]
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

impl ChunkFormat for ChatChunks {
    fn opening(&self) -> Result<Option<String>, ApiError> {
        let delta = ChatDelta {
            role: Some(Role::Assistant),
            content: Some(String::new()),
            ..ChatDelta::default()
        };
        let chunk = self.chunk(Self::choice(delta, None));
        encode(&self.0, &chunk, None).map(Some)
    }

    fn delta(
        &self,
        content: String,
        reasoning: String,
        tool_calls: Vec<ToolCallDelta>,
    ) -> Result<Option<String>, ApiError> {
        let delta = ChatDelta {
            role: None,
            content: non_empty(content),
            reasoning_content: non_empty(reasoning),
            tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            annotations: None,
            moat_tool: None,
        };
        if delta.is_empty() {
            return Ok(None);
        }
        let chunk = self.chunk(Self::choice(delta, None));
        encode(&self.0, &chunk, None).map(Some)
    }

    fn tool(&self, activity: ToolActivity) -> Result<Option<String>, ApiError> {
        let delta = ChatDelta {
            moat_tool: Some(activity),
            ..ChatDelta::default()
        };
        let chunk = self.chunk(Self::choice(delta, None));
        encode(&self.0, &chunk, None).map(Some)
    }

    fn finish(
        &self,
        reason: FinishReason,
        usage: Usage,
        annotations: Vec<Annotation>,
    ) -> Result<Vec<String>, ApiError> {
        let delta = ChatDelta {
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ChatDelta::default()
        };
        let last = self.chunk(Self::choice(delta, Some(reason)));
        let mut chunks = vec![encode(&self.0, &last, None)?];
        if self.0.include_usage {
            chunks.push(encode(&self.0, &self.chunk(Vec::new()), Some(&usage))?);
        }
        Ok(chunks)
    }
}

/// Chunks of `/v1/completions`.
pub(crate) struct CompletionChunks(pub ResponseMeta);

impl CompletionChunks {
    fn chunk(&self, choices: Vec<CompletionChoice>) -> Completion {
        Completion {
            id: self.0.id.clone(),
            object: "text_completion".to_owned(),
            created: self.0.created,
            model: self.0.model.clone(),
            choices,
            usage: None,
        }
    }

    fn choice(text: String, finish_reason: Option<FinishReason>) -> Vec<CompletionChoice> {
        vec![CompletionChoice {
            index: 0,
            text,
            finish_reason,
            logprobs: None,
        }]
    }
}

impl ChunkFormat for CompletionChunks {
    fn opening(&self) -> Result<Option<String>, ApiError> {
        Ok(None)
    }

    fn delta(
        &self,
        content: String,
        _reasoning: String,
        _tool_calls: Vec<ToolCallDelta>,
    ) -> Result<Option<String>, ApiError> {
        if content.is_empty() {
            return Ok(None);
        }
        let chunk = self.chunk(Self::choice(content, None));
        encode(&self.0, &chunk, None).map(Some)
    }

    fn tool(&self, _activity: ToolActivity) -> Result<Option<String>, ApiError> {
        Ok(None)
    }

    fn finish(
        &self,
        reason: FinishReason,
        usage: Usage,
        _annotations: Vec<Annotation>,
    ) -> Result<Vec<String>, ApiError> {
        let last = self.chunk(Self::choice(String::new(), Some(reason)));
        let mut chunks = vec![encode(&self.0, &last, None)?];
        if self.0.include_usage {
            chunks.push(encode(&self.0, &self.chunk(Vec::new()), Some(&usage))?);
        }
        Ok(chunks)
    }
}

impl ResponseMeta {
    /// A fresh id (`prefix` + 24 alphanumerics) and the current time.
    pub(crate) fn new(prefix: &str, model: &str, include_usage: bool) -> Self {
        Self {
            id: crate::ids::response_id(prefix),
            created: moat_protocol::time::now_secs(),
            model: model.to_owned(),
            include_usage,
        }
    }
}
