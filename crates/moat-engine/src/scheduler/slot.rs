//! Slots: the KV-cache sequences and the requests using them, and the pure
//! choices made over them (which free slot a prompt goes to, which slot's
//! cache to copy a prefix from, which request to refuse when the cache is
//! full).

use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use moat_protocol::reasoning::ReasoningSplitter;

use super::Job;
use crate::text::{StopMatcher, Utf8Decoder};

/// A sequence of the KV cache, and the request using it, if any.
pub(super) struct Slot {
    pub seq: i32,
    /// Tokens whose KV is in this sequence, in position order. Kept after
    /// the request ends: that is the prefix cache.
    pub cached: Vec<LlamaToken>,
    pub last_used: u64,
    pub active: Option<Active>,
}

/// A request being prefilled or generated in a slot.
pub(super) struct Active {
    pub job: Job,
    pub sampler: LlamaSampler,
    /// Taken from the job; checked after the chain draws (`sampling.rs`).
    pub grammar: Option<LlamaSampler>,
    /// Prompt tokens not yet decoded start at `cached.len()` while this
    /// is below `job.prompt.len()`.
    pub pending_token: Option<LlamaToken>,
    pub decoder: Utf8Decoder,
    pub stops: StopMatcher,
    pub splitter: Option<ReasoningSplitter>,
    pub generated: u32,
    pub reused: u32,
    /// Where this slot's logits are in the batch just decoded.
    pub logits_at: Option<i32>,
    /// Order of admission, to pick a victim when the cache is full.
    pub admitted: u64,
}

impl Slot {
    /// An empty slot on KV sequence `seq`.
    pub fn new(seq: i32) -> Self {
        Self {
            seq,
            cached: Vec::new(),
            last_used: 0,
            active: None,
        }
    }

    /// Whether its request still has prompt tokens to decode.
    pub fn prefilling(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.pending_token.is_none() && self.cached.len() < a.job.prompt.len())
    }
}

/// KV cells holding the tokens of running sequences.
pub(super) fn cells_in_use(slots: &[Slot]) -> usize {
    slots
        .iter()
        .filter(|s| s.active.is_some())
        .map(|s| s.cached.len())
        .sum()
}

/// The free slot for `prompt` among `free` (index, cached tokens, last
/// use): the one whose cache shares the longest prefix with it, else the
/// least recently used; of equals, the last.
pub(super) fn pick_slot<'a>(
    free: impl Iterator<Item = (usize, &'a [LlamaToken], u64)>,
    prompt: &[LlamaToken],
) -> Option<usize> {
    free.max_by_key(|&(_, cached, last_used)| {
        (common_prefix(cached, prompt), std::cmp::Reverse(last_used))
    })
    .map(|(i, _, _)| i)
}

/// Among `others` (index, cached tokens), the cache sharing the longest
/// prefix with `prompt`: `(length, index)`; of equals, the last.
pub(super) fn best_donor<'a>(
    others: impl Iterator<Item = (usize, &'a [LlamaToken])>,
    prompt: &[LlamaToken],
) -> Option<(usize, usize)> {
    others
        .map(|(i, cached)| (common_prefix(cached, prompt), i))
        .max()
}

/// How many tokens `a` and `b` share from the start.
pub(super) fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Cached tokens a request may keep: all it shares, but at least its last
/// prompt token is decoded again, for its logits.
pub(super) fn reusable(shared: usize, prompt_len: usize) -> usize {
    shared.min(prompt_len.saturating_sub(1))
}

/// The running request admitted last (`(admitted, index)` of each).
pub(super) fn newest(active: impl Iterator<Item = (u64, usize)>) -> Option<usize> {
    active.max().map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().map(|&id| LlamaToken::new(id)).collect()
    }

    #[test]
    fn the_common_prefix_stops_at_the_first_difference() {
        assert_eq!(common_prefix(&tokens(&[1, 2, 3]), &tokens(&[1, 2, 4])), 2);
        assert_eq!(common_prefix(&tokens(&[1, 2]), &tokens(&[1, 2, 3])), 2);
        assert_eq!(common_prefix(&tokens(&[1, 2, 3]), &tokens(&[1])), 1);
        assert_eq!(common_prefix(&tokens(&[]), &tokens(&[1])), 0);
        assert_eq!(common_prefix(&tokens(&[9, 2]), &tokens(&[1, 2])), 0);
    }

    #[test]
    fn a_prompt_goes_to_the_free_slot_sharing_most_of_it() {
        let caches = [tokens(&[1, 2]), tokens(&[1, 2, 3, 4]), tokens(&[5])];
        let free = |last: [u64; 3]| {
            caches
                .iter()
                .zip(last)
                .enumerate()
                .map(|(i, (c, l))| (i, c.as_slice(), l))
                .collect::<Vec<_>>()
        };
        let prompt = tokens(&[1, 2, 3, 9]);
        assert_eq!(pick_slot(free([0, 5, 0]).into_iter(), &prompt), Some(1));
        // Only free slots are offered.
        let without_1 = free([0, 5, 0]).into_iter().filter(|(i, _, _)| *i != 1);
        assert_eq!(pick_slot(without_1, &prompt), Some(0));
        assert_eq!(pick_slot(std::iter::empty(), &prompt), None);
    }

    #[test]
    fn without_a_shared_prefix_the_least_recently_used_slot_is_chosen() {
        let caches = [tokens(&[7]), tokens(&[8]), tokens(&[])];
        let offer = |last: [u64; 3]| {
            caches
                .iter()
                .zip(last)
                .enumerate()
                .map(|(i, (c, l))| (i, c.as_slice(), l))
                .collect::<Vec<_>>()
                .into_iter()
        };
        let prompt = tokens(&[1]);
        assert_eq!(pick_slot(offer([4, 2, 9]), &prompt), Some(1));
        // Equals: the last.
        assert_eq!(pick_slot(offer([3, 3, 3]), &prompt), Some(2));
    }

    #[test]
    fn the_donor_is_the_cache_with_the_longest_shared_prefix() {
        let caches = [tokens(&[1, 2, 3]), tokens(&[1]), tokens(&[1, 2, 3, 4])];
        let offer = || caches.iter().enumerate().map(|(i, c)| (i, c.as_slice()));
        assert_eq!(best_donor(offer(), &tokens(&[1, 2, 3, 4, 5])), Some((4, 2)));
        // Equals: the last.
        assert_eq!(best_donor(offer(), &tokens(&[1, 2, 3])), Some((3, 2)));
        assert_eq!(best_donor(offer(), &tokens(&[6])), Some((0, 2)));
        assert_eq!(best_donor(offer().take(0), &tokens(&[1])), None);
    }

    #[test]
    fn the_last_prompt_token_is_always_decoded_again() {
        assert_eq!(reusable(3, 10), 3);
        assert_eq!(reusable(10, 10), 9);
        assert_eq!(reusable(12, 10), 9);
        assert_eq!(reusable(0, 0), 0);
    }

    #[test]
    fn the_newest_request_is_the_last_admitted() {
        assert_eq!(newest([(4, 0), (9, 1), (2, 2)].into_iter()), Some(1));
        assert_eq!(newest(std::iter::empty()), None);
    }
}
