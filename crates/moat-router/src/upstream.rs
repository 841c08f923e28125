//! OpenAI-compatible upstream servers (vLLM, SGLang, TGI, llama-server, Ollama).
//!
//! Every request goes upstream with `stream: true` and usage asked for; the
//! upstream's SSE chunks are relayed as [`GenerationEvent`]s (content,
//! reasoning and tool-call deltas as they come) ending with one
//! [`GenerationEvent::Finish`]. Upstream failures map onto moat's error
//! table; 5xx causes are logged, never sent to the client.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::stream::{self, BoxStream, StreamExt};
use moat_protocol::chat::{ChatCompletionRequest, ToolCallDelta};
use moat_protocol::completion::CompletionRequest;
use moat_protocol::{ApiError, ErrorKind, FinishReason, GenerationEvent, Usage};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use moat_protocol::embeddings::{EmbeddingRequest, Embeddings};

use crate::backend::{Backend, BackendInfo, EventStream, ModelPurpose};

mod embeddings;

/// How long `ready()` waits for the upstream's model list.
const READY_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest upstream error message passed on to the client.
const MAX_PASSED_MESSAGE: usize = 1000;

/// One upstream model.
#[derive(Clone)]
pub struct UpstreamConfig {
    /// The id clients use in `model`.
    pub id: String,
    /// The upstream's OpenAI base URL, with its `/v1`: `http://10.0.0.5:8000/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; never logged.
    pub api_key: Option<String>,
    /// The model name sent upstream; `id` when unset.
    pub upstream_model: Option<String>,
    /// The longest wait for the upstream's next byte: for the answer to
    /// start, then between two events of a stream.
    pub timeout: Duration,
    /// Context length per sequence, where known.
    pub context_length: Option<u32>,
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("upstream_model", &self.upstream_model)
            .field("timeout", &self.timeout)
            .field("context_length", &self.context_length)
            .finish()
    }
}

/// A model served by an OpenAI-compatible server.
pub struct UpstreamBackend {
    config: UpstreamConfig,
    /// `base_url` without a trailing slash.
    base: String,
    client: reqwest::Client,
    created: u64,
}

impl fmt::Debug for UpstreamBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamBackend")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Which endpoint a stream comes from: chat chunks carry `delta`, text
/// completion chunks carry `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Chat,
    Completions,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Self::Chat => "/chat/completions",
            Self::Completions => "/completions",
        }
    }
}

impl UpstreamBackend {
    /// Check the configuration and build the HTTP client; the error names
    /// the model and what is wrong.
    pub fn new(config: UpstreamConfig) -> Result<Self, String> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| {
            format!(
                "upstream model `{}`: invalid base_url `{}`: {e}",
                config.id, config.base_url
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "upstream model `{}`: base_url `{}` must start with http:// or https://",
                config.id, config.base_url
            ));
        }
        if config.timeout.is_zero() {
            return Err(format!(
                "upstream model `{}`: timeout must be more than zero",
                config.id
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| format!("upstream model `{}`: HTTP client: {e}", config.id))?;
        let created = moat_protocol::time::now_secs();
        Ok(Self {
            config,
            base,
            client,
            created,
        })
    }

    fn upstream_model(&self) -> &str {
        self.config
            .upstream_model
            .as_deref()
            .unwrap_or(&self.config.id)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match &self.config.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// The validated request as sent upstream: the upstream model name,
    /// always streamed, usage always asked for.
    fn upstream_body<T: serde::Serialize>(&self, request: &T) -> Result<Value, ApiError> {
        let mut body = serde_json::to_value(request).map_err(|e| {
            tracing::error!(model = %self.config.id, error = %e, "could not serialize the upstream request");
            ApiError::internal()
        })?;
        if let Some(fields) = body.as_object_mut() {
            fields.insert("model".to_owned(), Value::from(self.upstream_model()));
            fields.insert("stream".to_owned(), Value::Bool(true));
            fields.insert(
                "stream_options".to_owned(),
                serde_json::json!({ "include_usage": true }),
            );
        }
        Ok(body)
    }

    /// Send the request and wait for its first event; errors before it are
    /// returned as errors, not as stream items.
    async fn start(&self, endpoint: Endpoint, body: Value) -> Result<EventStream, ApiError> {
        let id = self.config.id.as_str();
        let deadline = Instant::now() + self.config.timeout;
        let send = self
            .request(reqwest::Method::POST, endpoint.path())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .json(&body)
            .send();
        let response = match tokio::time::timeout_at(deadline, send).await {
            Err(_) => return Err(timed_out(id).into()),
            Ok(Err(error)) => return Err(transport_error(id, &error).into()),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let body = tokio::time::timeout_at(deadline, response.bytes())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(status_error(id, status, &body).into());
        }

        let mut events: SseEvents = response.bytes_stream().eventsource().boxed();
        let mut relay = Relay::new(endpoint, id.to_owned());
        let first = match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => return Err(timed_out(id).into()),
            Ok(item) => relay.on_item(item),
        };
        // An upstream that fails at once gets an HTTP status, not an event.
        if let Some(Err(error)) = first.front() {
            return Err(error.clone());
        }
        Ok(relay_stream(events, relay, first, self.config.timeout))
    }
}

#[async_trait]
impl Backend for UpstreamBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            id: self.config.id.clone(),
            kind: "upstream",
            context_length: self.config.context_length,
            created: self.created,
            // The upstream server decides what its model does.
            purpose: ModelPurpose::GenerationAndEmbedding,
        }
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<Embeddings, ApiError> {
        embeddings::embed(self, request).await
    }

    async fn chat(&self, mut request: ChatCompletionRequest) -> Result<EventStream, ApiError> {
        // The server's bound on an answer that names no `max_tokens`
        // travels as `max_tokens`: an upstream knows no other.
        if request.max_new_tokens().is_none() {
            request.max_tokens = request.token_budget;
        }
        let body = self.upstream_body(&request)?;
        self.start(Endpoint::Chat, body).await
    }

    async fn complete(&self, mut request: CompletionRequest) -> Result<EventStream, ApiError> {
        if request.max_tokens.is_none() {
            request.max_tokens = request.token_budget;
        }
        let body = self.upstream_body(&request)?;
        self.start(Endpoint::Completions, body).await
    }

    /// Whether `GET {base_url}/models` answers 2xx within a few seconds.
    async fn ready(&self) -> bool {
        let probe = self
            .request(reqwest::Method::GET, "/models")
            .timeout(READY_TIMEOUT.min(self.config.timeout))
            .send();
        match probe.await {
            Ok(response) if response.status().is_success() => true,
            Ok(response) => {
                tracing::warn!(model = %self.config.id, status = response.status().as_u16(), "upstream not ready");
                false
            }
            Err(error) => {
                tracing::warn!(model = %self.config.id, error = %causes(&error), "upstream not ready");
                false
            }
        }
    }
}

type SseEvents = BoxStream<'static, Result<Event, EventStreamError<reqwest::Error>>>;

/// The generation stream: relayed events, each wait for the upstream's next
/// event bounded by `idle`. Dropping it closes the upstream connection,
/// which makes the upstream stop generating.
fn relay_stream(
    events: SseEvents,
    relay: Relay,
    pending: VecDeque<Result<GenerationEvent, ApiError>>,
    idle: Duration,
) -> EventStream {
    stream::unfold(
        (events, relay, pending),
        move |(mut events, mut relay, mut pending)| async move {
            loop {
                if let Some(item) = pending.pop_front() {
                    return Some((item, (events, relay, pending)));
                }
                if relay.done {
                    return None;
                }
                match tokio::time::timeout(idle, events.next()).await {
                    Ok(item) => pending.extend(relay.on_item(item)),
                    Err(_) => {
                        relay.done = true;
                        pending.push_back(Err(timed_out(&relay.model).into()));
                    }
                }
            }
        },
    )
    .boxed()
}

/// Turns the upstream's SSE events into generation events.
struct Relay {
    endpoint: Endpoint,
    /// moat's id of the model, for logs.
    model: String,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    /// The stream has ended: `Finish` or an error was produced.
    done: bool,
}

impl Relay {
    fn new(endpoint: Endpoint, model: String) -> Self {
        Self {
            endpoint,
            model,
            finish: None,
            usage: None,
            done: false,
        }
    }

    /// What one SSE item (`None`: the body ended) adds to the stream.
    fn on_item(
        &mut self,
        item: Option<Result<Event, EventStreamError<reqwest::Error>>>,
    ) -> VecDeque<Result<GenerationEvent, ApiError>> {
        let mut out = VecDeque::new();
        if self.done {
            return out;
        }
        match item {
            None => out.push_back(self.end()),
            Some(Err(error)) => {
                let cause = match &error {
                    EventStreamError::Transport(e) => causes(e),
                    other => other.to_string(),
                };
                tracing::error!(model = %self.model, error = %cause, "upstream stream broke");
                out.push_back(self.fail(UpstreamError::FailedMidstream.into()));
            }
            Some(Ok(event)) => self.on_data(event.data.trim(), &mut out),
        }
        out
    }

    fn on_data(&mut self, data: &str, out: &mut VecDeque<Result<GenerationEvent, ApiError>>) {
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            out.push_back(self.end());
            return;
        }
        let chunk: UpstreamChunk = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(error) => {
                tracing::error!(model = %self.model, %error, "upstream sent a chunk that is not a completion chunk");
                out.push_back(self.fail(UpstreamError::FailedMidstream.into()));
                return;
            }
        };
        if let Some(error) = chunk.error {
            tracing::error!(model = %self.model, "upstream reported an error while generating");
            tracing::debug!(model = %self.model, upstream_error = %error, "upstream error detail");
            out.push_back(self.fail(UpstreamError::FailedMidstream.into()));
            return;
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.into());
        }
        let Some(choice) = chunk.choices.into_iter().find(|c| c.index == 0) else {
            return;
        };
        let (content, reasoning, tool_calls) = match self.endpoint {
            Endpoint::Chat => {
                let delta = choice.delta.unwrap_or_default();
                (
                    delta.content.unwrap_or_default(),
                    delta
                        .reasoning_content
                        .or(delta.reasoning)
                        .unwrap_or_default(),
                    delta.tool_calls.unwrap_or_default(),
                )
            }
            Endpoint::Completions => (choice.text.unwrap_or_default(), String::new(), Vec::new()),
        };
        if !(content.is_empty() && reasoning.is_empty() && tool_calls.is_empty()) {
            out.push_back(Ok(GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            }));
        }
        if let Some(reason) = choice.finish_reason {
            self.finish = Some(finish_reason(&reason));
        }
    }

    /// The upstream ended the stream: `Finish` if it said why, else an error.
    fn end(&mut self) -> Result<GenerationEvent, ApiError> {
        match self.finish {
            Some(reason) => {
                self.done = true;
                Ok(GenerationEvent::Finish {
                    reason,
                    usage: self.usage.unwrap_or_default(),
                })
            }
            None => {
                tracing::error!(model = %self.model, "upstream stream ended without a finish reason");
                self.fail(UpstreamError::FailedMidstream.into())
            }
        }
    }

    fn fail(&mut self, error: ApiError) -> Result<GenerationEvent, ApiError> {
        self.done = true;
        Err(error)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        "stop" | "eos" | "stop_sequence" | "eos_token" => FinishReason::Stop,
        other => {
            tracing::debug!(
                finish_reason = other,
                "unknown upstream finish reason, read as stop"
            );
            FinishReason::Stop
        }
    }
}

/// A stream chunk as OpenAI-compatible servers send it; lenient, since
/// each server adds its own fields.
#[derive(Debug, Deserialize)]
struct UpstreamChunk {
    #[serde(default)]
    choices: Vec<UpstreamChoice>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct UpstreamChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<UpstreamDelta>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct UpstreamDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    /// Newer vLLM names the reasoning field `reasoning`.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
struct UpstreamUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    prompt_tokens_details: Option<UpstreamPromptDetails>,
}

#[derive(Debug, Deserialize)]
struct UpstreamPromptDetails {
    #[serde(default)]
    cached_tokens: Option<u32>,
}

impl From<UpstreamUsage> for Usage {
    fn from(usage: UpstreamUsage) -> Self {
        Usage::new(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.prompt_tokens_details.and_then(|d| d.cached_tokens),
        )
    }
}

/// An upstream error body's message, param and code, when it has one of
/// the shapes OpenAI-compatible servers use: `{"error": {"message"...}}`,
/// `{"object": "error", "message"...}` (older vLLM), `{"error": "..."}` (TGI).
#[derive(Debug, Default, PartialEq, Eq)]
struct UpstreamErrorDetail {
    message: String,
    param: Option<String>,
    code: Option<String>,
}

impl UpstreamErrorDetail {
    fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let object = match value.get("error") {
            Some(Value::String(message)) => {
                return Some(Self {
                    message: message.clone(),
                    ..Self::default()
                })
            }
            Some(object @ Value::Object(_)) => object,
            _ if value.get("object").and_then(Value::as_str) == Some("error") => &value,
            _ => return None,
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            message: text("message")?,
            param: text("param"),
            code: text("code"),
        })
    }

    fn into_error(self, kind: ErrorKind) -> UpstreamError {
        let mut message = self.message;
        if message.len() > MAX_PASSED_MESSAGE {
            let mut end = MAX_PASSED_MESSAGE;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        UpstreamError::Passed {
            kind,
            message,
            param: self.param,
        }
    }
}

/// The error for an upstream's non-2xx answer: client errors keep the
/// upstream's message, server errors get a fixed one.
fn status_error(model: &str, status: StatusCode, body: &[u8]) -> UpstreamError {
    let detail = UpstreamErrorDetail::parse(body);
    let log_body = || {
        let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
        tracing::debug!(model, upstream_body = %text, "upstream error body");
    };
    match status.as_u16() {
        400 | 422 => {
            let Some(detail) = detail else {
                log_body();
                return UpstreamError::Refused;
            };
            let too_long = detail.code.as_deref() == Some("context_length_exceeded")
                || detail.message.contains("maximum context length");
            detail.into_error(if too_long {
                ErrorKind::ContextLengthExceeded
            } else {
                ErrorKind::InvalidRequest
            })
        }
        404 => match detail {
            Some(mut detail) => {
                detail.param.get_or_insert_with(|| "model".to_owned());
                detail.into_error(ErrorKind::ModelNotFound)
            }
            None => {
                log_body();
                tracing::error!(
                    model,
                    status = 404,
                    "upstream answered 404 without an error object: check base_url"
                );
                UpstreamError::Failed
            }
        },
        401 | 403 => {
            tracing::error!(
                model,
                status = status.as_u16(),
                "upstream refused moat's credentials: check api_key"
            );
            UpstreamError::Failed
        }
        413 => detail.map_or(UpstreamError::TooLarge, |d| {
            d.into_error(ErrorKind::PayloadTooLarge)
        }),
        429 | 503 => {
            tracing::warn!(model, status = status.as_u16(), "upstream overloaded");
            UpstreamError::Overloaded
        }
        504 => {
            tracing::error!(model, status = 504, "upstream timed out");
            UpstreamError::TimedOut
        }
        400..=499 => match detail {
            Some(detail) => detail.into_error(ErrorKind::InvalidRequest),
            None => {
                log_body();
                UpstreamError::Refused
            }
        },
        _ => {
            log_body();
            tracing::error!(model, status = status.as_u16(), "upstream failed");
            UpstreamError::Failed
        }
    }
}

fn timed_out(model: &str) -> UpstreamError {
    tracing::error!(model, "upstream did not answer in time");
    UpstreamError::TimedOut
}

fn transport_error(model: &str, error: &reqwest::Error) -> UpstreamError {
    tracing::error!(model, error = %causes(error), "upstream request failed");
    if error.is_timeout() {
        UpstreamError::TimedOut
    } else if error.is_connect() {
        UpstreamError::Unreachable
    } else {
        UpstreamError::Failed
    }
}

/// What went wrong with an upstream, as the client is told it: the
/// upstream's own refusal of the request (its message kept, truncated), or
/// a fixed text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UpstreamError {
    /// A refusal whose error object is passed on as the upstream wrote it.
    Passed {
        kind: ErrorKind,
        message: String,
        param: Option<String>,
    },
    /// A 4xx without an error object.
    Refused,
    /// A 413 without an error object.
    TooLarge,
    Overloaded,
    Failed,
    FailedMidstream,
    Unreachable,
    TimedOut,
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Passed { message, .. } => message,
            Self::Refused => "The upstream server refused the request.",
            Self::TooLarge => "The request is too large for the upstream server.",
            Self::Overloaded => moat_protocol::error::OVERLOADED_MESSAGE,
            Self::Failed => "The upstream server failed.",
            Self::FailedMidstream => "The upstream server failed while generating.",
            Self::Unreachable => "The upstream server could not be reached.",
            Self::TimedOut => "The upstream server did not answer in time.",
        })
    }
}

impl moat_protocol::ErrorCode for UpstreamError {
    fn error_kind(&self) -> ErrorKind {
        match self {
            Self::Passed { kind, .. } => *kind,
            Self::Refused => ErrorKind::InvalidRequest,
            Self::TooLarge => ErrorKind::PayloadTooLarge,
            Self::Overloaded => ErrorKind::Overloaded,
            Self::Failed | Self::FailedMidstream | Self::Unreachable => ErrorKind::UpstreamError,
            Self::TimedOut => ErrorKind::UpstreamTimeout,
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::Passed { param, .. } => param.clone(),
            _ => None,
        }
    }
}

/// An error and its causes on one line: reqwest's own message hides the
/// interesting part ("connection refused") in its source.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(data: &str) -> Option<Result<Event, EventStreamError<reqwest::Error>>> {
        Some(Ok(Event {
            event: "message".to_owned(),
            data: data.to_owned(),
            id: String::new(),
            retry: None,
        }))
    }

    #[test]
    fn error_bodies_of_every_known_shape_are_read() {
        let openai = br#"{"error":{"message":"bad temp","type":"invalid_request_error","param":"temperature","code":null}}"#;
        assert_eq!(
            UpstreamErrorDetail::parse(openai),
            Some(UpstreamErrorDetail {
                message: "bad temp".to_owned(),
                param: Some("temperature".to_owned()),
                code: None,
            })
        );
        let vllm = br#"{"object":"error","message":"too long","type":"BadRequestError","param":null,"code":400}"#;
        assert_eq!(
            UpstreamErrorDetail::parse(vllm).unwrap().message,
            "too long"
        );
        let tgi = br#"{"error":"Input validation error","error_type":"validation"}"#;
        assert_eq!(
            UpstreamErrorDetail::parse(tgi).unwrap().message,
            "Input validation error"
        );
        assert_eq!(
            UpstreamErrorDetail::parse(br#"{"detail":"Not Found"}"#),
            None
        );
        assert_eq!(UpstreamErrorDetail::parse(b"<html>502</html>"), None);
    }

    #[test]
    fn context_overflow_is_recognised() {
        let body = br#"{"object":"error","message":"This model's maximum context length is 4096 tokens.","code":400}"#;
        let error = ApiError::from(status_error("m", StatusCode::BAD_REQUEST, body));
        assert_eq!(error.kind, ErrorKind::ContextLengthExceeded);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let message = "é".repeat(MAX_PASSED_MESSAGE);
        let body = serde_json::json!({ "error": { "message": message } }).to_string();
        let error = ApiError::from(status_error("m", StatusCode::BAD_REQUEST, body.as_bytes()));
        assert!(error.message.len() <= MAX_PASSED_MESSAGE);
    }

    #[test]
    fn reasoning_under_either_name_is_relayed() {
        let mut relay = Relay::new(Endpoint::Chat, "m".to_owned());
        let out = relay.on_item(event(
            r#"{"choices":[{"index":0,"delta":{"reasoning":"hm"}}]}"#,
        ));
        assert_eq!(out, [Ok(GenerationEvent::reasoning("hm"))]);
        let out = relay.on_item(event(
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"a","reasoning":"a"}}]}"#,
        ));
        assert_eq!(out, [Ok(GenerationEvent::reasoning("a"))]);
    }

    #[test]
    fn nothing_follows_the_end() {
        let mut relay = Relay::new(Endpoint::Completions, "m".to_owned());
        let out = relay.on_item(event(
            r#"{"choices":[{"index":0,"text":"x","finish_reason":"length"}]}"#,
        ));
        assert_eq!(out, [Ok(GenerationEvent::content("x"))]);
        let out = relay.on_item(event("[DONE]"));
        assert_eq!(
            out,
            [Ok(GenerationEvent::Finish {
                reason: FinishReason::Length,
                usage: Usage::default(),
            })]
        );
        assert!(relay.on_item(event("[DONE]")).is_empty());
        assert!(relay.on_item(None).is_empty());
    }
}
