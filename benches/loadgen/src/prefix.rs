//! Prefix-cache scenario: a long fixed system text with one question (cold:
//! the first request a fresh server sees with this prefix), then the same
//! text with a different question (warm: the prefix's KV can be reused).

use anyhow::Context as _;
use serde::Serialize;

use crate::client::{Outcome, Target};
use crate::prompts::{long_text, PREFIX_COLD_QUESTION, PREFIX_WARM_QUESTION};

/// Results of the prefix scenario.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub prefix_tokens_requested: usize,
    pub max_tokens: u32,
    pub cold_ttft_ms: f64,
    pub warm_ttft_ms: f64,
    /// warm / cold.
    pub warm_over_cold: f64,
    pub cold_prompt_tokens: Option<u64>,
    pub warm_prompt_tokens: Option<u64>,
    pub cold_cached_tokens: Option<u64>,
    pub warm_cached_tokens: Option<u64>,
}

fn ttft_ms(o: &Outcome) -> f64 {
    o.ttft.map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Sends the cold request, then the warm one, one after the other.
/// `tag`, when given, opens the system text, so that a repeated run on the
/// same server starts from a prefix the server has never seen (cold again).
pub async fn run(
    target: &Target,
    prefix_tokens: usize,
    max_tokens: u32,
    tag: Option<&str>,
) -> anyhow::Result<Report> {
    let system = match tag {
        Some(tag) => format!("{tag}\n{}", long_text(prefix_tokens)),
        None => long_text(prefix_tokens),
    };
    let cold = target
        .stream_chat(Some(&system), PREFIX_COLD_QUESTION, max_tokens)
        .await
        .context("cold request")?;
    let warm = target
        .stream_chat(Some(&system), PREFIX_WARM_QUESTION, max_tokens)
        .await
        .context("warm request")?;
    let (cold_ms, warm_ms) = (ttft_ms(&cold), ttft_ms(&warm));
    Ok(Report {
        scenario: "prefix",
        prefix_tokens_requested: prefix_tokens,
        max_tokens,
        cold_ttft_ms: cold_ms,
        warm_ttft_ms: warm_ms,
        warm_over_cold: if cold_ms > 0.0 {
            warm_ms / cold_ms
        } else {
            0.0
        },
        cold_prompt_tokens: cold.prompt_tokens,
        warm_prompt_tokens: warm.prompt_tokens,
        cold_cached_tokens: cold.cached_tokens,
        warm_cached_tokens: warm.cached_tokens,
    })
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
}

/// Prints the report for people.
pub fn print(r: &Report) {
    println!(
        "scenario        prefix  (~{} prefix tokens, max_tokens {})",
        r.prefix_tokens_requested, r.max_tokens
    );
    println!(
        "cold            TTFT {:.1} ms  prompt tokens {}  cached {}",
        r.cold_ttft_ms,
        opt(r.cold_prompt_tokens),
        opt(r.cold_cached_tokens)
    );
    println!(
        "warm            TTFT {:.1} ms  prompt tokens {}  cached {}",
        r.warm_ttft_ms,
        opt(r.warm_prompt_tokens),
        opt(r.warm_cached_tokens)
    );
    println!("warm / cold     {:.3}", r.warm_over_cold);
}
