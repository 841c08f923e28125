//! The embedded llama.cpp engine behind the [`Backend`] trait.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use moat_engine::sampling::SamplingParams;
use moat_engine::template::TemplateError;
use moat_engine::{Engine, EngineError, GenerateRequest, PromptInput};
use moat_protocol::chat::{ChatCompletionRequest, ChatMessage, Role};
use moat_protocol::completion::CompletionRequest;
use moat_protocol::{ApiError, ErrorKind};
use serde_json::{json, Map, Value};

use crate::backend::{Backend, BackendInfo, BackendLoad, EventStream};

/// A model served in-process.
pub struct EmbeddedBackend {
    engine: Arc<Engine>,
}

impl EmbeddedBackend {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn start(&self, request: GenerateRequest) -> Result<EventStream, ApiError> {
        let events = self.engine.generate(request).map_err(api_error)?;
        Ok(events.map(|e| e.map_err(api_error)).boxed())
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            id: self.engine.id().to_owned(),
            kind: "embedded",
            context_length: Some(self.engine.context_length()),
            created: self.engine.created(),
        }
    }

    fn load(&self) -> Option<BackendLoad> {
        let stats = self.engine.stats();
        let cells = stats.kv_cells_used.load(Ordering::Relaxed) as f64;
        Some(BackendLoad {
            running: stats.running.load(Ordering::Relaxed) as u64,
            waiting: stats.waiting.load(Ordering::Relaxed) as u64,
            kv_cache_usage: Some((cells / f64::from(self.engine.context_length())).min(1.0)),
        })
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<EventStream, ApiError> {
        let messages = request
            .messages
            .iter()
            .map(template_message)
            .collect::<Result<Vec<_>, _>>()?;
        let tools = request
            .tools
            .as_ref()
            .map(|tools| tools.iter().map(|t| json!(t)).collect());
        self.start(GenerateRequest {
            prompt: PromptInput::Chat {
                messages,
                tools,
                template_kwargs: request.chat_template_kwargs.clone(),
            },
            sampling: SamplingParams::from_request(&request.sampling()),
            max_tokens: request.max_new_tokens(),
            stop: request
                .stop
                .clone()
                .map(|s| s.into_vec())
                .unwrap_or_default(),
        })
    }

    async fn complete(&self, request: CompletionRequest) -> Result<EventStream, ApiError> {
        let prompt = request.prompt_text()?.to_owned();
        self.start(GenerateRequest {
            prompt: PromptInput::Text(prompt),
            sampling: SamplingParams::from_request(&request.sampling()),
            max_tokens: request.max_tokens,
            stop: request
                .stop
                .clone()
                .map(|s| s.into_vec())
                .unwrap_or_default(),
        })
    }
}

/// A message as Hugging Face chat templates expect it: `content` a string
/// (never null), tool-call arguments as objects, `developer` as `system`.
fn template_message(message: &ChatMessage) -> Result<Value, ApiError> {
    let role = match message.role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let content = match &message.content {
        Some(c) => {
            c.check_text_only()?;
            c.to_text()
        }
        None => String::new(),
    };
    let mut out = Map::new();
    out.insert("role".into(), role.into());
    out.insert("content".into(), content.into());
    if let Some(name) = &message.name {
        out.insert("name".into(), name.clone().into());
    }
    if let Some(id) = &message.tool_call_id {
        out.insert("tool_call_id".into(), id.clone().into());
    }
    if let Some(reasoning) = &message.reasoning_content {
        out.insert("reasoning_content".into(), reasoning.clone().into());
    }
    if let Some(calls) = &message.tool_calls {
        let calls: Vec<Value> = calls
            .iter()
            .map(|c| {
                let arguments = serde_json::from_str::<Value>(&c.function.arguments)
                    .unwrap_or_else(|_| Value::String(c.function.arguments.clone()));
                json!({
                    "id": c.id,
                    "type": c.kind,
                    "function": {"name": c.function.name, "arguments": arguments},
                })
            })
            .collect();
        out.insert("tool_calls".into(), calls.into());
    }
    Ok(Value::Object(out))
}

/// The one mapping of engine errors to API errors.
fn api_error(e: EngineError) -> ApiError {
    match e {
        EngineError::ContextLengthExceeded { .. } => {
            ApiError::new(ErrorKind::ContextLengthExceeded, e.to_string()).with_param("messages")
        }
        EngineError::Overloaded => ApiError::overloaded(),
        EngineError::CacheFull => ApiError::new(
            ErrorKind::Overloaded,
            "The KV cache is full with running requests. Retry later, or raise ctx_size.",
        ),
        EngineError::Template(TemplateError::Compile(_)) => {
            tracing::error!(error = %e, "chat template");
            ApiError::internal()
        }
        EngineError::Template(t) => {
            ApiError::new(ErrorKind::InvalidRequest, t.to_string()).with_param("messages")
        }
        EngineError::InvalidRequest { message, param } => {
            ApiError::new(ErrorKind::InvalidParameter, message).with_param(param)
        }
        EngineError::ShuttingDown => {
            ApiError::new(ErrorKind::Unavailable, "The server is shutting down.")
        }
        EngineError::Internal(cause) => {
            tracing::error!(%cause, "engine failure");
            ApiError::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use moat_protocol::chat::{FunctionCall, ToolCall};

    #[test]
    fn messages_are_shaped_for_templates() {
        let mut m = ChatMessage::text(Role::Assistant, "");
        m.content = None;
        m.tool_calls = Some(vec![ToolCall {
            id: "call_1".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: "get_weather".into(),
                arguments: r#"{"city":"Paris"}"#.into(),
            },
        }]);
        let v = template_message(&m).unwrap();
        assert_eq!(
            v,
            json!({"role":"assistant","content":"","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}]})
        );
        let d = template_message(&ChatMessage::text(Role::Developer, "rules")).unwrap();
        assert_eq!(d["role"], "system");
    }

    #[test]
    fn engine_errors_map_to_openai_codes() {
        let e = api_error(EngineError::ContextLengthExceeded {
            limit: 10,
            requested: 20,
            prompt: 5,
            completion: 15,
        });
        assert_eq!(e.kind.spec().code, Some("context_length_exceeded"));
        assert_eq!(e.status().as_u16(), 400);
        assert_eq!(api_error(EngineError::Overloaded).status().as_u16(), 503);
        let internal = api_error(EngineError::Internal("secret detail".into()));
        assert!(!internal.message.contains("secret"));
    }
}
