//! The chat entry points: a chat completion, and the caller's decision on
//! a server-side tool call that stopped one. Both run the tool loop; a
//! chat without server-side tools is a loop with none.

use moat_protocol::chat::{ChatCompletionRequest, StreamOptions};
use moat_protocol::ApiError;
use serde::Deserialize;

use crate::augment;
use crate::tools::{self, Conversation, Resume};
use crate::{Answer, Call, Gateway, GatewayError, Rejection};

/// The caller's decision on a tool call that awaits confirmation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Run the call (`true`) or tell the model it was rejected (`false`).
    pub approve: bool,
    /// Stream the rest of the answer as SSE.
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
}

impl Gateway {
    /// Answer a chat completion request.
    pub async fn chat(
        &self,
        call: &Call,
        mut request: ChatCompletionRequest,
    ) -> Result<Answer, Rejection> {
        request.validate()?;
        let options = request.moat.take().unwrap_or_default();
        let server_tools = match options.tools {
            Some(tools) => tools,
            // A request that names no tools of either kind gets its roles'.
            None if request.tools.as_ref().is_none_or(Vec::is_empty) => {
                call.principal.default_tools()
            }
            None => Vec::new(),
        };
        let knowledge_bases = options
            .knowledge_bases
            .unwrap_or_else(|| call.principal.default_knowledge_bases());
        let backend = self.route(call, &request.model)?;
        let client_tools: Vec<String> = request
            .tools
            .iter()
            .flatten()
            .map(|t| t.function.name.clone())
            .collect();
        if !server_tools.is_empty() {
            // The client's own tools stay offered beside moat's: a call of
            // one of them ends the answer, for the client to run.
            let offered = match self.tools() {
                Some(registered) => registered.offer(&call.principal, &server_tools)?,
                None => {
                    let first = server_tools.first().map_or("", String::as_str);
                    return Err(ApiError::from(moat_policy::Denied::tool(first)).into());
                }
            };
            let mut tools = request.tools.take().unwrap_or_default();
            for offered in offered {
                if client_tools.contains(&offered.function.name) {
                    return Err(ApiError::invalid_param(
                        "tools",
                        format!(
                            "`{}` is both one of your tools and a server-side tool in \
                             `moat.tools`; rename yours.",
                            offered.function.name
                        ),
                    )
                    .into());
                }
                tools.push(offered);
            }
            request.tools = Some(tools);
        }
        let conversation = Conversation {
            request,
            offered: server_tools,
            client_tools,
            steps: 0,
            invalid: 0,
            grounding: None,
        };
        self.converse(call, backend, conversation, &knowledge_bases, None)
            .await
    }

    /// Approve or reject the parked call `id` and go on with the
    /// conversation; the answer is a chat completion like the one that
    /// stopped at the call. Only the caller who started the chat can
    /// decide; every other id (decided, expired, unknown, another
    /// caller's) is 404.
    pub async fn decide(
        &self,
        call: &Call,
        id: &str,
        decision: Decision,
    ) -> Result<Answer, Rejection> {
        let not_found = || ApiError::from(GatewayError::ConfirmationNotFound);
        let tools = self.tools().ok_or_else(not_found)?;
        let pending = tools
            .take_parked(id, &call.principal.id)
            .await?
            .ok_or_else(not_found)?;
        let mut conversation = pending.conversation;
        conversation.request.stream = decision.stream;
        conversation.request.stream_options = decision.stream_options;
        let backend = self.route(call, &conversation.request.model)?;
        let resume = Resume {
            calls: pending.calls,
            approved: decision.approve,
        };
        self.converse(call, backend, conversation, &[], Some(resume))
            .await
    }

    /// Admit the conversation, ground it in `knowledge_bases` (a new
    /// conversation; a resumed one keeps its passages), then run the loop:
    /// its first turn starts here (so what the guard or the backend refuses
    /// is an error, not an event), the rest as the answer streams.
    async fn converse(
        &self,
        call: &Call,
        backend: std::sync::Arc<dyn moat_router::Backend>,
        mut conversation: Conversation,
        knowledge_bases: &[String],
        resume: Option<Resume>,
    ) -> Result<Answer, Rejection> {
        let default_max_tokens = self.settings().default_max_tokens;
        let context_length = backend.info().context_length;
        let opened = self
            .open(call, backend, &conversation.request, default_max_tokens)
            .await?;
        let found = self
            .ground(call, knowledge_bases, &conversation.request, context_length)
            .await?;
        if let Some(mut grounding) = found {
            augment::mask_for_block(&mut grounding, &self.guard_for(&call.principal));
            augment::quote(&mut conversation.request, &grounding);
            conversation.grounding = Some(grounding);
        }
        // A resumed conversation's record names the stores it was grounded in too.
        if let Some(grounding) = &conversation.grounding {
            call.trail.knowledge_bases(&grounding.stores);
        }
        let grounding = conversation
            .grounding
            .clone()
            .filter(|g| !g.passages.is_empty());
        let tool_loop = tools::Loop {
            turns: opened.turns.clone(),
            tools: self.tools().cloned(),
            principal: call.principal.clone(),
            trail: call.trail.clone(),
            metrics: self.metrics().clone(),
        };
        let mut events = tools::run(tool_loop, conversation, resume).await?;
        if let Some(grounding) = grounding {
            events = augment::cite(
                events,
                std::sync::Arc::new(grounding),
                call.trail.clone(),
                self.metrics().clone(),
            );
        }
        Ok(self.answer(call, opened, events))
    }
}
