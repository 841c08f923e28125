//! The personal-data guard in the request path: protect a request before a
//! model sees it, restore the response for the caller.
//!
//! Every text of a request that reaches a model is scanned (message content
//! and text parts, reasoning and tool-call arguments in the history, the
//! prompt of a text completion) with one [`PseudonymVault`] per request. The
//! policy decides what the model gets; under `pseudonymize` the backend's
//! events are restored on their way out, streamed or not. The guard fails
//! closed: an internal error refuses the request, unscanned text is never
//! passed on.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use moat_guard::{GuardError, Kind, Policy, PseudonymVault, Scanner, StreamRestorer};
use moat_protocol::chat::{
    ChatCompletionRequest, FunctionCallDelta, MessageContent, ToolCallDelta,
};
use moat_protocol::completion::{CompletionRequest, Prompt};
use moat_protocol::{ApiError, ErrorKind, GenerationEvent};
use moat_router::EventStream;

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
    /// model; returns what was found and how to restore the response.
    pub(crate) fn protect_chat(
        &self,
        request: &mut ChatCompletionRequest,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        let mut pass = Pass::new(self);
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
            if let Some(reasoning) = &mut message.reasoning_content {
                pass.apply(reasoning)?;
            }
            for call in message.tool_calls.iter_mut().flatten() {
                // No recognizer matches `"` or `\`, so a replacement inside
                // the JSON text keeps it valid JSON.
                pass.apply(&mut call.function.arguments)?;
            }
        }
        pass.finish("messages")
    }

    /// Applies the policy to the prompt of a text completion.
    pub(crate) fn protect_prompt(
        &self,
        request: &mut CompletionRequest,
    ) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        let mut pass = Pass::new(self);
        match &mut request.prompt {
            Prompt::One(text) => pass.apply(text)?,
            Prompt::Many(texts) => {
                for text in texts {
                    pass.apply(text)?;
                }
            }
        }
        pass.finish("prompt")
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
}

impl<'a> Pass<'a> {
    fn new(guard: &'a PiiGuard) -> Self {
        Self {
            guard,
            vault: PseudonymVault::new(),
            found: PiiFound::default(),
        }
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
        for finding in &guarded.findings {
            *self.found.counts.entry(finding.kind.clone()).or_default() += 1;
        }
        if policy != Policy::Allow {
            *text = guarded.text;
        }
        Ok(())
    }

    fn finish(self, param: &str) -> Result<(PiiFound, ResponseRestorer), ApiError> {
        if self.guard.policy == Policy::Block && !self.found.is_empty() {
            let error = refusal(GuardError::Blocked {
                kinds: self.found.kinds(),
            });
            return Err(error.with_param(param));
        }
        let vault = (self.guard.policy == Policy::Pseudonymize && !self.vault.is_empty())
            .then(|| Arc::new(self.vault));
        Ok((self.found, ResponseRestorer { vault }))
    }
}

/// A guard error as the client sees it: `pii_blocked` naming the kinds, or
/// a fixed internal error whose cause is logged (it never holds a value).
fn refusal(error: GuardError) -> ApiError {
    match error {
        GuardError::Blocked { kinds } => {
            let names: Vec<&str> = kinds.iter().map(Kind::name).collect();
            let names = names.join(", ");
            tracing::info!(kinds = %names, "request refused: personal data");
            ApiError::new(
                ErrorKind::PiiBlocked,
                format!("The request contains personal data that is not allowed here: {names}."),
            )
        }
        other => {
            tracing::error!(error = %other, "the personal-data guard failed; request refused");
            ApiError::internal()
        }
    }
}

/// Puts the real values back into a response whose request was
/// pseudonymized; passes it through unchanged otherwise.
#[derive(Debug)]
pub(crate) struct ResponseRestorer {
    vault: Option<Arc<PseudonymVault>>,
}

impl ResponseRestorer {
    /// A restorer with nothing to restore (the stream was restored already).
    pub(crate) fn none() -> Self {
        Self { vault: None }
    }

    /// `events` with placeholders restored in content, reasoning and
    /// tool-call arguments; what a restorer held back is released just
    /// before the `Finish` event.
    pub(crate) fn events(self, events: EventStream) -> EventStream {
        let Some(vault) = self.vault else {
            return events;
        };
        let state = Restoring {
            content: StreamRestorer::new(vault.clone()),
            reasoning: StreamRestorer::new(vault.clone()),
            tool_arguments: BTreeMap::new(),
            vault,
            events,
            ready: VecDeque::new(),
        };
        stream::unfold(state, |mut state| async move {
            loop {
                if let Some(item) = state.ready.pop_front() {
                    return Some((item, state));
                }
                let item = state.events.next().await?;
                state.on_item(item);
            }
        })
        .boxed()
    }
}

type Restorer = StreamRestorer<Arc<PseudonymVault>>;

/// The state of one restored stream.
struct Restoring {
    events: EventStream,
    vault: Arc<PseudonymVault>,
    content: Restorer,
    reasoning: Restorer,
    /// One per tool-call index: argument fragments are one text per call.
    tool_arguments: BTreeMap<u32, Restorer>,
    ready: VecDeque<Result<GenerationEvent, ApiError>>,
}

impl Restoring {
    fn on_item(&mut self, item: Result<GenerationEvent, ApiError>) {
        match item {
            Ok(GenerationEvent::Delta {
                content,
                reasoning,
                mut tool_calls,
            }) => {
                for call in &mut tool_calls {
                    let Some(arguments) = call.function.as_mut().and_then(|f| f.arguments.as_mut())
                    else {
                        continue;
                    };
                    let vault = &self.vault;
                    let restorer = self
                        .tool_arguments
                        .entry(call.index)
                        .or_insert_with(|| StreamRestorer::new(vault.clone()));
                    *arguments = restorer.push(arguments);
                }
                self.ready.push_back(Ok(GenerationEvent::Delta {
                    content: self.content.push(&content),
                    reasoning: self.reasoning.push(&reasoning),
                    tool_calls,
                }));
            }
            Ok(finish @ GenerationEvent::Finish { .. }) => {
                if let Some(held) = self.flush() {
                    self.ready.push_back(Ok(held));
                }
                self.ready.push_back(Ok(finish));
            }
            Err(error) => self.ready.push_back(Err(error)),
        }
    }

    /// What the restorers held back, as one last delta (none if empty).
    fn flush(&mut self) -> Option<GenerationEvent> {
        let vault = &self.vault;
        let take = |r: &mut Restorer| std::mem::replace(r, StreamRestorer::new(vault.clone()));
        let content = take(&mut self.content).finish();
        let reasoning = take(&mut self.reasoning).finish();
        let tool_calls: Vec<ToolCallDelta> = std::mem::take(&mut self.tool_arguments)
            .into_iter()
            .map(|(index, restorer)| (index, restorer.finish()))
            .filter(|(_, rest)| !rest.is_empty())
            .map(|(index, rest)| ToolCallDelta {
                index,
                function: Some(FunctionCallDelta {
                    name: None,
                    arguments: Some(rest),
                }),
                ..ToolCallDelta::default()
            })
            .collect();
        (!content.is_empty() || !reasoning.is_empty() || !tool_calls.is_empty()).then_some(
            GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use moat_protocol::chat::{ChatMessage, ContentPart, FunctionCall, Role, ToolCall};
    use moat_protocol::{FinishReason, Usage};

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
        let (found, restorer) = PiiGuard::default().protect_chat(&mut request).unwrap();
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
        let (found, restorer) = guard.protect_chat(&mut request).unwrap();
        assert_eq!(texts(&request), before);
        assert_eq!(found.kinds(), vec![Kind::IdCard, Kind::Mobile, Kind::Email]);
        assert!(restorer.vault.is_none());
    }

    #[test]
    fn mask_restores_nothing() {
        let mut request = chat(vec![ChatMessage::text(Role::User, format!("手机{PHONE}"))]);
        let guard = PiiGuard::new(Scanner::new(), Policy::Mask);
        let (_, restorer) = guard.protect_chat(&mut request).unwrap();
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
        let error = guard.protect_chat(&mut request).unwrap_err();
        assert_eq!(error.kind, ErrorKind::PiiBlocked);
        assert_eq!(error.param.as_deref(), Some("messages"));
        assert_eq!(
            error.message,
            "The request contains personal data that is not allowed here: id_card, mobile, email."
        );
        let clean = &mut chat(vec![ChatMessage::text(Role::User, "no personal data")]);
        assert!(guard.protect_chat(clean).is_ok());
    }

    #[test]
    fn the_prompt_of_a_text_completion_is_protected() {
        let mut request: CompletionRequest = serde_json::from_value(
            serde_json::json!({"model": "m", "prompt": [format!("call {PHONE}")]}),
        )
        .unwrap();
        let (found, _) = PiiGuard::default().protect_prompt(&mut request).unwrap();
        assert_eq!(request.prompt, Prompt::Many(vec!["call <PHONE_1>".into()]));
        assert_eq!(found.kinds(), vec![Kind::Mobile]);
    }

    #[test]
    fn internal_errors_refuse_with_the_fixed_text() {
        let error = refusal(GuardError::Internal("findings out of order"));
        assert_eq!(error, ApiError::internal());
    }

    fn delta(content: &str, reasoning: &str, arguments: Option<(u32, &str)>) -> GenerationEvent {
        GenerationEvent::Delta {
            content: content.into(),
            reasoning: reasoning.into(),
            tool_calls: arguments
                .map(|(index, a)| ToolCallDelta {
                    index,
                    function: Some(FunctionCallDelta {
                        name: None,
                        arguments: Some(a.into()),
                    }),
                    ..ToolCallDelta::default()
                })
                .into_iter()
                .collect(),
        }
    }

    #[tokio::test]
    async fn streams_are_restored_and_held_back_text_comes_before_finish() {
        let mut vault = PseudonymVault::new();
        vault.placeholder(&Kind::Mobile, PHONE).unwrap();
        let restorer = ResponseRestorer {
            vault: Some(Arc::new(vault)),
        };
        let finish = GenerationEvent::Finish {
            reason: FinishReason::Stop,
            usage: Usage::new(1, 2, None),
        };
        let events = stream::iter(vec![
            Ok(delta("call <PH", "think <PHONE", Some((0, "{\"p\":\"<P")))),
            Ok(delta("ONE_1> now", "_1>", Some((1, "<PHONE_")))),
            Ok(delta(" <PHONE_", "", Some((0, "HONE_1>\"}")))),
            Ok(finish.clone()),
        ])
        .boxed();
        let out: Vec<_> = restorer.events(events).collect().await;
        let out: Vec<GenerationEvent> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            out,
            vec![
                delta("call ", "think ", Some((0, "{\"p\":\""))),
                GenerationEvent::Delta {
                    content: format!("{PHONE} now"),
                    reasoning: PHONE.into(),
                    tool_calls: vec![ToolCallDelta {
                        index: 1,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(String::new()),
                        }),
                        ..ToolCallDelta::default()
                    }],
                },
                delta(" ", "", Some((0, "13812345678\"}"))),
                GenerationEvent::Delta {
                    content: "<PHONE_".into(),
                    reasoning: String::new(),
                    tool_calls: vec![ToolCallDelta {
                        index: 1,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some("<PHONE_".into()),
                        }),
                        ..ToolCallDelta::default()
                    }],
                },
                finish,
            ]
        );
    }

    #[tokio::test]
    async fn nothing_to_restore_passes_events_through() {
        let restorer = ResponseRestorer { vault: None };
        let events = stream::iter(vec![Ok(GenerationEvent::content("<PHONE_1>"))]).boxed();
        let out: Vec<_> = restorer.events(events).collect().await;
        assert_eq!(out, vec![Ok(GenerationEvent::content("<PHONE_1>"))]);
    }
}
