//! Conversations in OpenAI's shapes (`/v1/conversations…`): the
//! conversation object, its items (messages, function calls and their
//! outputs, reasoning), the requests that create and change them, and
//! moat's own summary of a conversation for listings.
//!
//! Items arrive in the Responses API's input forms (a message's `content`
//! a string or a list of parts, `type` optional for messages; `id` and
//! `status` of an item copied from a listing are ignored) and are kept in
//! their output form, with an id the server gives.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::vector_stores::{check_metadata, Metadata};

/// The most items one request may add (OpenAI's limit).
pub const MAX_ITEMS_PER_REQUEST: usize = 20;
/// The longest text of one item (a message's parts together, a call's
/// arguments, an output), in bytes.
pub const MAX_ITEM_TEXT_BYTES: usize = 1024 * 1024;
/// The longest function name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// The longest `call_id`, in characters.
pub const MAX_CALL_ID_CHARS: usize = 128;

/// A conversation (`"object": "conversation"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub object: String,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    pub metadata: Metadata,
}

impl Conversation {
    pub fn new(id: impl Into<String>, created_at: i64, metadata: Metadata) -> Self {
        Self {
            id: id.into(),
            object: "conversation".to_owned(),
            created_at,
            metadata,
        }
    }
}

/// `DELETE /v1/conversations/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDeleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

impl ConversationDeleted {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            object: "conversation.deleted".to_owned(),
            deleted: true,
        }
    }
}

/// moat's summary of one of the caller's conversations, for its list
/// (`GET /v1/moat/conversations`): what a chat list shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    /// `"moat.conversation.summary"`.
    pub object: String,
    pub created_at: i64,
    /// Last change of the conversation or its items, seconds.
    pub updated_at: i64,
    /// `metadata.title` when set, else the start of the first user message.
    pub title: Option<String>,
    /// `metadata.model` when set.
    pub model: Option<String>,
    pub metadata: Metadata,
}

/// `GET /v1/moat/conversations/{id}/export`: the conversation and every
/// item, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationExport {
    /// `"moat.conversation.export"`.
    pub object: String,
    pub conversation: Conversation,
    pub title: Option<String>,
    /// Seconds.
    pub updated_at: i64,
    pub items: Vec<ConversationItem>,
}

/// One item as kept and returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ConversationItem {
    Message(MessageItem),
    FunctionCall(FunctionCallItem),
    FunctionCallOutput(FunctionCallOutputItem),
    Reasoning(ReasoningItem),
}

impl ConversationItem {
    pub fn id(&self) -> &str {
        match self {
            Self::Message(m) => &m.id,
            Self::FunctionCall(c) => &c.id,
            Self::FunctionCallOutput(o) => &o.id,
            Self::Reasoning(r) => &r.id,
        }
    }

    /// The text a user message says, parts joined; `None` for every
    /// other item.
    pub fn user_text(&self) -> Option<String> {
        match self {
            Self::Message(m) if m.role == Role::User => Some(m.text()),
            _ => None,
        }
    }
}

/// `status` of an item; a kept item is complete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    InProgress,
    #[default]
    Completed,
    Incomplete,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    System,
    Developer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    /// `msg_…`.
    pub id: String,
    pub status: ItemStatus,
    pub role: Role,
    pub content: Vec<ContentPart>,
}

impl MessageItem {
    /// The message's text parts, joined.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for part in &self.content {
            text.push_str(part.text());
        }
        text
    }
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
        /// As the answer gave them (file citations…).
        #[serde(default)]
        annotations: Vec<Value>,
    },
    Refusal {
        refusal: String,
    },
}

impl ContentPart {
    pub fn text(&self) -> &str {
        match self {
            Self::InputText { text } | Self::OutputText { text, .. } => text,
            Self::Refusal { refusal } => refusal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// `fc_…`.
    pub id: String,
    pub call_id: String,
    pub name: String,
    /// JSON text, as the model wrote it.
    pub arguments: String,
    pub status: ItemStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    /// `fco_…`.
    pub id: String,
    pub call_id: String,
    pub output: String,
    pub status: ItemStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    /// `rs_…`.
    pub id: String,
    #[serde(default)]
    pub summary: Vec<ReasoningText>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<ReasoningText>,
}

/// A reasoning item's summary or content part (`summary_text`,
/// `reasoning_text`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningText {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
}

/// `POST /v1/conversations`. Unknown fields are ignored, as in chat
/// requests.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CreateConversationRequest {
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub items: Option<Vec<InputItem>>,
}

impl CreateConversationRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        if let Some(metadata) = &self.metadata {
            check_metadata(metadata, "metadata")?;
        }
        if let Some(items) = &self.items {
            check_items(items, "items", MAX_ITEMS_PER_REQUEST)?;
        }
        Ok(())
    }
}

/// `POST /v1/conversations/{id}`: the new metadata, whole.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UpdateConversationRequest {
    pub metadata: Metadata,
}

impl UpdateConversationRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        check_metadata(&self.metadata, "metadata")
    }
}

/// `POST /v1/conversations/{id}/items`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CreateItemsRequest {
    pub items: Vec<InputItem>,
}

impl CreateItemsRequest {
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.items.is_empty() {
            return Err(ApiError::invalid_param(
                "items",
                "items must hold at least one item.",
            ));
        }
        check_items(&self.items, "items", MAX_ITEMS_PER_REQUEST)
    }
}

/// An item as a request sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    Message {
        role: Role,
        content: Vec<ContentPart>,
    },
    FunctionCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
    Reasoning {
        summary: Vec<ReasoningText>,
        content: Vec<ReasoningText>,
    },
}

impl InputItem {
    /// The item as kept, under `id`.
    pub fn into_item(self, id: String) -> ConversationItem {
        match self {
            Self::Message { role, content } => ConversationItem::Message(MessageItem {
                id,
                status: ItemStatus::Completed,
                role,
                content,
            }),
            Self::FunctionCall {
                call_id,
                name,
                arguments,
            } => ConversationItem::FunctionCall(FunctionCallItem {
                id,
                call_id,
                name,
                arguments,
                status: ItemStatus::Completed,
            }),
            Self::FunctionCallOutput { call_id, output } => {
                ConversationItem::FunctionCallOutput(FunctionCallOutputItem {
                    id,
                    call_id,
                    output,
                    status: ItemStatus::Completed,
                })
            }
            Self::Reasoning { summary, content } => ConversationItem::Reasoning(ReasoningItem {
                id,
                summary,
                content,
            }),
        }
    }

    /// The id prefix of such an item once kept.
    pub fn id_prefix(&self) -> &'static str {
        match self {
            Self::Message { .. } => "msg_",
            Self::FunctionCall { .. } => "fc_",
            Self::FunctionCallOutput { .. } => "fco_",
            Self::Reasoning { .. } => "rs_",
        }
    }

    fn text_bytes(&self) -> usize {
        match self {
            Self::Message { content, .. } => content.iter().map(|p| p.text().len()).sum(),
            Self::FunctionCall {
                name, arguments, ..
            } => name.len() + arguments.len(),
            Self::FunctionCallOutput { output, .. } => output.len(),
            Self::Reasoning { summary, content } => {
                summary.iter().chain(content).map(|t| t.text.len()).sum()
            }
        }
    }
}

/// The wire form of an input item: `type` may be left out of a message.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TaggedItem {
    Message(WireMessage),
    FunctionCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        output: String,
    },
    Reasoning {
        #[serde(default)]
        summary: Vec<ReasoningText>,
        #[serde(default)]
        content: Vec<ReasoningText>,
    },
}

#[derive(Deserialize)]
struct WireMessage {
    role: Role,
    content: WireContent,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireContent {
    Text(String),
    Parts(Vec<WirePart>),
}

/// A content part as sent: `input_text`, `output_text`, `refusal`;
/// anything else (images, files, audio) is refused by name.
#[derive(Deserialize)]
struct WirePart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    annotations: Option<Vec<Value>>,
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut value = Value::deserialize(deserializer)?;
        let Some(object) = value.as_object_mut() else {
            return Err(D::Error::custom("an item must be a JSON object"));
        };
        if !object.contains_key("type") && object.contains_key("role") {
            object.insert("type".into(), Value::String("message".into()));
        }
        let kind = object
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let tagged = TaggedItem::deserialize(value).map_err(|e| {
            if matches!(
                kind.as_str(),
                "message" | "function_call" | "function_call_output" | "reasoning"
            ) {
                D::Error::custom(e)
            } else {
                D::Error::custom(format!(
                    "items of type `{kind}` are not supported; send message, function_call, \
                     function_call_output or reasoning items"
                ))
            }
        })?;
        Ok(match tagged {
            TaggedItem::Message(WireMessage { role, content }) => {
                let content = match content {
                    WireContent::Text(text) => vec![match role {
                        Role::Assistant => ContentPart::OutputText {
                            text,
                            annotations: Vec::new(),
                        },
                        _ => ContentPart::InputText { text },
                    }],
                    WireContent::Parts(parts) => parts
                        .into_iter()
                        .map(WirePart::into_part)
                        .collect::<Result<_, String>>()
                        .map_err(D::Error::custom)?,
                };
                Self::Message { role, content }
            }
            TaggedItem::FunctionCall {
                call_id,
                name,
                arguments,
            } => Self::FunctionCall {
                call_id,
                name,
                arguments,
            },
            TaggedItem::FunctionCallOutput { call_id, output } => {
                Self::FunctionCallOutput { call_id, output }
            }
            TaggedItem::Reasoning { summary, content } => Self::Reasoning { summary, content },
        })
    }
}

impl WirePart {
    fn into_part(self) -> Result<ContentPart, String> {
        let need_text = |text: Option<String>, kind: &str| {
            text.ok_or_else(|| format!("a `{kind}` part needs `text`"))
        };
        match self.kind.as_str() {
            "input_text" | "text" => Ok(ContentPart::InputText {
                text: need_text(self.text, &self.kind)?,
            }),
            "output_text" => Ok(ContentPart::OutputText {
                text: need_text(self.text, "output_text")?,
                annotations: self.annotations.unwrap_or_default(),
            }),
            "refusal" => Ok(ContentPart::Refusal {
                refusal: self
                    .refusal
                    .ok_or_else(|| "a `refusal` part needs `refusal`".to_owned())?,
            }),
            other => Err(format!(
                "content parts of type `{other}` are not supported; send input_text, \
                 output_text or refusal parts"
            )),
        }
    }
}

/// At most `max` items (in the request's field `field`), each within its
/// sizes.
pub(crate) fn check_items(items: &[InputItem], field: &str, max: usize) -> Result<(), ApiError> {
    if items.len() > max {
        return Err(ApiError::invalid_param(
            field,
            format!(
                "At most {max} items may be added at a time; {} were sent.",
                items.len()
            ),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let param = format!("{field}[{i}]");
        if item.text_bytes() > MAX_ITEM_TEXT_BYTES {
            return Err(ApiError::invalid_param(
                &param,
                format!("An item's text may be at most {MAX_ITEM_TEXT_BYTES} bytes."),
            ));
        }
        match item {
            InputItem::Message { content, .. } if content.is_empty() => {
                return Err(ApiError::invalid_param(
                    &format!("{param}.content"),
                    "A message needs some content.",
                ));
            }
            InputItem::FunctionCall { call_id, name, .. } => {
                check_call_id(call_id, &param)?;
                if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
                    return Err(ApiError::invalid_param(
                        &format!("{param}.name"),
                        format!("A function name must be 1 to {MAX_NAME_CHARS} characters."),
                    ));
                }
            }
            InputItem::FunctionCallOutput { call_id, .. } => check_call_id(call_id, &param)?,
            _ => {}
        }
    }
    Ok(())
}

fn check_call_id(call_id: &str, param: &str) -> Result<(), ApiError> {
    if call_id.is_empty() || call_id.chars().count() > MAX_CALL_ID_CHARS {
        return Err(ApiError::invalid_param(
            &format!("{param}.call_id"),
            format!("call_id must be 1 to {MAX_CALL_ID_CHARS} characters."),
        ));
    }
    Ok(())
}

/// The query of moat's conversation list: a page, and `q`, text the
/// title or metadata must contain (any case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: crate::page::ListOrder,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
}

/// The longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 256;

impl SummaryQuery {
    pub fn validate(&self) -> Result<(), ApiError> {
        crate::page::check_limit(self.limit, crate::page::MAX_LIMIT)?;
        crate::page::check_cursors(self.after.as_deref(), None)?;
        if let Some(q) = &self.q {
            if q.chars().count() > MAX_QUERY_CHARS {
                return Err(ApiError::invalid_param(
                    "q",
                    format!("q must be at most {MAX_QUERY_CHARS} characters."),
                ));
            }
        }
        Ok(())
    }

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(crate::page::DEFAULT_LIMIT)
    }
}

/// The query of an item listing: a page and `include` (accepted, as the
/// SDK may send it; nothing more is included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemListQuery {
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: crate::page::ListOrder,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default, rename = "include[]", alias = "include")]
    pub include: Option<String>,
}

impl ItemListQuery {
    pub fn validate(&self) -> Result<(), ApiError> {
        crate::page::check_limit(self.limit, crate::page::MAX_LIMIT)?;
        crate::page::check_cursors(self.after.as_deref(), self.before.as_deref())
    }

    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(crate::page::DEFAULT_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_json;

    fn items(body: &str) -> Result<CreateItemsRequest, ApiError> {
        parse_json::<CreateItemsRequest>(body.as_bytes()).and_then(|r| r.validate().map(|()| r))
    }

    #[test]
    fn input_forms_become_kept_items() {
        let request = items(
            r#"{"items":[
                {"role":"user","content":"Hello"},
                {"type":"message","role":"assistant","content":"Hi","id":"msg_old","status":"completed"},
                {"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},
                {"type":"function_call","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}"},
                {"type":"function_call_output","call_id":"call_1","output":"sunny"}
            ]}"#,
        )
        .unwrap();
        let kept: Vec<ConversationItem> = request
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let id = format!("{}{i}", item.id_prefix());
                item.into_item(id)
            })
            .collect();
        insta::assert_snapshot!(serde_json::to_string(&kept).unwrap(), @r#"[{"type":"message","id":"msg_0","status":"completed","role":"user","content":[{"type":"input_text","text":"Hello"}]},{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]},{"type":"message","id":"msg_2","status":"completed","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},{"type":"function_call","id":"fc_3","call_id":"call_1","name":"weather","arguments":"{\"city\":\"Paris\"}","status":"completed"},{"type":"function_call_output","id":"fco_4","call_id":"call_1","output":"sunny","status":"completed"}]"#);
        assert_eq!(kept[2].user_text().as_deref(), Some("ab"));
        assert_eq!(kept[1].user_text(), None);
    }

    #[test]
    fn hostile_items_are_refused_with_their_place() {
        for (body, param, says) in [
            (r#"{"items":[]}"#, Some("items"), "at least one"),
            (
                r#"{"items":[{"type":"input_image","image_url":"x"}]}"#,
                Some("items[0]"),
                "not supported",
            ),
            (
                r#"{"items":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}"#,
                Some("items[0]"),
                "not supported",
            ),
            (
                r#"{"items":[{"role":"root","content":"x"}]}"#,
                Some("items[0]"),
                "",
            ),
            (
                r#"{"items":[{"role":"user","content":[]}]}"#,
                Some("items[0].content"),
                "content",
            ),
            (r#"{"items":["hello"]}"#, Some("items[0]"), "object"),
            (
                r#"{"items":[{"type":"function_call","call_id":"","name":"f","arguments":"{}"}]}"#,
                Some("items[0].call_id"),
                "call_id",
            ),
        ] {
            let e = items(body).unwrap_err();
            assert_eq!(e.status(), 400, "{body}");
            assert_eq!(e.param.as_deref(), param, "{body}: {}", e.message);
            assert!(e.message.contains(says), "{body}: {}", e.message);
        }
        let many = format!(
            r#"{{"items":[{}]}}"#,
            vec![r#"{"role":"user","content":"x"}"#; 21].join(",")
        );
        let e = items(&many).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("items"));
        assert!(e.message.contains("21"), "{}", e.message);
        let huge = format!(
            r#"{{"items":[{{"role":"user","content":"{}"}}]}}"#,
            "x".repeat(MAX_ITEM_TEXT_BYTES + 1)
        );
        assert_eq!(items(&huge).unwrap_err().param.as_deref(), Some("items[0]"));
    }

    #[test]
    fn objects_have_openai_shapes() {
        let conversation = Conversation::new(
            "conv_1",
            1_741_900_000,
            Metadata::from([("topic".into(), "demo".into())]),
        );
        insta::assert_snapshot!(serde_json::to_string(&conversation).unwrap(), @r#"{"id":"conv_1","object":"conversation","created_at":1741900000,"metadata":{"topic":"demo"}}"#);
        insta::assert_snapshot!(serde_json::to_string(&ConversationDeleted::new("conv_1")).unwrap(), @r#"{"id":"conv_1","object":"conversation.deleted","deleted":true}"#);
    }

    #[test]
    fn metadata_and_queries_keep_their_limits() {
        let e = parse_json::<CreateConversationRequest>(
            format!(r#"{{"metadata":{{"{}":"v"}}}}"#, "k".repeat(65)).as_bytes(),
        )
        .unwrap()
        .validate()
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("metadata"));
        let q = SummaryQuery {
            q: Some("x".repeat(257)),
            ..SummaryQuery::default()
        };
        assert_eq!(q.validate().unwrap_err().param.as_deref(), Some("q"));
        let q = ItemListQuery {
            limit: Some(0),
            ..ItemListQuery::default()
        };
        assert_eq!(q.validate().unwrap_err().param.as_deref(), Some("limit"));
    }
}
