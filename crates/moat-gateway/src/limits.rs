//! Step 4, rate limits and quotas: the estimate a request is admitted
//! with, the quota an answer and its tool-loop turns draw on, and the
//! stream wrapper that counts the tokens actually used and frees the
//! request's stream slot when it ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use moat_policy::Admission;
use moat_protocol::chat::{ChatCompletionRequest, MessageContent};
use moat_protocol::completion::{CompletionRequest, Prompt};
use moat_protocol::{ApiError, GenerationEvent};
use moat_router::EventStream;

use crate::metrics::AnswerMetrics;

/// Bytes per token assumed when estimating a prompt before it is
/// tokenized (English text runs ~4; CJK fewer, so this errs high there).
const BYTES_PER_TOKEN: usize = 3;

pub(crate) fn tokens_of(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(BYTES_PER_TOKEN)).unwrap_or(u64::MAX)
}

/// What a request is expected to use before it runs.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    /// The prompt, from its size.
    pub prompt: u64,
    /// The completion budget (`max_tokens`).
    pub completion: u64,
}

impl Estimate {
    pub fn total(self) -> u64 {
        self.prompt.saturating_add(self.completion)
    }
}

/// Prompt estimate and completion budget of a chat request.
pub fn chat_estimate(request: &ChatCompletionRequest) -> Estimate {
    let mut bytes = 0usize;
    for m in &request.messages {
        bytes += 16;
        match &m.content {
            Some(MessageContent::Text(t)) => bytes += t.len(),
            Some(MessageContent::Parts(parts)) => {
                bytes += parts
                    .iter()
                    .filter_map(|p| p.text.as_ref())
                    .map(String::len)
                    .sum::<usize>();
            }
            None => {}
        }
    }
    Estimate {
        prompt: tokens_of(bytes),
        // An answer has at least one token; without `max_tokens` it is
        // bounded by the remaining quota instead (`Quota::budget`).
        completion: u64::from(request.max_new_tokens().unwrap_or(1)),
    }
}

/// Prompt estimate and `max_tokens` of a text completion (default 16).
pub fn completion_estimate(request: &CompletionRequest) -> Estimate {
    let bytes = match &request.prompt {
        Prompt::One(t) => t.len(),
        Prompt::Many(ts) => ts.iter().map(String::len).sum(),
    };
    Estimate {
        prompt: tokens_of(bytes),
        completion: u64::from(
            request
                .max_tokens
                .unwrap_or(crate::DEFAULT_COMPLETION_MAX_TOKENS),
        ),
    }
}

/// The admission of one answer, shared by its meter and, in a tool loop,
/// by the loop: the loop checks the daily token limits again before each
/// later turn, and tells the meter what its finished turns used, so an
/// answer that ends without its final usage still counts every turn.
#[derive(Clone)]
pub(crate) struct Quota {
    inner: Arc<QuotaInner>,
}

struct QuotaInner {
    admission: Admission,
    /// The most tokens an answer may have when its request names no
    /// `max_tokens`, before the quota is considered.
    default_max_tokens: Option<u32>,
    /// Prompt and completion tokens of the loop's finished turns.
    finished: Mutex<(u64, u64)>,
}

impl Quota {
    pub fn new(admission: Admission, default_max_tokens: Option<u32>) -> Self {
        Self {
            inner: Arc::new(QuotaInner {
                admission,
                default_max_tokens,
                finished: Mutex::new((0, 0)),
            }),
        }
    }

    /// How many tokens a turn whose request names no `max_tokens` may
    /// generate: the server's default, and no more than the tightest daily
    /// quota has left after the finished turns and this turn's prompt
    /// estimate (at least 1: admission refused a request with no room).
    /// `None` when neither bounds it. A request that names `max_tokens`
    /// was admitted with it and keeps it.
    pub fn budget(&self, estimate: Estimate, max_tokens: Option<u32>) -> Option<u32> {
        if max_tokens.is_some() {
            return None;
        }
        let (prompt, completion) = self.finished();
        let left = self.inner.admission.status.tokens.map(|(_, remaining, _)| {
            let left = remaining
                .saturating_sub(prompt)
                .saturating_sub(completion)
                .saturating_sub(estimate.prompt)
                .max(1);
            u32::try_from(left).unwrap_or(u32::MAX)
        });
        match (left, self.inner.default_max_tokens) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn finished(&self) -> (u64, u64) {
        *self
            .inner
            .finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A turn of a tool loop ended, having used this much.
    pub fn turn_finished(&self, prompt_tokens: u64, completion_tokens: u64) {
        let mut finished = self
            .inner
            .finished
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        finished.0 = finished.0.saturating_add(prompt_tokens);
        finished.1 = finished.1.saturating_add(completion_tokens);
    }

    /// May the loop start a turn expected to use `estimate` tokens, on top
    /// of its finished turns? 429 `quota_exceeded` when a daily limit
    /// would be passed.
    pub async fn check_next_turn(&self, estimate: u64) -> Result<(), ApiError> {
        let (prompt, completion) = self.finished();
        let tokens = prompt.saturating_add(completion).saturating_add(estimate);
        self.inner
            .admission
            .check_more(tokens)
            .await
            .map_err(ApiError::from)
    }
}

/// The accounting of one answer: the usage the backend reports at the end,
/// or — when the answer never got there (client gone, error mid-stream,
/// shutdown) — at least the prompt estimate and the pieces streamed so far,
/// or what a tool loop's finished turns used, so an abandoned stream still
/// counts against the quota and in usage.
struct Meter {
    quota: Option<Quota>,
    model: String,
    prompt_estimate: u64,
    pieces: AtomicU64,
    recorded: AtomicBool,
}

impl Drop for Meter {
    fn drop(&mut self) {
        let Some(quota) = self.quota.take() else {
            return;
        };
        if self.recorded.load(Ordering::Acquire) {
            return;
        }
        let model = std::mem::take(&mut self.model);
        let (turns_prompt, turns_completion) = quota.finished();
        // The loop's finished turns are measured; a turn cut off has no
        // usage yet, and its pieces are among those counted.
        let prompt = if turns_prompt > 0 {
            turns_prompt
        } else {
            self.prompt_estimate
        };
        let completion = self.pieces.load(Ordering::Acquire).max(turns_completion);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    quota
                        .inner
                        .admission
                        .record(&model, prompt, completion)
                        .await;
                });
            }
            Err(_) => tracing::warn!("no runtime to count an abandoned answer"),
        }
    }
}

/// Count the tokens of the answer against the caller's quota and usage,
/// and free its stream slot when it ends; the admission lives as long as
/// the stream. `answer` measures it for the metrics.
pub(crate) fn metered(
    events: EventStream,
    quota: Quota,
    model: String,
    estimate: Estimate,
    mut answer: AnswerMetrics,
) -> EventStream {
    let meter = Arc::new(Meter {
        quota: Some(quota),
        model,
        prompt_estimate: estimate.prompt,
        pieces: AtomicU64::new(0),
        recorded: AtomicBool::new(false),
    });
    events
        .inspect(move |item| answer.observe(item))
        .then(move |item| {
            let meter = meter.clone();
            async move {
                match &item {
                    Ok(GenerationEvent::Delta { .. }) => {
                        meter.pieces.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(GenerationEvent::Finish { usage, .. }) => {
                        if let Some(admission) = meter.quota.as_ref().map(|q| &q.inner.admission) {
                            if !meter.recorded.swap(true, Ordering::AcqRel) {
                                admission
                                    .record(
                                        &meter.model,
                                        u64::from(usage.prompt_tokens),
                                        u64::from(usage.completion_tokens),
                                    )
                                    .await;
                            }
                            admission.release().await;
                        }
                    }
                    Ok(GenerationEvent::Annotations(_) | GenerationEvent::Tool(_)) | Err(_) => {}
                }
                item
            }
        })
        .boxed()
}

impl crate::Gateway {
    /// Check the caller's rate limits and quotas for a request expected to
    /// need `estimated_tokens`.
    pub(crate) async fn admit(
        &self,
        call: &crate::Call,
        estimated_tokens: u64,
    ) -> Result<Admission, moat_policy::Refusal> {
        self.access()
            .limiter
            .admit(&call.principal, estimated_tokens)
            .await
    }
}
