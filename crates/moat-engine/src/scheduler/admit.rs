//! Admission: waiting requests into free slots, reusing cached KV (the
//! slot's own prefix, or a longer one copied from another slot), and the
//! KV-cache trimming that goes with it.

use std::sync::atomic::Ordering;

use llama_cpp_2::context::LlamaContext;
use moat_protocol::reasoning::ReasoningSplitter;

use super::slot::{best_donor, common_prefix, pick_slot, reusable, Active, Slot};
use super::{Job, Scheduler};
use crate::text::{StopMatcher, Utf8Decoder};

impl Scheduler<'_> {
    /// Moves waiting requests into free slots, oldest first, while a slot
    /// is free.
    pub(super) fn admit_waiting(&mut self) {
        while !self.waiting.is_empty() {
            let free = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.active.is_none())
                .map(|(i, s)| (i, s.cached.as_slice(), s.last_used));
            let Some(free) = pick_slot(free, &self.waiting[0].prompt) else {
                break;
            };
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            self.stats.waiting.fetch_sub(1, Ordering::Relaxed);
            self.stats.running.fetch_add(1, Ordering::Relaxed);
            self.admit(free, job);
        }
    }

    /// Put `job` in slot `free`, reusing cached KV: the slot's own, or a
    /// copy of a longer matching prefix held by another slot.
    fn admit(&mut self, free: usize, mut job: Job) {
        let slots = &mut self.slots;
        let ctx = &mut self.ctx;
        let own = common_prefix(&slots[free].cached, &job.prompt);
        let others = slots
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != free)
            .map(|(i, s)| (i, s.cached.as_slice()));
        let donor = best_donor(others, &job.prompt);
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
        let slot = &mut slots[free];
        trim(ctx, slot, reusable(reuse, job.prompt.len()));
        let reused = slot.cached.len() as u32;
        self.stats
            .prompt_tokens
            .fetch_add(job.prompt.len() as u64, Ordering::Relaxed);
        self.stats
            .cached_prompt_tokens
            .fetch_add(u64::from(reused), Ordering::Relaxed);
        let sampler = job.sampling.build(self.n_vocab);
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
            admitted: self.tick,
        });
        slot.last_used = self.tick;
    }
}

/// Drop the KV of `slot` from position `len` on; if llama.cpp cannot cut a
/// sequence partially (recurrent models), drop all of it.
pub(super) fn trim(ctx: &mut LlamaContext<'_>, slot: &mut Slot, len: usize) {
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
pub(super) fn evict_idle(ctx: &mut LlamaContext<'_>, slots: &mut [Slot]) -> bool {
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
