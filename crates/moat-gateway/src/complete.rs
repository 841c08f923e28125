//! The text completion entry point: one turn, no tools.

use moat_protocol::completion::CompletionRequest;

use crate::{Answer, Call, Gateway, Rejection, DEFAULT_COMPLETION_MAX_TOKENS};

impl Gateway {
    /// Answer a raw-prompt text completion.
    pub async fn complete(
        &self,
        call: &Call,
        request: CompletionRequest,
    ) -> Result<Answer, Rejection> {
        request.validate()?;
        let backend = self.route(call, &request.model)?;
        // OpenAI's default of 16 tokens, and never past the remaining quota.
        let opened = self
            .open(call, backend, &request, Some(DEFAULT_COMPLETION_MAX_TOKENS))
            .await?;
        let events = opened.turns.run(request).await?;
        Ok(self.answer(call, opened, events))
    }
}
