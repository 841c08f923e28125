//! `/v1/chat/completions`: request, response and stream chunk types.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::event::{FinishReason, Usage};

/// Most messages in one chat request: each is rendered and tokenized, and
/// no model's context holds more turns than this.
pub const MAX_MESSAGES: usize = 2048;

/// Longest stop sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 1024;

/// A chat completion request as OpenAI clients send it. Unknown fields are
/// ignored, as clients add new ones faster than servers learn them.
///
/// The sampling fields are spelled out here and in `CompletionRequest`
/// rather than `#[serde(flatten)]`ed from [`SamplingRequest`]: flattening
/// buffers the fields and loses the path, so a bad `temperature` would no
/// longer be named in the 400 error's `param`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ChatCompletionRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopSequences>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Extra variables for the model's chat template (`enable_thinking`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_template_kwargs: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// moat's own options; never sent on to a backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moat: Option<MoatOptions>,
    /// The most tokens the answer may have when the request names no
    /// `max_tokens`: set by the server (the caller's remaining quota, the
    /// server's default), never read from a request. Unlike `max_tokens`
    /// it does not refuse a prompt that leaves less room: the answer stops
    /// at whichever comes first.
    #[serde(skip)]
    pub token_budget: Option<u32>,
}

/// `"moat": {...}` in a chat request: what moat does around the model.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MoatOptions {
    /// Server-side tools (registered in the configuration) that moat runs
    /// for this request: the model sees them next to the request's own
    /// `tools`, and moat executes the calls it makes to them.
    /// `None` (not named): the caller's roles' `default_tools`, when the
    /// request has no `tools` of its own either; a list, even empty: those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Knowledge bases (vector store ids or names) to answer from: moat
    /// retrieves passages for the last user message, quotes them to the
    /// model as data and cites the ones the answer uses in
    /// `message.annotations`. `None`: the roles' `default_knowledge_bases`;
    /// `[]`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_bases: Option<Vec<String>>,
}

/// Sampling parameters shared by chat and text completions.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct SamplingRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
}

impl SamplingRequest {
    /// Range checks, each naming the parameter at fault.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_range("temperature", self.temperature, 0.0, 2.0)?;
        check_range("top_p", self.top_p, 0.0, 1.0)?;
        check_range("min_p", self.min_p, 0.0, 1.0)?;
        check_range("presence_penalty", self.presence_penalty, -2.0, 2.0)?;
        check_range("frequency_penalty", self.frequency_penalty, -2.0, 2.0)?;
        if let Some(k) = self.top_k {
            if k < 0 {
                return Err(ApiError::invalid_param(
                    "top_k",
                    format!("{k} is less than the minimum of 0 - 'top_k'"),
                ));
            }
        }
        Ok(())
    }
}

fn check_range(name: &str, value: Option<f32>, min: f32, max: f32) -> Result<(), ApiError> {
    match value {
        Some(v) if !v.is_finite() || v < min || v > max => Err(ApiError::invalid_param(
            name,
            format!("Invalid value {v} for '{name}': must be between {min} and {max}."),
        )),
        _ => Ok(()),
    }
}

/// Validation shared by both completion endpoints.
pub(crate) fn validate_common(
    sampling: &SamplingRequest,
    n: Option<u32>,
    max_tokens: Option<u32>,
    stop: Option<&StopSequences>,
) -> Result<(), ApiError> {
    sampling.validate()?;
    if let Some(n) = n {
        if n != 1 {
            return Err(ApiError::invalid_param(
                "n",
                "Only n = 1 is supported: send one request per choice.",
            ));
        }
    }
    if max_tokens == Some(0) {
        return Err(ApiError::invalid_param(
            "max_tokens",
            "max_tokens must be at least 1.",
        ));
    }
    if let Some(stop) = stop {
        let list = stop.as_slice();
        if list.len() > 4 {
            return Err(ApiError::invalid_param(
                "stop",
                "At most 4 stop sequences are allowed.",
            ));
        }
        if list.iter().any(String::is_empty) {
            return Err(ApiError::invalid_param(
                "stop",
                "Stop sequences must not be empty.",
            ));
        }
        // Each generated token is matched against every stop sequence (and
        // its prefixes), on the engine thread every sequence shares.
        if list.iter().any(|s| s.len() > MAX_STOP_BYTES) {
            return Err(ApiError::invalid_param(
                "stop",
                format!("A stop sequence may be at most {MAX_STOP_BYTES} bytes long."),
            ));
        }
    }
    Ok(())
}

impl ChatCompletionRequest {
    /// The sampling parameters of this request.
    pub fn sampling(&self) -> SamplingRequest {
        SamplingRequest {
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            min_p: self.min_p,
            seed: self.seed,
            presence_penalty: self.presence_penalty,
            frequency_penalty: self.frequency_penalty,
        }
    }

    /// The completion budget: `max_completion_tokens` wins over the legacy
    /// `max_tokens`.
    pub fn max_new_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage)
    }

    /// Checks that need no model: ranges, `n`, message list.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.model.is_empty() {
            return Err(ApiError::invalid_param("model", "model must not be empty."));
        }
        if self.messages.is_empty() {
            return Err(ApiError::invalid_param(
                "messages",
                "messages must contain at least one message.",
            ));
        }
        if self.messages.len() > MAX_MESSAGES {
            return Err(ApiError::invalid_param(
                "messages",
                format!(
                    "messages holds {} messages; at most {MAX_MESSAGES} are allowed.",
                    self.messages.len()
                ),
            ));
        }
        validate_common(
            &self.sampling(),
            self.n,
            self.max_new_tokens(),
            self.stop.as_ref(),
        )
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// `stop`: one string or a list of them.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum StopSequences {
    One(String),
    Many(Vec<String>),
}

impl StopSequences {
    pub fn as_slice(&self) -> &[String] {
        match self {
            Self::One(s) => std::slice::from_ref(s),
            Self::Many(v) => v,
        }
    }

    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

impl ChatMessage {
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(MessageContent::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            reasoning_content: None,
        }
    }
}

/// Message content: a string, or a list of typed parts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text of the content; text parts are joined, other parts refused
    /// by [`MessageContent::check_text_only`].
    pub fn to_text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|p| p.text.as_deref())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Only text parts can be given to a text model.
    pub fn check_text_only(&self) -> Result<(), ApiError> {
        if let Self::Parts(parts) = self {
            if let Some(p) = parts.iter().find(|p| p.kind != "text") {
                return Err(ApiError::invalid_param(
                    "messages",
                    format!(
                        "Content parts of type '{}' are not supported by this model; send text.",
                        p.kind
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDefinition,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct FunctionDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// A tool call made by the model, in a response or in conversation history.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionCall,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct FunctionCall {
    pub name: String,
    /// JSON-encoded arguments, as OpenAI sends them.
    pub arguments: String,
}

/// A streamed fragment of a tool call.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
}

impl ToolCallDelta {
    /// Add this fragment to the calls it belongs to (by index): the first
    /// id and type stay, name and argument fragments are appended.
    pub fn merge_into(self, calls: &mut std::collections::BTreeMap<u32, ToolCall>) {
        let call = calls.entry(self.index).or_insert_with(|| ToolCall {
            id: String::new(),
            kind: "function".to_owned(),
            function: FunctionCall {
                name: String::new(),
                arguments: String::new(),
            },
        });
        if let Some(id) = self.id {
            if call.id.is_empty() {
                call.id = id;
            }
        }
        if let Some(kind) = self.kind {
            call.kind = kind;
        }
        if let Some(function) = self.function {
            if let Some(name) = function.name {
                call.function.name.push_str(&name);
            }
            if let Some(arguments) = function.arguments {
                call.function.arguments.push_str(&arguments);
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, Default)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// A non-streamed chat completion.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatCompletion {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: Usage,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: FinishReason,
    pub logprobs: Option<Value>,
}

/// The assistant's answer in a non-streamed response.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct AssistantMessage {
    pub role: Role,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The knowledge-base sources the answer used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<Annotation>>,
}

/// A source an answer used (`message.annotations[]`); moat's kind is
/// `file_citation`, a passage of a knowledge-base file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Annotation {
    /// `file_citation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub file_citation: FileCitation,
}

/// The file a cited passage comes from, and the passage's words the
/// answer rests on.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct FileCitation {
    pub file_id: String,
    pub filename: String,
    pub quote: String,
}

impl Annotation {
    pub fn file_citation(file_id: String, filename: String, quote: String) -> Self {
        Self {
            kind: "file_citation".to_owned(),
            file_citation: FileCitation {
                file_id,
                filename,
                quote,
            },
        }
    }
}

/// One server-sent event of a streamed chat completion.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChatCompletionChunk {
    pub id: String,
    pub object: String,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: ChatDelta,
    pub finish_reason: Option<FinishReason>,
    #[serde(default)]
    pub logprobs: Option<Value>,
}

/// What a chunk adds to the answer.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ChatDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// The sources the answer used; in the chunk with `finish_reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<Annotation>>,
    /// moat's own: a server-side tool call decided (and run) between two
    /// model turns, in a chunk of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moat_tool: Option<crate::event::ToolActivity>,
}

impl ChatDelta {
    pub fn is_empty(&self) -> bool {
        self.role.is_none()
            && self.content.is_none()
            && self.reasoning_content.is_none()
            && self.tool_calls.is_none()
            && self.annotations.is_none()
            && self.moat_tool.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{parse_json, ErrorKind};

    #[test]
    fn parses_a_typical_sdk_request() {
        let req: ChatCompletionRequest = parse_json(
            br#"{"model":"m","messages":[{"role":"system","content":"be brief"},
                {"role":"user","content":[{"type":"text","text":"hi"}]}],
                "stream":true,"stream_options":{"include_usage":true},
                "temperature":0.2,"seed":7,"stop":"\n","max_completion_tokens":9,
                "chat_template_kwargs":{"enable_thinking":false},"unknown_field":1}"#,
        )
        .unwrap();
        assert!(req.stream && req.include_usage());
        assert_eq!(req.max_new_tokens(), Some(9));
        assert_eq!(req.seed, Some(7));
        assert_eq!(req.stop.as_ref().unwrap().as_slice(), ["\n"]);
        assert_eq!(req.messages[1].content.as_ref().unwrap().to_text(), "hi");
        req.validate_ok();
    }

    impl ChatCompletionRequest {
        fn validate_ok(&self) {
            assert_eq!(self.validate(), Ok(()));
        }
    }

    #[test]
    fn out_of_range_values_name_their_parameter() {
        for (body, param) in [
            (r#""temperature":3"#, "temperature"),
            (r#""top_p":1.5"#, "top_p"),
            (r#""n":2"#, "n"),
            (r#""max_tokens":0"#, "max_tokens"),
            (r#""stop":["a","b","c","d","e"]"#, "stop"),
            (r#""top_k":-1"#, "top_k"),
        ] {
            let json =
                format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],{body}}}"#);
            let req: ChatCompletionRequest = parse_json(json.as_bytes()).unwrap();
            let err = req.validate().unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{body}");
            assert_eq!(err.kind, ErrorKind::InvalidParameter);
        }
    }

    #[test]
    fn empty_messages_are_refused() {
        let req: ChatCompletionRequest = parse_json(br#"{"model":"m","messages":[]}"#).unwrap();
        assert_eq!(
            req.validate().unwrap_err().param.as_deref(),
            Some("messages")
        );
    }

    #[test]
    fn too_many_messages_are_refused() {
        let message = ChatMessage::text(Role::User, "");
        let mut req = ChatCompletionRequest {
            model: "m".into(),
            messages: vec![message; MAX_MESSAGES],
            ..Default::default()
        };
        req.validate_ok();
        req.messages.push(ChatMessage::text(Role::User, ""));
        let err = req.validate().unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages"));
        assert_eq!(err.kind, ErrorKind::InvalidParameter);
        assert!(err.message.contains("2049"), "{}", err.message);
    }

    #[test]
    fn overlong_stop_sequences_are_refused() {
        let mut req = ChatCompletionRequest {
            model: "m".into(),
            messages: vec![ChatMessage::text(Role::User, "hi")],
            stop: Some(StopSequences::One("s".repeat(MAX_STOP_BYTES))),
            ..Default::default()
        };
        req.validate_ok();
        req.stop = Some(StopSequences::Many(vec![
            "x".into(),
            "s".repeat(MAX_STOP_BYTES + 1),
        ]));
        assert_eq!(req.validate().unwrap_err().param.as_deref(), Some("stop"));
    }

    #[test]
    fn bad_role_names_the_field() {
        let err = parse_json::<ChatCompletionRequest>(
            br#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].role"));
    }
}
