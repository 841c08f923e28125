//! Per-request sampling parameters and the llama.cpp sampler chain built
//! from them, in llama.cpp's usual order: penalties, top-k, top-p, min-p,
//! temperature, then a seeded draw (or greedy at temperature 0).

use llama_cpp_2::sampling::LlamaSampler;
use moat_protocol::chat::SamplingRequest;

/// How many recent tokens presence and frequency penalties look at.
const PENALTY_WINDOW: i32 = 256;

/// Resolved sampling parameters; plain data, built on the request path,
/// turned into a sampler on the engine thread.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_p: f32,
    pub top_k: i32,
    pub min_p: f32,
    pub seed: u32,
    pub presence_penalty: f32,
    pub frequency_penalty: f32,
}

impl Default for SamplingParams {
    /// OpenAI's defaults: temperature 1, top_p 1, no other filter.
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            seed: rand::random(),
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
        }
    }
}

impl SamplingParams {
    /// Fill unset values with OpenAI's defaults; no seed means a random one.
    pub fn from_request(r: &SamplingRequest) -> Self {
        let d = Self::default();
        Self {
            temperature: r.temperature.unwrap_or(d.temperature),
            top_p: r.top_p.unwrap_or(d.top_p),
            top_k: r.top_k.unwrap_or(d.top_k),
            min_p: r.min_p.unwrap_or(d.min_p),
            // A 64-bit seed folded into llama.cpp's 32 bits.
            seed: r
                .seed
                .map_or(d.seed, |s| (s as u64 ^ (s as u64 >> 32)) as u32),
            presence_penalty: r.presence_penalty.unwrap_or(0.0),
            frequency_penalty: r.frequency_penalty.unwrap_or(0.0),
        }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }

    /// The sampler chain. Filters that would do nothing are left out: each
    /// one walks the candidate list on every token.
    pub fn build(&self, n_vocab: i32) -> LlamaSampler {
        let mut chain = Vec::new();
        if self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 {
            chain.push(LlamaSampler::penalties(
                n_vocab,
                PENALTY_WINDOW,
                1.0,
                self.frequency_penalty,
                self.presence_penalty,
            ));
        }
        if self.is_greedy() {
            chain.push(LlamaSampler::greedy());
            return LlamaSampler::chain_simple(chain);
        }
        if self.top_k > 0 {
            chain.push(LlamaSampler::top_k(self.top_k));
        }
        if self.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(self.top_p, 1));
        }
        if self.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(self.min_p, 1));
        }
        chain.push(LlamaSampler::temp(self.temperature));
        chain.push(LlamaSampler::dist(self.seed));
        LlamaSampler::chain_simple(chain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_values_take_openai_defaults() {
        let p = SamplingParams::from_request(&SamplingRequest {
            seed: Some(42),
            ..Default::default()
        });
        assert_eq!(p.temperature, 1.0);
        assert_eq!(p.top_p, 1.0);
        assert_eq!(p.top_k, 0);
        assert_eq!(p.seed, 42);
        assert!(!p.is_greedy());
    }

    #[test]
    fn large_seeds_are_folded_not_truncated() {
        let a = SamplingParams::from_request(&SamplingRequest {
            seed: Some(1 << 32),
            ..Default::default()
        });
        let b = SamplingParams::from_request(&SamplingRequest {
            seed: Some(0),
            ..Default::default()
        });
        assert_ne!(a.seed, b.seed);
    }

    #[test]
    fn temperature_zero_is_greedy() {
        let p = SamplingParams::from_request(&SamplingRequest {
            temperature: Some(0.0),
            ..Default::default()
        });
        assert!(p.is_greedy());
    }
}
