//! OpenAI's Responses API (`/v1/responses`) in moat's shapes: the request,
//! the response object, its items (the conversation items of
//! [`crate::conversations`]), the chat messages a request's items become
//! for the model, and the builder that turns one generation's events into
//! the API's semantic stream events (`response.created`,
//! `response.output_text.delta`, …, `response.completed`) and the final
//! response.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::chat::ChatCompletionRequest;
use crate::chat::{
    Annotation, ChatMessage, FunctionCall, FunctionDefinition, MessageContent, MoatOptions,
    Role as ChatRole, StreamOptions, Tool, ToolCall, ToolCallDelta,
};
use crate::conversations::{
    check_items, ContentPart, ConversationItem, FunctionCallItem, InputItem, ItemStatus,
    MessageItem, ReasoningItem, ReasoningText, Role,
};
use crate::error::ApiError;
use crate::ids::object_id;
use crate::vector_stores::{check_metadata, Metadata};
use crate::{FinishReason, GenerationEvent, Usage};

/// The most input items one request may send.
pub const MAX_INPUT_ITEMS: usize = 2048;
/// The longest `instructions`, in bytes.
pub const MAX_INSTRUCTIONS_BYTES: usize = 1024 * 1024;

/// `POST /v1/responses`. Unknown fields are ignored, as in chat requests.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateResponseRequest {
    pub model: String,
    #[serde(default)]
    pub input: Option<ResponseInput>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// moat's extension, as in chat: a seeded draw repeats.
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub tools: Option<Vec<ResponseTool>>,
    #[serde(default)]
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub stream: bool,
    /// Keep the response for `GET`, `previous_response_id` and
    /// `input_items` (default true).
    #[serde(default)]
    pub store: Option<bool>,
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// A conversation (its id, or `{"id": …}`) whose items precede the
    /// input and to which the input and the output are added.
    #[serde(default)]
    pub conversation: Option<ConversationRef>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub user: Option<String>,
    /// Asynchronous responses are not offered: `true` is refused.
    #[serde(default)]
    pub background: Option<bool>,
    /// `{"format": {"type": "text"}}` only.
    #[serde(default)]
    pub text: Option<Value>,
    /// moat's own options, as in chat requests (`moat.tools`,
    /// `moat.knowledge_bases`).
    #[serde(default)]
    pub moat: Option<MoatOptions>,
}

/// `input`: a string (one user message) or a list of items.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ResponseInput {
    Text(String),
    Items(Vec<InputItem>),
}

/// `conversation`: its id, or an object with it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ConversationRef {
    Id(String),
    Object { id: String },
}

impl ConversationRef {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Object { id } => id,
        }
    }
}

/// A tool of a Responses request: a function (flat, unlike chat's), or
/// `file_search` over vector stores (moat's knowledge bases).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseTool {
    Function {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameters: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
    FileSearch {
        vector_store_ids: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_num_results: Option<u32>,
    },
}

impl CreateResponseRequest {
    /// Checks that need no model and no stored state.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.model.is_empty() {
            return Err(ApiError::invalid_param("model", "model must not be empty."));
        }
        if self.background == Some(true) {
            return Err(ApiError::invalid_param(
                "background",
                "Background responses are not supported; stream the response instead.",
            ));
        }
        if self.previous_response_id.is_some() && self.conversation.is_some() {
            return Err(ApiError::invalid_param(
                "previous_response_id",
                "previous_response_id and conversation cannot be used together.",
            ));
        }
        if self.max_output_tokens == Some(0) {
            return Err(ApiError::invalid_param(
                "max_output_tokens",
                "max_output_tokens must be at least 1.",
            ));
        }
        if let Some(instructions) = &self.instructions {
            if instructions.len() > MAX_INSTRUCTIONS_BYTES {
                return Err(ApiError::invalid_param(
                    "instructions",
                    format!("instructions may be at most {MAX_INSTRUCTIONS_BYTES} bytes."),
                ));
            }
        }
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata, "metadata")?;
        }
        if let Some(text) = &self.text {
            let kind = text.pointer("/format/type").and_then(Value::as_str);
            if !matches!(kind, None | Some("text")) {
                return Err(ApiError::invalid_param(
                    "text.format",
                    "Only text output is supported (text.format.type = \"text\").",
                ));
            }
        }
        match &self.input {
            None => {
                if self.previous_response_id.is_none() && self.conversation.is_none() {
                    return Err(ApiError::invalid_param(
                        "input",
                        "Missing required parameter: 'input'.",
                    ));
                }
            }
            Some(ResponseInput::Text(text))
                if text.len() > crate::conversations::MAX_ITEM_TEXT_BYTES =>
            {
                return Err(ApiError::invalid_param(
                    "input",
                    "input may be at most 1 MiB of text.",
                ));
            }
            Some(ResponseInput::Text(_)) => {}
            Some(ResponseInput::Items(items)) => {
                check_items(items, "input", MAX_INPUT_ITEMS)?;
            }
        }
        let mut names = Vec::new();
        for (i, tool) in self.tools.iter().flatten().enumerate() {
            match tool {
                ResponseTool::Function { name, .. } => {
                    if name.is_empty() || names.contains(&name) {
                        return Err(ApiError::invalid_param(
                            &format!("tools[{i}].name"),
                            "Each function needs a name of its own.",
                        ));
                    }
                    names.push(name);
                }
                ResponseTool::FileSearch {
                    vector_store_ids, ..
                } if vector_store_ids.is_empty() => {
                    return Err(ApiError::invalid_param(
                        &format!("tools[{i}].vector_store_ids"),
                        "file_search needs at least one vector store.",
                    ));
                }
                ResponseTool::FileSearch { .. } => {}
            }
        }
        Ok(())
    }

    /// Whether the response is kept (the default).
    pub fn stores(&self) -> bool {
        self.store.unwrap_or(true)
    }

    /// The input as items.
    pub fn input_items(&self) -> Vec<InputItem> {
        match &self.input {
            None => Vec::new(),
            Some(ResponseInput::Text(text)) => vec![InputItem::Message {
                role: Role::User,
                content: vec![ContentPart::InputText { text: text.clone() }],
            }],
            Some(ResponseInput::Items(items)) => items.clone(),
        }
    }

    /// The vector stores of its `file_search` tools, if it has any.
    pub fn file_search_stores(&self) -> Option<Vec<String>> {
        let stores: Vec<String> = self
            .tools
            .iter()
            .flatten()
            .filter_map(|tool| match tool {
                ResponseTool::FileSearch {
                    vector_store_ids, ..
                } => Some(vector_store_ids.clone()),
                ResponseTool::Function { .. } => None,
            })
            .flatten()
            .collect();
        (!stores.is_empty()).then_some(stores)
    }

    /// The chat completion request the model turn runs: `instructions` as
    /// the system message, then `context` (earlier items: a previous
    /// response's, a conversation's), then this request's input.
    pub fn to_chat(
        &self,
        context: &[ConversationItem],
        input: &[ConversationItem],
    ) -> ChatCompletionRequest {
        let mut messages = Vec::new();
        if let Some(instructions) = &self.instructions {
            messages.push(ChatMessage::text(ChatRole::System, instructions.clone()));
        }
        messages.extend(chat_messages(context.iter().chain(input)));
        let tools: Vec<Tool> = self
            .tools
            .iter()
            .flatten()
            .filter_map(|tool| match tool {
                ResponseTool::Function {
                    name,
                    description,
                    parameters,
                    ..
                } => Some(Tool {
                    kind: "function".to_owned(),
                    function: FunctionDefinition {
                        name: name.clone(),
                        description: description.clone(),
                        parameters: parameters.clone(),
                    },
                }),
                ResponseTool::FileSearch { .. } => None,
            })
            .collect();
        let mut moat = self.moat.clone();
        if let Some(stores) = self.file_search_stores() {
            moat.get_or_insert_with(MoatOptions::default)
                .knowledge_bases = Some(stores);
        }
        ChatCompletionRequest {
            model: self.model.clone(),
            messages,
            stream: true,
            stream_options: Some(StreamOptions {
                include_usage: true,
            }),
            max_completion_tokens: self.max_output_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed: self.seed,
            tools: (!tools.is_empty()).then_some(tools),
            tool_choice: self.tool_choice.as_ref().map(chat_tool_choice),
            parallel_tool_calls: self.parallel_tool_calls,
            user: self.user.clone(),
            moat,
            ..ChatCompletionRequest::default()
        }
    }
}

/// A Responses `tool_choice` in chat's shape: `{"type": "function",
/// "name": …}` becomes `{"type": "function", "function": {"name": …}}`;
/// strings and anything else pass as they are (and are checked there).
fn chat_tool_choice(choice: &Value) -> Value {
    match (
        choice.get("type").and_then(Value::as_str),
        choice.get("name"),
    ) {
        (Some("function"), Some(name)) => json!({"type": "function", "function": {"name": name}}),
        _ => choice.clone(),
    }
}

/// Items as chat messages: messages by role, consecutive function calls as
/// one assistant message's `tool_calls` (joined to the assistant message
/// before them), outputs as `tool` messages; reasoning is not shown again.
pub fn chat_messages<'a>(
    items: impl IntoIterator<Item = &'a ConversationItem>,
) -> Vec<ChatMessage> {
    let mut messages: Vec<ChatMessage> = Vec::new();
    for item in items {
        match item {
            ConversationItem::Message(message) => {
                let role = match message.role {
                    Role::User => ChatRole::User,
                    Role::Assistant => ChatRole::Assistant,
                    Role::System => ChatRole::System,
                    Role::Developer => ChatRole::Developer,
                };
                messages.push(ChatMessage::text(role, message.text()));
            }
            ConversationItem::FunctionCall(call) => {
                let tool_call = ToolCall {
                    id: call.call_id.clone(),
                    kind: "function".to_owned(),
                    function: FunctionCall {
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                    },
                };
                match messages.last_mut() {
                    Some(last) if last.role == ChatRole::Assistant => {
                        last.tool_calls.get_or_insert_with(Vec::new).push(tool_call);
                    }
                    _ => messages.push(ChatMessage {
                        role: ChatRole::Assistant,
                        content: None,
                        name: None,
                        tool_calls: Some(vec![tool_call]),
                        tool_call_id: None,
                        reasoning_content: None,
                    }),
                }
            }
            ConversationItem::FunctionCallOutput(output) => {
                let mut message = ChatMessage::text(ChatRole::Tool, output.output.clone());
                message.tool_call_id = Some(output.call_id.clone());
                messages.push(message);
            }
            ConversationItem::Reasoning(_) => {}
        }
    }
    // An assistant message that is only tool calls has no content.
    for message in &mut messages {
        if message.role == ChatRole::Assistant
            && message.tool_calls.is_some()
            && matches!(&message.content, Some(MessageContent::Text(t)) if t.is_empty())
        {
            message.content = None;
        }
    }
    messages
}

/// `status` of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    InProgress,
    Completed,
    Incomplete,
    Failed,
}

/// Why a response is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter`.
    pub reason: String,
}

/// `usage` of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    pub input_tokens: u32,
    pub input_tokens_details: InputTokensDetails,
    pub output_tokens: u32,
    pub output_tokens_details: OutputTokensDetails,
    pub total_tokens: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    pub cached_tokens: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    pub reasoning_tokens: u32,
}

impl From<Usage> for ResponseUsage {
    fn from(usage: Usage) -> Self {
        Self {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: InputTokensDetails {
                cached_tokens: usage.prompt_tokens_details.map_or(0, |d| d.cached_tokens),
            },
            output_tokens: usage.completion_tokens,
            output_tokens_details: OutputTokensDetails::default(),
            total_tokens: usage.total_tokens,
        }
    }
}

/// A response (`"object": "response"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    pub object: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub status: ResponseStatus,
    pub error: Option<Value>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u32>,
    pub model: String,
    pub output: Vec<ConversationItem>,
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<String>,
    pub conversation: Option<ConversationId>,
    pub reasoning: Value,
    pub store: bool,
    pub temperature: Option<f32>,
    pub text: Value,
    pub tool_choice: Value,
    pub tools: Vec<ResponseTool>,
    pub top_p: Option<f32>,
    pub truncation: String,
    pub usage: Option<ResponseUsage>,
    pub user: Option<String>,
    pub metadata: Metadata,
}

/// `conversation` of a response: `{"id": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationId {
    pub id: String,
}

impl Response {
    /// The response `request` starts, under `id`, before any output.
    pub fn started(id: String, created_at: i64, request: &CreateResponseRequest) -> Self {
        Self {
            id,
            object: "response".to_owned(),
            created_at,
            status: ResponseStatus::InProgress,
            error: None,
            incomplete_details: None,
            instructions: request.instructions.clone(),
            max_output_tokens: request.max_output_tokens,
            model: request.model.clone(),
            output: Vec::new(),
            parallel_tool_calls: request.parallel_tool_calls.unwrap_or(true),
            previous_response_id: request.previous_response_id.clone(),
            conversation: request.conversation.as_ref().map(|c| ConversationId {
                id: c.id().to_owned(),
            }),
            reasoning: json!({"effort": null, "summary": null}),
            store: request.stores(),
            temperature: request.temperature,
            text: json!({"format": {"type": "text"}}),
            tool_choice: request.tool_choice.clone().unwrap_or_else(|| json!("auto")),
            tools: request.tools.clone().unwrap_or_default(),
            top_p: request.top_p,
            truncation: "disabled".to_owned(),
            usage: None,
            user: request.user.clone(),
            metadata: request.metadata.clone().unwrap_or_default(),
        }
    }

    /// The text of its output messages, joined (the SDK's `output_text`).
    pub fn output_text(&self) -> String {
        self.output
            .iter()
            .filter_map(|item| match item {
                ConversationItem::Message(m) => Some(m.text()),
                _ => None,
            })
            .collect()
    }
}

/// `DELETE /v1/responses/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseDeleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

impl ResponseDeleted {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            object: "response.deleted".to_owned(),
            deleted: true,
        }
    }
}

/// A Responses annotation from a chat one: a file citation at the end of
/// the text it supports.
fn annotation(annotation: &Annotation, index: usize) -> Value {
    json!({
        "type": "file_citation",
        "file_id": annotation.file_citation.file_id,
        "filename": annotation.file_citation.filename,
        "index": index,
        "quote": annotation.file_citation.quote,
    })
}

/// Turns one generation's events into the Responses stream events, in
/// order and numbered, and keeps the response they build.
#[derive(Debug)]
pub struct ResponseBuilder {
    response: Response,
    sequence: u64,
    /// Output index of the reasoning item, of the message item.
    reasoning: Option<usize>,
    message: Option<usize>,
    /// Output index of each tool call, by its index in the deltas.
    calls: BTreeMap<u32, usize>,
    annotations: Vec<Annotation>,
}

impl ResponseBuilder {
    pub fn new(response: Response) -> Self {
        Self {
            response,
            sequence: 0,
            reasoning: None,
            message: None,
            calls: BTreeMap::new(),
            annotations: Vec::new(),
        }
    }

    /// The response as built so far.
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// The next event's `sequence_number`.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    fn event(&mut self, kind: &str, mut body: Value) -> Value {
        if let Some(object) = body.as_object_mut() {
            object.insert("type".into(), json!(kind));
            object.insert("sequence_number".into(), json!(self.sequence));
        }
        self.sequence += 1;
        body
    }

    fn response_event(&mut self, kind: &str) -> Value {
        let response = serde_json::to_value(&self.response).unwrap_or(Value::Null);
        self.event(kind, json!({ "response": response }))
    }

    /// `response.created` and `response.in_progress`.
    pub fn opening(&mut self) -> Vec<Value> {
        vec![
            self.response_event("response.created"),
            self.response_event("response.in_progress"),
        ]
    }

    /// Adds `item` to the output; its index and the `output_item.added`
    /// event.
    fn add_item(&mut self, item: ConversationItem, out: &mut Vec<Value>) -> usize {
        let index = self.response.output.len();
        let value = serde_json::to_value(&item).unwrap_or(Value::Null);
        self.response.output.push(item);
        out.push(self.event(
            "response.output_item.added",
            json!({"output_index": index, "item": value}),
        ));
        index
    }

    fn item_id(&self, index: usize) -> String {
        self.response
            .output
            .get(index)
            .map(|item| item.id().to_owned())
            .unwrap_or_default()
    }

    /// The events of one generation event. `Finish` closes every item;
    /// [`ResponseBuilder::completed`] then gives the last event.
    pub fn on_event(&mut self, event: GenerationEvent) -> Vec<Value> {
        let mut out = Vec::new();
        match event {
            GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            } => {
                if !reasoning.is_empty() {
                    self.reasoning_delta(reasoning, &mut out);
                }
                if !content.is_empty() {
                    self.text_delta(content, &mut out);
                }
                for delta in tool_calls {
                    self.call_delta(delta, &mut out);
                }
            }
            GenerationEvent::Annotations(annotations) => self.annotations.extend(annotations),
            // moat's own event, outside OpenAI's set: named so, with the
            // activity and nothing else.
            GenerationEvent::Tool(activity) => {
                let activity = serde_json::to_value(&activity).unwrap_or(Value::Null);
                out.push(self.event("moat.tool_call", json!({ "tool": activity })));
            }
            GenerationEvent::Finish { reason, usage } => self.finish(reason, usage, &mut out),
        }
        out
    }

    fn reasoning_delta(&mut self, delta: String, out: &mut Vec<Value>) {
        let index = match self.reasoning {
            Some(index) => index,
            None => {
                let item = ConversationItem::Reasoning(ReasoningItem {
                    id: object_id("rs_"),
                    summary: Vec::new(),
                    content: Vec::new(),
                });
                let index = self.add_item(item, out);
                self.reasoning = Some(index);
                index
            }
        };
        if let Some(ConversationItem::Reasoning(item)) = self.response.output.get_mut(index) {
            match item.content.first_mut() {
                Some(part) => part.text.push_str(&delta),
                None => item.content.push(ReasoningText {
                    kind: "reasoning_text".to_owned(),
                    text: delta.clone(),
                }),
            }
        }
        let item_id = self.item_id(index);
        out.push(self.event(
            "response.reasoning_text.delta",
            json!({"item_id": item_id, "output_index": index, "content_index": 0, "delta": delta}),
        ));
    }

    fn text_delta(&mut self, delta: String, out: &mut Vec<Value>) {
        let index = match self.message {
            Some(index) => index,
            None => {
                let item = ConversationItem::Message(MessageItem {
                    id: object_id("msg_"),
                    status: ItemStatus::InProgress,
                    role: Role::Assistant,
                    content: Vec::new(),
                });
                let index = self.add_item(item, out);
                self.message = Some(index);
                let item_id = self.item_id(index);
                out.push(self.event(
                    "response.content_part.added",
                    json!({"item_id": item_id, "output_index": index, "content_index": 0,
                           "part": {"type": "output_text", "text": "", "annotations": []}}),
                ));
                index
            }
        };
        if let Some(ConversationItem::Message(item)) = self.response.output.get_mut(index) {
            match item.content.first_mut() {
                Some(ContentPart::OutputText { text, .. }) => text.push_str(&delta),
                _ => item.content.push(ContentPart::OutputText {
                    text: delta.clone(),
                    annotations: Vec::new(),
                }),
            }
        }
        let item_id = self.item_id(index);
        out.push(self.event(
            "response.output_text.delta",
            json!({"item_id": item_id, "output_index": index, "content_index": 0,
                   "delta": delta, "logprobs": []}),
        ));
    }

    fn call_delta(&mut self, delta: ToolCallDelta, out: &mut Vec<Value>) {
        let (name, arguments) = delta
            .function
            .map(|f| (f.name.unwrap_or_default(), f.arguments.unwrap_or_default()))
            .unwrap_or_default();
        let index = match self.calls.get(&delta.index) {
            Some(&index) => {
                if let Some(ConversationItem::FunctionCall(call)) =
                    self.response.output.get_mut(index)
                {
                    call.name.push_str(&name);
                }
                index
            }
            None => {
                let item = ConversationItem::FunctionCall(FunctionCallItem {
                    id: object_id("fc_"),
                    call_id: delta.id.clone().unwrap_or_else(|| object_id("call_")),
                    name,
                    arguments: String::new(),
                    status: ItemStatus::InProgress,
                });
                let index = self.add_item(item, out);
                self.calls.insert(delta.index, index);
                index
            }
        };
        if arguments.is_empty() {
            return;
        }
        if let Some(ConversationItem::FunctionCall(call)) = self.response.output.get_mut(index) {
            call.arguments.push_str(&arguments);
        }
        let item_id = self.item_id(index);
        out.push(self.event(
            "response.function_call_arguments.delta",
            json!({"item_id": item_id, "output_index": index, "delta": arguments}),
        ));
    }

    /// Closes every item in output order, and sets status and usage.
    fn finish(&mut self, reason: FinishReason, usage: Usage, out: &mut Vec<Value>) {
        let annotations = std::mem::take(&mut self.annotations);
        for index in 0..self.response.output.len() {
            let item_id = self.item_id(index);
            match self.response.output.get_mut(index) {
                Some(ConversationItem::Reasoning(item)) => {
                    let text = item
                        .content
                        .first()
                        .map(|p| p.text.clone())
                        .unwrap_or_default();
                    out.push(self.event(
                        "response.reasoning_text.done",
                        json!({"item_id": item_id, "output_index": index, "content_index": 0, "text": text}),
                    ));
                }
                Some(ConversationItem::Message(item)) => {
                    item.status = ItemStatus::Completed;
                    let mut text_done = String::new();
                    if let Some(ContentPart::OutputText {
                        text,
                        annotations: kept,
                    }) = item.content.first_mut()
                    {
                        let end = text.chars().count();
                        kept.extend(annotations.iter().map(|a| annotation(a, end)));
                        text_done.clone_from(text);
                    }
                    let part = item
                        .content
                        .first()
                        .map(|p| serde_json::to_value(p).unwrap_or(Value::Null));
                    out.push(self.event(
                        "response.output_text.done",
                        json!({"item_id": item_id, "output_index": index, "content_index": 0,
                               "text": text_done, "logprobs": []}),
                    ));
                    out.push(self.event(
                        "response.content_part.done",
                        json!({"item_id": item_id, "output_index": index, "content_index": 0, "part": part}),
                    ));
                }
                Some(ConversationItem::FunctionCall(call)) => {
                    call.status = ItemStatus::Completed;
                    let (arguments, name) = (call.arguments.clone(), call.name.clone());
                    out.push(self.event(
                        "response.function_call_arguments.done",
                        json!({"item_id": item_id, "output_index": index, "name": name, "arguments": arguments}),
                    ));
                }
                Some(ConversationItem::FunctionCallOutput(_)) | None => {}
            }
            let item = self
                .response
                .output
                .get(index)
                .map(|item| serde_json::to_value(item).unwrap_or(Value::Null));
            out.push(self.event(
                "response.output_item.done",
                json!({"output_index": index, "item": item}),
            ));
        }
        let (status, incomplete) = match reason {
            FinishReason::Stop | FinishReason::ToolCalls => (ResponseStatus::Completed, None),
            FinishReason::Length => (ResponseStatus::Incomplete, Some("max_output_tokens")),
            FinishReason::ContentFilter => (ResponseStatus::Incomplete, Some("content_filter")),
        };
        self.response.status = status;
        self.response.incomplete_details = incomplete.map(|reason| IncompleteDetails {
            reason: reason.to_owned(),
        });
        self.response.usage = Some(usage.into());
    }

    /// The last event: `response.completed` (or `response.incomplete`)
    /// with the whole response.
    pub fn completed(&mut self) -> Value {
        let kind = match self.response.status {
            ResponseStatus::Incomplete => "response.incomplete",
            _ => "response.completed",
        };
        self.response_event(kind)
    }

    /// The `error` event for `error`, as the stream ends with it.
    pub fn error(&mut self, error: &ApiError) -> Value {
        let spec = error.kind.spec();
        self.event(
            "error",
            json!({"code": spec.code, "message": error.message, "param": error.param}),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::chat::FunctionCallDelta;

    fn request(body: Value) -> CreateResponseRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn a_string_input_is_one_user_message_after_the_instructions() {
        let request = request(json!({"model": "m", "input": "Hi", "instructions": "Be brief."}));
        request.validate().unwrap();
        let input: Vec<ConversationItem> = request
            .input_items()
            .into_iter()
            .map(|i| i.into_item("msg_1".into()))
            .collect();
        let chat = request.to_chat(&[], &input);
        let messages = serde_json::to_value(&chat.messages).unwrap();
        assert_eq!(
            messages,
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
        );
        assert!(chat.stream && chat.include_usage());
    }

    #[test]
    fn calls_and_outputs_become_tool_calls_and_tool_messages() {
        let request = request(json!({"model": "m", "input": [
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "hm"}]},
        ], "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}],
           "tool_choice": {"type": "function", "name": "weather"}}));
        request.validate().unwrap();
        let input: Vec<ConversationItem> = request
            .input_items()
            .into_iter()
            .enumerate()
            .map(|(n, i)| i.into_item(format!("it_{n}")))
            .collect();
        let chat = request.to_chat(&[], &input);
        assert_eq!(
            serde_json::to_value(&chat.messages).unwrap(),
            json!([
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}},
                    {"id": "c2", "type": "function", "function": {"name": "time", "arguments": "{}"}}]},
                {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
            ])
        );
        assert_eq!(
            chat.tool_choice,
            Some(json!({"type": "function", "function": {"name": "weather"}}))
        );
        assert_eq!(chat.tools.unwrap()[0].function.name, "weather");
    }

    #[test]
    fn contradictory_and_unsupported_requests_are_refused_by_name() {
        let refused = |body: Value| request(body).validate().unwrap_err().param.unwrap();
        assert_eq!(
            refused(
                json!({"model": "m", "input": "x", "previous_response_id": "resp_1", "conversation": "conv_1"})
            ),
            "previous_response_id"
        );
        assert_eq!(refused(json!({"model": "m"})), "input");
        assert_eq!(
            refused(json!({"model": "m", "input": "x", "background": true})),
            "background"
        );
        assert_eq!(
            refused(json!({"model": "m", "input": "x", "max_output_tokens": 0})),
            "max_output_tokens"
        );
        assert_eq!(
            refused(
                json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}})
            ),
            "text.format"
        );
        assert_eq!(
            refused(json!({"model": "m", "input": "x", "tools": [
                {"type": "function", "name": "f"}, {"type": "function", "name": "f"}]})),
            "tools[1].name"
        );
        assert_eq!(
            refused(
                json!({"model": "m", "input": "x", "tools": [{"type": "file_search", "vector_store_ids": []}]})
            ),
            "tools[0].vector_store_ids"
        );
        assert_eq!(
            refused(
                json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "", "output": ""}]})
            ),
            "input[0].call_id"
        );
        // No unknown tool kinds: the whole body does not parse.
        assert!(serde_json::from_value::<CreateResponseRequest>(
            json!({"model": "m", "input": "x", "tools": [{"type": "web_search"}]})
        )
        .is_err());
    }

    #[test]
    fn file_search_names_the_knowledge_bases() {
        let request = request(json!({"model": "m", "input": "x",
            "tools": [{"type": "file_search", "vector_store_ids": ["vs_1", "vs_2"]}]}));
        let chat = request.to_chat(&[], &[]);
        assert_eq!(
            chat.moat.unwrap().knowledge_bases,
            Some(vec!["vs_1".to_owned(), "vs_2".to_owned()])
        );
        assert!(chat.tools.is_none());
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    #[test]
    fn a_text_answer_streams_as_the_semantic_events() {
        let request = request(json!({"model": "m", "input": "Hi"}));
        let mut builder = ResponseBuilder::new(Response::started("resp_1".into(), 7, &request));
        let mut events = builder.opening();
        events.extend(builder.on_event(GenerationEvent::reasoning("think")));
        events.extend(builder.on_event(GenerationEvent::content("Hel")));
        events.extend(builder.on_event(GenerationEvent::content("lo")));
        events.extend(builder.on_event(GenerationEvent::Finish {
            reason: FinishReason::Stop,
            usage: Usage::new(5, 2, Some(1)),
        }));
        events.push(builder.completed());
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_text.delta",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.reasoning_text.done",
                "response.output_item.done",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let numbers: Vec<u64> = events
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (0..14).collect::<Vec<_>>());
        assert_eq!(events[6]["output_index"], 1);
        assert_eq!(events[10]["text"], "Hello");
        let done = &events[13]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["type"], "reasoning");
        assert_eq!(done["output"][0]["content"][0]["text"], "think");
        assert_eq!(
            done["output"][1]["content"],
            json!([{"type": "output_text", "text": "Hello", "annotations": []}])
        );
        assert_eq!(done["output"][1]["status"], "completed");
        assert_eq!(
            done["usage"],
            json!({"input_tokens": 5, "input_tokens_details": {"cached_tokens": 1}, "output_tokens": 2,
                   "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 7})
        );
        assert_eq!(builder.response().output_text(), "Hello");
    }

    #[test]
    fn a_tool_call_streams_its_arguments_and_a_cut_answer_is_incomplete() {
        let request = request(json!({"model": "m", "input": "Hi"}));
        let mut builder = ResponseBuilder::new(Response::started("resp_1".into(), 7, &request));
        let delta =
            |id: Option<&str>, name: Option<&str>, arguments: &str| GenerationEvent::Delta {
                content: String::new(),
                reasoning: String::new(),
                tool_calls: vec![ToolCallDelta {
                    index: 0,
                    id: id.map(str::to_owned),
                    kind: Some("function".into()),
                    function: Some(FunctionCallDelta {
                        name: name.map(str::to_owned),
                        arguments: Some(arguments.to_owned()),
                    }),
                }],
            };
        let mut events = builder.on_event(delta(Some("call_9"), Some("weather"), "{\"city\""));
        events.extend(builder.on_event(delta(None, None, ":\"Oslo\"}")));
        events.extend(builder.on_event(GenerationEvent::Finish {
            reason: FinishReason::Length,
            usage: Usage::new(5, 2, None),
        }));
        events.push(builder.completed());
        assert_eq!(
            kinds(&events),
            [
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.incomplete",
            ]
        );
        assert_eq!(events[3]["arguments"], "{\"city\":\"Oslo\"}");
        let call = &builder.response().output[0];
        assert!(matches!(call, ConversationItem::FunctionCall(c)
            if c.call_id == "call_9" && c.name == "weather" && c.status == ItemStatus::Completed));
        assert_eq!(
            builder.response().incomplete_details,
            Some(IncompleteDetails {
                reason: "max_output_tokens".into()
            })
        );
    }

    #[test]
    fn a_server_side_tool_call_is_moats_own_event_and_no_item() {
        let request = request(json!({"model": "m", "input": "Hi"}));
        let mut builder = ResponseBuilder::new(Response::started("resp_1".into(), 7, &request));
        let events = builder.on_event(GenerationEvent::Tool(crate::ToolActivity {
            name: "weather".into(),
            decision: "allowed".into(),
            outcome: "ok".into(),
        }));
        assert_eq!(
            events,
            [
                json!({"tool": {"name": "weather", "decision": "allowed", "outcome": "ok"},
                    "type": "moat.tool_call", "sequence_number": 0})
            ]
        );
        assert!(builder.response().output.is_empty());
    }

    #[test]
    fn citations_become_file_citation_annotations() {
        let request = request(json!({"model": "m", "input": "Hi"}));
        let mut builder = ResponseBuilder::new(Response::started("resp_1".into(), 7, &request));
        builder.on_event(GenerationEvent::content("Yes."));
        builder.on_event(GenerationEvent::Annotations(vec![
            Annotation::file_citation("file-1".into(), "a.md".into(), "quoted".into()),
        ]));
        builder.on_event(GenerationEvent::Finish {
            reason: FinishReason::Stop,
            usage: Usage::default(),
        });
        let output = serde_json::to_value(&builder.response().output).unwrap();
        assert_eq!(
            output[0]["content"][0]["annotations"],
            json!([{"type": "file_citation", "file_id": "file-1", "filename": "a.md", "index": 4, "quote": "quoted"}])
        );
    }
}
