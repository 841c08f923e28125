//! The embedded llama.cpp engine behind the [`Backend`] trait.
//!
//! Tool calls are constrained by a grammar built from the tools' schemas
//! (`moat_engine::grammar`): lazily in `auto` (from the first `<tool_call>`),
//! from the first token with `required` or a named function, unless
//! [`EmbeddedSettings::tool_grammar`] turns that off (for measurements).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use moat_engine::grammar::{ToolCallGrammar, ToolCallMode, ToolSchema};
use moat_engine::sampling::SamplingParams;
use moat_engine::{Engine, EngineError, GenerateRequest, PromptInput};
use moat_protocol::chat::{
    ChatCompletionRequest, ChatMessage, FunctionCallDelta, Role, ToolCallDelta,
};
use moat_protocol::completion::CompletionRequest;
use moat_protocol::toolcall::{ToolCallParser, ToolCallPiece};
use moat_protocol::toolchoice::ToolChoice;
use moat_protocol::{ApiError, FinishReason, GenerationEvent};
use serde_json::{json, Map, Value};

use crate::backend::{Backend, BackendInfo, BackendLoad, EventStream, ModelPurpose};

/// How an embedded backend serves; one default per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedSettings {
    /// Constrain tool calls with a grammar built from the tools' schemas.
    /// Default: true
    pub tool_grammar: bool,
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        Self { tool_grammar: true }
    }
}

/// A model served in-process.
pub struct EmbeddedBackend {
    engine: Arc<Engine>,
    /// Constrain tool calls with a grammar (the default).
    tool_grammar: bool,
    /// An embedding context on the same weights, when the operator
    /// configured the model for embeddings.
    embedder: Option<Arc<moat_engine::Embedder>>,
}

impl EmbeddedBackend {
    /// A backend for `engine`, serving as `settings` say.
    pub fn new(engine: Arc<Engine>, settings: EmbeddedSettings) -> Self {
        if !settings.tool_grammar {
            tracing::info!(model = engine.id(), "tool-call grammar off");
        }
        Self {
            engine,
            tool_grammar: settings.tool_grammar,
            embedder: None,
        }
    }

    /// The same backend answering `/v1/embeddings` with `embedder` too.
    #[must_use]
    pub fn with_embedder(mut self, embedder: Arc<moat_engine::Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Render, tokenize and queue on a blocking thread: that work is CPU
    /// heavy and would stall the async workers (and `/health`). When the
    /// caller drops this future (the client went away), the blocking work
    /// stops at its next step and nothing is queued.
    async fn start(&self, request: GenerateRequest) -> Result<EventStream, ApiError> {
        let engine = Arc::clone(&self.engine);
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
        let events = crate::error::blocking("prompt preparation", move || {
            engine.generate_unless(request, &cancelled)
        })
        .await?
        .map_err(api_error)?;
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
            purpose: if self.embedder.is_some() {
                ModelPurpose::GenerationAndEmbedding
            } else {
                ModelPurpose::Generation
            },
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
        let choice = tool_choice(&request)?;
        let use_tools = tools_enabled(&request, &choice);
        let tools = request
            .tools
            .as_ref()
            .filter(|_| use_tools)
            .map(|tools| tools.iter().map(|t| json!(t)).collect());
        let tool_grammar = if use_tools && self.tool_grammar {
            tool_grammar(&request, &choice)
        } else {
            None
        };
        let events = self
            .start(GenerateRequest {
                prompt: PromptInput::Chat {
                    messages,
                    tools,
                    template_kwargs: request.chat_template_kwargs.clone(),
                },
                sampling: SamplingParams::from_request(&request.sampling()),
                max_tokens: request.max_new_tokens(),
                budget: request.token_budget,
                stop: request
                    .stop
                    .clone()
                    .map(|s| s.into_vec())
                    .unwrap_or_default(),
                tool_grammar,
            })
            .await?;
        Ok(if use_tools {
            parse_tool_calls(events)
        } else {
            events
        })
    }

    async fn embed(
        &self,
        request: moat_protocol::embeddings::EmbeddingRequest,
    ) -> Result<moat_protocol::embeddings::Embeddings, ApiError> {
        match &self.embedder {
            Some(embedder) => crate::embedding::embed(embedder, request).await,
            None => Err(crate::error::RouteError::NotEmbeddingModel(request.model).into_api()),
        }
    }

    async fn token_text(&self, ids: Vec<Vec<u32>>) -> Option<Result<Vec<String>, ApiError>> {
        let embedder = self.embedder.as_ref()?;
        Some(crate::embedding::token_text(embedder, ids).await)
    }

    async fn complete(&self, request: CompletionRequest) -> Result<EventStream, ApiError> {
        let prompt = request.prompt_text()?.to_owned();
        self.start(GenerateRequest {
            prompt: PromptInput::Text(prompt),
            sampling: SamplingParams::from_request(&request.sampling()),
            max_tokens: request.max_tokens,
            budget: request.token_budget,
            stop: request
                .stop
                .clone()
                .map(|s| s.into_vec())
                .unwrap_or_default(),
            tool_grammar: None,
        })
        .await
    }
}

/// Sets its flag when dropped: the future that owns it was cancelled or
/// finished.
pub(crate) struct CancelOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The request's `tool_choice`, checked against its tools.
fn tool_choice(request: &ChatCompletionRequest) -> Result<ToolChoice, ApiError> {
    let names: Vec<&str> = request
        .tools
        .iter()
        .flatten()
        .map(|t| t.function.name.as_str())
        .collect();
    ToolChoice::parse(request.tool_choice.as_ref(), &names)
}

/// The request offers tools and does not forbid them (`tool_choice: "none"`):
/// they are rendered into the prompt and calls are parsed out of the output.
fn tools_enabled(request: &ChatCompletionRequest, choice: &ToolChoice) -> bool {
    let offered = request.tools.as_ref().is_some_and(|t| !t.is_empty());
    offered && *choice != ToolChoice::None
}

/// The grammar for the request's tools: lazy in `auto`, from the first
/// token when a call is required; one call when `parallel_tool_calls` is
/// false.
fn tool_grammar(request: &ChatCompletionRequest, choice: &ToolChoice) -> Option<ToolCallGrammar> {
    let mode = match choice {
        ToolChoice::None => return None,
        ToolChoice::Auto => ToolCallMode::Auto,
        ToolChoice::Required => ToolCallMode::Required,
        ToolChoice::Function(name) => ToolCallMode::Named(name.clone()),
    };
    let tools = request
        .tools
        .iter()
        .flatten()
        .map(|t| ToolSchema {
            name: t.function.name.clone(),
            parameters: t.function.parameters.clone(),
        })
        .collect();
    Some(ToolCallGrammar {
        tools,
        mode,
        parallel: request.parallel_tool_calls.unwrap_or(true),
    })
}

/// Turn `<tool_call>` blocks in the content (reasoning is already split off
/// by the engine) into tool-call deltas, one whole call per delta, indexed
/// 0, 1, ...; the finish reason becomes `tool_calls` when there was one.
fn parse_tool_calls(events: EventStream) -> EventStream {
    let mut calls = ToolCalls::new();
    events
        .flat_map(move |item| futures::stream::iter(calls.on(item)))
        .boxed()
}

/// State of [`parse_tool_calls`] over one stream.
struct ToolCalls {
    /// `None` once the stream finished or failed.
    parser: Option<ToolCallParser>,
    emitted: u32,
}

impl ToolCalls {
    fn new() -> Self {
        Self {
            parser: Some(ToolCallParser::new()),
            emitted: 0,
        }
    }

    fn on(
        &mut self,
        item: Result<GenerationEvent, ApiError>,
    ) -> Vec<Result<GenerationEvent, ApiError>> {
        let mut out = Vec::new();
        match item {
            Ok(GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            }) => {
                if !reasoning.is_empty() || !tool_calls.is_empty() {
                    out.push(Ok(GenerationEvent::Delta {
                        content: String::new(),
                        reasoning,
                        tool_calls,
                    }));
                }
                let pieces = match &mut self.parser {
                    Some(parser) => parser.push(&content),
                    None => vec![ToolCallPiece::Content(content)],
                };
                self.emit(pieces, &mut out);
            }
            Ok(GenerationEvent::Finish { reason, usage }) => {
                self.flush(&mut out);
                let reason = if self.emitted > 0 {
                    FinishReason::ToolCalls
                } else {
                    reason
                };
                out.push(Ok(GenerationEvent::Finish { reason, usage }));
            }
            Ok(event @ (GenerationEvent::Annotations(_) | GenerationEvent::Tool(_))) => {
                out.push(Ok(event));
            }
            Err(e) => {
                self.flush(&mut out);
                out.push(Err(e));
            }
        }
        out
    }

    fn flush(&mut self, out: &mut Vec<Result<GenerationEvent, ApiError>>) {
        if let Some(parser) = self.parser.take() {
            self.emit(parser.finish(), out);
        }
    }

    fn emit(
        &mut self,
        pieces: Vec<ToolCallPiece>,
        out: &mut Vec<Result<GenerationEvent, ApiError>>,
    ) {
        for piece in pieces {
            match piece {
                ToolCallPiece::Content(text) if text.is_empty() => {}
                ToolCallPiece::Content(text) => out.push(Ok(GenerationEvent::content(text))),
                ToolCallPiece::Call {
                    id,
                    name,
                    arguments,
                } => {
                    out.push(Ok(GenerationEvent::Delta {
                        content: String::new(),
                        reasoning: String::new(),
                        tool_calls: vec![ToolCallDelta {
                            index: self.emitted,
                            id: Some(id),
                            kind: Some("function".into()),
                            function: Some(FunctionCallDelta {
                                name: Some(name),
                                arguments: Some(arguments),
                            }),
                        }],
                    }));
                    self.emitted += 1;
                }
            }
        }
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

/// An engine error as the client gets it (its row in the error table is
/// the engine's [`moat_protocol::ErrorCode`]); a server failure's cause is
/// logged here, never sent.
pub(crate) fn api_error(e: EngineError) -> ApiError {
    if e.is_internal() {
        tracing::error!(error = %e, "engine failure");
    }
    ApiError::from(e)
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

    fn tools_request(tool_choice: Option<Value>) -> ChatCompletionRequest {
        serde_json::from_value(json!({
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": tool_choice,
        }))
        .unwrap()
    }

    fn enabled(request: &ChatCompletionRequest) -> bool {
        tools_enabled(request, &tool_choice(request).unwrap())
    }

    #[test]
    fn tools_are_used_unless_absent_or_none() {
        assert!(enabled(&tools_request(None)));
        assert!(enabled(&tools_request(Some(json!("auto")))));
        assert!(!enabled(&tools_request(Some(json!("none")))));
        let mut no_tools = tools_request(None);
        no_tools.tools = None;
        assert!(!enabled(&no_tools));
        no_tools.tools = Some(Vec::new());
        assert!(!enabled(&no_tools));
    }

    #[test]
    fn tool_choice_becomes_the_grammar_mode() {
        let mode = |choice: Option<Value>, parallel: Option<bool>| {
            let mut request = tools_request(choice);
            request.parallel_tool_calls = parallel;
            let choice = tool_choice(&request).unwrap();
            tool_grammar(&request, &choice).map(|g| (g.mode, g.parallel, g.tools.len()))
        };
        assert_eq!(mode(None, None), Some((ToolCallMode::Auto, true, 1)));
        assert_eq!(
            mode(Some(json!("required")), Some(false)),
            Some((ToolCallMode::Required, false, 1))
        );
        assert_eq!(
            mode(
                Some(json!({"type": "function", "function": {"name": "f"}})),
                None
            ),
            Some((ToolCallMode::Named("f".into()), true, 1))
        );
        assert_eq!(mode(Some(json!("none")), None), None);
        let unknown = tools_request(Some(json!({"type": "function", "function": {"name": "g"}})));
        assert_eq!(
            tool_choice(&unknown).unwrap_err().param.as_deref(),
            Some("tool_choice")
        );
    }

    #[test]
    fn grammar_refusals_name_the_parameter() {
        let e = api_error(EngineError::ToolGrammar(
            moat_engine::grammar::ToolGrammarError::TooDeep {
                tool: "t".into(),
                limit: 32,
            },
        ));
        assert_eq!(e.status().as_u16(), 400);
        assert_eq!(e.param.as_deref(), Some("tools"));
        assert_eq!(e.kind.spec().error_type, "invalid_request_error");
        assert!(e.message.contains("`t`"));
    }

    fn finish(reason: FinishReason) -> Result<GenerationEvent, ApiError> {
        Ok(GenerationEvent::Finish {
            reason,
            usage: moat_protocol::Usage::new(1, 2, None),
        })
    }

    /// Feed events through the tool-call stage; content is fed 5 bytes at a
    /// time (ASCII only) to exercise the streaming path.
    fn through(reasoning: &str, content: &str, reason: FinishReason) -> Vec<GenerationEvent> {
        let mut calls = ToolCalls::new();
        let mut out = calls.on(Ok(GenerationEvent::reasoning(reasoning)));
        for chunk in content.as_bytes().chunks(5) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            out.extend(calls.on(Ok(GenerationEvent::content(chunk))));
        }
        out.extend(calls.on(finish(reason)));
        out.into_iter().map(Result::unwrap).collect()
    }

    #[test]
    fn calls_after_reasoning_become_indexed_deltas_and_finish_with_tool_calls() {
        let events = through(
            "the user wants weather",
            "<tool_call>\n{\"name\": \"weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"time\", \"arguments\": {}}\n</tool_call>",
            FinishReason::Stop,
        );
        assert_eq!(
            events[0],
            GenerationEvent::reasoning("the user wants weather")
        );
        let calls: Vec<&ToolCallDelta> = events
            .iter()
            .filter_map(|e| match e {
                GenerationEvent::Delta { tool_calls, .. } => Some(tool_calls),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(calls.len(), 2);
        for (i, (call, (name, args))) in calls
            .iter()
            .zip([("weather", r#"{"city":"Oslo"}"#), ("time", "{}")])
            .enumerate()
        {
            assert_eq!(call.index, i as u32);
            assert!(call.id.as_ref().unwrap().starts_with("call_"));
            assert_eq!(call.kind.as_deref(), Some("function"));
            let function = call.function.as_ref().unwrap();
            assert_eq!(function.name.as_deref(), Some(name));
            assert_eq!(function.arguments.as_deref(), Some(args));
        }
        let content: String = events
            .iter()
            .filter_map(|e| match e {
                GenerationEvent::Delta { content, .. } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(content, "");
        assert!(matches!(
            events.last(),
            Some(GenerationEvent::Finish {
                reason: FinishReason::ToolCalls,
                ..
            })
        ));
    }

    #[test]
    fn text_without_calls_keeps_its_finish_reason_and_an_open_block_is_dropped() {
        let events = through(
            "",
            "No tools needed. <tool_call>{broken",
            FinishReason::Length,
        );
        let content: String = events
            .iter()
            .filter_map(|e| match e {
                GenerationEvent::Delta {
                    content,
                    tool_calls,
                    ..
                } => {
                    assert!(tool_calls.is_empty());
                    Some(content.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(content, "No tools needed.");
        assert!(matches!(
            events.last(),
            Some(GenerationEvent::Finish {
                reason: FinishReason::Length,
                ..
            })
        ));
    }

    #[test]
    fn a_second_call_cut_by_the_length_limit_never_reaches_content() {
        let events = through(
            "",
            "<tool_call>\n{\"name\": \"get_order_status\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_order_status\", \"arguments\":",
            FinishReason::Length,
        );
        let mut calls = 0;
        for event in &events {
            if let GenerationEvent::Delta {
                content,
                tool_calls,
                ..
            } = event
            {
                assert!(!content.contains("<tool_call>"), "{content:?}");
                calls += tool_calls.len();
            }
        }
        assert_eq!(calls, 1);
        assert!(matches!(
            events.last(),
            Some(GenerationEvent::Finish {
                reason: FinishReason::ToolCalls,
                ..
            })
        ));
    }

    #[test]
    fn held_back_text_is_released_before_an_error_and_an_open_block_dropped() {
        let mut calls = ToolCalls::new();
        let held = calls.on(Ok(GenerationEvent::content("see <tool_call>{")));
        assert_eq!(
            held.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
            vec![GenerationEvent::content("see")]
        );
        let out = calls.on(Err(ApiError::internal()));
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());
        let mut calls = ToolCalls::new();
        assert!(calls.on(Ok(GenerationEvent::content("a <tool_"))).len() == 1);
        let out = calls.on(Err(ApiError::internal()));
        assert_eq!(
            out[0].as_ref().unwrap(),
            &GenerationEvent::content(" <tool_")
        );
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
