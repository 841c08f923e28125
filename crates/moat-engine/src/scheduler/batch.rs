//! One step's batch: the next token of every generating sequence, then
//! chunks of pending prompts within the step's budget; its decode, and the
//! recovery when llama.cpp cannot decode it.

use llama_cpp_2::DecodeError;

use super::admit::{evict_idle, trim};
use super::finish::fail;
use super::slot::{newest, Slot};
use super::{Scheduler, PREFILL_WHILE_DECODING};
use crate::error::EngineError;

/// Prompt tokens one step may prefill: what the batch has left after
/// `decoding` generated tokens, and no more than [`PREFILL_WHILE_DECODING`]
/// while any sequence is generating, so its stream does not stall.
pub(super) fn prefill_budget(batch_size: usize, decoding: usize) -> usize {
    let budget = batch_size.saturating_sub(decoding);
    if decoding > 0 {
        budget.min(PREFILL_WHILE_DECODING)
    } else {
        budget
    }
}

/// The slots still prefilling, in order of admission (`(admitted, index)`
/// of each): the oldest request's prompt is finished first.
pub(super) fn prefill_order(prefilling: impl Iterator<Item = (u64, usize)>) -> Vec<usize> {
    let mut order: Vec<(u64, usize)> = prefilling.collect();
    order.sort_by_key(|&(admitted, _)| admitted);
    order.into_iter().map(|(_, i)| i).collect()
}

impl Scheduler<'_> {
    /// Fills the batch for this step; false when it is empty.
    pub(super) fn fill_batch(&mut self) -> bool {
        let batch = &mut self.batch;
        batch.clear();
        self.before_len = self.slots.iter().map(|s| s.cached.len()).collect();
        let mut decoding = 0;
        for slot in &mut self.slots {
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
                decoding += 1;
            }
        }
        let mut budget = prefill_budget(self.batch_size, decoding);
        let prefilling = self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.active
                .as_ref()
                .filter(|_| s.prefilling())
                .map(|a| (a.admitted, i))
        });
        for i in prefill_order(prefilling) {
            if budget == 0 {
                break;
            }
            let slot = &mut self.slots[i];
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
        batch.n_tokens() > 0
    }

    /// Decodes the batch; false when it failed (and was undone).
    pub(super) fn decode(&mut self) -> bool {
        match self.ctx.decode(&mut self.batch) {
            Ok(()) => true,
            Err(e) => {
                self.recover(e);
                false
            }
        }
    }

    /// Undo this step's tokens, then make room or give up one job; any
    /// other failure fails every running job.
    fn recover(&mut self, e: DecodeError) {
        for (slot, &len) in self.slots.iter_mut().zip(&self.before_len) {
            if slot.cached.len() > len {
                if let Some(active) = slot.active.as_mut() {
                    if active.logits_at.is_some() && len >= active.job.prompt.len() {
                        active.pending_token = slot.cached.get(len).copied();
                    }
                    active.logits_at = None;
                }
                slot.cached.truncate(len);
                trim(&mut self.ctx, slot, len);
            }
        }
        self.before_len.clear();
        if matches!(e, DecodeError::NoKvCacheSlot) {
            if evict_idle(&mut self.ctx, &mut self.slots) {
                return;
            }
            if let Some(victim) = newest_active(&self.slots) {
                tracing::warn!(
                    seq = self.slots[victim].seq,
                    "KV cache full; refusing the newest request"
                );
                fail(
                    &mut self.ctx,
                    &mut self.slots[victim],
                    EngineError::CacheFull,
                    self.tick,
                    self.stats,
                );
                return;
            }
        }
        tracing::error!(error = %e, "llama_decode failed");
        for slot in &mut self.slots {
            if slot.active.is_some() {
                fail(
                    &mut self.ctx,
                    slot,
                    EngineError::Internal(e.to_string()),
                    self.tick,
                    self.stats,
                );
            }
        }
    }
}

fn newest_active(slots: &[Slot]) -> Option<usize> {
    newest(
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.active.as_ref().map(|a| (a.admitted, i))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_gets_the_whole_batch_when_nothing_generates() {
        assert_eq!(prefill_budget(512, 0), 512);
        assert_eq!(prefill_budget(64, 0), 64);
    }

    #[test]
    fn prefill_is_capped_while_sequences_generate() {
        assert_eq!(prefill_budget(512, 3), PREFILL_WHILE_DECODING);
        assert_eq!(prefill_budget(100, 3), 97);
        assert_eq!(prefill_budget(2, 3), 0);
    }

    #[test]
    fn the_oldest_prompt_is_prefilled_first() {
        assert_eq!(
            prefill_order([(7, 0), (3, 1), (5, 2)].into_iter()),
            [1, 2, 0]
        );
        assert!(prefill_order(std::iter::empty()).is_empty());
    }
}
