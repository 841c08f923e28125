//! Step 11, audit: one record per request, always. A trail travels with
//! the request; the HTTP layer starts it, authentication and the pipeline
//! fill it in. A generation's stream writes its record — durably — before
//! its last event (so before `[DONE]` or the end of a JSON body); every
//! other request's record is written by the HTTP layer with
//! [`Gateway::record`](crate::Gateway::record) before its response leaves.
//! A stream dropped by a disconnected client still leaves a record saying
//! so.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use moat_audit::{AuditRecord, AuditWriter, Content, ContentPolicy, Outcome};
use moat_policy::{AuditContent, Principal};
use moat_protocol::{ApiError, GenerationEvent};
use moat_router::EventStream;

use crate::guard::{PiiFound, PiiGuard};
use crate::metrics::Metrics;

/// What is known of a request so far.
struct Draft {
    record: AuditRecord,
    started: Instant,
    content: AuditContent,
    /// The prompt as the policy keeps it.
    prompt: Option<String>,
    completion: String,
    /// A generation stream writes the record: the middleware does not.
    claimed: bool,
}

/// The request's audit trail; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail(Arc<Mutex<Draft>>);

impl AuditTrail {
    fn draft(&self) -> std::sync::MutexGuard<'_, Draft> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Who is calling, and how much content their roles let the log keep.
    pub fn principal(&self, principal: &Principal) {
        let mut d = self.draft();
        d.record.principal = Some(principal.id.clone());
        d.content = principal.audit_content();
    }

    pub fn model(&self, model: &str, backend: &str) {
        let mut d = self.draft();
        d.record.model = Some(model.to_owned());
        d.record.backend = Some(backend.to_owned());
    }

    pub fn pii(&self, found: &PiiFound) {
        self.draft().record.pii = found.named_counts();
    }

    /// The knowledge bases (store ids) the answer was grounded in.
    pub fn knowledge_bases(&self, ids: &[String]) {
        self.draft().record.knowledge_bases = ids.to_vec();
    }

    /// The knowledge-base files (ids) the answer cited.
    pub fn cited_files(&self, ids: Vec<String>) {
        self.draft().record.cited_files = ids;
    }

    /// The owner (pseudonym) of a conversation this request read that is
    /// not the caller's own.
    pub fn conversation_of(&self, owner: &str) {
        self.draft().record.conversation_of = Some(owner.to_owned());
    }

    /// Tokens used, for an answer that is not a generation stream.
    pub fn tokens(&self, prompt: u32, completion: u32) {
        let mut d = self.draft();
        d.record.prompt_tokens = Some(prompt);
        d.record.completion_tokens = Some(completion);
    }

    /// The prompt, kept as the content policy says (`masked`: personal
    /// data masked; `full`: as sent; `hash`: hashed by the log). `text` is
    /// only built when the policy keeps something.
    pub fn prompt(&self, text: impl FnOnce() -> String, guard: &PiiGuard) {
        let mut d = self.draft();
        d.prompt = match d.content {
            AuditContent::None => None,
            AuditContent::Masked => Some(guard.mask_text(&text())),
            AuditContent::Full | AuditContent::Hash => Some(text()),
        };
    }

    /// One server-side tool call. Its arguments go into the completion
    /// content (so they are kept, masked, hashed or not at all, as the
    /// content policy says, and encrypted with the rest); `arguments` is
    /// only built when the policy keeps something.
    pub fn tool(&self, call: moat_audit::ToolAudit, arguments: impl FnOnce() -> String) {
        let mut d = self.draft();
        if d.content != AuditContent::None {
            let line = format!("[tool {} {}: {}]\n", call.name, call.decision, arguments());
            d.completion.push_str(&line);
        }
        d.record.tools.push(call);
    }

    /// The answer's stream will write the record.
    fn claim(&self) {
        self.draft().claimed = true;
    }

    /// A generation stream writes this request's record: the HTTP layer
    /// must not.
    pub fn is_claimed(&self) -> bool {
        self.draft().claimed
    }

    /// The record as it stands, finished with the response's status.
    pub fn finish(
        &self,
        status: u16,
        error: Option<&ApiError>,
        outcome: Outcome,
        guard: &PiiGuard,
    ) -> AuditRecord {
        let mut d = self.draft();
        let latency = d.started.elapsed().as_millis();
        d.record.latency_ms = u32::try_from(latency).unwrap_or(u32::MAX);
        d.record.status = status;
        d.record.error_code = error.and_then(|e| e.kind.spec().code).map(str::to_owned);
        d.record.outcome = outcome;
        let completion = std::mem::take(&mut d.completion);
        d.record.content = match (d.content, d.prompt.take()) {
            (AuditContent::None, _) | (_, None) => None,
            (AuditContent::Hash, Some(prompt)) => Some(Content {
                policy: ContentPolicy::Hash,
                prompt,
                completion,
            }),
            (AuditContent::Masked, Some(prompt)) => Some(Content {
                policy: ContentPolicy::Masked,
                prompt,
                completion: guard.mask_text(&completion),
            }),
            (AuditContent::Full, Some(prompt)) => Some(Content {
                policy: ContentPolicy::Full,
                prompt,
                completion,
            }),
        };
        d.record.clone()
    }
}

impl AuditTrail {
    /// A trail for a request starting now, as its first facts describe it.
    pub fn new(record: AuditRecord) -> Self {
        Self(Arc::new(Mutex::new(Draft {
            record,
            started: Instant::now(),
            content: AuditContent::None,
            prompt: None,
            completion: String::new(),
            claimed: false,
        })))
    }
}

/// A chat request's messages as one text (`role: content` lines), for the
/// audit content.
pub fn chat_text(request: &moat_protocol::chat::ChatCompletionRequest) -> String {
    let mut text = String::new();
    for m in &request.messages {
        let role = serde_json::to_value(m.role)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let content = m.content.as_ref().map(|c| c.to_text()).unwrap_or_default();
        text.push_str(&role);
        text.push_str(": ");
        text.push_str(&content);
        text.push('\n');
    }
    text
}

/// A completion request's prompt(s) as one text.
pub fn completion_text(request: &moat_protocol::completion::CompletionRequest) -> String {
    match &request.prompt {
        moat_protocol::completion::Prompt::One(t) => t.clone(),
        moat_protocol::completion::Prompt::Many(ts) => ts.join("\n"),
    }
}

/// Append `record`, measured.
pub(crate) async fn append(
    metrics: &Metrics,
    writer: &AuditWriter,
    record: AuditRecord,
) -> Result<u64, moat_audit::AuditError> {
    let started = Instant::now();
    let result = writer.append(record).await;
    metrics.observe_audit_write(started.elapsed().as_secs_f64());
    metrics.set_audit_backlog(u64::try_from(writer.backlog()).unwrap_or(u64::MAX));
    result
}

/// The stream of a generation, recorded: time to first token, tokens, the
/// completion text (as the content policy keeps it), the outcome. The
/// record is durable before the answer's last event (its finish or an
/// error) is passed on, so before `[DONE]` or a JSON answer is sent; a
/// stream dropped before that (client gone, shutdown) is recorded as
/// disconnected.
pub(crate) fn recorded(
    events: EventStream,
    trail: AuditTrail,
    writer: Option<AuditWriter>,
    metrics: Metrics,
    guard: PiiGuard,
) -> EventStream {
    let Some(writer) = writer else {
        return events;
    };
    trail.claim();
    let ending = Ending {
        trail,
        metrics,
        guard,
        writer,
        written: false,
        started: Instant::now(),
        first_token: true,
        pieces: 0,
        failure: None,
    };
    futures::stream::unfold((events, ending), |(mut events, mut ending)| async move {
        match events.next().await {
            Some(item) => {
                ending.observe(&item);
                // The last event of an answer (its finish, or an error):
                // the record is made durable before it is passed on.
                let last = matches!(item, Ok(GenerationEvent::Finish { .. }) | Err(_));
                if last && !ending.written {
                    if let Err(error) = ending.write().await {
                        return Some((Err(error), (events, ending)));
                    }
                }
                Some((item, (events, ending)))
            }
            None if ending.written => None,
            None => match ending.write().await {
                Ok(()) => None,
                Err(error) => Some((Err(error), (events, ending))),
            },
        }
    })
    .boxed()
}

/// Writes a generation's record once: at the end of its stream, or (not
/// awaited: nobody is waiting) when the stream is dropped first.
struct Ending {
    trail: AuditTrail,
    metrics: Metrics,
    /// The server-wide guard, which masks the record's content.
    guard: PiiGuard,
    writer: AuditWriter,
    written: bool,
    started: Instant,
    first_token: bool,
    /// Pieces streamed so far: an answer cut off before its usage counts
    /// its completion by them, as its quota does.
    pieces: u32,
    failure: Option<ApiError>,
}

impl Ending {
    fn observe(&mut self, item: &Result<GenerationEvent, ApiError>) {
        match item {
            Ok(GenerationEvent::Delta { content, .. }) => {
                self.pieces = self.pieces.saturating_add(1);
                let mut d = self.trail.draft();
                if self.first_token {
                    self.first_token = false;
                    let ms = self.started.elapsed().as_millis();
                    d.record.ttft_ms = Some(u32::try_from(ms).unwrap_or(u32::MAX));
                }
                if d.content != AuditContent::None {
                    d.completion.push_str(content);
                }
            }
            Ok(GenerationEvent::Finish { usage, .. }) => {
                let mut d = self.trail.draft();
                d.record.prompt_tokens = Some(usage.prompt_tokens);
                d.record.completion_tokens = Some(usage.completion_tokens);
            }
            Ok(GenerationEvent::Annotations(_) | GenerationEvent::Tool(_)) => {}
            Err(e) => self.failure = Some(e.clone()),
        }
    }

    fn record(&self, outcome: Outcome) -> AuditRecord {
        let (status, outcome) = match (&self.failure, outcome) {
            (Some(e), Outcome::Completed) => (e.status().as_u16(), Outcome::Failed),
            (_, outcome) => (200, outcome),
        };
        {
            // No usage came (client gone, error mid-stream): the pieces
            // streamed are what was generated; the prompt was never counted.
            let mut d = self.trail.draft();
            if d.record.completion_tokens.is_none() && self.pieces > 0 {
                d.record.completion_tokens = Some(self.pieces);
            }
        }
        self.trail
            .finish(status, self.failure.as_ref(), outcome, &self.guard)
    }

    async fn write(&mut self) -> Result<(), ApiError> {
        self.written = true;
        let record = self.record(Outcome::Completed);
        append(&self.metrics, &self.writer, record)
            .await
            .map(|_| ())
            .map_err(|error| {
                tracing::error!(%error, "audit record not written");
                ApiError::unavailable()
            })
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if !self.written {
            self.written = true;
            let record = self.record(Outcome::Disconnected);
            self.writer.append_detached(record);
        }
    }
}
