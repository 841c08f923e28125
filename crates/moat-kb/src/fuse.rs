//! Hybrid ranking: reciprocal rank fusion of the keyword and vector result
//! lists ([`fuse`]), with a score scaled to 0..=1 for OpenAI's
//! `ranking_options.score_threshold`.
//!
//! `rrf(d) = Σ_i w_i / (k + rank_i(d))`, ranks from 1, summed over the
//! lists `d` is in; `score(d) = rrf(d) / Σ_i (w_i / (k + 1))`, so a chunk
//! first in both lists scores 1. Set a list's weight to 0 when it was not
//! searched (no embedding model), so that the other alone can still reach 1.

use crate::index::ChunkKey;

/// The fusion's constants: `k` and one weight per list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fusion {
    k: f64,
    keyword_weight: f64,
    vector_weight: f64,
}

/// The usual `k` (Cormack et al.).
pub const DEFAULT_K: f64 = 60.0;

/// Largest `k` accepted.
pub const MAX_K: f64 = 1e6;

/// Largest weight accepted: more would only overflow the sum to infinity
/// (and the scaled score to NaN); ratios are what count.
pub const MAX_WEIGHT: f64 = 1e6;

impl Default for Fusion {
    /// `k` = 60, both weights 1.
    fn default() -> Self {
        Self {
            k: DEFAULT_K,
            keyword_weight: 1.0,
            vector_weight: 1.0,
        }
    }
}

/// Why fusion constants were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFusion(pub String);

impl Fusion {
    /// Checked constants: `k` in 0..=[`MAX_K`], weights in
    /// 0..=[`MAX_WEIGHT`], at least one of them above 0.
    pub fn new(k: f64, keyword_weight: f64, vector_weight: f64) -> Result<Self, InvalidFusion> {
        if !(0.0..=MAX_K).contains(&k) {
            return Err(InvalidFusion(format!(
                "rank constant k must be between 0 and {MAX_K}, not {k}"
            )));
        }
        for (name, weight) in [("keyword", keyword_weight), ("vector", vector_weight)] {
            if !weight.is_finite() || weight < 0.0 {
                return Err(InvalidFusion(format!(
                    "{name} weight must be a number of at least 0, not {weight}"
                )));
            }
            if weight > MAX_WEIGHT {
                return Err(InvalidFusion(format!(
                    "{name} weight must be at most {MAX_WEIGHT}, not {weight}"
                )));
            }
        }
        if keyword_weight + vector_weight <= 0.0 {
            return Err(InvalidFusion("at least one weight must be above 0".into()));
        }
        Ok(Self {
            k,
            keyword_weight,
            vector_weight,
        })
    }

    /// The fused score of a chunk first in every list.
    pub fn best_possible(&self) -> f64 {
        (self.keyword_weight + self.vector_weight) / (self.k + 1.0)
    }
}

/// One chunk's place in the fused ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    pub key: ChunkKey,
    /// `rrf` over the best possible: 0..=1.
    pub score: f64,
    /// The sum of `w_i / (k + rank_i)`.
    pub rrf: f64,
    /// Rank in the keyword list, from 1.
    pub keyword_rank: Option<u32>,
    /// Rank in the vector list, from 1.
    pub vector_rank: Option<u32>,
}

/// Fuses two ranked lists (best first, as the indexes return them; their
/// scores are not used), best first, equal scores by smaller key. A key
/// listed twice in one list counts at its first rank.
pub fn fuse(
    keyword: &[(ChunkKey, f32)],
    vector: &[(ChunkKey, f32)],
    fusion: &Fusion,
) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::with_capacity(keyword.len() + vector.len());
    let mut place = std::collections::HashMap::with_capacity(fused.capacity());
    for (list, is_keyword) in [(keyword, true), (vector, false)] {
        for (i, (key, _)) in list.iter().enumerate() {
            let rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let at = *place.entry(*key).or_insert_with(|| {
                fused.push(Fused {
                    key: *key,
                    score: 0.0,
                    rrf: 0.0,
                    keyword_rank: None,
                    vector_rank: None,
                });
                fused.len() - 1
            });
            let Some(entry) = fused.get_mut(at) else {
                continue;
            };
            let slot = if is_keyword {
                &mut entry.keyword_rank
            } else {
                &mut entry.vector_rank
            };
            if slot.is_none() {
                *slot = Some(rank);
            }
        }
    }
    let best = fusion.best_possible();
    for entry in &mut fused {
        let part = |rank: Option<u32>, weight: f64| {
            rank.map_or(0.0, |rank| weight / (fusion.k + f64::from(rank)))
        };
        entry.rrf = part(entry.keyword_rank, fusion.keyword_weight)
            + part(entry.vector_rank, fusion.vector_weight);
        entry.score = (entry.rrf / best).clamp(0.0, 1.0);
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.key.cmp(&b.key)));
    fused
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn list(keys: &[u64]) -> Vec<(ChunkKey, f32)> {
        keys.iter().map(|&k| (ChunkKey(k), 0.0)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn default_fusion_with_exact_scores() {
        let fused = fuse(&list(&[10, 20, 30]), &list(&[20, 40]), &Fusion::default());
        let keys: Vec<u64> = fused.iter().map(|f| f.key.0).collect();
        assert_eq!(keys, vec![20, 10, 40, 30]);
        // 20: keyword rank 2, vector rank 1.
        assert_eq!(fused[0].keyword_rank, Some(2));
        assert_eq!(fused[0].vector_rank, Some(1));
        assert!(close(fused[0].rrf, 1.0 / 62.0 + 1.0 / 61.0));
        assert!(close(
            fused[0].score,
            (1.0 / 62.0 + 1.0 / 61.0) / (2.0 / 61.0)
        ));
        // 10: keyword rank 1 only: half of the best possible.
        assert!(close(fused[1].rrf, 1.0 / 61.0));
        assert!(close(fused[1].score, 0.5));
        assert_eq!(fused[1].vector_rank, None);
        // 40: vector rank 2; 30: keyword rank 3.
        assert!(close(fused[2].rrf, 1.0 / 62.0));
        assert_eq!(
            (fused[2].keyword_rank, fused[2].vector_rank),
            (None, Some(2))
        );
        assert!(close(fused[3].rrf, 1.0 / 63.0));
        assert!(close(fused[3].score, 61.0 / 126.0));
    }

    #[test]
    fn first_in_both_scores_one() {
        let fused = fuse(&list(&[7]), &list(&[7]), &Fusion::default());
        assert_eq!(fused.len(), 1);
        assert!(close(fused[0].score, 1.0));
    }

    #[test]
    fn weights_and_k_change_the_order() {
        let fusion = Fusion::new(1.0, 1.0, 3.0).unwrap();
        let fused = fuse(&list(&[1, 2]), &list(&[2, 1]), &fusion);
        // 2: 1/(1+2) + 3/(1+1) = 1/3 + 3/2; 1: 1/2 + 3/3.
        assert_eq!(fused[0].key, ChunkKey(2));
        assert!(close(fused[0].rrf, 1.0 / 3.0 + 1.5));
        assert!(close(fused[1].rrf, 0.5 + 1.0));
        assert!(close(fused[0].score, (1.0 / 3.0 + 1.5) / 2.0));
    }

    #[test]
    fn keyword_only_reaches_one_with_a_zero_vector_weight() {
        let fusion = Fusion::new(60.0, 1.0, 0.0).unwrap();
        let fused = fuse(&list(&[5, 6]), &[], &fusion);
        assert!(close(fused[0].score, 1.0));
        assert!(close(fused[1].score, 61.0 / 62.0));
    }

    #[test]
    fn ties_by_smaller_key_and_duplicates_at_first_rank() {
        let fused = fuse(&list(&[9, 3]), &list(&[3, 9]), &Fusion::default());
        assert_eq!(fused[0].key, ChunkKey(3));
        assert!(close(fused[0].score, fused[1].score));
        let twice = fuse(&list(&[4, 4, 5]), &[], &Fusion::default());
        assert_eq!(twice.len(), 2);
        assert_eq!(twice[0].keyword_rank, Some(1));
        assert_eq!(twice[1].keyword_rank, Some(3));
        assert!(fuse(&[], &[], &Fusion::default()).is_empty());
    }

    #[test]
    fn bad_constants_are_refused() {
        assert_eq!(
            Fusion::new(-1.0, 1.0, 1.0).unwrap_err().0,
            "rank constant k must be between 0 and 1000000, not -1"
        );
        assert!(Fusion::new(f64::NAN, 1.0, 1.0).is_err());
        assert_eq!(
            Fusion::new(60.0, f64::INFINITY, 1.0).unwrap_err().0,
            "keyword weight must be a number of at least 0, not inf"
        );
        assert!(Fusion::new(60.0, 1.0, -0.5).is_err());
        // Finite but so large the sum would overflow.
        assert!(Fusion::new(60.0, 1e308, 1e308)
            .unwrap_err()
            .0
            .starts_with("keyword weight must be at most 1000000, not 1000"));
        assert!(Fusion::new(60.0, MAX_WEIGHT, MAX_WEIGHT).is_ok());
        assert_eq!(
            Fusion::new(60.0, 0.0, 0.0).unwrap_err().0,
            "at least one weight must be above 0"
        );
        // k = 0 is fine: the best possible is the sum of the weights.
        assert!(close(
            Fusion::new(0.0, 1.0, 1.0).unwrap().best_possible(),
            2.0
        ));
    }
}
