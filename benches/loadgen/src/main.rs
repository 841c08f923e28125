//! `moat-loadgen`: concurrent streaming chat clients against any
//! OpenAI-compatible server (moat, llama-server, vLLM...), measuring time to
//! first token, inter-token latency and aggregate generated tokens per second.
#![allow(clippy::print_stdout)] // Printing the results is this program's job.

mod client;
mod prefix;
mod prompts;
mod stats;
mod throughput;

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Parser, ValueEnum};

use crate::client::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// N concurrent streaming clients with fixed prompts.
    Throughput,
    /// One cold request with a long prefix, then a warm one with the same prefix.
    Prefix,
}

/// Concurrent streaming chat load against an OpenAI-compatible server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Base URL of the API, ending in /v1.
    #[arg(long, default_value = "http://127.0.0.1:8080/v1")]
    url: String,
    /// Model id; default: the first one the server lists under /models.
    #[arg(long)]
    model: Option<String>,
    /// Bearer token, when the server wants one.
    #[arg(long, env = "LOADGEN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    #[arg(long, value_enum, default_value_t = Scenario::Throughput)]
    scenario: Scenario,
    /// Concurrent clients (throughput scenario).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measured requests in all (throughput scenario).
    #[arg(long, default_value_t = 32)]
    requests: usize,
    /// max_tokens of every measured request.
    #[arg(long, default_value_t = 128)]
    max_tokens: u32,
    /// User prompts, one per non-empty line; default: built-in "write a long story" prompts.
    #[arg(long)]
    prompt_file: Option<PathBuf>,
    /// Put a shared system text of about this many tokens before every prompt
    /// (throughput); the prefix length of the prefix scenario (default 1450).
    #[arg(long)]
    shared_prefix_tokens: Option<usize>,
    /// Text put before every user prompt; `{i}` in it becomes the request index
    /// (makes every prompt distinct, so no request reuses another's cached prompt).
    /// In the prefix scenario it opens the long system text instead.
    #[arg(long)]
    tag: Option<String>,
    /// Unmeasured short requests sent one by one before the measured phase.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Write one JSON line per request (send time, first-token time, every
    /// inter-token gap) to this file (throughput scenario).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,
}

fn load_prompts(args: &Args) -> anyhow::Result<Vec<String>> {
    let prompts: Vec<String> = match &args.prompt_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        None => prompts::STORY_PROMPTS
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
    };
    if prompts.is_empty() {
        bail!("no prompts in the prompt file");
    }
    Ok(prompts)
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.requests == 0 {
        bail!("--concurrency and --requests must be at least 1");
    }
    let mut target = Target::new(&args.url, String::new(), args.api_key.clone())?;
    target.model = match &args.model {
        Some(model) => model.clone(),
        None => target.first_model().await?,
    };
    for i in 0..args.warmup {
        target
            .stream_chat(None, prompts::WARMUP_PROMPT, 8)
            .await
            .with_context(|| format!("warm-up request {}", i + 1))?;
    }
    match args.scenario {
        Scenario::Throughput => {
            let plan = throughput::Plan {
                concurrency: args.concurrency,
                requests: args.requests,
                max_tokens: args.max_tokens,
                prompts: load_prompts(&args)?,
                system: args.shared_prefix_tokens.map(prompts::long_text),
                tag: args.tag.clone(),
            };
            let report = throughput::run(&target, plan, args.trace.as_deref()).await?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                throughput::print(&report);
            }
            if report.ok == 0 {
                bail!("every request failed");
            }
        }
        Scenario::Prefix => {
            let prefix_tokens = args.shared_prefix_tokens.unwrap_or(1450);
            let report =
                prefix::run(&target, prefix_tokens, args.max_tokens, args.tag.as_deref()).await?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                prefix::print(&report);
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("moat-loadgen: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
