//! The `moat` binary.

mod access;
mod audit;
mod config;
mod guard;
mod kb;
mod keys;
mod models;
mod output;
mod serve;
mod usage;

use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

/// moat serves language models inside your own network through the OpenAI
/// API, from an embedded llama.cpp engine or from vLLM/SGLang/TGI/llama-server
/// workers.
#[derive(Debug, Parser)]
#[command(name = "moat", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the configured models over the OpenAI-compatible HTTP API.
    Serve(config::Options),
    /// List the models `moat serve` would serve with the same options,
    /// without loading them.
    Models(config::Options),
    /// API keys: create, list, revoke, rotate.
    Keys(keys::KeysArgs),
    /// Requests and tokens used, per key, role, model or day.
    Usage(usage::UsageArgs),
    /// The audit log: verify, search, export, erase a subject, purge.
    Audit(audit::AuditArgs),
    /// Personal-data guard tools: `moat guard scan FILE` shows what it finds.
    Guard(guard::GuardArgs),
    /// Knowledge bases on a running server: create, list, ingest, search, rm.
    Kb(kb::KbArgs),
}

fn main() -> ExitCode {
    let matches = config::parse_command_line(Cli::command(), std::env::args_os().collect())
        .unwrap_or_else(|e| e.exit());
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // The subcommand's own matches: the file is read under what they give.
    let sub = matches
        .subcommand()
        .map_or_else(ArgMatches::default, |(_, m)| m.clone());
    // The server logs its work; the other commands print their answer and
    // log only what went wrong.
    let default_filter = match cli.command {
        Command::Serve(_) => "info,llama-cpp-2=warn",
        _ => "warn",
    };
    init_logging(default_filter);
    let result = match cli.command {
        Command::Serve(parsed) => config::load(parsed, &sub).and_then(serve::run),
        Command::Models(parsed) => config::load(parsed, &sub).and_then(models::run),
        Command::Keys(args) => keys::run(args, &sub),
        Command::Usage(args) => usage::run(args, &sub),
        Command::Audit(args) => audit::run(args, &sub),
        Command::Guard(args) => guard::run(args),
        Command::Kb(args) => kb::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `MOAT_LOG` (or `RUST_LOG`) sets the filter, and
/// `MOAT_LOG_FORMAT=json` gives one JSON object per line for log shippers.
/// Prompt and completion text is never logged at info level.
fn init_logging(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("MOAT_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| default_filter.to_owned());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if std::env::var("MOAT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
