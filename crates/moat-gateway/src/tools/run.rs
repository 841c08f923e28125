//! The loop that drives a chat's model turns, as one event stream: each
//! turn is run by [`Turns::run`], its text passed on as it comes; when the
//! turn ends in calls of server-side tools, moat decides and runs them,
//! adds the results to the conversation and starts the next turn. The
//! caller sees one answer: the text of every turn, then one `Finish` with
//! the usage of all turns. A call that needs confirmation ends the answer
//! with that call (its id is the confirmation id) and parks the
//! conversation until the caller decides. A chat offered no server-side
//! tools is a loop of one turn whose events pass through as they come,
//! tool calls for the client included.
//!
//! Whatever the model says, only tools offered to this request and allowed
//! to the caller run, with arguments that validate against their schema.
//! Tool results are data for the model: they enter the conversation as
//! `tool` messages and are guarded with the rest of it before the next
//! turn; they cannot offer tools or change roles.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_stream::stream;
use futures::StreamExt;
use moat_audit::ToolAudit;
use moat_policy::Principal;
use moat_protocol::chat::{
    ChatCompletionRequest, ChatMessage, FunctionCallDelta, MessageContent, Role, ToolCall,
    ToolCallDelta,
};
use moat_protocol::event::PromptTokensDetails;
use moat_protocol::{ApiError, FinishReason, GenerationEvent, ToolActivity, Usage};
use moat_router::EventStream;
use serde::{Deserialize, Serialize};

use super::{may_use, ServerTools, ToolLoopSettings};
use crate::audit::AuditTrail;
use crate::limits;
use crate::metrics::Metrics;
use crate::turn::Turns;
use crate::GatewayError;

/// Metric label of a tool name that is not registered (the model can say
/// anything; labels stay bounded).
const UNKNOWN_TOOL: &str = "(unknown)";

/// What one run needs besides the conversation.
pub(crate) struct Loop {
    /// How each turn runs.
    pub turns: Turns,
    /// The registered server-side tools, if any.
    pub tools: Option<ServerTools>,
    pub principal: Arc<Principal>,
    pub trail: AuditTrail,
    pub metrics: Metrics,
}

/// The conversation as the loop carries it: real text (each turn guards
/// its own copy), the offered tools' definitions in `request.tools`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Conversation {
    pub request: ChatCompletionRequest,
    /// Names of the server-side tools offered to the model.
    pub offered: Vec<String>,
    /// Names of the request's own tools, which the client runs.
    #[serde(default)]
    pub client_tools: Vec<String>,
    /// Model turns so far.
    pub steps: u32,
    /// Invalid arguments sent back to the model so far.
    pub invalid: u32,
    /// The passages quoted into `request`, which the answer may cite.
    #[serde(default)]
    pub grounding: Option<crate::augment::Grounding>,
}

/// A loop stopped at a call that needs confirmation.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub conversation: Conversation,
    /// The calls of the model's last turn not run yet; the first one awaits
    /// the decision.
    pub calls: VecDeque<ToolCall>,
}

/// The caller's decision on a parked call: the calls it stopped at.
pub(crate) struct Resume {
    pub calls: VecDeque<ToolCall>,
    pub approved: bool,
}

/// Run the loop on `conversation`; from the parked calls first when
/// resuming. A new conversation's first turn starts before this returns:
/// what refuses it (the guard, the backend's admission) is the error.
pub(crate) async fn run(
    ctx: Loop,
    mut conversation: Conversation,
    resume: Option<Resume>,
) -> Result<EventStream, ApiError> {
    let mut next = resume.map(|r| (r.calls, Some(r.approved)));
    // Turns run by this request (a resumed loop starts again at 0).
    let mut turns = 0u32;
    let mut first = match next {
        Some(_) => None,
        None => Some(ctx.next_turn(&mut conversation, &mut turns).await?),
    };
    Ok(stream! {
        let mut usage = Usage::default();
        loop {
            let mut events = match first.take() {
                Some(events) => events,
                None => {
                    if let Some((calls, decision)) = next.take() {
                        let mut activity = Vec::new();
                        let ran = ctx.run_calls(&mut conversation, calls, decision, &mut activity).await;
                        for done in activity {
                            yield Ok(GenerationEvent::Tool(done));
                        }
                        match ran {
                            Ok(None) => {}
                            Ok(Some(calls)) => {
                                for event in ctx.park(conversation, calls, usage).await {
                                    yield event;
                                }
                                return;
                            }
                            Err(error) => {
                                yield Err(error);
                                return;
                            }
                        }
                    }
                    match ctx.next_turn(&mut conversation, &mut turns).await {
                        Ok(events) => events,
                        Err(error) => {
                            yield Err(error);
                            return;
                        }
                    }
                }
            };
            // Without server-side tools every call is the client's, passed
            // on as it comes.
            let pass_through = conversation.offered.is_empty();
            let mut turn = Turn::default();
            while let Some(item) = events.next().await {
                match item {
                    Ok(GenerationEvent::Delta { content, reasoning, tool_calls }) if pass_through => {
                        if !content.is_empty() || !reasoning.is_empty() || !tool_calls.is_empty() {
                            yield Ok(GenerationEvent::Delta { content, reasoning, tool_calls });
                        }
                    }
                    Ok(GenerationEvent::Delta { content, reasoning, tool_calls }) => {
                        for delta in tool_calls {
                            delta.merge_into(&mut turn.calls);
                        }
                        turn.content.push_str(&content);
                        if !content.is_empty() || !reasoning.is_empty() {
                            yield Ok(GenerationEvent::Delta {
                                content,
                                reasoning,
                                tool_calls: Vec::new(),
                            });
                        }
                    }
                    Ok(event @ (GenerationEvent::Annotations(_) | GenerationEvent::Tool(_))) => yield Ok(event),
                    Ok(GenerationEvent::Finish { reason, usage: used }) => {
                        turn.reason = Some(reason);
                        usage = add_usage(usage, used);
                    }
                    Err(error) => {
                        yield Err(error);
                        return;
                    }
                }
            }
            // A turn whose stream ended without finishing ends the answer
            // the same way: it is not made to look complete.
            let Some(reason) = turn.reason else {
                return;
            };
            if turn.calls.is_empty() {
                yield Ok(GenerationEvent::Finish { reason, usage });
                return;
            }
            let calls: VecDeque<ToolCall> = turn.calls.into_values().collect();
            let (for_client, calls): (VecDeque<ToolCall>, VecDeque<ToolCall>) = calls
                .into_iter()
                .partition(|c| conversation.client_tools.contains(&c.function.name));
            if !for_client.is_empty() {
                // The client runs its own tools: the answer ends with those
                // calls. Server-side calls of the same turn are not run;
                // the model can ask again once it has the client's results.
                for call in &calls {
                    ctx.note(call, ctx.label(&call.function.name), "skipped", "not_run", None);
                }
                yield Ok(GenerationEvent::Delta {
                    content: String::new(),
                    reasoning: String::new(),
                    tool_calls: for_client.into_iter().enumerate().map(|(i, call)| call_delta(i, call)).collect(),
                });
                yield Ok(GenerationEvent::Finish { reason: FinishReason::ToolCalls, usage });
                return;
            }
            conversation
                .request
                .messages
                .push(assistant_turn(turn.content, calls.iter().cloned().collect()));
            next = Some((calls, None));
        }
    }
    .boxed())
}

/// What one model turn produced.
#[derive(Default)]
struct Turn {
    content: String,
    calls: BTreeMap<u32, ToolCall>,
    reason: Option<FinishReason>,
}

impl Loop {
    fn settings(&self) -> ToolLoopSettings {
        self.tools
            .as_ref()
            .map_or_else(ToolLoopSettings::default, |tools| *tools.settings())
    }

    /// Start the conversation's next model turn: within the loop's step
    /// limit, a forced tool choice on the first turn only, later turns
    /// checked against the daily token limits (admission checked the
    /// first).
    async fn next_turn(
        &self,
        conversation: &mut Conversation,
        turns: &mut u32,
    ) -> Result<EventStream, ApiError> {
        let max_steps = self.settings().max_steps;
        if conversation.steps >= max_steps {
            return Err(GatewayError::TooManyTurns { max_steps }.into());
        }
        conversation.steps += 1;
        let mut request = conversation.request.clone();
        if conversation.steps > 1 {
            // A forced choice applies to the first turn only, or the model
            // could never answer.
            request.tool_choice = None;
        }
        *turns += 1;
        if *turns > 1 {
            let estimate = limits::chat_estimate(&request);
            self.turns.quota.check_next_turn(estimate.total()).await?;
        }
        self.turns.run(request).await
    }

    /// Decide and run `calls` in order, each result added to the
    /// conversation. `decision` is the caller's on the first call (a parked
    /// one). Returns the calls left when one needs a confirmation.
    async fn run_calls(
        &self,
        conversation: &mut Conversation,
        mut calls: VecDeque<ToolCall>,
        mut decision: Option<bool>,
        activity: &mut Vec<ToolActivity>,
    ) -> Result<Option<VecDeque<ToolCall>>, ApiError> {
        while let Some(call) = calls.front() {
            let decision = decision.take();
            let name = call.function.name.as_str();
            let tool = self
                .tools
                .as_ref()
                .and_then(|tools| tools.registry().get(name))
                .filter(|_| conversation.offered.iter().any(|o| o == name))
                .filter(|tool| may_use(&self.principal, tool));
            let (Some(tools), Some(tool)) = (&self.tools, tool) else {
                activity.push(self.note(call, self.label(name), "denied", "not_run", None));
                let message = format!("error: the tool `{name}` is not available to you.");
                conversation.add_result(call, message);
                calls.pop_front();
                continue;
            };
            let arguments = match tool.validate(&call.function.arguments) {
                Ok(arguments) => arguments,
                Err(invalid) => {
                    conversation.invalid += 1;
                    activity.push(self.note(call, name, "invalid_arguments", "not_run", None));
                    let max = tools.settings().max_invalid_arguments;
                    if conversation.invalid > max {
                        return Err(GatewayError::InvalidArguments {
                            tool: name.to_owned(),
                            times: conversation.invalid,
                            max,
                            detail: invalid.to_string(),
                        }
                        .into());
                    }
                    let message =
                        format!("error: {invalid}. Call the tool again with valid arguments.");
                    conversation.add_result(call, message);
                    calls.pop_front();
                    continue;
                }
            };
            let decided = if tool.needs_confirmation() {
                match decision {
                    None => {
                        activity.push(self.note(
                            call,
                            name,
                            "awaiting_confirmation",
                            "not_run",
                            None,
                        ));
                        return Ok(Some(calls));
                    }
                    Some(false) => {
                        activity.push(self.note(call, name, "rejected", "not_run", None));
                        let message = "error: the user rejected this call; it was not run.";
                        conversation.add_result(call, message.to_owned());
                        calls.pop_front();
                        continue;
                    }
                    Some(true) => "confirmed",
                }
            } else {
                "allowed"
            };
            let started = Instant::now();
            let result = tools
                .executor()
                .execute(name, &arguments, &self.principal.id)
                .await;
            let elapsed = started.elapsed();
            let content = match result {
                Ok(output) => {
                    activity.push(self.note(
                        call,
                        name,
                        decided,
                        "ok",
                        Some((elapsed, output.cached)),
                    ));
                    output.content
                }
                Err(error) => {
                    tracing::info!(tool = name, outcome = error.outcome(), "tool call failed");
                    activity.push(self.note(
                        call,
                        name,
                        decided,
                        error.outcome(),
                        Some((elapsed, false)),
                    ));
                    format!("error: {error}")
                }
            };
            conversation.add_result(call, content);
            calls.pop_front();
        }
        Ok(None)
    }

    /// The metric and audit label of a tool name the model wrote.
    fn label<'a>(&self, name: &'a str) -> &'a str {
        if self
            .tools
            .as_ref()
            .is_some_and(|tools| tools.registry().get(name).is_some())
        {
            name
        } else {
            UNKNOWN_TOOL
        }
    }

    /// Record one decision in the audit trail and the metrics.
    fn note(
        &self,
        call: &ToolCall,
        label: &str,
        decision: &'static str,
        outcome: &'static str,
        ran: Option<(Duration, bool)>,
    ) -> ToolActivity {
        self.metrics
            .observe_tool_call(label, decision, outcome, ran);
        let audit = ToolAudit {
            name: label.to_owned(),
            decision: decision.to_owned(),
            outcome: outcome.to_owned(),
            latency_ms: ran
                .map(|(elapsed, _)| u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX)),
            cached: ran.is_some_and(|(_, cached)| cached),
        };
        self.trail.tool(audit, || call.function.arguments.clone());
        ToolActivity {
            name: label.to_owned(),
            decision: decision.to_owned(),
            outcome: outcome.to_owned(),
        }
    }

    /// Park the conversation at the first of `calls` and end the answer
    /// with that call, its id the confirmation id.
    async fn park(
        &self,
        conversation: Conversation,
        calls: VecDeque<ToolCall>,
        usage: Usage,
    ) -> Vec<Result<GenerationEvent, ApiError>> {
        let Some(call) = calls.front().cloned() else {
            return vec![Err(ApiError::internal())];
        };
        let pending = Pending {
            conversation,
            calls,
        };
        let Some(tools) = &self.tools else {
            return vec![Err(ApiError::internal())];
        };
        let id = match tools.park(&self.principal.id, pending).await {
            Ok(id) => id,
            Err(error) => return vec![Err(error)],
        };
        let call = ToolCall { id, ..call };
        vec![
            Ok(GenerationEvent::Delta {
                content: String::new(),
                reasoning: String::new(),
                tool_calls: vec![call_delta(0, call)],
            }),
            Ok(GenerationEvent::Finish {
                reason: FinishReason::ToolCalls,
                usage,
            }),
        ]
    }
}

impl Conversation {
    /// The result of `call`, as the `tool` message answering it.
    fn add_result(&mut self, call: &ToolCall, content: String) {
        let mut message = ChatMessage::text(Role::Tool, content);
        message.tool_call_id = Some(call.id.clone());
        self.request.messages.push(message);
    }
}

/// `call` as the `index`th tool call of an answer, whole in one delta.
fn call_delta(index: usize, call: ToolCall) -> ToolCallDelta {
    ToolCallDelta {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        id: Some(call.id),
        kind: Some("function".to_owned()),
        function: Some(FunctionCallDelta {
            name: Some(call.function.name),
            arguments: Some(call.function.arguments),
        }),
    }
}

/// The model's turn as an assistant message in the conversation.
fn assistant_turn(content: String, calls: Vec<ToolCall>) -> ChatMessage {
    let mut message = ChatMessage::text(Role::Assistant, content);
    if matches!(&message.content, Some(MessageContent::Text(t)) if t.is_empty()) {
        message.content = None;
    }
    message.tool_calls = Some(calls);
    message
}

/// Token counts of several turns, added up.
fn add_usage(a: Usage, b: Usage) -> Usage {
    let cached = match (a.prompt_tokens_details, b.prompt_tokens_details) {
        (None, None) => None,
        (x, y) => Some(PromptTokensDetails {
            cached_tokens: x.map_or(0, |d| d.cached_tokens) + y.map_or(0, |d| d.cached_tokens),
        }),
    };
    Usage {
        prompt_tokens: a.prompt_tokens + b.prompt_tokens,
        completion_tokens: a.completion_tokens + b.completion_tokens,
        total_tokens: a.total_tokens + b.total_tokens,
        prompt_tokens_details: cached,
    }
}
