//! Per-request sampling parameters and the llama.cpp sampler chain built
//! from them, in llama.cpp's usual order: penalties, top-k, top-p, min-p,
//! temperature, then a seeded draw (or greedy at temperature 0); and the
//! draw under a grammar, done as llama.cpp's common sampler does it.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
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

/// Draw the next token at batch output `at` with `chain`, constrained by
/// `grammar` (llama.cpp's `common_sampler_sample`): the chain draws from
/// all candidates and only that one token is checked against the grammar;
/// only when the grammar rejects it is the grammar applied to the whole
/// vocabulary and the chain run again. Checking one token is what keeps
/// constrained decoding near full speed: filtering ~49k candidates per
/// token halves it. The token is then accepted by both samplers (a lazy
/// grammar watches the text for its trigger this way); end-of-generation
/// tokens are not given to the grammar, which allows them only once
/// complete. `candidates` is scratch space, reused between calls.
///
/// `None`: no candidate is allowed (the grammar is stuck); the generation
/// should end.
pub(crate) fn sample_constrained(
    chain: &mut LlamaSampler,
    grammar: &mut LlamaSampler,
    model: &LlamaModel,
    ctx: &LlamaContext<'_>,
    at: i32,
    candidates: &mut LlamaTokenDataArray,
) -> Option<LlamaToken> {
    fill(candidates, ctx, at);
    chain.apply(candidates);
    let mut token = candidates.selected_token()?;
    if !grammar_allows(grammar, token) {
        fill(candidates, ctx, at);
        grammar.apply(candidates);
        chain.apply(candidates);
        let selected = candidates.data.get(candidates.selected?)?;
        if selected.logit() == f32::NEG_INFINITY || selected.logit().is_nan() {
            return None;
        }
        token = selected.id();
    }
    if !model.vocab().is_eog(token) && grammar.try_accept(token).is_err() {
        return None;
    }
    chain.accept(token);
    Some(token)
}

/// The logits of batch output `at` as unsorted candidates.
fn fill(candidates: &mut LlamaTokenDataArray, ctx: &LlamaContext<'_>, at: i32) {
    candidates.data.clear();
    candidates.data.extend(ctx.candidates_ith(at));
    candidates.selected = None;
    candidates.sorted = false;
}

/// Whether the grammar lets `token` come next (an inactive lazy grammar
/// allows everything).
fn grammar_allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    grammar.apply(&mut single);
    single
        .data
        .first()
        .is_some_and(|d| d.logit() != f32::NEG_INFINITY)
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
