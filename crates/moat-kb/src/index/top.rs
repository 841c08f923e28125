//! The best `k` scored chunks of a scan ([`TopChunks`]): a bounded heap,
//! ties broken by the smaller key so that results are deterministic, each
//! chunk with what else the scan wants to keep of it (its file, say).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::ids::ChunkKey;

/// Keeps the `k` best `(key, score)` pairs pushed into it, each with its
/// `T`.
#[derive(Debug)]
pub struct TopChunks<T = ()> {
    k: usize,
    heap: BinaryHeap<Ranked<T>>,
}

/// Ordered so that the heap's top is the worst kept: lower score first,
/// then larger key.
#[derive(Debug, Clone, Copy)]
struct Ranked<T> {
    score: f32,
    key: ChunkKey,
    extra: T,
}

impl<T> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.key.cmp(&other.key))
    }
}

impl<T> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Ranked<T> {}

/// Capacity reserved up front, whatever `k` asks for.
const RESERVE_MAX: usize = 1024;

impl TopChunks {
    /// Offers one scored chunk.
    #[inline]
    pub fn push(&mut self, key: ChunkKey, score: f32) {
        self.push_with(key, score, ());
    }

    /// The best kept, best first.
    pub fn into_sorted(self) -> Vec<(ChunkKey, f32)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| (r.key, r.score))
            .collect()
    }
}

impl<T> TopChunks<T> {
    /// Room for the `k` best.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(RESERVE_MAX)),
        }
    }

    /// Offers one scored chunk and what goes with it.
    #[inline]
    pub fn push_with(&mut self, key: ChunkKey, score: f32, extra: T) {
        let ranked = Ranked { score, key, extra };
        if self.heap.len() < self.k {
            self.heap.push(ranked);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if ranked < *worst {
                *worst = ranked;
            }
        }
    }

    /// The score a chunk must reach to be kept, for a scan that skips
    /// what cannot: the lowest possible score until `k` are kept, then just
    /// under the worst kept (a tie with it may still win by a smaller key).
    #[inline]
    pub fn threshold(&self) -> f32 {
        match self.heap.peek() {
            Some(worst) if self.heap.len() >= self.k => worst.score.next_down(),
            _ => f32::MIN,
        }
    }

    /// The best kept, best first, each with what went with it.
    pub fn into_sorted_with(self) -> Vec<(ChunkKey, f32, T)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| (r.key, r.score, r.extra))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_k_with_ties_by_smaller_key() {
        let mut top = TopChunks::new(3);
        for (key, score) in [(5, 0.5), (1, 0.9), (9, 0.7), (2, 0.7), (7, 0.1), (3, 0.7)] {
            top.push(ChunkKey(key), score);
        }
        assert_eq!(
            top.into_sorted(),
            vec![(ChunkKey(1), 0.9), (ChunkKey(2), 0.7), (ChunkKey(3), 0.7)]
        );
    }

    #[test]
    fn the_threshold_rises_once_k_are_kept_and_lets_ties_through() {
        let mut top = TopChunks::new(2);
        assert_eq!(top.threshold(), f32::MIN);
        top.push(ChunkKey(4), 0.5);
        assert_eq!(top.threshold(), f32::MIN);
        top.push(ChunkKey(5), 0.9);
        assert!(top.threshold() < 0.5 && top.threshold() > 0.49);
        top.push(ChunkKey(1), 0.5);
        assert_eq!(
            top.into_sorted(),
            vec![(ChunkKey(5), 0.9), (ChunkKey(1), 0.5)]
        );
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut top = TopChunks::new(0);
        top.push(ChunkKey(1), 1.0);
        assert!(top.into_sorted().is_empty());
    }

    #[test]
    fn huge_k_does_not_reserve_it() {
        let mut top = TopChunks::new(usize::MAX);
        top.push(ChunkKey(1), 1.0);
        assert_eq!(top.into_sorted(), vec![(ChunkKey(1), 1.0)]);
    }
}
