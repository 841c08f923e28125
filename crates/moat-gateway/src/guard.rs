//! The personal-data guard in the request path: protect a request before a
//! model sees it, restore the response for the caller.
//!
//! Every text of a request that reaches a model is scanned (message content
//! and text parts, message names, reasoning and tool-call arguments in the
//! history, the tool definitions offered, `chat_template_kwargs`, the prompt
//! of a text completion) with one [`PseudonymVault`] per request. The
//! policy decides what the model gets; under `pseudonymize` the backend's
//! events are restored on their way out, streamed or not. The guard fails
//! closed: an internal error refuses the request, unscanned text is never
//! passed on.
//!
//! Free text (descriptions, string values such as `enum` entries) is masked
//! or pseudonymized like message text. What cannot be rewritten without
//! changing what the caller gets back (tool and function names, object keys
//! such as parameter names, JSON numbers) is refused under `mask` and
//! `pseudonymize` when it holds personal data, and only reported under
//! `allow`. Each text is scanned on its own: a value split across two
//! messages is not joined (see `docs/guard.md`). Requests with more than
//! [`INLINE_SCAN_LIMIT`] bytes of text are scanned on a blocking thread.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use moat_guard::{GuardError, Kind, Policy, PseudonymVault, Scanner};
use moat_protocol::chat::{ChatCompletionRequest, MessageContent};
use moat_protocol::completion::{CompletionRequest, Prompt};
use moat_protocol::ApiError;
use serde_json::Value;

mod restore;

pub(crate) use restore::ResponseRestorer;

/// Bytes of text in one request above which the guard scans it on a
/// blocking thread (`spawn_blocking`) instead of on the async workers, so a
/// large body cannot hold up other requests; smaller ones are scanned
/// inline, where a thread hop would cost more than the scan.
pub(crate) const INLINE_SCAN_LIMIT: usize = 64 * 1024;

/// The scanner and the policy applied to every request: the server-wide
/// policy, or the caller's role policy (`pii_policy` of a role).
#[derive(Clone)]
pub struct PiiGuard {
    scanner: Arc<Scanner>,
    policy: Policy,
}

impl PiiGuard {
    /// A guard applying `policy` with `scanner`.
    pub fn new(scanner: Scanner, policy: Policy) -> Self {
        Self {
            scanner: Arc::new(scanner),
            policy,
        }
    }

    /// The policy applied.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// What the scanner finds in `text` (for the admin API's scan).
    pub fn scan(&self, text: &str) -> Vec<moat_guard::Finding> {
        self.scanner.scan(text)
    }

    /// `text` with every finding replaced by its partial mask (for audit
    /// content under the `masked` policy). A text the masker cannot handle
    /// is replaced whole rather than kept.
    pub fn mask_text(&self, text: &str) -> String {
        let findings = self.scanner.scan(text);
        if findings.is_empty() {
            return text.to_owned();
        }
        moat_guard::mask(text, &findings).unwrap_or_else(|_| "[unmaskable]".to_owned())
    }

    /// The same scanner under another policy (a role's).
    pub fn with_policy(&self, policy: Policy) -> Self {
        Self {
            scanner: self.scanner.clone(),
            policy,
        }
    }

    /// Applies the policy to every text of a chat request that reaches the
    /// model; returns what was found and how to restore the response. A
    /// request with more than [`INLINE_SCAN_LIMIT`] bytes of text is scanned
    /// on a blocking thread.
    pub(crate) async fn protect_chat(
        &self,
        request: &mut ChatCompletionRequest,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        if chat_text_len(request) <= INLINE_SCAN_LIMIT {
            return self.protect_chat_now(request);
        }
        let guard = self.clone();
        let mut owned = std::mem::take(request);
        let (owned, result) = off_the_runtime(move || {
            let result = guard.protect_chat_now(&mut owned);
            (owned, result)
        })
        .await?;
        *request = owned;
        result
    }

    /// [`PiiGuard::protect_chat`] on the calling thread.
    fn protect_chat_now(
        &self,
        request: &mut ChatCompletionRequest,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        let mut pass = Pass::new(self, "messages");
        for message in &mut request.messages {
            match &mut message.content {
                Some(MessageContent::Text(text)) => pass.apply(text)?,
                Some(MessageContent::Parts(parts)) => {
                    for text in parts.iter_mut().filter_map(|p| p.text.as_mut()) {
                        pass.apply(text)?;
                    }
                }
                None => {}
            }
            if let Some(name) = &mut message.name {
                pass.apply(name)?;
            }
            if let Some(reasoning) = &mut message.reasoning_content {
                pass.apply(reasoning)?;
            }
            for call in message.tool_calls.iter_mut().flatten() {
                pass.name(&call.function.name);
                // No recognizer matches `"` or `\`, so a replacement inside
                // the JSON text keeps it valid JSON.
                pass.apply(&mut call.function.arguments)?;
            }
        }
        pass.place = "tools";
        for tool in request.tools.iter_mut().flatten() {
            let function = &mut tool.function;
            pass.name(&function.name);
            if let Some(description) = &mut function.description {
                pass.apply(description)?;
            }
            if let Some(parameters) = &mut function.parameters {
                pass.apply_json(parameters)?;
            }
        }
        pass.place = "chat_template_kwargs";
        for (key, value) in request.chat_template_kwargs.iter_mut().flatten() {
            pass.name(key);
            pass.apply_json(value)?;
        }
        pass.finish()
    }

    /// Applies the policy to the prompt of a text completion (on a blocking
    /// thread above [`INLINE_SCAN_LIMIT`] bytes).
    pub(crate) async fn protect_prompt(
        &self,
        request: &mut CompletionRequest,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        let len = match &request.prompt {
            Prompt::One(text) => text.len(),
            Prompt::Many(texts) => texts.iter().map(String::len).sum(),
        };
        if len <= INLINE_SCAN_LIMIT {
            return self.protect_prompt_now(&mut request.prompt);
        }
        let guard = self.clone();
        let mut prompt = std::mem::replace(&mut request.prompt, Prompt::Many(Vec::new()));
        let (prompt, result) = off_the_runtime(move || {
            let result = guard.protect_prompt_now(&mut prompt);
            (prompt, result)
        })
        .await?;
        request.prompt = prompt;
        result
    }

    fn protect_prompt_now(
        &self,
        prompt: &mut Prompt,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        let mut pass = Pass::new(self, "prompt");
        match prompt {
            Prompt::One(text) => pass.apply(text)?,
            Prompt::Many(texts) => {
                for text in texts {
                    pass.apply(text)?;
                }
            }
        }
        pass.finish()
    }
}

impl PiiGuard {
    /// Applies the policy to a list of texts (embedding inputs), each
    /// scanned on its own under `place`; a blocking thread above
    /// [`INLINE_SCAN_LIMIT`] bytes. Nothing is restored: vectors carry no
    /// text.
    pub(crate) async fn protect_texts(
        &self,
        texts: &mut Vec<String>,
        place: &'static str,
    ) -> Result<PiiFound, ApiError> {
        let scan = |guard: &PiiGuard, texts: &mut Vec<String>| {
            let mut pass = Pass::new(guard, place);
            texts.iter_mut().try_for_each(|t| pass.apply(t))?;
            pass.finish().map(|(found, _)| found)
        };
        if texts.iter().map(String::len).sum::<usize>() <= INLINE_SCAN_LIMIT {
            return scan(self, texts);
        }
        let guard = self.clone();
        let mut owned = std::mem::take(texts);
        let (owned, result) = off_the_runtime(move || {
            let result = scan(&guard, &mut owned);
            (owned, result)
        })
        .await?;
        *texts = owned;
        result
    }
}

/// Runs a scan on a blocking thread; a scan that does not come back (a
/// panic) refuses the request.
async fn off_the_runtime<T: Send + 'static>(
    scan: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(scan).await.map_err(|error| {
        tracing::error!(%error, "the personal-data guard's scan failed; request refused");
        ApiError::internal()
    })
}

/// Bytes of text the guard reads in a chat request (what decides where it
/// is scanned).
fn chat_text_len(request: &ChatCompletionRequest) -> usize {
    let messages: usize = request
        .messages
        .iter()
        .map(|m| {
            let content = match &m.content {
                Some(MessageContent::Text(text)) => text.len(),
                Some(MessageContent::Parts(parts)) => parts
                    .iter()
                    .filter_map(|p| p.text.as_ref())
                    .map(String::len)
                    .sum(),
                None => 0,
            };
            let calls: usize = m
                .tool_calls
                .iter()
                .flatten()
                .map(|c| c.function.name.len() + c.function.arguments.len())
                .sum();
            content
                + calls
                + m.name.as_ref().map_or(0, String::len)
                + m.reasoning_content.as_ref().map_or(0, String::len)
        })
        .sum();
    let tools: usize = request
        .tools
        .iter()
        .flatten()
        .map(|t| {
            t.function.name.len()
                + t.function.description.as_ref().map_or(0, String::len)
                + t.function.parameters.as_ref().map_or(0, json_text_len)
        })
        .sum();
    let kwargs: usize = request
        .chat_template_kwargs
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + json_text_len(v))
        .sum();
    messages + tools + kwargs
}

/// Bytes of strings and keys in a JSON value (numbers count a little).
fn json_text_len(value: &Value) -> usize {
    match value {
        Value::String(text) => text.len(),
        Value::Array(items) => items.iter().map(json_text_len).sum(),
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + json_text_len(v)).sum(),
        Value::Number(_) => 20,
        Value::Bool(_) | Value::Null => 0,
    }
}

impl Default for PiiGuard {
    /// The built-in recognizers, policy `pseudonymize`.
    fn default() -> Self {
        Self::new(Scanner::new(), Policy::default())
    }
}

impl fmt::Debug for PiiGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PiiGuard")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The kinds of personal data found in one request and how often each was
/// found; never the values. For the audit record and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PiiFound {
    counts: BTreeMap<Kind, usize>,
}

impl PiiFound {
    /// Kind name → count, for the audit record.
    pub fn named_counts(&self) -> std::collections::BTreeMap<String, u32> {
        self.counts
            .iter()
            .map(|(k, n)| (k.name().to_owned(), u32::try_from(*n).unwrap_or(u32::MAX)))
            .collect()
    }

    /// Each kind found, in table order, with its number of findings.
    pub fn counts(&self) -> &BTreeMap<Kind, usize> {
        &self.counts
    }

    /// The kinds found, in table order.
    pub fn kinds(&self) -> Vec<Kind> {
        self.counts.keys().cloned().collect()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

/// One request going through the guard.
struct Pass<'a> {
    guard: &'a PiiGuard,
    vault: PseudonymVault,
    found: PiiFound,
    /// The request parameter being scanned (`messages`, `tools`...).
    place: &'static str,
    /// Where personal data was found first: the refusal's `param`.
    first_found: Option<&'static str>,
    /// Kinds found where nothing can be rewritten (names, keys, numbers),
    /// and the parameter of the first.
    unrewritable: Vec<Kind>,
    unrewritable_at: Option<&'static str>,
}

impl<'a> Pass<'a> {
    fn new(guard: &'a PiiGuard, place: &'static str) -> Self {
        Self {
            guard,
            vault: PseudonymVault::new(),
            found: PiiFound::default(),
            place,
            first_found: None,
            unrewritable: Vec::new(),
            unrewritable_at: None,
        }
    }

    /// Counts what was found; returns whether anything was.
    fn count(&mut self, findings: &[moat_guard::Finding]) -> bool {
        for finding in findings {
            *self.found.counts.entry(finding.kind.clone()).or_default() += 1;
        }
        if !findings.is_empty() && self.first_found.is_none() {
            self.first_found = Some(self.place);
        }
        !findings.is_empty()
    }

    /// Scans `text` and replaces it with what the model may see. `block`
    /// scans everything first, so the refusal names every kind found.
    fn apply(&mut self, text: &mut String) -> Result<(), ApiError> {
        let policy = match self.guard.policy {
            Policy::Block => Policy::Allow,
            other => other,
        };
        let guarded = policy
            .apply(&self.guard.scanner, text, &mut self.vault)
            .map_err(refusal)?;
        self.count(&guarded.findings);
        if policy != Policy::Allow {
            *text = guarded.text;
        }
        Ok(())
    }

    /// Scans a text that is passed on unchanged whatever the policy (a
    /// name, a key, a number): personal data in it is refused under `mask`
    /// and `pseudonymize` as well as `block`.
    fn name(&mut self, text: &str) {
        let findings = self.guard.scanner.scan(text);
        if self.count(&findings) {
            self.unrewritable
                .extend(findings.iter().map(|f| f.kind.clone()));
            self.unrewritable_at.get_or_insert(self.place);
        }
    }

    /// Scans the strings of a JSON value as texts (rewritten per policy),
    /// and its keys and numbers as names.
    fn apply_json(&mut self, value: &mut Value) -> Result<(), ApiError> {
        match value {
            Value::String(text) => self.apply(text),
            Value::Number(number) => {
                self.name(&number.to_string());
                Ok(())
            }
            Value::Array(items) => items.iter_mut().try_for_each(|v| self.apply_json(v)),
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    self.name(key);
                    self.apply_json(v)?;
                }
                Ok(())
            }
            Value::Bool(_) | Value::Null => Ok(()),
        }
    }

    fn finish(mut self) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        let policy = self.guard.policy;
        if policy == Policy::Block && !self.found.is_empty() {
            let error = refusal(GuardError::Blocked {
                kinds: self.found.kinds(),
            });
            return Err(error.with_param(self.first_found.unwrap_or(self.place)));
        }
        if policy != Policy::Allow && !self.unrewritable.is_empty() {
            self.unrewritable.sort();
            self.unrewritable.dedup();
            let error = refusal(GuardError::Unrewritable {
                kinds: std::mem::take(&mut self.unrewritable),
            });
            return Err(error.with_param(self.unrewritable_at.unwrap_or(self.place)));
        }
        let vault = (policy == Policy::Pseudonymize && !self.vault.is_empty())
            .then(|| Arc::new(self.vault));
        Ok((self.found, ResponseRestorer { vault }))
    }
}

/// A guard error as the client sees it (its row is the guard's
/// [`moat_protocol::ErrorCode`]), logged: the kinds of a refusal, the cause
/// of a failure (a guard error never holds a value).
fn refusal(error: GuardError) -> ApiError {
    match &error {
        GuardError::Blocked { kinds } | GuardError::Unrewritable { kinds } => {
            let names: Vec<&str> = kinds.iter().map(Kind::name).collect();
            tracing::info!(kinds = %names.join(", "), "request refused: personal data");
        }
        other => {
            tracing::error!(error = %other, "the personal-data guard failed; request refused");
        }
    }
    ApiError::from(error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use moat_protocol::chat::{ChatMessage, ContentPart, FunctionCall, Role, ToolCall};
    use moat_protocol::ErrorKind;

    use super::*;

    const ID: &str = "11010519491231002X";
    const PHONE: &str = "13812345678";

    fn chat(messages: Vec<ChatMessage>) -> ChatCompletionRequest {
        ChatCompletionRequest {
            model: "m".into(),
            messages,
            ..Default::default()
        }
    }

    fn every_kind_of_text() -> ChatCompletionRequest {
        let mut assistant = ChatMessage::text(Role::Assistant, "");
        assistant.content = None;
        assistant.reasoning_content = Some(format!("the user gave {PHONE}"));
        assistant.tool_calls = Some(vec![ToolCall {
            id: "call_0".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: "lookup".into(),
                arguments: format!("{{\"id\":\"{ID}\"}}"),
            },
        }]);
        let mut parts = ChatMessage::text(Role::User, "");
        parts.content = Some(MessageContent::Parts(vec![ContentPart {
            kind: "text".into(),
            text: Some(format!("and {PHONE}")),
        }]));
        chat(vec![
            ChatMessage::text(Role::System, "mail ops@example.com"),
            ChatMessage::text(Role::Developer, format!("id {ID}")),
            ChatMessage::text(Role::User, format!("身份证{ID}，手机{PHONE}")),
            assistant,
            ChatMessage::text(Role::Tool, format!("{{\"phone\":\"{PHONE}\"}}")),
            parts,
        ])
    }

    fn texts(request: &ChatCompletionRequest) -> String {
        serde_json::to_string(&request.messages).unwrap()
    }

    #[test]
    fn pseudonymize_replaces_every_text_and_counts_kinds() {
        let mut request = every_kind_of_text();
        let (found, restorer) = PiiGuard::default().protect_chat_now(&mut request).unwrap();
        let seen = texts(&request);
        assert!(
            !seen.contains("1381234") && !seen.contains("1949"),
            "{seen}"
        );
        assert!(!seen.contains("ops@"), "{seen}");
        assert_eq!(
            request.messages[2].content,
            Some(MessageContent::Text(
                "身份证<ID_CARD_1>，手机<PHONE_1>".into()
            ))
        );
        let arguments = &request.messages[3].tool_calls.as_ref().unwrap()[0]
            .function
            .arguments;
        let parsed: serde_json::Value = serde_json::from_str(arguments).unwrap();
        assert_eq!(parsed["id"], "<ID_CARD_1>");
        assert_eq!(
            found.counts(),
            &BTreeMap::from([(Kind::IdCard, 3), (Kind::Mobile, 4), (Kind::Email, 1)])
        );
        let vault = restorer.vault.expect("a vault to restore with");
        assert_eq!(
            vault.restore("<ID_CARD_1> <PHONE_1>"),
            format!("{ID} {PHONE}")
        );
    }

    #[test]
    fn allow_changes_nothing_but_reports() {
        let mut request = every_kind_of_text();
        let before = texts(&request);
        let guard = PiiGuard::new(Scanner::new(), Policy::Allow);
        let (found, restorer) = guard.protect_chat_now(&mut request).unwrap();
        assert_eq!(texts(&request), before);
        assert_eq!(found.kinds(), vec![Kind::IdCard, Kind::Mobile, Kind::Email]);
        assert!(restorer.vault.is_none());
    }

    #[test]
    fn mask_restores_nothing() {
        let mut request = chat(vec![ChatMessage::text(Role::User, format!("手机{PHONE}"))]);
        let guard = PiiGuard::new(Scanner::new(), Policy::Mask);
        let (_, restorer) = guard.protect_chat_now(&mut request).unwrap();
        assert_eq!(
            request.messages[0].content,
            Some(MessageContent::Text("手机138****5678".into()))
        );
        assert!(restorer.vault.is_none());
    }

    #[test]
    fn block_names_every_kind_in_the_request_never_a_value() {
        let mut request = every_kind_of_text();
        let guard = PiiGuard::new(Scanner::new(), Policy::Block);
        let error = guard.protect_chat_now(&mut request).unwrap_err();
        assert_eq!(error.kind, ErrorKind::PiiBlocked);
        assert_eq!(error.param.as_deref(), Some("messages"));
        assert_eq!(
            error.message,
            "The request contains personal data that is not allowed here: id_card, mobile, email."
        );
        let clean = &mut chat(vec![ChatMessage::text(Role::User, "no personal data")]);
        assert!(guard.protect_chat_now(clean).is_ok());
    }

    #[test]
    fn the_prompt_of_a_text_completion_is_protected() {
        let mut request: CompletionRequest = serde_json::from_value(
            serde_json::json!({"model": "m", "prompt": [format!("call {PHONE}")]}),
        )
        .unwrap();
        let (found, _) = PiiGuard::default()
            .protect_prompt_now(&mut request.prompt)
            .unwrap();
        assert_eq!(request.prompt, Prompt::Many(vec!["call <PHONE_1>".into()]));
        assert_eq!(found.kinds(), vec![Kind::Mobile]);
    }

    fn with_tools(tools: serde_json::Value) -> ChatCompletionRequest {
        let mut request = chat(vec![ChatMessage::text(Role::User, "look it up")]);
        request.tools = Some(serde_json::from_value(tools).unwrap());
        request
    }

    fn order_tool(name: &str, key: &str, enum_values: serde_json::Value) -> serde_json::Value {
        serde_json::json!([{
            "type": "function",
            "function": {
                "name": name,
                "description": format!("Orders of the customer at {PHONE}"),
                "parameters": {
                    "type": "object",
                    "properties": {
                        key: {
                            "type": "string",
                            "description": "mail ops@example.com for help",
                            "enum": enum_values,
                        }
                    },
                    "required": [key],
                }
            }
        }])
    }

    #[test]
    fn tool_definitions_are_scanned_like_message_text() {
        let tools = order_tool("lookup", "phone", serde_json::json!([PHONE, "13912345678"]));
        let mut request = with_tools(tools);
        let (found, restorer) = PiiGuard::default().protect_chat_now(&mut request).unwrap();
        let seen = serde_json::to_value(request.tools.as_ref().unwrap()).unwrap();
        let function = &seen[0]["function"];
        assert_eq!(function["name"], "lookup");
        assert_eq!(
            function["description"],
            "Orders of the customer at <PHONE_1>"
        );
        let phone = &function["parameters"]["properties"]["phone"];
        assert_eq!(phone["enum"], serde_json::json!(["<PHONE_1>", "<PHONE_2>"]));
        assert_eq!(phone["description"], "mail <EMAIL_1> for help");
        assert_eq!(
            found.counts(),
            &BTreeMap::from([(Kind::Mobile, 3), (Kind::Email, 1)])
        );
        // A call the model makes with a placeholder reaches the caller restored.
        let vault = restorer.vault.expect("a vault");
        assert_eq!(
            vault.restore("{\"phone\":\"<PHONE_2>\"}"),
            "{\"phone\":\"13912345678\"}"
        );

        let mut masked = with_tools(order_tool("lookup", "phone", serde_json::json!([PHONE])));
        let guard = PiiGuard::new(Scanner::new(), Policy::Mask);
        guard.protect_chat_now(&mut masked).unwrap();
        let seen = serde_json::to_string(&masked.tools).unwrap();
        assert!(
            seen.contains("138****5678") && !seen.contains(PHONE),
            "{seen}"
        );
    }

    #[test]
    fn block_refuses_personal_data_in_tools_naming_the_parameter() {
        let guard = PiiGuard::new(Scanner::new(), Policy::Block);
        let mut request = with_tools(order_tool("lookup", "phone", serde_json::json!(["a"])));
        let error = guard.protect_chat_now(&mut request).unwrap_err();
        assert_eq!(error.kind, ErrorKind::PiiBlocked);
        assert_eq!(error.param.as_deref(), Some("tools"));
        assert!(error.message.contains("mobile, email"), "{}", error.message);
        assert!(!error.message.contains("1381234"));
    }

    #[test]
    fn names_keys_and_numbers_with_personal_data_are_refused_not_rewritten() {
        let cases = [
            order_tool(&format!("call_{PHONE}"), "phone", serde_json::json!(["a"])),
            order_tool("lookup", &format!("id_{ID}"), serde_json::json!(["a"])),
            order_tool("lookup", "phone", serde_json::json!([13_812_345_678_u64])),
        ];
        for tools in cases {
            for policy in [Policy::Pseudonymize, Policy::Mask] {
                let mut request = with_tools(tools.clone());
                let guard = PiiGuard::new(Scanner::new(), policy);
                let error = guard.protect_chat_now(&mut request).unwrap_err();
                assert_eq!(error.kind, ErrorKind::PiiBlocked, "{policy:?}");
                assert_eq!(error.param.as_deref(), Some("tools"));
                assert!(
                    error.message.contains("cannot be replaced"),
                    "{}",
                    error.message
                );
                assert!(!error.message.contains("1381234") && !error.message.contains("1949"));
            }
            let mut request = with_tools(tools.clone());
            let guard = PiiGuard::new(Scanner::new(), Policy::Allow);
            let (found, _) = guard.protect_chat_now(&mut request).unwrap();
            assert!(!found.is_empty());
            assert_eq!(
                serde_json::to_value(&request.tools).unwrap(),
                tools,
                "allow passes tools unchanged"
            );
        }
        // A name in the history's tool calls too.
        let mut assistant = ChatMessage::text(Role::Assistant, "");
        assistant.tool_calls = Some(vec![ToolCall {
            id: "call_0".into(),
            kind: "function".into(),
            function: FunctionCall {
                name: format!("to_{PHONE}"),
                arguments: "{}".into(),
            },
        }]);
        let error = PiiGuard::default()
            .protect_chat_now(&mut chat(vec![assistant]))
            .unwrap_err();
        assert_eq!(error.param.as_deref(), Some("messages"));
    }

    #[test]
    fn template_kwargs_and_message_names_are_scanned() {
        let mut user = ChatMessage::text(Role::User, "hi");
        user.name = Some(format!("zhang {PHONE}"));
        let mut request = chat(vec![user]);
        request.chat_template_kwargs = serde_json::from_value(serde_json::json!({
            "enable_thinking": false,
            "user_profile": format!("id {ID}"),
        }))
        .unwrap();
        let (found, _) = PiiGuard::default().protect_chat_now(&mut request).unwrap();
        assert_eq!(request.messages[0].name.as_deref(), Some("zhang <PHONE_1>"));
        let kwargs = request.chat_template_kwargs.unwrap();
        assert_eq!(kwargs["user_profile"], "id <ID_CARD_1>");
        assert_eq!(kwargs["enable_thinking"], false);
        assert_eq!(found.kinds(), vec![Kind::IdCard, Kind::Mobile]);
        let block = PiiGuard::new(Scanner::new(), Policy::Block);
        let mut request = chat(vec![ChatMessage::text(Role::User, "hi")]);
        request.chat_template_kwargs =
            serde_json::from_value(serde_json::json!({"who": PHONE})).unwrap();
        let error = block.protect_chat_now(&mut request).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("chat_template_kwargs"));
    }

    #[test]
    fn each_message_is_scanned_on_its_own() {
        // The decided behaviour: a value split across two messages is not
        // joined (docs/guard.md says why); in one message it is found.
        let split = chat(vec![
            ChatMessage::text(Role::User, "my number is 138"),
            ChatMessage::text(Role::User, "12345678"),
        ]);
        let guard = PiiGuard::new(Scanner::new(), Policy::Block);
        assert!(guard.protect_chat_now(&mut split.clone()).is_ok());
        let joined = chat(vec![ChatMessage::text(
            Role::User,
            "my number is 138\u{a0}1234\u{2060}5678",
        )]);
        assert!(guard.protect_chat_now(&mut joined.clone()).is_err());
    }

    #[tokio::test]
    async fn a_large_request_is_guarded_on_a_blocking_thread() {
        let filler = "没有个人信息的文字。".repeat(INLINE_SCAN_LIMIT / 20);
        let mut request = chat(vec![
            ChatMessage::text(Role::System, filler.clone()),
            ChatMessage::text(Role::User, format!("{filler} 手机 138\u{a0}1234\u{a0}5678")),
        ]);
        request.tools = with_tools(order_tool("lookup", "phone", serde_json::json!([ID]))).tools;
        assert!(chat_text_len(&request) > INLINE_SCAN_LIMIT);
        let original = request.clone();
        let (found, restorer) = PiiGuard::default()
            .protect_chat(&mut request)
            .await
            .unwrap();
        let seen = texts(&request);
        assert!(
            seen.ends_with("手机 <PHONE_1>\"}]"),
            "{}",
            &seen[seen.len() - 40..]
        );
        assert_eq!(
            request.messages[0].content,
            Some(MessageContent::Text(filler))
        );
        let tools = serde_json::to_string(&request.tools).unwrap();
        assert!(
            tools.contains("<ID_CARD_1>") && !tools.contains("1949"),
            "{tools}"
        );
        assert_eq!(
            found.counts(),
            &BTreeMap::from([(Kind::IdCard, 1), (Kind::Mobile, 2), (Kind::Email, 1)])
        );
        assert!(restorer.vault.is_some());

        let block = PiiGuard::new(Scanner::new(), Policy::Block);
        let error = block.protect_chat(&mut original.clone()).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::PiiBlocked);

        let mut prompt: CompletionRequest = serde_json::from_value(serde_json::json!({
            "model": "m",
            "prompt": format!("{} call {PHONE}", "x".repeat(INLINE_SCAN_LIMIT)),
        }))
        .unwrap();
        let (found, _) = PiiGuard::default()
            .protect_prompt(&mut prompt)
            .await
            .unwrap();
        assert_eq!(found.kinds(), vec![Kind::Mobile]);
        let Prompt::One(text) = &prompt.prompt else {
            panic!("one prompt");
        };
        assert!(text.ends_with("call <PHONE_1>"));
    }

    #[test]
    fn internal_errors_refuse_with_the_fixed_text() {
        let error = refusal(GuardError::Internal("findings out of order"));
        assert_eq!(error, ApiError::internal());
    }
}
