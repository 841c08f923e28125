//! The embeddings entry point: one vector per input, no stream. The steps
//! of a turn without generation: route (an embedding model, or a chat
//! model configured for embeddings), rate limits and quota (every token a
//! prompt token), the personal-data guard on every input (token ids are
//! read back as text first), the audit record, the metrics.

use moat_guard::Policy;
use moat_policy::RateStatus;
use moat_protocol::embeddings::{EmbeddingInput, EmbeddingRequest, EmbeddingResponse};
use moat_protocol::ApiError;
use moat_router::{Backend, RouteError};

use crate::audit::AuditTrail;
use crate::guard::PiiGuard;
use crate::{Call, Gateway, GatewayError, Rejection};

/// The vectors, and the limits that applied (for the rate headers).
pub struct Embedded {
    pub response: EmbeddingResponse,
    pub rate: RateStatus,
}

impl Gateway {
    /// Embed the request's inputs.
    pub async fn embed(
        &self,
        call: &Call,
        mut request: EmbeddingRequest,
    ) -> Result<Embedded, Rejection> {
        request.validate()?;
        let backend = self.route(call, &request.model)?;
        let purpose = backend.info().purpose;
        if !purpose.embeds() {
            let refusal = if purpose.ranks() {
                RouteError::RerankModel(request.model)
            } else {
                RouteError::NotEmbeddingModel(request.model)
            };
            return Err(refusal.into_api().into());
        }
        let admission = self.admit(call, estimate(&request)).await?;
        let rate = admission.status;
        let guard = self.guard_for(&call.principal);
        let guarded = protect(&guard, backend.as_ref(), &mut request, &call.trail).await;
        let model = request.model.clone();
        let format = request.encoding_format;
        let embeddings = match guarded {
            Ok(()) => backend.embed(request).await,
            Err(error) => Err(error),
        };
        let embeddings = match embeddings {
            Ok(embeddings) => embeddings,
            Err(error) => {
                admission.release().await;
                return Err(error.into());
            }
        };
        let tokens = embeddings.prompt_tokens;
        admission.record(&model, u64::from(tokens), 0).await;
        admission.release().await;
        call.trail.tokens(tokens, 0);
        self.metrics().observe_embeddings(&model, tokens);
        Ok(Embedded {
            response: EmbeddingResponse::new(&model, embeddings, format),
            rate,
        })
    }
}

/// The guard on every input, as the model will read it: texts are
/// scanned and rewritten per policy; token ids are read back as text by
/// the backend and, where personal data is found under a rewriting policy,
/// replaced by the rewritten text. A backend that cannot read its token
/// ids gets them only under `allow`. The audit content is the inputs' text
/// as sent, one a line.
async fn protect(
    guard: &PiiGuard,
    backend: &dyn Backend,
    request: &mut EmbeddingRequest,
    trail: &AuditTrail,
) -> Result<(), ApiError> {
    match &mut request.input {
        EmbeddingInput::Texts(texts) => {
            trail.prompt(|| texts.join("\n"), guard);
            let found = guard.protect_texts(texts, "input").await?;
            trail.pii(&found);
        }
        EmbeddingInput::Tokens(ids) => {
            let read = backend.token_text(ids.clone()).await;
            let mut texts = match read {
                Some(texts) => texts?,
                None if guard.policy() == Policy::Allow => return Ok(()),
                None => return Err(GatewayError::TokensUnreadable.into()),
            };
            trail.prompt(|| texts.join("\n"), guard);
            let before = texts.clone();
            let found = guard.protect_texts(&mut texts, "input").await?;
            trail.pii(&found);
            if texts != before {
                request.input = EmbeddingInput::Texts(texts);
            }
        }
    }
    Ok(())
}

/// Tokens the request is expected to use before it is tokenized: its text
/// at the bytes-per-token the other estimates use, or its token ids.
fn estimate(request: &EmbeddingRequest) -> u64 {
    match &request.input {
        EmbeddingInput::Texts(texts) => {
            crate::limits::tokens_of(texts.iter().map(String::len).sum())
        }
        EmbeddingInput::Tokens(ids) => {
            u64::try_from(ids.iter().map(Vec::len).sum::<usize>()).unwrap_or(u64::MAX)
        }
    }
}
