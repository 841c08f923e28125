//! What every backend yields while generating: text deltas, then one finish.
//! The server turns these into SSE chunks or one aggregated response.

use serde::{Deserialize, Serialize};

use crate::chat::{Annotation, ToolCallDelta};

/// Why generation ended.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End of sequence token or a stop string.
    Stop,
    /// `max_tokens` or the context was reached.
    Length,
    /// The model called tools.
    ToolCalls,
    ContentFilter,
}

/// Token counts of one request.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// Prompt tokens served from the prefix cache (OpenAI's
    /// `prompt_tokens_details.cached_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct PromptTokensDetails {
    pub cached_tokens: u32,
}

impl Usage {
    pub fn new(prompt_tokens: u32, completion_tokens: u32, cached_tokens: Option<u32>) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: cached_tokens
                .map(|cached_tokens| PromptTokensDetails { cached_tokens }),
        }
    }
}

/// A server-side tool call as the caller sees it in a stream: the tool's
/// name (`(unknown)` for a name that is not registered), moat's decision
/// (`allowed`, `confirmed`, `denied`, `rejected`, `invalid_arguments`) and
/// the outcome (`ok`, `not_run`, `timeout`, …). Never its arguments or
/// result, which may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ToolActivity {
    pub name: String,
    pub decision: String,
    pub outcome: String,
}

/// One item of a generation stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationEvent {
    /// New text. Empty fields carry nothing.
    Delta {
        content: String,
        reasoning: String,
        tool_calls: Vec<ToolCallDelta>,
    },
    /// The sources the answer used; at most once, just before `Finish`.
    Annotations(Vec<Annotation>),
    /// A server-side tool call moat decided (and ran) between two of the
    /// answer's model turns: what the caller may see of it as it happens.
    Tool(ToolActivity),
    /// Generation ended; always the last item of a successful stream.
    Finish { reason: FinishReason, usage: Usage },
}

impl GenerationEvent {
    pub fn content(text: impl Into<String>) -> Self {
        Self::Delta {
            content: text.into(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
        }
    }

    pub fn reasoning(text: impl Into<String>) -> Self {
        Self::Delta {
            content: String::new(),
            reasoning: text.into(),
            tool_calls: Vec::new(),
        }
    }
}
