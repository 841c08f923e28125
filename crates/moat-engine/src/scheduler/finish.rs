//! Sampling and the end of a request: the token drawn from each decoded
//! sequence, its text sent, the decision whether the sequence ends (stop
//! string, end of generation, `max_tokens`, context full), and the final
//! events.

use std::sync::atomic::Ordering;

use llama_cpp_2::context::LlamaContext;
use moat_protocol::{FinishReason, GenerationEvent, Usage};

use super::slot::{Active, Slot};
use super::Scheduler;
use crate::engine::EngineStats;
use crate::error::EngineError;
use crate::sampling;
use crate::text::{StopMatcher, Utf8Decoder};

/// How a sequence ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Finish {
    pub reason: FinishReason,
    /// Whether held-back text is sent: not after a stop string, which ended
    /// the text.
    pub flush: bool,
}

impl Finish {
    /// The model's end-of-generation token, or a grammar that allows no
    /// token (which ends like end-of-text).
    pub const END_OF_GENERATION: Self = Self {
        reason: FinishReason::Stop,
        flush: true,
    };
}

/// Whether a sequence ends after a drawn token: its text `stopped` at a
/// stop string; it reached `max_tokens` with `generated`; or the context of
/// `n_ctx` cells holds `cached` tokens and has no room for the next.
pub(super) fn after_token(
    stopped: bool,
    generated: u32,
    max_tokens: u32,
    cached: usize,
    n_ctx: usize,
) -> Option<Finish> {
    if stopped {
        Some(Finish {
            reason: FinishReason::Stop,
            flush: false,
        })
    } else if generated >= max_tokens || cached + 1 >= n_ctx {
        Some(Finish {
            reason: FinishReason::Length,
            flush: true,
        })
    } else {
        None
    }
}

/// Text held back at the end (an incomplete character, a possible start of
/// a stop string), and the finish reason: `Stop` when that text completes
/// a stop string, which it then ends before.
pub(super) fn held_back(
    decoder: &mut Utf8Decoder,
    stops: &mut StopMatcher,
    reason: FinishReason,
) -> (String, FinishReason) {
    let tail = decoder.finish();
    let scan = stops.push(&tail);
    let mut text = scan.text;
    if scan.stopped {
        return (text, FinishReason::Stop);
    }
    text.push_str(&stops.finish());
    (text, reason)
}

impl Scheduler<'_> {
    /// Draws the next token of every sequence decoded in this step, sends
    /// its text, and ends the sequences that are done.
    pub(super) fn sample_and_emit(&mut self) {
        for slot in &mut self.slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let Some(at) = active.logits_at.take() else {
                continue;
            };
            let token = match active.grammar.as_mut() {
                None => Some(active.sampler.sample(&self.ctx, at)),
                Some(grammar) => sampling::sample_constrained(
                    &mut active.sampler,
                    grammar,
                    self.model,
                    &self.ctx,
                    at,
                    &mut self.candidates,
                ),
            };
            let vocab = self.model.vocab();
            let finish = match token {
                None => Some(Finish::END_OF_GENERATION),
                Some(token) if vocab.is_eog(token) => Some(Finish::END_OF_GENERATION),
                Some(token) => {
                    active.generated += 1;
                    self.piece.clear();
                    vocab.token_to_piece_into(token, &mut self.piece, false, None);
                    let text = active.decoder.push(&self.piece);
                    let scan = active.stops.push(&text);
                    send_text(active, &scan.text);
                    let finish = after_token(
                        scan.stopped,
                        active.generated,
                        active.job.max_tokens,
                        slot.cached.len(),
                        self.n_ctx,
                    );
                    if finish.is_none() {
                        active.pending_token = Some(token);
                    }
                    finish
                }
            };
            if let Some(finish) = finish {
                // Free the slot before the last event: a client that sees
                // the end may send its next request at once.
                if let Some(mut done) = slot.active.take() {
                    self.stats.running.fetch_sub(1, Ordering::Relaxed);
                    slot.last_used = self.tick;
                    finish_job(&mut done, finish, self.stats);
                }
            }
        }
    }
}

/// Send generated text, split into reasoning and content where the model
/// reasons. A closed channel is noticed at the next cancellation check.
fn send_text(active: &mut Active, text: &str) {
    if text.is_empty() {
        return;
    }
    let event = match active.splitter.as_mut() {
        Some(splitter) => {
            let split = splitter.push(text);
            if split.content.is_empty() && split.reasoning.is_empty() {
                return;
            }
            GenerationEvent::Delta {
                content: split.content,
                reasoning: split.reasoning,
                tool_calls: Vec::new(),
            }
        }
        None => GenerationEvent::content(text),
    };
    let _ = active.job.tx.send(Ok(event));
}

/// Flush held-back text (unless a stop string ended the text) and send
/// the final event.
fn finish_job(active: &mut Active, finish: Finish, stats: &EngineStats) {
    let mut reason = finish.reason;
    if finish.flush {
        let (text, flushed_reason) = held_back(&mut active.decoder, &mut active.stops, reason);
        reason = flushed_reason;
        send_text(active, &text);
    }
    if let Some(splitter) = active.splitter.as_mut() {
        let split = splitter.finish();
        if !split.content.is_empty() || !split.reasoning.is_empty() {
            let _ = active.job.tx.send(Ok(GenerationEvent::Delta {
                content: split.content,
                reasoning: split.reasoning,
                tool_calls: Vec::new(),
            }));
        }
    }
    stats
        .generated_tokens
        .fetch_add(u64::from(active.generated), Ordering::Relaxed);
    let usage = Usage::new(
        active.job.prompt.len() as u32,
        active.generated,
        Some(active.reused),
    );
    let _ = active
        .job
        .tx
        .send(Ok(GenerationEvent::Finish { reason, usage }));
}

/// End a job with an error and forget the slot's cache.
pub(super) fn fail(
    ctx: &mut LlamaContext<'_>,
    slot: &mut Slot,
    error: EngineError,
    tick: u64,
    stats: &EngineStats,
) {
    let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
    slot.cached.clear();
    let active = slot.active.take();
    if active.is_some() {
        stats.running.fetch_sub(1, Ordering::Relaxed);
    }
    slot.last_used = tick;
    if let Some(active) = active {
        let _ = active.job.tx.send(Err(error));
    }
}

/// Free a slot whose client is gone; its cache stays.
pub(super) fn release(slot: &mut Slot, tick: u64, stats: &EngineStats) {
    if slot.active.take().is_some() {
        stats.running.fetch_sub(1, Ordering::Relaxed);
    }
    slot.last_used = tick;
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOP: Option<Finish> = Some(Finish {
        reason: FinishReason::Stop,
        flush: false,
    });
    const LENGTH: Option<Finish> = Some(Finish {
        reason: FinishReason::Length,
        flush: true,
    });

    #[test]
    fn a_stop_string_ends_the_text_without_a_flush() {
        assert_eq!(after_token(true, 1, 100, 10, 4096), STOP);
        // Before the length limits.
        assert_eq!(after_token(true, 100, 100, 4095, 4096), STOP);
    }

    #[test]
    fn max_tokens_ends_with_length() {
        assert_eq!(after_token(false, 99, 100, 10, 4096), None);
        assert_eq!(after_token(false, 100, 100, 10, 4096), LENGTH);
        assert_eq!(after_token(false, 1, 0, 10, 4096), LENGTH);
    }

    #[test]
    fn a_full_context_ends_with_length() {
        // The next token would need cell `cached`, the last is `n_ctx - 1`.
        assert_eq!(after_token(false, 1, 100, 4094, 4096), None);
        assert_eq!(after_token(false, 1, 100, 4095, 4096), LENGTH);
        assert_eq!(after_token(false, 1, 100, 5000, 4096), LENGTH);
    }

    #[test]
    fn end_of_generation_stops_and_flushes() {
        assert_eq!(
            Finish::END_OF_GENERATION,
            Finish {
                reason: FinishReason::Stop,
                flush: true
            }
        );
    }

    #[test]
    fn held_back_text_is_sent_at_the_end() {
        // A possible start of a stop string that never completed.
        let mut stops = StopMatcher::new(vec!["</end>".into()]);
        let mut decoder = Utf8Decoder::default();
        assert_eq!(stops.push("done </e").text, "done ");
        assert_eq!(
            held_back(&mut decoder, &mut stops, FinishReason::Length),
            ("</e".to_owned(), FinishReason::Length)
        );
        // An incomplete character becomes U+FFFD.
        let mut decoder = Utf8Decoder::default();
        assert_eq!(decoder.push(&[b'a', 0xe4, 0xbd]), "a");
        assert_eq!(
            held_back(
                &mut decoder,
                &mut StopMatcher::new(vec![]),
                FinishReason::Stop
            ),
            ("\u{fffd}".to_owned(), FinishReason::Stop)
        );
    }

    #[test]
    fn held_back_text_that_completes_a_stop_string_stops() {
        let mut stops = StopMatcher::new(vec!["ab\u{fffd}".into()]);
        let mut decoder = Utf8Decoder::default();
        assert_eq!(stops.push("xab").text, "x");
        assert_eq!(decoder.push(&[0xe4]), "");
        assert_eq!(
            held_back(&mut decoder, &mut stops, FinishReason::Length),
            (String::new(), FinishReason::Stop)
        );
    }
}
