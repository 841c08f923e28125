//! The Responses API (`/v1/responses`) over the chat entry point: a
//! request's items (after those of the response it continues, or of its
//! conversation) become the chat turn's messages, the chat's events become
//! the API's semantic events, and the finished response is kept for its
//! owner (sealed like a conversation) and added to its conversation.
//!
//! There is one pipeline: [`Gateway::chat`] admits, grounds, guards,
//! generates, meters and records; this module only translates and keeps.

use futures::stream::BoxStream;
use futures::StreamExt;
use moat_policy::RateStatus;
use moat_protocol::conversations::{ConversationItem, ItemListQuery};
use moat_protocol::ids::object_id;
use moat_protocol::page::{ListOrder, ListPage};
use moat_protocol::responses::{CreateResponseRequest, Response, ResponseBuilder, ResponseDeleted};
use moat_protocol::time::now_ms;
use moat_protocol::{ApiError, GenerationEvent};
use moat_store::ResponseRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conversations::{expiry, open, seal, store_error, with_ids, Intent, Owned};
use crate::{Call, Conversations, Gateway, GatewayError, Rejection};

/// The most responses a `previous_response_id` chain may hold.
pub const MAX_CHAIN: usize = 256;

/// A response under way: its stream events (each a JSON object with its
/// `type` and `sequence_number`; the last `response.completed` or
/// `response.incomplete`, or an error), and how to render it.
pub struct Responded {
    pub events: BoxStream<'static, Result<Value, ApiError>>,
    pub rate: RateStatus,
    pub stream: bool,
}

/// What a stored response keeps, sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kept {
    response: Response,
    /// This request's input items, with their ids.
    input: Vec<ConversationItem>,
}

fn response_aad(id: &str) -> Vec<u8> {
    format!("moat.response\0{id}").into_bytes()
}

/// A refusal of the chat turn named in the Responses API's terms: what
/// chat calls `messages[…]` came from the instructions, the context or the
/// input, and `max_completion_tokens` is `max_output_tokens`.
fn in_responses_terms(mut rejection: Rejection) -> Rejection {
    if let Some(param) = &rejection.error.param {
        if param.starts_with("messages") {
            rejection.error.param = Some("input".to_owned());
        } else if param == "max_completion_tokens" || param == "max_tokens" {
            rejection.error.param = Some("max_output_tokens".to_owned());
        }
    }
    rejection
}

fn not_found(id: &str) -> ApiError {
    GatewayError::ResponseNotFound(id.to_owned()).into()
}

impl Gateway {
    /// Answer a Responses API request.
    pub async fn respond(
        &self,
        call: &Call,
        request: CreateResponseRequest,
    ) -> Result<Responded, Rejection> {
        request.validate()?;
        let kept = self.conversations().cloned();
        let continues = request.previous_response_id.is_some() || request.conversation.is_some();
        if kept.is_none() && continues {
            return Err(ApiError::from(GatewayError::NothingKept).into());
        }
        let context = match (&kept, &request.previous_response_id, &request.conversation) {
            (Some(kept), Some(previous), _) => kept.chain(call, previous).await?,
            (Some(kept), None, Some(conversation)) => {
                kept.all_items(call, conversation.id()).await?
            }
            _ => Vec::new(),
        };
        let input = with_ids(request.input_items());
        let chat = request.to_chat(&context, &input);
        let answer = self.chat(call, chat).await.map_err(in_responses_terms)?;

        let mut started =
            Response::started(object_id("resp_"), now_ms().div_euclid(1000), &request);
        started.store = request.stores() && kept.is_some();
        let keep = Keep {
            store: started.store.then(|| kept.clone()).flatten(),
            conversation: request
                .conversation
                .as_ref()
                .and_then(|c| kept.map(|kept| (kept, c.id().to_owned()))),
            call: call.clone(),
            input,
        };
        let mut builder = ResponseBuilder::new(started);
        let mut generation = answer.events;
        let events = async_stream::stream! {
            for event in builder.opening() {
                yield Ok(event);
            }
            while let Some(event) = generation.next().await {
                let finished = matches!(event, Ok(GenerationEvent::Finish { .. }));
                match event {
                    Ok(event) => {
                        for event in builder.on_event(event) {
                            yield Ok(event);
                        }
                    }
                    Err(error) => {
                        yield Err(error);
                        return;
                    }
                }
                if finished {
                    if let Err(error) = keep.keep(builder.response()).await {
                        yield Err(error);
                        return;
                    }
                    yield Ok(builder.completed());
                    return;
                }
            }
            tracing::error!("the answer's stream ended without a finish event");
            yield Err(ApiError::internal());
        };
        Ok(Responded {
            events: events.boxed(),
            rate: answer.rate,
            stream: request.stream,
        })
    }
}

/// Where a finished response goes: the store, its conversation.
struct Keep {
    store: Option<Conversations>,
    conversation: Option<(Conversations, String)>,
    call: Call,
    input: Vec<ConversationItem>,
}

impl Keep {
    async fn keep(&self, response: &Response) -> Result<(), ApiError> {
        if let Some((conversations, id)) = &self.conversation {
            let mut items = self.input.clone();
            items.extend(response.output.iter().cloned());
            conversations.append(&self.call, id, &items).await?;
        }
        if let Some(conversations) = &self.store {
            conversations
                .keep_response(&self.call, response, &self.input)
                .await?;
        }
        Ok(())
    }
}

impl Conversations {
    /// Keeps `response` and its `input` for the caller, sealed under the
    /// caller's content key.
    async fn keep_response(
        &self,
        call: &Call,
        response: &Response,
        input: &[ConversationItem],
    ) -> Result<(), ApiError> {
        let key = self.own_key(&call.principal).await?;
        let kept = Kept {
            response: response.clone(),
            input: input.to_vec(),
        };
        let now = now_ms();
        let record = ResponseRecord {
            sealed: seal(&key, &response_aad(&response.id), &kept)?,
            id: response.id.clone(),
            owner: key.subject().to_owned(),
            previous_id: response.previous_response_id.clone(),
            created_ms: now,
            expires_ms: expiry(&call.principal, now),
            key_id: key.id().to_owned(),
        };
        self.store()
            .insert_response(&record, key.wrapped())
            .await
            .map_err(|e| store_error(&response.id, e))
    }

    /// The stored response `id` as `call` may see it for `intent`; 404
    /// for one that does not exist, expired, or is not the caller's.
    async fn kept(
        &self,
        call: &Call,
        id: &str,
        intent: Intent,
    ) -> Result<(Kept, ResponseRecord), ApiError> {
        let record = self
            .store()
            .response(id)
            .await
            .map_err(|e| store_error(id, e))?
            .ok_or_else(|| not_found(id))?;
        let owned = Owned {
            owner: &record.owner,
            expires_ms: record.expires_ms,
            key_id: &record.key_id,
        };
        let key = self
            .key_of(call, owned, intent)
            .await?
            .ok_or_else(|| not_found(id))?;
        let kept = open(&key, &response_aad(id), &record.sealed)?;
        Ok((kept, record))
    }

    /// `GET /v1/responses/{id}`.
    pub async fn response(&self, call: &Call, id: &str) -> Result<Response, ApiError> {
        Ok(self.kept(call, id, Intent::Read).await?.0.response)
    }

    /// `GET /v1/responses/{id}/input_items`: one page of the request's
    /// input items.
    pub async fn input_items(
        &self,
        call: &Call,
        id: &str,
        query: &ItemListQuery,
    ) -> Result<ListPage<ConversationItem>, ApiError> {
        query.validate()?;
        let mut items = self.kept(call, id, Intent::Read).await?.0.input;
        if query.order == ListOrder::Desc {
            items.reverse();
        }
        let position = |cursor: &str, param: &str| {
            items
                .iter()
                .position(|item| item.id() == cursor)
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        param,
                        format!("No object with id '{cursor}' in this listing."),
                    )
                })
        };
        let start = match &query.after {
            Some(after) => position(after, "after")? + 1,
            None => 0,
        };
        let end = match &query.before {
            Some(before) => position(before, "before")?,
            None => items.len(),
        };
        let limit = usize::try_from(query.limit()).unwrap_or(usize::MAX);
        let window: Vec<ConversationItem> = items
            .get(start..end.max(start))
            .unwrap_or_default()
            .iter()
            .take(limit)
            .cloned()
            .collect();
        let has_more = end.max(start) - start > window.len();
        Ok(ListPage::new(window, has_more, |item| item.id()))
    }

    /// `DELETE /v1/responses/{id}`.
    pub async fn delete_response(
        &self,
        call: &Call,
        id: &str,
    ) -> Result<ResponseDeleted, ApiError> {
        self.kept(call, id, Intent::Change).await?;
        let owner = self.owner_of(&call.principal);
        let deleted = self
            .store()
            .delete_response(id, &owner)
            .await
            .map_err(|e| store_error(id, e))?;
        if !deleted {
            return Err(not_found(id));
        }
        Ok(ResponseDeleted::new(id))
    }

    /// Every item of the chain ending at `id` (each response's input,
    /// then its output), oldest first: what a response that continues it
    /// sees before its own input. Only the caller's own responses can be
    /// continued.
    async fn chain(&self, call: &Call, id: &str) -> Result<Vec<ConversationItem>, ApiError> {
        let previous = |e: ApiError| {
            if e.kind == moat_protocol::ErrorKind::NotFound {
                ApiError::from(GatewayError::PreviousResponseNotFound(id.to_owned()))
            } else {
                e
            }
        };
        let mut links = Vec::new();
        let mut next = Some(id.to_owned());
        while let Some(at) = next {
            if links.len() == MAX_CHAIN {
                return Err(GatewayError::ChainTooLong { max: MAX_CHAIN }.into());
            }
            let (kept, record) = self
                .kept(call, &at, Intent::Change)
                .await
                .map_err(previous)?;
            next = record.previous_id;
            links.push(kept);
        }
        let mut items = Vec::new();
        for kept in links.into_iter().rev() {
            items.extend(kept.input);
            items.extend(kept.response.output);
        }
        Ok(items)
    }
}
