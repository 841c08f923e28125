//! The scheduler thread of one model: continuous batching over llama.cpp.
//!
//! Each loop iteration takes new jobs into free slots (reusing the longest
//! cached prefix of any slot), builds one batch holding the next token of
//! every generating sequence plus a chunk of pending prompt tokens, decodes
//! it, samples, and sends the new text. Jobs whose receiver was dropped are
//! cancelled before the next decode step.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::DecodeError;
use moat_protocol::reasoning::ReasoningSplitter;
use moat_protocol::{FinishReason, GenerationEvent, Usage};
use tokio::sync::mpsc::UnboundedSender;

use crate::engine::EngineStats;
use crate::error::EngineError;
use crate::sampling::{self, SamplingParams};
use crate::text::{StopMatcher, Utf8Decoder};

/// A request handed to the scheduler, prompt already tokenized.
pub(crate) struct Job {
    pub prompt: Vec<LlamaToken>,
    pub sampling: SamplingParams,
    pub max_tokens: u32,
    pub stop: Vec<String>,
    /// `Some(in_reasoning)`: split `<think>` blocks off the content.
    pub reasoning: Option<bool>,
    /// Constrains the tokens drawn (tool calls); `None`: the chain alone.
    pub grammar: Option<LlamaSampler>,
    pub tx: UnboundedSender<Result<GenerationEvent, EngineError>>,
}

/// Most prompt tokens prefilled in one step while other sequences are
/// generating. A step's prefill pauses every running stream: ~128 tokens is
/// about a quarter second on two cores, where a full 512-token chunk stalled
/// streams for over a second (BENCHMARKS.md). When nothing is generating, a
/// prompt gets the whole `batch_size`.
const PREFILL_WHILE_DECODING: usize = 128;

pub(crate) struct Settings {
    pub parallel: u32,
    pub n_ctx: u32,
    pub batch_size: u32,
}

/// A sequence of the KV cache, and the request using it, if any.
struct Slot {
    seq: i32,
    /// Tokens whose KV is in this sequence, in position order. Kept after
    /// the request ends: that is the prefix cache.
    cached: Vec<LlamaToken>,
    last_used: u64,
    active: Option<Active>,
}

struct Active {
    job: Job,
    sampler: LlamaSampler,
    /// Taken from the job; checked after the chain draws (`sampling.rs`).
    grammar: Option<LlamaSampler>,
    /// Prompt tokens not yet decoded start at `cached.len()` while this
    /// is below `job.prompt.len()`.
    pending_token: Option<LlamaToken>,
    decoder: Utf8Decoder,
    stops: StopMatcher,
    splitter: Option<ReasoningSplitter>,
    generated: u32,
    reused: u32,
    /// Where this slot's logits are in the batch just decoded.
    logits_at: Option<i32>,
    /// Order of admission, to pick a victim when the cache is full.
    admitted: u64,
}

impl Slot {
    fn prefilling(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.pending_token.is_none() && self.cached.len() < a.job.prompt.len())
    }
}

pub(crate) fn run(
    model: &LlamaModel,
    mut ctx: LlamaContext<'_>,
    settings: Settings,
    jobs: Receiver<Job>,
    stats: &EngineStats,
) {
    let n_vocab = model.n_vocab();
    let mut slots: Vec<Slot> = (0..settings.parallel as i32)
        .map(|seq| Slot {
            seq,
            cached: Vec::new(),
            last_used: 0,
            active: None,
        })
        .collect();
    let capacity = (settings.batch_size + settings.parallel) as usize;
    let mut batch = LlamaBatch::new(capacity, 1);
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut tick: u64 = 0;
    let mut piece = Vec::with_capacity(64);
    // Scratch candidates for grammar-constrained draws.
    let mut candidates = LlamaTokenDataArray::new(Vec::new(), false);

    loop {
        tick += 1;
        stats
            .kv_cells_used
            .store(cells_in_use(&slots), Ordering::Relaxed);
        // 1. Intake: block only when there is nothing to do.
        let idle = waiting.is_empty() && slots.iter().all(|s| s.active.is_none());
        if idle {
            match jobs.recv() {
                Ok(job) => waiting.push_back(job),
                Err(_) => return,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(job) => waiting.push_back(job),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    if waiting.is_empty() && slots.iter().all(|s| s.active.is_none()) {
                        return;
                    }
                    break;
                }
            }
        }

        // 2. Cancellation: receivers dropped since the last step.
        let before = waiting.len();
        waiting.retain(|j| !j.tx.is_closed());
        stats
            .waiting
            .fetch_sub(before - waiting.len(), Ordering::Relaxed);
        for slot in &mut slots {
            if slot.active.as_ref().is_some_and(|a| a.job.tx.is_closed()) {
                tracing::debug!(seq = slot.seq, "client gone; slot freed");
                release(slot, tick, stats);
            }
        }

        // 3. Admission into free slots, longest cached prefix first.
        while !waiting.is_empty() {
            let Some(free) = pick_slot(&slots, &waiting[0].prompt) else {
                break;
            };
            let Some(job) = waiting.pop_front() else {
                break;
            };
            stats.waiting.fetch_sub(1, Ordering::Relaxed);
            stats.running.fetch_add(1, Ordering::Relaxed);
            admit(&mut ctx, &mut slots, free, job, n_vocab, tick, stats);
        }

        // 4. One batch: a token per generating sequence, then prompt chunks.
        batch.clear();
        let mut budget = settings.batch_size as usize;
        let mut before_len: Vec<usize> = slots.iter().map(|s| s.cached.len()).collect();
        for slot in &mut slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            active.logits_at = None;
            if let Some(token) = active.pending_token.take() {
                let pos = slot.cached.len() as i32;
                if batch.add(token, pos, &[slot.seq], true).is_err() {
                    active.pending_token = Some(token);
                    continue;
                }
                active.logits_at = Some(batch.n_tokens() - 1);
                slot.cached.push(token);
                budget = budget.saturating_sub(1);
            }
        }
        if batch.n_tokens() > 0 {
            budget = budget.min(PREFILL_WHILE_DECODING);
        }
        let mut order: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].prefilling())
            .collect();
        order.sort_by_key(|&i| slots[i].active.as_ref().map_or(0, |a| a.admitted));
        for i in order {
            if budget == 0 {
                break;
            }
            let slot = &mut slots[i];
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let start = slot.cached.len();
            let end = active.job.prompt.len().min(start + budget);
            for pos in start..end {
                let last = pos + 1 == active.job.prompt.len();
                let token = active.job.prompt[pos];
                if batch.add(token, pos as i32, &[slot.seq], last).is_err() {
                    break;
                }
                slot.cached.push(token);
                budget -= 1;
                if last {
                    active.logits_at = Some(batch.n_tokens() - 1);
                }
            }
        }
        if batch.n_tokens() == 0 {
            continue;
        }

        // 5. Decode.
        match ctx.decode(&mut batch) {
            Ok(()) => {}
            Err(e) => {
                // Undo this step's tokens, then make room or give up one job.
                for (slot, &len) in slots.iter_mut().zip(&before_len) {
                    if slot.cached.len() > len {
                        if let Some(active) = slot.active.as_mut() {
                            if active.logits_at.is_some() && len >= active.job.prompt.len() {
                                active.pending_token = slot.cached.get(len).copied();
                            }
                            active.logits_at = None;
                        }
                        slot.cached.truncate(len);
                        trim(&mut ctx, slot, len);
                    }
                }
                before_len.clear();
                if matches!(e, DecodeError::NoKvCacheSlot) {
                    if evict_idle(&mut ctx, &mut slots) {
                        continue;
                    }
                    if let Some(victim) = newest_active(&slots) {
                        tracing::warn!(
                            seq = slots[victim].seq,
                            "KV cache full; refusing the newest request"
                        );
                        fail(
                            &mut ctx,
                            &mut slots[victim],
                            EngineError::CacheFull,
                            tick,
                            stats,
                        );
                        continue;
                    }
                }
                tracing::error!(error = %e, "llama_decode failed");
                for slot in &mut slots {
                    if slot.active.is_some() {
                        fail(
                            &mut ctx,
                            slot,
                            EngineError::Internal(e.to_string()),
                            tick,
                            stats,
                        );
                    }
                }
                continue;
            }
        }

        // 6. Sample and send.
        for slot in &mut slots {
            let Some(active) = slot.active.as_mut() else {
                continue;
            };
            let Some(at) = active.logits_at.take() else {
                continue;
            };
            let token = match active.grammar.as_mut() {
                None => Some(active.sampler.sample(&ctx, at)),
                Some(grammar) => sampling::sample_constrained(
                    &mut active.sampler,
                    grammar,
                    model,
                    &ctx,
                    at,
                    &mut candidates,
                ),
            };
            let vocab = model.vocab();
            // (reason, flush held-back text)
            let finish = match token {
                // A grammar with no allowed token ends like end-of-text.
                None => Some((FinishReason::Stop, true)),
                Some(token) if vocab.is_eog(token) => Some((FinishReason::Stop, true)),
                Some(token) => {
                    active.generated += 1;
                    piece.clear();
                    vocab.token_to_piece_into(token, &mut piece, false, None);
                    let text = active.decoder.push(&piece);
                    let scan = active.stops.push(&text);
                    send_text(active, &scan.text);
                    if scan.stopped {
                        Some((FinishReason::Stop, false))
                    } else if active.generated >= active.job.max_tokens
                        || slot.cached.len() + 1 >= settings.n_ctx as usize
                    {
                        Some((FinishReason::Length, true))
                    } else {
                        active.pending_token = Some(token);
                        None
                    }
                }
            };
            if let Some((reason, flush)) = finish {
                // Free the slot before the last event: a client that sees
                // the end may send its next request at once.
                if let Some(mut done) = slot.active.take() {
                    stats.running.fetch_sub(1, Ordering::Relaxed);
                    slot.last_used = tick;
                    finish_job(&mut done, reason, flush, stats);
                }
            }
        }
    }
}

/// KV cells holding the tokens of running sequences.
fn cells_in_use(slots: &[Slot]) -> usize {
    slots
        .iter()
        .filter(|s| s.active.is_some())
        .map(|s| s.cached.len())
        .sum()
}

/// The free slot to use for `prompt`: the one whose cache shares the
/// longest prefix with it, else the least recently used.
fn pick_slot(slots: &[Slot], prompt: &[LlamaToken]) -> Option<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.active.is_none())
        .max_by_key(|(_, s)| {
            (
                common_prefix(&s.cached, prompt),
                std::cmp::Reverse(s.last_used),
            )
        })
        .map(|(i, _)| i)
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Put `job` in slot `free`, reusing cached KV: the slot's own, or a copy
/// of a longer matching prefix held by another slot.
fn admit(
    ctx: &mut LlamaContext<'_>,
    slots: &mut [Slot],
    free: usize,
    mut job: Job,
    n_vocab: i32,
    tick: u64,
    stats: &EngineStats,
) {
    let own = common_prefix(&slots[free].cached, &job.prompt);
    let donor = slots
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != free)
        .map(|(i, s)| (common_prefix(&s.cached, &job.prompt), i))
        .max();
    let mut reuse = own;
    if let Some((len, donor)) = donor {
        if len > own {
            let (src, dst) = (slots[donor].seq, slots[free].seq);
            let copied = ctx.clear_kv_cache_seq(Some(dst as u32), None, None).is_ok()
                && ctx
                    .kv_cache_seq_cp(src, dst, Some(0), Some(len as u32))
                    .is_ok();
            if copied {
                slots[free].cached = slots[donor].cached[..len].to_vec();
                reuse = len;
            } else {
                slots[free].cached.clear();
                reuse = 0;
            }
        }
    }
    // At least the last prompt token is decoded again, for its logits.
    let reuse = reuse.min(job.prompt.len().saturating_sub(1));
    let slot = &mut slots[free];
    trim(ctx, slot, reuse);
    let reused = slot.cached.len() as u32;
    stats
        .prompt_tokens
        .fetch_add(job.prompt.len() as u64, Ordering::Relaxed);
    stats
        .cached_prompt_tokens
        .fetch_add(u64::from(reused), Ordering::Relaxed);
    let sampler = job.sampling.build(n_vocab);
    let grammar = job.grammar.take();
    slot.active = Some(Active {
        splitter: job.reasoning.map(ReasoningSplitter::new),
        stops: StopMatcher::new(job.stop.clone()),
        job,
        sampler,
        grammar,
        pending_token: None,
        decoder: Utf8Decoder::default(),
        generated: 0,
        reused,
        logits_at: None,
        admitted: tick,
    });
    slot.last_used = tick;
}

/// Drop the KV of `slot` from position `len` on; if llama.cpp cannot cut a
/// sequence partially (recurrent models), drop all of it.
fn trim(ctx: &mut LlamaContext<'_>, slot: &mut Slot, len: usize) {
    let ok = ctx
        .clear_kv_cache_seq(Some(slot.seq as u32), Some(len as u32), None)
        .unwrap_or(false);
    if ok {
        slot.cached.truncate(len);
    } else {
        let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
        slot.cached.clear();
    }
}

/// Forget the cached prefixes of idle slots; true when any was dropped.
fn evict_idle(ctx: &mut LlamaContext<'_>, slots: &mut [Slot]) -> bool {
    let mut any = false;
    for slot in slots
        .iter_mut()
        .filter(|s| s.active.is_none() && !s.cached.is_empty())
    {
        let _ = ctx.clear_kv_cache_seq(Some(slot.seq as u32), None, None);
        slot.cached.clear();
        any = true;
    }
    any
}

fn newest_active(slots: &[Slot]) -> Option<usize> {
    slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.active.as_ref().map(|a| (a.admitted, i)))
        .max()
        .map(|(_, i)| i)
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
fn finish_job(active: &mut Active, mut reason: FinishReason, flush: bool, stats: &EngineStats) {
    if flush {
        let tail = active.decoder.finish();
        let scan = active.stops.push(&tail);
        let mut text = scan.text;
        if scan.stopped {
            reason = FinishReason::Stop;
        } else {
            text.push_str(&active.stops.finish());
        }
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
fn fail(
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

fn release(slot: &mut Slot, tick: u64, stats: &EngineStats) {
    if slot.active.take().is_some() {
        stats.running.fetch_sub(1, Ordering::Relaxed);
    }
    slot.last_used = tick;
}
