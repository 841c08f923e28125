//! Throughput scenario: N concurrent streaming clients, each a loop over its
//! share of the requests, with fixed prompts.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::client::{Outcome, Target};
use crate::stats::Summary;

/// What the throughput scenario sends.
pub struct Plan {
    pub concurrency: usize,
    pub requests: usize,
    pub max_tokens: u32,
    /// User prompts; request `i` uses `prompts[i % len]`.
    pub prompts: Vec<String>,
    /// Shared system text, when `--shared-prefix-tokens` asks for one.
    pub system: Option<String>,
    /// Text put before every user prompt; `{i}` in it becomes the request index.
    pub tag: Option<String>,
}

impl Plan {
    /// The user message of request `i`.
    fn user_message(&self, i: usize) -> String {
        let prompt = &self.prompts[i % self.prompts.len()];
        match &self.tag {
            Some(tag) => format!("{} {prompt}", tag.replace("{i}", &i.to_string())),
            None => prompt.clone(),
        }
    }
}

/// Results of one throughput run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub concurrency: usize,
    pub requests: usize,
    pub max_tokens: u32,
    pub ok: usize,
    pub failed: usize,
    /// Wall time of the measured phase, seconds.
    pub wall_s: f64,
    pub completion_tokens_total: u64,
    pub completion_tokens_mean: f64,
    pub prompt_tokens_mean: f64,
    pub cached_tokens_mean: f64,
    /// Requests that stopped before `max_tokens` (EOS or stop sequence).
    pub stopped_early: usize,
    /// Total completion tokens / wall time of the measured phase.
    pub tokens_per_s: f64,
    /// Mean over requests of (tokens − 1) / (end − first token): the rate one client sees.
    pub stream_tokens_per_s_mean: f64,
    pub ttft_ms: Summary,
    pub itl_ms: Summary,
    /// The first few error messages.
    pub errors: Vec<String>,
}

/// Runs the plan and summarises it; with `trace`, also writes one JSON line
/// per successful request (index, send time and first-token time from the
/// start of the phase, every inter-token gap) to that file.
pub async fn run(target: &Target, plan: Plan, trace: Option<&Path>) -> anyhow::Result<Report> {
    let plan = Arc::new(plan);
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..plan.concurrency {
        let target = target.clone();
        let plan = Arc::clone(&plan);
        workers.spawn(async move {
            let mut results = Vec::new();
            for i in (worker..plan.requests).step_by(plan.concurrency) {
                let user = plan.user_message(i);
                let result = target
                    .stream_chat(plan.system.as_deref(), &user, plan.max_tokens)
                    .await;
                results.push((i, result));
            }
            results
        });
    }
    let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut failed = 0usize;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(results) => {
                for (i, result) in results {
                    match result {
                        Ok(outcome) => outcomes.push((i, outcome)),
                        Err(err) => {
                            failed += 1;
                            if errors.len() < 5 {
                                errors.push(format!("{err:#}"));
                            }
                        }
                    }
                }
            }
            Err(err) => {
                failed += 1;
                errors.push(format!("worker task failed: {err}"));
            }
        }
    }
    let wall = start.elapsed();
    outcomes.sort_by_key(|(i, _)| *i);
    if let Some(path) = trace {
        write_trace(path, start, &outcomes)?;
    }
    let outcomes = outcomes.into_iter().map(|(_, o)| o).collect();
    Ok(summarise(&plan, outcomes, failed, errors, wall))
}

fn write_trace(
    path: &Path,
    phase_start: Instant,
    outcomes: &[(usize, Outcome)],
) -> anyhow::Result<()> {
    let mut text = String::new();
    for (i, o) in outcomes {
        let sent = o.sent_at.map_or(0.0, |t| ms(t.duration_since(phase_start)));
        let line = serde_json::json!({
            "request": i,
            "sent_ms": sent,
            "first_token_ms": o.ttft.map(|d| sent + ms(d)),
            "tokens": o.tokens(),
            "gaps_ms": o.gaps.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

fn summarise(
    plan: &Plan,
    outcomes: Vec<Outcome>,
    failed: usize,
    errors: Vec<String>,
    wall: Duration,
) -> Report {
    let ttfts: Vec<f64> = outcomes.iter().filter_map(|o| o.ttft.map(ms)).collect();
    let gaps: Vec<f64> = outcomes
        .iter()
        .flat_map(|o| o.gaps.iter().copied().map(ms))
        .collect();
    let total_tokens: u64 = outcomes.iter().map(Outcome::tokens).sum();
    let ok = outcomes.len();
    let stream_rates = outcomes.iter().filter_map(|o| {
        let ttft = o.ttft?;
        let decode = o.total.checked_sub(ttft)?.as_secs_f64();
        (o.tokens() > 1 && decode > 0.0).then(|| (o.tokens() - 1) as f64 / decode)
    });
    Report {
        scenario: "throughput",
        concurrency: plan.concurrency,
        requests: plan.requests,
        max_tokens: plan.max_tokens,
        ok,
        failed,
        wall_s: wall.as_secs_f64(),
        completion_tokens_total: total_tokens,
        completion_tokens_mean: mean(outcomes.iter().map(|o| o.tokens() as f64)),
        prompt_tokens_mean: mean(
            outcomes
                .iter()
                .filter_map(|o| o.prompt_tokens.map(|t| t as f64)),
        ),
        cached_tokens_mean: mean(
            outcomes
                .iter()
                .filter_map(|o| o.cached_tokens.map(|t| t as f64)),
        ),
        stopped_early: outcomes
            .iter()
            .filter(|o| o.tokens() < u64::from(plan.max_tokens))
            .count(),
        tokens_per_s: if wall.is_zero() {
            0.0
        } else {
            total_tokens as f64 / wall.as_secs_f64()
        },
        stream_tokens_per_s_mean: mean(stream_rates),
        ttft_ms: Summary::of(&ttfts),
        itl_ms: Summary::of(&gaps),
        errors,
    }
}

/// Prints the report for people.
pub fn print(report: &Report) {
    let r = report;
    println!(
        "scenario        throughput  concurrency {}  requests {}  max_tokens {}",
        r.concurrency, r.requests, r.max_tokens
    );
    println!(
        "requests        ok {}  failed {}  stopped early {}",
        r.ok, r.failed, r.stopped_early
    );
    println!(
        "tokens          completion total {}  mean/request {:.1}  prompt mean {:.1}  cached mean {:.1}",
        r.completion_tokens_total, r.completion_tokens_mean, r.prompt_tokens_mean, r.cached_tokens_mean
    );
    println!(
        "throughput      {:.1} generated tokens/s over {:.2} s  (per stream {:.1} tokens/s)",
        r.tokens_per_s, r.wall_s, r.stream_tokens_per_s_mean
    );
    println!(
        "TTFT ms         p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        r.ttft_ms.p50, r.ttft_ms.p90, r.ttft_ms.p99, r.ttft_ms.max
    );
    println!(
        "ITL ms          p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        r.itl_ms.p50, r.itl_ms.p90, r.itl_ms.p99, r.itl_ms.max
    );
    for err in &r.errors {
        println!("error           {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_with_index() {
        let plan = Plan {
            concurrency: 1,
            requests: 3,
            max_tokens: 1,
            prompts: vec!["a".into(), "b".into()],
            system: None,
            tag: Some("[r1 #{i}]".into()),
        };
        assert_eq!(plan.user_message(0), "[r1 #0] a");
        assert_eq!(plan.user_message(3), "[r1 #3] b");
        let untagged = Plan { tag: None, ..plan };
        assert_eq!(untagged.user_message(2), "a");
    }
}
