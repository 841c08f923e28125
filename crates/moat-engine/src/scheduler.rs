//! The scheduler thread of one model: continuous batching over llama.cpp.
//!
//! Each loop iteration is one step in phases: intake of new jobs,
//! cancellation of jobs whose receiver was dropped, admission into free
//! slots (reusing the longest cached prefix of any slot, `admit.rs`), one
//! batch holding the next token of every generating sequence plus a chunk
//! of pending prompt tokens, its decode (`batch.rs`), then sampling, the
//! new text sent, and the end of finished requests (`finish.rs`). Slot
//! choice and the other pure decisions are plain functions with their
//! tests (`slot.rs`, `batch.rs`, `finish.rs`).

mod admit;
mod batch;
mod finish;
mod slot;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use moat_protocol::GenerationEvent;
use tokio::sync::mpsc::UnboundedSender;

use crate::engine::EngineStats;
use crate::error::EngineError;
use crate::sampling::SamplingParams;
use finish::release;
use slot::{cells_in_use, Slot};

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

/// Runs the scheduler of one model until its job channel closes and the
/// last job has ended.
pub(crate) fn run(
    model: &LlamaModel,
    ctx: LlamaContext<'_>,
    settings: Settings,
    jobs: Receiver<Job>,
    stats: &EngineStats,
) {
    let mut scheduler = Scheduler::new(model, ctx, &settings, stats);
    loop {
        scheduler.tick += 1;
        stats
            .kv_cells_used
            .store(cells_in_use(&scheduler.slots), Ordering::Relaxed);
        if !scheduler.intake(&jobs) {
            return;
        }
        scheduler.cancel_dropped();
        scheduler.admit_waiting();
        if !scheduler.fill_batch() {
            continue;
        }
        if !scheduler.decode() {
            continue;
        }
        scheduler.sample_and_emit();
    }
}

/// The scheduler's state between steps.
struct Scheduler<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    stats: &'m EngineStats,
    n_vocab: i32,
    n_ctx: usize,
    batch_size: usize,
    slots: Vec<Slot>,
    batch: LlamaBatch<'m>,
    /// Jobs not yet in a slot, oldest first.
    waiting: VecDeque<Job>,
    /// The step, counted from 1: admission order and slot recency.
    tick: u64,
    /// Each slot's cached length before this step's batch, to undo the
    /// batch when it cannot be decoded.
    before_len: Vec<usize>,
    /// Scratch bytes of one token's text.
    piece: Vec<u8>,
    /// Scratch candidates for grammar-constrained draws.
    candidates: LlamaTokenDataArray,
}

impl<'m> Scheduler<'m> {
    fn new(
        model: &'m LlamaModel,
        ctx: LlamaContext<'m>,
        settings: &Settings,
        stats: &'m EngineStats,
    ) -> Self {
        let capacity = (settings.batch_size + settings.parallel) as usize;
        Self {
            model,
            ctx,
            stats,
            n_vocab: model.n_vocab(),
            n_ctx: settings.n_ctx as usize,
            batch_size: settings.batch_size as usize,
            slots: (0..settings.parallel as i32).map(Slot::new).collect(),
            batch: LlamaBatch::new(capacity, 1),
            waiting: VecDeque::new(),
            tick: 0,
            before_len: Vec::new(),
            piece: Vec::with_capacity(64),
            candidates: LlamaTokenDataArray::new(Vec::new(), false),
        }
    }

    fn idle(&self) -> bool {
        self.waiting.is_empty() && self.slots.iter().all(|s| s.active.is_none())
    }

    /// Takes new jobs, blocking only when there is nothing to do; false
    /// when the channel is closed and no job is left.
    fn intake(&mut self, jobs: &Receiver<Job>) -> bool {
        if self.idle() {
            match jobs.recv() {
                Ok(job) => self.waiting.push_back(job),
                Err(_) => return false,
            }
        }
        loop {
            match jobs.try_recv() {
                Ok(job) => self.waiting.push_back(job),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return !self.idle(),
            }
        }
    }

    /// Drops the jobs whose receiver was dropped since the last step.
    fn cancel_dropped(&mut self) {
        let before = self.waiting.len();
        self.waiting.retain(|j| !j.tx.is_closed());
        self.stats
            .waiting
            .fetch_sub(before - self.waiting.len(), Ordering::Relaxed);
        for slot in &mut self.slots {
            if slot.active.as_ref().is_some_and(|a| a.job.tx.is_closed()) {
                tracing::debug!(seq = slot.seq, "client gone; slot freed");
                release(slot, self.tick, self.stats);
            }
        }
    }
}
